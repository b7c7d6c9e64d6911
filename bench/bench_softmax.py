"""softmax benchmarks: fasttensor beside the NumPy composite (max,
subtract, exp, sum, divide) and torch.softmax, one group per shape.

Run:  python -m pytest bench/ -k "softmax or copy_ceiling" --benchmark-only
      --benchmark-group-by=group --benchmark-columns=min,median,rounds

Every result is checked against a float64 reference outside the timed
calls.  Each library's rounds start after a 0.3 s rest (PERF_NOTES
section 9).  extra_info carries the achieved bandwidth (input read +
output written, GB/s) and, in the "copy" group, np.copyto's bandwidth
measured in the same run: the ceiling for a one-read-one-write kernel.
"""

import os
import sys
import time

import numpy as np
import pytest

import fasttensor as ft

sys.path.insert(0, os.path.dirname(__file__))
from _ceilings import copy_bandwidth_gbs  # noqa: E402
from conftest import best_time  # noqa: E402

try:
    import torch
except ImportError:  # torch is optional
    torch = None

IMPLS = ["numpy", "fasttensor", "torch"]
SHAPES = [(4096, 4096), (65536, 128), (256, 32000)]


def _setup(benchmark, impl, group):
    if impl == "torch" and torch is None:
        pytest.skip("torch is not installed")
    # Threads, ISA and the rest between libraries come from bench/conftest.py.
    benchmark.group = group


def numpy_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    return {s: rng.standard_normal(s, dtype=np.float32) * 4 for s in SHAPES}


@pytest.fixture(scope="module")
def refs(inputs):
    out = {}
    for s, x in inputs.items():
        x64 = x.astype(np.float64)
        out[s] = numpy_softmax(x64)
    return out


def test_copy_ceiling(benchmark):
    """np.copyto of 256 MiB: the machine's copy bandwidth in this run."""
    benchmark.group = "copy 256 MiB float32 (bandwidth ceiling)"
    time.sleep(0.3)
    src = np.ones(64 << 20, np.float32)
    dst = np.empty_like(src)
    benchmark.pedantic(np.copyto, args=(dst, src), rounds=5, warmup_rounds=1)
    tmin = best_time(benchmark)
    if tmin is not None:
        benchmark.extra_info["GB/s"] = round(2 * src.nbytes / tmin * 1e-9, 2)
    benchmark.extra_info["GB/s_copy_helper"] = round(copy_bandwidth_gbs(), 2)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", IMPLS)
def test_softmax_last_axis(benchmark, impl, shape, inputs, refs):
    _setup(benchmark, impl, f"softmax float32 last axis {shape}")
    x = inputs[shape]
    if impl == "numpy":
        f, arg = numpy_softmax, x
    elif impl == "fasttensor":
        f, arg = ft._C.softmax, ft.asarray(x)
    else:
        f, arg = (lambda t: torch.softmax(t, -1)), torch.from_numpy(x)
    r = benchmark.pedantic(f, args=(arg,), rounds=10, warmup_rounds=1)
    tmin = best_time(benchmark)
    if tmin is not None:
        benchmark.extra_info["GB/s"] = round(2 * x.nbytes / tmin * 1e-9, 2)
    got = r.numpy() if hasattr(r, "numpy") else np.asarray(r)
    np.testing.assert_allclose(got, refs[shape], rtol=2e-5, atol=1e-7)
