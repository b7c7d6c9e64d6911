"""Run a set of cases and turn the results into a table, JSON or Markdown."""

import datetime
import json
import math
import os
import sys

from . import machine
from .libs import LIBRARY_NAMES, default_threads, load_libraries, thread_limit
from .timing import OK, Timer


class Progress:
    """A one-line progress bar on a terminal, one line per step otherwise."""

    def __init__(self, total, file=None, enabled=True, width=28):
        self.total = max(total, 1)
        self.file = sys.stderr if file is None else file
        self.enabled = enabled
        self.width = width
        self.tty = enabled and hasattr(self.file, "isatty") and \
            self.file.isatty()
        self.done = 0

    def step(self, label):
        """Announce that the next step, `label`, starts."""
        if not self.enabled:
            return
        frac = self.done / self.total
        filled = int(round(frac * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        text = f"[{bar}] {self.done}/{self.total} {label}"
        if self.tty:
            self.file.write("\r\033[K" + text)
        else:
            self.file.write(text + "\n")
        self.file.flush()
        self.done += 1

    def close(self):
        if not self.enabled:
            return
        bar = "#" * self.width
        text = f"[{bar}] {self.total}/{self.total} done"
        self.file.write(("\r\033[K" + text + "\n") if self.tty else text + "\n")
        self.file.flush()


class Report:
    """The results of one run, with everything needed to print or save it."""

    def __init__(self, results, libraries, threads, thread_setting, ceilings,
                 machine_info, settings, started, blas=None):
        self.results = results
        self.libraries = libraries
        self.threads = threads
        self.thread_setting = thread_setting
        self.ceilings = ceilings
        self.machine = machine_info
        self.settings = settings
        self.started = started
        self.blas = blas if blas is not None else []

    @property
    def lib_names(self):
        return [lib.name for lib in self.libraries]

    # ------------------------------------------------------------ figures
    def fraction(self, result, lib):
        """Fraction of the relevant ceiling reached by `lib`, or None."""
        rate = result.rate(lib)
        peak, _ = machine.ceiling_for(result.case, self.ceilings)
        if rate is None or not peak:
            return None
        return rate / peak

    def to_dict(self):
        """Every figure of the run, JSON-ready."""
        cases = []
        for res in self.results:
            c = res.case
            peak, label = machine.ceiling_for(c, self.ceilings)
            libs = {}
            for name, lr in res.libs.items():
                libs[name] = {
                    "status": lr.status,
                    "note": lr.note,
                    "median_s": lr.median,
                    "times_s": list(lr.times),
                    "calls_per_block": lr.number,
                    "error_ratio": _finite(lr.error_ratio),
                    "rate": res.rate(name),
                    "ceiling_fraction": self.fraction(res, name),
                }
            speedup = {other: res.speedup(other) for other in self.lib_names
                       if other != "fasttensor"}
            cases.append({
                "name": c.name,
                "group": c.group,
                "shapes": c.shapes,
                "dtype": _dtype_name(c.dtype),
                "kind": c.kind,
                "unit": "GFLOP/s" if c.kind == "flops" else "GB/s",
                "flops": c.flops,
                "bytes": c.nbytes,
                "tolerance": c.tolerance(),
                "ceiling": {"label": label, "value": peak},
                "series": c.series,
                "x": c.x,
                "libraries": libs,
                "fasttensor_speedup": speedup,
            })
        versions = {lib.name: (lib.version or None) for lib in self.libraries}
        avail = {lib.name: (lib.available, lib.reason)
                 for lib in self.libraries}
        return {
            "started": self.started,
            "command": self.settings.get("command"),
            "machine": self.machine,
            "versions": versions,
            "libraries": {k: {"available": a, "reason": r}
                          for k, (a, r) in avail.items()},
            "blas": self.blas,
            "threads": self.threads,
            "thread_setting": self.thread_setting,
            "settings": {k: v for k, v in self.settings.items()
                         if k != "command"},
            "ceilings": self.ceilings,
            "cases": cases,
        }

    def write_json(self, path):
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=2)
            f.write("\n")

    # ------------------------------------------------------------ table
    def table(self, markdown=False, rates=True):
        """The report table as text (aligned columns) or Markdown.

        With ``rates=False`` the unit and rate columns are left out (times
        and speed-ups only).
        """
        names = self.lib_names
        others = [n for n in names if n != "fasttensor"]
        header = ["case"] + names
        if "fasttensor" in names:
            header += [f"ft/{_short(o)}" for o in others]
        if rates:
            header += ["unit"] + [f"{_short(n)} rate (% ceil)" for n in names]
        rows = []
        notes = []
        for res in self.results:
            row = [res.case.name]
            for n in names:
                lr = res.libs[n]
                if lr.status == OK:
                    row.append(format_time(lr.median))
                else:
                    row.append(lr.status.upper() if lr.status in
                               ("wrong", "error") else lr.status)
                    if lr.status not in ("unavailable",):
                        notes.append((n, lr.status, lr.note, res.case.name))
            if "fasttensor" in names:
                for o in others:
                    s = res.speedup(o)
                    row.append(f"{s:.2f}x" if s is not None else "-")
            if not rates:
                rows.append(row)
                continue
            row.append("GFLOP/s" if res.case.kind == "flops" else "GB/s")
            for n in names:
                rate = res.rate(n)
                if rate is None:
                    row.append("-")
                    continue
                frac = self.fraction(res, n)
                cell = _fmt_rate(rate)
                if frac is not None:
                    cell += f" ({frac * 100:.0f}%)"
                row.append(cell)
            rows.append(row)
        unavailable = [f"{lib.name}: {lib.reason}" for lib in self.libraries
                       if not lib.available]
        if markdown:
            text = _markdown_table(header, rows)
        else:
            text = _text_table(header, rows)
        foot = []
        if unavailable:
            foot.append("Not measured: " + "; ".join(unavailable))
        foot += _group_notes(notes)
        if foot:
            text += "\n\n" + "\n".join(
                ("- " if markdown else "  ") + line for line in foot)
        return text

    def summary(self, markdown=False):
        """Machine, threads and ceilings, a few lines."""
        m = self.machine
        c = self.ceilings or {}
        caches = ", ".join(f"{k} {_fmt_bytes(v)}"
                           for k, v in m.get("caches", {}).items())
        isa = m.get("isa", {})
        lines = [
            f"Machine: {m.get('cpu')} ({m.get('cores')} cores; {caches}); "
            f"{m.get('system')}",
            f"fasttensor ISA: best {isa.get('best')}, active {isa.get('active')}"
            f"; threads: {self.threads} for every library",
            "Versions: " + ", ".join(f"{lib.name} {lib.version or '-'}"
                                     for lib in self.libraries
                                     if lib.available),
        ]
        if c:
            fma = c.get("fma_gflops_per_core")
            if fma is None:
                lines.append("FMA peak: unavailable")
            else:
                lines.append(f"FMA peak: {fma:.1f} GFLOP/s per core, "
                             f"{c['fma_gflops']:.1f} on {self.threads} "
                             f"thread(s) (float32)")
            bf16 = c.get("bf16_gflops_per_core")
            if bf16:
                lines.append(f"bfloat16 peak ({c.get('bf16_engine')}): "
                             f"{bf16 / 1e3:.2f} TFLOP/s per core, "
                             f"{c['bf16_gflops'] / 1e3:.2f} on "
                             f"{self.threads} thread(s)")
            elif c.get("bf16_engine"):
                lines.append(f"bfloat16 products: {c['bf16_engine']} "
                             f"(float32 kernels; ceiling the FMA peak)")
            bw = c.get("copy_gbs", {})
            parts = []
            for level, v in bw.items():
                size = _fmt_bytes(2 * c.get("copy_bytes", {}).get(level, 0))
                parts.append(f"{level} ({size} working set) "
                             + (f"{v:.1f} GB/s" if v else "unavailable"))
            lines.append("Copy bandwidth: " + ", ".join(parts))
            for note in c.get("notes", []):
                lines.append(f"Note: {note}")
        s = self.settings
        lines.append(f"Timing: median of {s.get('rounds')} interleaved rounds, "
                     f"{s.get('rest')} s rest between libraries")
        load = s.get("load_average_1min") or {}
        if load.get("start") is not None:
            lines.append(f"Load average (1 min): {load['start']:.2f} at the "
                         f"start, {load['end']:.2f} at the end")
        if markdown:
            return "\n".join(f"- {line}" for line in lines)
        return "\n".join(lines)


# ---------------------------------------------------------------- running
def run(cases, libraries=None, threads=None, rounds=5, rest=0.3,
        block_seconds=0.05, ceilings=True, ceiling_seconds=0.25,
        progress=True, progress_file=None, seed=0, command=None):
    """Check and time `cases` on every library; measure the ceilings.

    Parameters
    ----------
    cases : list of Case
        What to run (see :mod:`fasttensor.bench.cases`).
    libraries : list of Library or list of str, optional
        Libraries to compare (default: fasttensor, NumPy, PyTorch).
    threads : int, optional
        Threads for every library (default: the cores this process may use).
    rounds, rest, block_seconds : see :class:`fasttensor.bench.timing.Timer`.
    ceilings : bool
        Measure the FMA peak and copy bandwidth first.
    ceiling_seconds : float
        Duration of each ceiling measurement.
    progress : bool
        Show a progress bar on `progress_file` (default stderr).
    seed : int
        Seed for the inputs.
    command : str, optional
        The command line, recorded in the JSON.

    Returns
    -------
    Report
    """
    if libraries is None:
        libraries = load_libraries(LIBRARY_NAMES)
    elif libraries and isinstance(libraries[0], str):
        libraries = load_libraries(libraries)
    if threads is None:
        threads = default_threads()
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    timer = Timer(rounds=rounds, rest=rest, block_seconds=block_seconds,
                  seed=seed)
    started = datetime.datetime.now().isoformat(timespec="seconds")
    load_start = _load1()
    bar = Progress(len(cases) + (1 if ceilings else 0), file=progress_file,
                   enabled=progress)
    results = []
    with thread_limit(threads, libraries) as how:
        ceil = None
        if ceilings:
            bar.step("measuring the machine's ceilings")
            ceil = machine.measure_ceilings(threads, ceiling_seconds)
        blas = machine.blas_info()
        for case in cases:
            bar.step(case.name)
            results.append(timer.run_case(case, libraries))
    bar.close()
    settings = {"rounds": rounds, "rest": rest, "block_seconds": block_seconds,
                "seed": seed, "command": command,
                "load_average_1min": {"start": load_start, "end": _load1()},
                "cases": [c.name for c in cases]}
    return Report(results, libraries, threads, how, ceil,
                  machine.machine_info(), settings, started, blas=blas)


def _load1():
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


# ---------------------------------------------------------------- formatting
def format_time(seconds):
    """``1.23 ms`` style, three significant figures."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{_sig3(seconds / scale)} {unit}"
    return f"{_sig3(seconds / 1e-9)} ns"


def _sig3(v):
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _fmt_rate(v):
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 1 else f"{v:.3f}"


def _fmt_bytes(n):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            v = n / scale
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} B"


def _short(name):
    return {"fasttensor": "ft", "numpy": "np"}.get(name, name)


def _finite(v):
    if v is None:
        return None
    return v if math.isfinite(v) else None


def _dtype_name(dt):
    import numpy as np
    return np.dtype(dt).name


def _group_notes(notes):
    """One line per (library, status, note), naming every case it covers."""
    grouped = {}
    for lib, status, note, case in notes:
        grouped.setdefault((lib, status, note), []).append(case)
    return [f"{', '.join(cases)}, {lib}: {status}: {note}"
            for (lib, status, note), cases in grouped.items()]


def _text_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows)
              for i in range(len(header))]
    def fmt(row):
        cells = [str(row[0]).ljust(widths[0])]
        cells += [str(v).rjust(w) for v, w in zip(row[1:], widths[1:])]
        return "  ".join(cells).rstrip()
    lines = [fmt(header), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


def _markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def write_markdown(report, path, plot_path=None, command=None):
    """Write BENCHMARKS.md-style Markdown: machine, ceilings, table, plot."""
    lines = [
        "# fasttensor benchmarks",
        "",
        "fasttensor beside NumPy and PyTorch on one machine, measured in one "
        "run by `fasttensor-bench` (`python -m fasttensor.bench`).",
        "",
    ]
    if command:
        lines += ["Regenerate this file (from the repository root, with "
                  "fasttensor built and the `bench` extra installed):", "",
                  "```", command, "```", ""]
    lines += [f"Run started {report.started}.", "",
              "## Machine and ceilings", "", report.summary(markdown=True), ""]
    lines += ["## Results", "", report.table(markdown=True), ""]
    if plot_path:
        rel = os.path.relpath(plot_path, os.path.dirname(os.path.abspath(path)))
        lines += ["## Plot", "", f"![rate against size]({rel})", ""]
    lines += [
        "## How to read it",
        "",
        "- Time columns: median time per call over interleaved rounds "
        "(every library runs one block of calls per round, with a rest "
        "whenever the library changes).",
        "- `ft/np`, `ft/torch`: how many times faster fasttensor is "
        "(the other library's time divided by fasttensor's; above 1 means "
        "fasttensor is faster).",
        "- Rate: GFLOP/s for compute-bound cases (matmul, attention), GB/s "
        "(bytes read plus written) for memory-bound ones; in brackets the "
        "fraction of the ceiling that applies: the FMA peak times the "
        "thread count, or the copy bandwidth of the cache level the case's "
        "data fits in.",
        "- WRONG: the library's answer disagreed with the float64 NumPy "
        "reference, so it was not timed; `skipped`: fasttensor does not "
        "have the op yet. Notes under the table give the details.",
        "- The machine is shared: ratios measured in one run are meaningful, "
        "absolute times vary from run to run.",
        "",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines))
