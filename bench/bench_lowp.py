"""16-bit matrix products side by side: fasttensor bfloat16, float16 and
float32 operands under ``ft.autocast`` (bfloat16), fasttensor float32,
PyTorch bfloat16 and NumPy float32 (OpenBLAS).

Run:  python -m pytest bench/bench_lowp.py --benchmark-only

One pytest-benchmark group per size (n = 256 and 2048, square), one row per
library and dtype, two threads each.  NumPy has no bfloat16 GEMM (ml_dtypes'
matmul is a generic loop, far too slow at these sizes), so its row is
float32 and serves as the common baseline.  The suite rests 0.3 s before
each row, so the previous library's idle workers have stopped spinning
(PERF_NOTES section 9).  Every result is checked against the float64
product of the same rounded inputs, outside the timed call.

fasttensor's bfloat16 products run on the CPU's bfloat16 matrix engine
(AMX tiles or AVX512-BF16; ``bf16_engine`` in extra_info says which).
Without one, and for float16, they run the float32 GEMM on operands
widened (or, under autocast, rounded and widened) while they are packed,
so no operand is converted in a separate pass, and the 16-bit rows are
expected near the float32 row.  The float32 result is rounded to 16 bits
once.  The table printed at the end gives each row's speed relative to
fasttensor float32.

``test_bf16_attention`` times scaled_dot_product_attention on
(4, 8, 1024, 64) bfloat16 q, k, v: fasttensor and PyTorch bfloat16, and
fasttensor float32.  Where a bfloat16 engine runs, the table ends with its
peak, measured in the same run, and the bfloat16 rows' share of it.
"""

import time

import ml_dtypes
import numpy as np
import pytest

import fasttensor as ft
from conftest import best_time
from fasttensor import _C

try:
    import torch
except ImportError:  # PyTorch rows are skipped
    torch = None

try:
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None

BF16 = np.dtype(ml_dtypes.bfloat16)
REST_S = 0.3
THREADS = 2
SIZES = [256, 2048]
ROWS = ["fasttensor-bf16", "fasttensor-f16", "fasttensor-autocast",
        "fasttensor-f32", "torch-bf16", "numpy-f32"]
BASE = "fasttensor-f32"

_results = {}


@pytest.fixture(scope="module", autouse=True)
def ratio_report(request):
    yield
    if not _results:
        return
    # Printed with output capture off, so that it shows without -s.
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print("")
        print("16-bit matmul: time(fasttensor-f32) / time(row), min of "
              "rounds (above 1: the row is faster than fasttensor float32)")
        others = [r for r in ROWS if r != BASE]
        print(f"{'n':>6s} {'ft-f32 GFLOP/s':>15s} " +
              " ".join(f"{r:>19s}" for r in others))
        for n in SIZES:
            r = _results.get(n, {})
            if BASE not in r:
                continue
            t0 = r[BASE]
            cols = [f"{t0 / r[k]:19.2f}" if k in r else f"{'-':>19s}"
                    for k in others]
            print(f"{n:6d} {2.0 * n ** 3 / t0 * 1e-9:15.1f} " +
                  " ".join(cols))
        attn = _results.get("attention", {})
        if "fasttensor-bf16" in attn:
            t = attn["fasttensor-bf16"]
            print(f"bfloat16 attention {ATTN_SHAPE}: "
                  + ", ".join(f"{attn[k] / t:.2f}x {k}" for k in ATTN_ROWS
                              if k in attn and k != "fasttensor-bf16")
                  + " (time(row) / time(fasttensor-bf16))")
        engine = _C._bf16_engine()
        if engine in ("amx", "avx512_bf16"):
            # Measured now, after the timed rows, on the same threads.
            peak = _C._bf16_engine_peak_tflops(0.2) * THREADS
            print(f"{engine} peak, measured in this run: {peak:.2f} TFLOP/s "
                  f"on {THREADS} threads")
            for n in SIZES:
                t = _results.get(n, {}).get("fasttensor-bf16")
                if t:
                    rate = 2.0 * n ** 3 / t * 1e-12
                    print(f"  fasttensor-bf16 n={n}: {rate:.3f} TFLOP/s "
                          f"({100 * rate / peak:.0f}% of peak)")
            t = attn.get("fasttensor-bf16")
            if t:
                rate = 4.0 * np.prod(ATTN_SHAPE) * ATTN_SHAPE[2] / t * 1e-12
                print(f"  fasttensor-bf16 attention: {rate:.3f} TFLOP/s "
                      f"({100 * rate / peak:.0f}% of peak)")
        else:
            print(f"bfloat16 engine: {engine} (no bfloat16 matrix unit; "
                  "the float32 FMA peak is the ceiling)")


