"""``python -m fasttensor.bench``: the side-by-side benchmark report.

Run ``python -m fasttensor.bench --help`` for the options.
"""

import argparse
import shlex
import sys

from .cases import default_cases, select
from .libs import LIBRARY_NAMES, default_threads, load_libraries
from .plot import MatplotlibMissing, require_matplotlib, write_plot
from .report import run, write_markdown

DESCRIPTION = """\
Check and time a curated set of cases (matmul, batched matmul, dot,
softmax, attention, element-wise, broadcast and reduction ops) for
fasttensor, NumPy and PyTorch on the same inputs and thread count, and
compare them with this machine's FMA peak and copy bandwidth.
"""

EPILOG = """\
Each case is first checked against a float64 NumPy reference; a library
that disagrees is reported as WRONG and not timed.  Libraries run in
interleaved rounds with a rest between libraries; times are medians.
Example: python -m fasttensor.bench --quick --plot report.png
"""


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def _nonneg_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return v


def _libs(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in LIBRARY_NAMES]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown library {', '.join(bad) or '(none)'}; choose from "
            f"{', '.join(LIBRARY_NAMES)}")
    return names


def build_parser():
    p = argparse.ArgumentParser(
        prog="fasttensor-bench", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="a subset of cases with 3 rounds (about a minute)")
    p.add_argument("--cases", metavar="PATTERN",
                   help="only cases whose name matches: a shell wildcard "
                        "(matmul-*) or a regular expression (^add|softmax); "
                        "several patterns separated by commas")
    p.add_argument("--threads", metavar="N", type=_positive_int,
                   help=f"threads for every library (default: "
                        f"{default_threads()}, the cores available)")
    p.add_argument("--json", metavar="FILE",
                   help="write every figure, plus machine, versions, ISA "
                        "and threads, to FILE")
    p.add_argument("--plot", metavar="FILE.png",
                   help="draw GFLOP/s and GB/s against size (needs "
                        "matplotlib)")
    p.add_argument("--markdown", metavar="FILE",
                   help="write the report as Markdown (as in BENCHMARKS.md)")
    p.add_argument("--libs", metavar="LIST", type=_libs,
                   default=list(LIBRARY_NAMES),
                   help="comma-separated libraries to compare (default: "
                        "fasttensor,numpy,torch)")
    p.add_argument("--rounds", metavar="N", type=_positive_int,
                   help="timed rounds per case (default 5, 3 with --quick)")
    p.add_argument("--rest", metavar="SECONDS", type=_nonneg_float,
                   default=0.3,
                   help="pause whenever the library changes, so the previous "
                        "library's idle threads stop spinning (default 0.3)")
    p.add_argument("--block", metavar="SECONDS", type=_nonneg_float,
                   help="target duration of one timed block of calls "
                        "(default 0.05, 0.03 with --quick)")
    p.add_argument("--no-ceilings", action="store_true",
                   help="skip measuring the FMA peak and copy bandwidth")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar on stderr")
    p.add_argument("--list", action="store_true",
                   help="list the selected cases and exit")
    return p


def main(argv=None):
    """Entry point of ``fasttensor-bench``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else list(argv)

    cases = select(default_cases(), args.cases, quick=args.quick)
    if not cases:
        parser.error(f"--cases {args.cases!r} matches no case"
                     + (" of the --quick subset" if args.quick else "")
                     + "; see --list for the names")
    if args.list:
        for c in cases:
            tag = " (quick)" if c.quick else ""
            print(f"{c.name:28s} {c.shapes}{tag}")
        return 0
    if args.plot:
        try:
            require_matplotlib()
        except MatplotlibMissing as exc:
            parser.error(f"--plot: {exc}")

    rounds = args.rounds or (3 if args.quick else 5)
    block = args.block if args.block is not None else (
        0.03 if args.quick else 0.05)
    libraries = load_libraries(args.libs)
    command = "python -m fasttensor.bench " + " ".join(
        shlex.quote(a) for a in argv)
    report = run(cases, libraries=libraries, threads=args.threads,
                 rounds=rounds, rest=args.rest, block_seconds=block,
                 ceilings=not args.no_ceilings, progress=not args.no_progress,
                 command=command.strip())

    print(report.summary())
    print()
    print(report.table())
    if args.json:
        report.write_json(args.json)
        print(f"\nJSON written to {args.json}")
    if args.plot:
        drawn = write_plot(report, args.plot)
        what = ", ".join(drawn) if drawn else "no plotted series in this run"
        print(f"Plot written to {args.plot} ({what})")
    if args.markdown:
        write_markdown(report, args.markdown, plot_path=args.plot,
                       command=command.strip())
        print(f"Markdown written to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
