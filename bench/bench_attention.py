"""Scaled-dot-product attention benchmarks: fasttensor's fused kernel
beside PyTorch's scaled_dot_product_attention and the NumPy composite
(matmul, softmax composite, matmul), one group per case.

Run:  python -m pytest bench/ -k attention --benchmark-only
      --benchmark-group-by=group --benchmark-columns=min,median,rounds

extra_info: GFLOP/s (4 B H L S D flops, half of that for causal), the FMA
peak measured by a small compiled loop in this run (one thread, and as
many threads as fasttensor uses, running at once), and the fraction of
the latter reached.  Results are checked against
PyTorch (or NumPy) outside the timed calls; each library's rounds start
after a 0.3 s rest (PERF_NOTES section 9).

test_peak_memory_l8192 runs one attention at L = 8192 in a fresh
subprocess per library and reports the growth of the peak resident set
(VmHWM, reset just before the call) over the inputs, beside
fasttensor's pool peak.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import fasttensor as ft

sys.path.insert(0, os.path.dirname(__file__))
from _ceilings import fma_peak_gflops, fma_peak_gflops_1thread  # noqa: E402
from conftest import best_time  # noqa: E402

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # torch is optional
    torch = None

IMPLS = ["numpy", "fasttensor", "torch"]
CASES = [((4, 8, 1024, 64), False), ((1, 8, 512, 64), False),
         ((2, 8, 1024, 64), True)]

_peak = {}


def _fma_peak(threads):
    """(single-thread, all-threads) FMA peak, measured once per run."""
    if "v" not in _peak:
        _peak["v"] = (fma_peak_gflops_1thread(), fma_peak_gflops(threads))
    return _peak["v"]


def numpy_sdpa(q, k, v, causal):
    s = q @ np.swapaxes(k, -1, -2) * np.float32(1 / np.sqrt(q.shape[-1]))
    if causal:
        L, S = s.shape[-2:]
        s = np.where(np.tril(np.ones((L, S), bool)), s, np.float32(-np.inf))
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)) @ v


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    out = {}
    for shape, causal in CASES:
        q, k, v = (rng.standard_normal(shape, dtype=np.float32) for _ in range(3))
        out[shape, causal] = (q, k, v)
    return out


@pytest.fixture(scope="module")
def refs(data):
    out = {}
    for key, (q, k, v) in data.items():
        if torch is not None:
            out[key] = TF.scaled_dot_product_attention(
                *(torch.from_numpy(a) for a in (q, k, v)), is_causal=key[1]).numpy()
        else:
            out[key] = numpy_sdpa(q, k, v, key[1])
    return out


def _name(case):
    (B, H, L, D), causal = case
    return f"B{B}H{H}L{L}D{D}" + ("-causal" if causal else "")


@pytest.mark.parametrize("case", CASES, ids=_name)
@pytest.mark.parametrize("impl", IMPLS)
def test_attention(benchmark, impl, case, data, refs):
    if impl == "torch" and torch is None:
        pytest.skip("torch is not installed")
    (B, H, L, D), causal = case
    benchmark.group = f"attention float32 {_name(case)}"
    nt = ft.get_num_threads()
    peak1, peak_nt = _fma_peak(nt)
    benchmark.extra_info.update(isa=ft._C._active_isa(), threads=nt)
    if torch is not None:
        benchmark.extra_info["torch_threads"] = torch.get_num_threads()
    q, k, v = data[case]
    if impl == "numpy":
        f, args = (lambda a, b, c: numpy_sdpa(a, b, c, causal)), (q, k, v)
        rounds = 2
    elif impl == "fasttensor":
        f = lambda a, b, c: ft._C.scaled_dot_product_attention(  # noqa: E731
            a, b, c, is_causal=causal)
        args, rounds = tuple(ft.asarray(a) for a in (q, k, v)), 8
    else:
        f = lambda a, b, c: TF.scaled_dot_product_attention(  # noqa: E731
            a, b, c, is_causal=causal)
        args, rounds = tuple(torch.from_numpy(a) for a in (q, k, v)), 8
    time.sleep(0.3)
    r = benchmark.pedantic(f, args=args, rounds=rounds, warmup_rounds=1)
    flops = 4 * B * H * L * L * D * (0.5 if causal else 1.0)
    tmin = best_time(benchmark)
    if tmin is not None:
        gf = flops / tmin * 1e-9
        benchmark.extra_info["GFLOP/s"] = round(gf, 1)
        if peak1:
            benchmark.extra_info["fma_peak_1thread_GFLOP/s"] = round(peak1, 1)
            benchmark.extra_info[f"fma_peak_{nt}threads_GFLOP/s"] = round(
                peak_nt, 1)
            benchmark.extra_info["fraction_of_peak"] = round(gf / peak_nt, 3)
    got = r.numpy() if hasattr(r, "numpy") else np.asarray(r)
    np.testing.assert_allclose(got, refs[case], rtol=1e-4, atol=2e-5)


_MEM_SCRIPT = r"""
import json, sys
import numpy as np


def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])


def reset_hwm():
    # Writing 5 to clear_refs resets the peak resident set (VmHWM).
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


impl = sys.argv[1]
B, H, L, D = 1, 8, 8192, 64
rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal((B, H, L, D), dtype=np.float32) for _ in range(3))
if impl == "torch":
    import torch, torch.nn.functional as TF
    args = [torch.from_numpy(a) for a in (q, k, v)]
    TF.scaled_dot_product_attention(*[a[:, :, :64] for a in args])
    reset_hwm()
    before = hwm_kib()
    out = TF.scaled_dot_product_attention(*args)
    pool_peak = None
else:
    import fasttensor as ft
    args = [ft.asarray(a) for a in (q, k, v)]
    ft._C.scaled_dot_product_attention(*[a[:, :, :64] for a in args])
    ft.reset_peak_memory_stats()
    reset_hwm()
    before = hwm_kib()
    out = ft._C.scaled_dot_product_attention(*args)
    pool_peak = ft.max_memory_allocated()
after = hwm_kib()
print(json.dumps({"rss_growth_MiB": (after - before) / 1024,
                  "output_MiB": out.numpy().nbytes / 2**20,
                  "pool_peak_MiB": None if pool_peak is None
                  else pool_peak / 2**20}))
"""


@pytest.mark.parametrize("impl", ["fasttensor", "torch"])
def test_peak_memory_l8192(benchmark, impl):
    """Peak extra memory of one (1, 8, 8192, 64) attention."""
    if impl == "torch" and torch is None:
        pytest.skip("torch is not installed")
    benchmark.group = "attention peak memory B1H8L8192D64"
    res = {}

    def run():
        p = subprocess.run([sys.executable, "-c", _MEM_SCRIPT, impl],
                           capture_output=True, text=True, check=True)
        res.update(json.loads(p.stdout.strip().splitlines()[-1]))

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update({k: (round(v, 1) if v is not None else None)
                                 for k, v in res.items()})
    # The output is 16 MiB; a stored L x S score matrix would be 2 GiB.
    assert res["rss_growth_MiB"] < 256