@pytest.mark.parametrize("row", ROWS)
@pytest.mark.parametrize("n", SIZES)
def test_bf16_matmul(benchmark, n, row):
    lib, dt = row.split("-")
    if lib == "torch" and torch is None:
        pytest.skip("PyTorch is not installed")
    rng = np.random.default_rng(0)
    a32 = rng.standard_normal((n, n)).astype(np.float32)
    b32 = rng.standard_normal((n, n)).astype(np.float32)
    a16, b16 = a32.astype(BF16), b32.astype(BF16)
    a, b = (a16, b16) if dt == "bf16" else (a32, b32)
    if dt == "f16":
        a, b = a32.astype(np.float16), b32.astype(np.float16)
    limiter = None
    if lib == "fasttensor":
        ft.set_num_threads(THREADS)
        x, y, fn = ft.asarray(a), ft.asarray(b), ft.matmul
        if dt == "autocast":
            def fn(p, q):
                with ft.autocast(dtype=ft.bfloat16):
                    return ft.matmul(p, q)
    elif lib == "torch":
        torch.set_num_threads(THREADS)
        x = torch.from_numpy(a16.astype(np.float32)).bfloat16()
        y = torch.from_numpy(b16.astype(np.float32)).bfloat16()
        fn = torch.matmul
    else:
        if threadpool_limits is not None:
            limiter = threadpool_limits(limits=THREADS, user_api="blas")
        x, y, fn = a, b, np.matmul

    benchmark.group = f"16-bit matmul n={n}"
    flops = 2.0 * n ** 3
    rounds = 30 if n <= 256 else 5
    iterations = 10 if n <= 256 else 1
    warmup = 1
    if row == "torch-bf16" and n > 256:
        # About a minute per product on a CPU without bfloat16 units.
        rounds, warmup = 2, 0
    try:
        time.sleep(REST_S)
        result = benchmark.pedantic(fn, args=(x, y), rounds=rounds,
                                    iterations=iterations, warmup_rounds=warmup)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()

    if lib == "torch":
        got = result.float().numpy().astype(np.float64)
    else:
        got = np.asarray(result).astype(np.float64)
    if dt == "autocast":
        a, b = a16, b16
    ref = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    tol = (1e-2 if dt != "f32" else (n + 2) * 2.0 ** -23) * scale
    assert (np.abs(got - ref) <= tol).all(), row

    tmin = best_time(benchmark)
    if tmin is None:
        return
    benchmark.extra_info.update({
        "library": lib,
        "dtype": {"bf16": "bfloat16", "f16": "float16",
                  "autocast": "float32 (autocast bfloat16)"}.get(dt,
                                                                 "float32"),
        "threads": THREADS, "gflops": flops / tmin * 1e-9,
        "isa": _C._active_isa(), "lowp_path": _C.LOWP_COMPUTE_PATH,
        "bf16_engine": _C._bf16_engine()})
    _results.setdefault(n, {})[row] = tmin


ATTN_SHAPE = (4, 8, 1024, 64)
ATTN_ROWS = ["fasttensor-bf16", "fasttensor-f32", "torch-bf16"]


@pytest.mark.parametrize("row", ATTN_ROWS)
def test_bf16_attention(benchmark, row):
    lib, dt = row.split("-")
    if lib == "torch" and torch is None:
        pytest.skip("PyTorch is not installed")
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(ATTN_SHAPE).astype(np.float32).astype(BF16)
               for _ in range(3))
    if lib == "fasttensor":
        ft.set_num_threads(THREADS)
        args = tuple(ft.asarray(t if dt == "bf16" else t.astype(np.float32))
                     for t in (q, k, v))
        fn = ft.nn.scaled_dot_product_attention
    else:
        torch.set_num_threads(THREADS)
        args = tuple(torch.from_numpy(t.view(np.int16)).view(torch.bfloat16)
                     for t in (q, k, v))
        fn = torch.nn.functional.scaled_dot_product_attention
    benchmark.group = f"16-bit attention {ATTN_SHAPE}"
    time.sleep(REST_S)
    result = benchmark.pedantic(fn, args=args, rounds=3, warmup_rounds=1)

    got = (result.float().numpy() if lib == "torch"
           else np.asarray(result).astype(np.float32)).astype(np.float64)
    q64, k64, v64 = (t.astype(np.float64) for t in (q, k, v))
    s = q64 @ np.swapaxes(k64, -1, -2) / np.sqrt(ATTN_SHAPE[-1])
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    ref, scale = p @ v64, p @ np.abs(v64)
    assert (np.abs(got - ref) <= 2e-2 * scale).all(), row
    tmin = best_time(benchmark)
    if tmin is not None:
        flops = 4.0 * np.prod(ATTN_SHAPE) * ATTN_SHAPE[2]
        benchmark.extra_info.update({"library": lib, "threads": THREADS,
                                     "gflops": flops / tmin * 1e-9})
        _results.setdefault("attention", {})[row] = tmin
