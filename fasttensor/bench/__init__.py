"""fasttensor's side-by-side benchmark report.

``python -m fasttensor.bench`` (or ``fasttensor-bench``) checks and times a
curated set of cases for fasttensor, NumPy and PyTorch, and measures this
machine's FMA peak and copy bandwidth in the same run.  The pieces are
usable on their own:

- :mod:`fasttensor.bench.cases`: the cases and the agreement check,
- :mod:`fasttensor.bench.libs`: the library adapters and thread limits,
- :mod:`fasttensor.bench.timing`: interleaved timing with rests,
- :mod:`fasttensor.bench.machine`: machine description and ceilings,
- :mod:`fasttensor.bench.report`: running, tables, JSON and Markdown,
- :mod:`fasttensor.bench.plot`: the plot (needs matplotlib).
"""

import sys

from .cases import Case, check_agreement, default_cases, get_case, select
from .libs import Library, load_libraries, thread_limit
from .report import Report, format_time, run

__all__ = ["Case", "Library", "Report", "check_agreement", "default_cases",
           "format_time", "get_case", "load_libraries", "quick_compare",
           "run", "select", "thread_limit"]

QUICK_COMPARE_CASES = ("add-1M", "matmul-256", "softmax-4096x1024")
QUICKER_CASES = ("add-64K", "matmul-128", "softmax-256x256")


def quick_compare(cases=None, file=None, threads=None, rounds=None,
                  rest=None, quick=False, progress=False):
    """Time a handful of cases and print a small side-by-side table.

    Every case is checked against a float64 NumPy reference before it is
    timed, exactly as in the full report; cases whose fasttensor op does
    not exist yet show ``skipped``.  No ceilings are measured, so it takes
    a few seconds.

    Parameters
    ----------
    cases : sequence of str, optional
        Case names or patterns (see :func:`fasttensor.bench.select`);
        default ``("add-1M", "matmul-256", "softmax-4096x1024")``, or
        ``("add-64K", "matmul-128", "softmax-256x256")`` with `quick`.
    file : file-like, optional
        Where the table goes (default ``sys.stdout``).
    threads : int, optional
        Threads for every library (default: the cores available).
    rounds : int, optional
        Interleaved timed rounds per case, median reported (default 3, or
        2 with `quick`).
    rest : float, optional
        Seconds of rest whenever the library changes (default 0.3, or 0.1
        with `quick`).
    quick : bool, optional
        Smaller default cases, fewer rounds and shorter rests (a few
        seconds in all).
    progress : bool, optional
        Show a progress bar on stderr.

    Returns
    -------
    Report
        The results (``report.table(rates=False)`` is what was printed).

    Raises
    ------
    ValueError
        If a name matches no case.

    Examples
    --------
    >>> import fasttensor.bench
    >>> fasttensor.bench.quick_compare(["add-1M"])  # doctest: +SKIP
    case    fasttensor  numpy     torch  ft/np  ft/torch
    ...
    """
    file = sys.stdout if file is None else file
    if rounds is None:
        rounds = 2 if quick else 3
    if rest is None:
        rest = 0.1 if quick else 0.3
    if cases is None:
        names = QUICKER_CASES if quick else QUICK_COMPARE_CASES
    else:
        names = (cases,) if isinstance(cases, str) else tuple(cases)
    chosen = select(default_cases(), list(names))
    if not chosen:
        raise ValueError(f"quick_compare: no case matches {names!r}")
    report = run(chosen, threads=threads, rounds=rounds, rest=rest,
                 block_seconds=0.01 if quick else 0.02, ceilings=False,
                 progress=progress)
    print(f"{report.threads} thread(s) per library; median of {rounds} "
          f"interleaved rounds", file=file)
    print(report.table(rates=False), file=file)
    return report
