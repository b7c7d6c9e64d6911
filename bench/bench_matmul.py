"""Matrix products side by side: NumPy (OpenBLAS), fasttensor, PyTorch.

Run:  python -m pytest bench/bench_matmul.py --benchmark-only
      (add --benchmark-json=FILE to keep the figures)

One pytest-benchmark group per case, one row per library, float32 unless
the case says otherwise.  Each library runs at the case's thread count
(threadpoolctl for NumPy's BLAS, ft.set_num_threads, torch.set_num_threads).
Between one library's rounds and the next the suite rests 0.3 s, so idle
worker threads of the previous library have gone to sleep and do not take
a core from the one being timed (PERF_NOTES section 9).  Results are
checked against a float64 product after timing, outside the timed call.

The suite also measures the single-thread FMA peak of the active ISA
(``fasttensor._C._fma_peak_gflops``) in the same run; every fasttensor row
records its GFLOP/s and, on one thread, the fraction of that peak in
``extra_info``.  At the end it prints each group's ratios
(time of NumPy or PyTorch / time of fasttensor; above 1 means fasttensor
is faster).

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, when set, change OpenBLAS's kernel
choice; unset them for representative NumPy figures.
"""

import os
import time

import numpy as np
import pytest

import fasttensor as ft
from fasttensor import _C
from conftest import best_time

try:
    import torch
except ImportError:  # PyTorch rows are skipped
    torch = None

try:
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None

matmul = getattr(ft, "matmul", _C.matmul)

REST_S = 0.3

# name, A shape, B shape, dtype, threads
CASES = [
    ("n64", (64, 64), (64, 64), np.float32, 2),
    ("n128", (128, 128), (128, 128), np.float32, 2),
    ("n256", (256, 256), (256, 256), np.float32, 2),
    ("n1024", (1024, 1024), (1024, 1024), np.float32, 2),
    ("n2048", (2048, 2048), (2048, 2048), np.float32, 2),
    ("1000x999x1001", (1000, 999), (999, 1001), np.float32, 2),
    ("linear 4096x1024x256", (4096, 1024), (1024, 256), np.float32, 2),
    ("vecmat 1x4096x4096", (1, 4096), (4096, 4096), np.float32, 2),
    ("batched 64x(128x64x128)", (64, 128, 64), (64, 64, 128), np.float32, 2),
    ("f64 n1024", (1024, 1024), (1024, 1024), np.float64, 2),
    ("n2048 1 thread", (2048, 2048), (2048, 2048), np.float32, 1),
]

LIBS = ["numpy", "fasttensor", "torch"]

_results = {}


def flops_of(sa, sb):
    batch = int(np.prod(np.broadcast_shapes(sa[:-2], sb[:-2])))
    return 2.0 * batch * sa[-2] * sa[-1] * sb[-1]


@pytest.fixture(scope="session")
def fma_peak():
    ft.set_num_threads(1)
    return max(_C._fma_peak_gflops(0.3) for _ in range(3))


@pytest.fixture(scope="module", autouse=True)
def ratio_report(request):
    yield
    if not _results:
        return
    # Printed with output capture off, so that it shows without -s.
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print("")
        print("matmul: time(peer) / time(fasttensor), min of rounds")
        print(f"{'case':28s} {'vs numpy':>9s} {'vs torch':>9s} "
              f"{'ft GFLOP/s':>11s} {'of peak':>8s}")
        for name, *_ in CASES:
            r = _results.get(name, {})
            if "fasttensor" not in r:
                continue
            t_ft, info = r["fasttensor"]
            vs_np = r["numpy"][0] / t_ft if "numpy" in r else float("nan")
            vs_t = r["torch"][0] / t_ft if "torch" in r else float("nan")
            frac = info.get("fraction_of_peak")
            print(f"{name:28s} {vs_np:9.2f} {vs_t:9.2f} {info['gflops']:11.1f} "
                  f"{'' if frac is None else f'{frac:8.2f}'}")


def _set_threads(lib, nt):
    if lib == "fasttensor":
        ft.set_num_threads(nt)
    elif lib == "torch":
        torch.set_num_threads(nt)


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matmul(benchmark, case, lib, fma_peak):
    name, sa, sb, dtype, nt = case
    if lib == "torch" and torch is None:
        pytest.skip("PyTorch is not installed")
    if lib == "numpy" and threadpool_limits is None and nt == 1:
        pytest.skip("threadpoolctl is needed to run NumPy on one thread")
    rng = np.random.default_rng(0)
    a = rng.standard_normal(sa).astype(dtype)
    b = rng.standard_normal(sb).astype(dtype)
    if lib == "numpy":
        x, y, fn = a, b, np.matmul
    elif lib == "fasttensor":
        x, y, fn = ft.asarray(a), ft.asarray(b), matmul
    else:
        x, y, fn = torch.from_numpy(a), torch.from_numpy(b), torch.matmul

    benchmark.group = name
    flops = flops_of(sa, sb)
    rounds = int(min(200, max(5, 0.6e9 / flops * 5)))
    iterations = int(max(1, 2e6 / flops * 20))
    limiter = (threadpool_limits(limits=nt, user_api="blas")
               if lib == "numpy" and threadpool_limits is not None else None)
    try:
        _set_threads(lib, nt)
        time.sleep(REST_S)
        result = benchmark.pedantic(fn, args=(x, y), rounds=rounds,
                                    iterations=iterations, warmup_rounds=1)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()

    # Check outside the timed call: the (k + 2) * eps bound of the tests.
    got = np.asarray(result).astype(np.float64)
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    bound = (sa[-1] + 2) * np.finfo(dtype).eps * np.matmul(
        np.abs(a).astype(np.float64), np.abs(b).astype(np.float64))
    assert (np.abs(got - ref) <= bound).all()

    tmin = best_time(benchmark)  # per call (pedantic divides)
    if tmin is None:
        return
    gflops = flops / tmin * 1e-9
    info = {"threads": nt, "dtype": np.dtype(dtype).name, "gflops": gflops,
            "fma_peak_gflops_1thread": fma_peak}
    if lib == "fasttensor":
        info["isa"] = _C._gemm_info(dtype)["isa"]
        if nt == 1:
            # The peak again, right after the product, so that both see
            # the same clock.
            peak = max(fma_peak, _C._fma_peak_gflops(0.3))
            info["fma_peak_gflops_1thread"] = peak
            info["fraction_of_peak"] = gflops / peak
    elif lib == "numpy":
        info["openblas_coretype"] = os.environ.get("OPENBLAS_CORETYPE", "")
    benchmark.extra_info.update(info)
    _results.setdefault(name, {})[lib] = (tmin, info)
