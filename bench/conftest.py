"""Shared fixtures of fasttensor's pytest-benchmark suite (``pytest bench/``).

Files named ``bench_*.py`` in this folder are collected (their test
functions are named ``test_*`` as usual).  Every speed claim of the project
is a ratio read off one group of this suite: one group per case, with
fasttensor, NumPy and PyTorch in the same group.  See bench/README.md.

Command-line options
--------------------
``--bench-threads N``
    Threads for every library (default: the cores available), applied for
    the whole session through :func:`fasttensor.bench.thread_limit`.
``--bench-rest SECONDS``
    Rest before a benchmark whose library differs from the previous one's
    (default 0.3; see ``rest_between_libraries``).

Fixtures
--------
``impl``
    Parametrised over ``"fasttensor"``, ``"numpy"`` and ``"torch"`` (ids
    are those names).  The value is a :class:`fasttensor.bench.Library`:
    ``impl.name``, ``impl.module`` (``fasttensor``, ``numpy`` or
    ``torch``), ``impl.asarray(ndarray)`` (zero-copy where possible) and
    ``impl.to_numpy(result)``.  A library that is not installed is skipped
    with the reason.
``bench_threads``
    The session's thread count (int).
``rest_between_libraries``
    Autouse.  Before a test that uses ``benchmark``, sleeps
    ``--bench-rest`` seconds when its ``impl`` differs from the previous
    benchmark's, so that the previous library's idle worker threads have
    stopped spinning on the cores (PERF_NOTES section 9).
``bench_extra_info``
    Autouse.  Puts ``library``, ``threads``, ``isa`` (fasttensor's active
    kernel ISA) and the library's ``version`` into ``benchmark.extra_info``.

Helpers (``from conftest import run_case, require, check, HAVE_TORCH``)
-----------------------------------------------------------------------
``run_case(benchmark, impl, name)``
    Runs the report's case `name` (see ``python -m fasttensor.bench
    --list``): makes its inputs, checks the library's answer against the
    float64 reference outside the timed call, sets ``benchmark.group`` to
    the case name and times it; adds ``gflops`` or ``gbs`` at the median
    to ``extra_info``.  The figures therefore line up with the report.
``require(impl, *names)``
    Skips a fasttensor benchmark whose ``fasttensor.<name>`` (dotted names
    allowed, ``"nn.scaled_dot_product_attention"``) does not exist yet.
``check(impl, result, expected, rtol, atol=0.0)``
    Fails the test, naming the library and the worst element, when
    ``result`` is not within ``atol + rtol * |expected|`` of `expected`.
``best_time(benchmark)``
    The fastest round in seconds, or None when timing is off
    (``--benchmark-disable``), so that derived figures are skipped.
``HAVE_TORCH``
    Whether PyTorch is importable.
"""

import importlib.util
import os
import time

import numpy as np
import pytest

from fasttensor.bench import libs as _libs
from fasttensor.bench.cases import check_agreement, get_case

HAVE_TORCH = importlib.util.find_spec("torch") is not None
LIBRARIES = ("fasttensor", "numpy", "torch")

_LOADED = {}
_last_library = [None]


def pytest_addoption(parser):
    group = parser.getgroup("fasttensor bench")
    group.addoption("--bench-threads", type=int, default=None,
                    help="threads for every library (default: all cores)")
    group.addoption("--bench-rest", type=float,
                    default=float(os.environ.get("FASTTENSOR_BENCH_REST",
                                                 "0.3")),
                    help="seconds of rest when the library changes between "
                         "benchmarks (default 0.3)")


def pytest_collect_file(file_path, parent):
    # A file named on the command line is collected by pytest itself.
    if parent.session.isinitpath(file_path):
        return None
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def _library(name):
    if name not in _LOADED:
        _LOADED[name] = _libs.load_libraries([name])[0]
    return _LOADED[name]


@pytest.fixture(scope="session")
def bench_threads(request):
    n = request.config.getoption("--bench-threads") or _libs.default_threads()
    if n < 1:
        raise pytest.UsageError(f"--bench-threads must be at least 1, got {n}")
    libraries = [_library(name) for name in LIBRARIES]
    with _libs.thread_limit(n, libraries):
        yield n


