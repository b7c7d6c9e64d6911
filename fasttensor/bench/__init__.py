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
           "get_case", "load_libraries", "quick_compare", "run", "select",
           "thread_limit"]

QUICK_COMPARE_CASES = ("add-1M", "matmul-256", "softmax-4096x1024")


def quick_compare(cases=None, file=None, threads=None, rounds=3, rest=0.3,
                  progress=False):
    """Time a handful of cases and print a small side-by-side table.

    Every case is checked against a float64 NumPy reference before it is
    timed, exactly as in the full report; cases whose fasttensor op does
    not exist yet show ``skipped``.  No ceilings are measured, so it takes
    a few seconds.

    Parameters
    ----------
    cases : sequence of str, optional
        Case names or patterns (see :func:`fasttensor.bench.select`);
        default ``("add-1M", "matmul-256", "softmax-4096x1024")``.
    file : file-like, optional
        Where the table goes (default ``sys.stdout``).
    threads : int, optional
        Threads for every library (default: the cores available).
    rounds : int, optional
        Interleaved timed rounds per case (median reported).
    rest : float, optional
        Seconds of rest whenever the library changes.
    progress : bool, optional
        Show a progress bar on stderr.

    Returns
    -------
    Report
        The results (``report.table()`` is what was printed).

    Raises
    ------
    ValueError
        If a name matches no case.

    Examples
    --------
    >>> import fasttensor.bench
    >>> fasttensor.bench.quick_compare(["add-1M"])  # doctest: +SKIP
    case    fasttensor  numpy     torch  ft/np  ft/torch  unit ...
    """
    file = sys.stdout if file is None else file
    names = QUICK_COMPARE_CASES if cases is None else tuple(cases)
    chosen = select(default_cases(), list(names))
    if not chosen:
        raise ValueError(f"quick_compare: no case matches {names!r}")
    report = run(chosen, threads=threads, rounds=rounds, rest=rest,
                 block_seconds=0.02, ceilings=False, progress=progress)
    print(f"{report.threads} thread(s) per library; median of {rounds} "
          f"interleaved rounds", file=file)
    print(report.table(), file=file)
    return report