@pytest.fixture(params=LIBRARIES)
def impl(request, bench_threads):
    lib = _library(request.param)
    if not lib.available:
        pytest.skip(f"{lib.name}: {lib.reason}")
    return lib


@pytest.fixture(autouse=True)
def rest_between_libraries(request):
    if "benchmark" not in request.fixturenames:
        yield
        return
    callspec = getattr(request.node, "callspec", None)
    name = callspec.params.get("impl") if callspec is not None else None
    rest = request.config.getoption("--bench-rest")
    if name is not None and _last_library[0] not in (None, name) and rest > 0:
        time.sleep(rest)
    yield
    if name is not None:
        _last_library[0] = name


def _active_isa():
    try:
        from fasttensor import _C
        return _C._active_isa()
    except (ImportError, AttributeError):
        return "unknown"


@pytest.fixture(autouse=True)
def bench_extra_info(request):
    if "benchmark" not in request.fixturenames:
        return
    benchmark = request.getfixturevalue("benchmark")
    callspec = getattr(request.node, "callspec", None)
    name = callspec.params.get("impl") if callspec is not None else None
    info = {"threads": request.getfixturevalue("bench_threads"),
            "isa": _active_isa()}
    if name is not None:
        info["library"] = name
        info["version"] = _library(name).version
    benchmark.extra_info.update(info)


def best_time(benchmark):
    """Fastest round in seconds; None when pytest-benchmark is disabled."""
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    return getattr(stats, "min", None) or None


def require(impl, *names):
    """Skip when `impl` is fasttensor and lacks any of the dotted `names`."""
    if impl.name != "fasttensor":
        return
    missing = impl.missing(names)
    if missing:
        pytest.skip(", ".join(f"fasttensor.{m}" for m in missing)
                    + " does not exist yet")


def check(impl, result, expected, rtol, atol=0.0):
    """Fail unless `result` is within ``atol + rtol * |expected|``."""
    got = np.asarray(impl.to_numpy(result), dtype=np.float64)
    exp = np.asarray(expected, dtype=np.float64)
    if got.shape != exp.shape:
        pytest.fail(f"{impl.name}: result shape {got.shape} differs from the "
                    f"reference {exp.shape}")
    bound = atol + rtol * np.abs(exp)
    err = np.abs(got - exp)
    bad = ~(err <= bound) & ~(np.isnan(got) & np.isnan(exp))
    if np.any(bad):
        idx = np.unravel_index(np.argmax(np.where(bad, err, -1)), err.shape)
        pytest.fail(f"{impl.name}: {int(bad.sum())} element(s) disagree; at "
                    f"{tuple(int(i) for i in idx)} expected {exp[idx]!r}, got "
                    f"{got[idx]!r} (rtol={rtol}, atol={atol})")


def run_case(benchmark, impl, name):
    """Check, then time, the report's case `name` on `impl`."""
    case = get_case(name) if isinstance(name, str) else name
    fn = case.impl.get(impl.name)
    if fn is None:
        pytest.skip(f"case {case.name} has no {impl.name} version")
    require(impl, *case.requires)
    inputs = case.make_inputs(np.random.default_rng(0))
    expected, scale = case.reference(
        *(np.asarray(a, dtype=np.float64) for a in inputs))
    args = tuple(impl.asarray(a) for a in inputs)
    module = impl.module

    # Checked outside the timed call.
    out = impl.to_numpy(fn(module, *args))
    ok, _, message = check_agreement(case, out,
                                     np.asarray(expected, np.float64), scale)
    if not ok:
        pytest.fail(f"{case.name}, {impl.name}: wrong answer: {message}")

    benchmark.group = case.name
    benchmark.extra_info.update(case=case.name, shapes=case.shapes,
                                flops=case.flops, bytes=case.nbytes)
    result = benchmark(fn, module, *args)
    stats = getattr(benchmark, "stats", None)
    median = getattr(getattr(stats, "stats", None), "median", None)
    if median:
        if case.kind == "flops":
            benchmark.extra_info["gflops"] = case.flops / median / 1e9
        else:
            benchmark.extra_info["gbs"] = case.nbytes / median / 1e9
    return result
