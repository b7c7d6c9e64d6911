"""Element-wise and reduction benchmarks: fasttensor beside NumPy and
PyTorch on the same inputs, one pytest-benchmark group per case.

Run:  python -m pytest bench/bench_elementwise.py --benchmark-only
      --benchmark-group-by=group --benchmark-columns=min,median,mean,rounds

Every result is checked against NumPy outside the timed call.  Before each
library's rounds the process rests 0.3 s, so that another library's idle
worker threads (still spinning after its last call) do not take a core
from the one being timed (PERF_NOTES section 9).
"""


import numpy as np
import pytest

import fasttensor as ft

try:
    import torch
except ImportError:  # torch is optional
    torch = None

IMPLS = ["numpy", "fasttensor", "torch"]
N16M = 1 << 24


def _setup(benchmark, impl, group):
    if impl == "torch" and torch is None:
        pytest.skip("torch is not installed")
    # Threads, ISA and the rest between libraries come from bench/conftest.py.
    benchmark.group = group


def _conv(impl, *arrays):
    if impl == "numpy":
        return arrays
    if impl == "fasttensor":
        return tuple(ft.asarray(a) for a in arrays)
    return tuple(torch.from_numpy(a) for a in arrays)


def _np(x):
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def _lib(impl):
    return {"numpy": np, "fasttensor": ft._C, "torch": torch}[impl]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return {
        "a": rng.standard_normal(N16M, dtype=np.float32),
        "b": rng.standard_normal(N16M, dtype=np.float32),
        "m": rng.standard_normal((4096, 4096), dtype=np.float32),
        "row": rng.standard_normal(4096, dtype=np.float32),
        "s4": rng.standard_normal((4, 4), dtype=np.float32),
        "t4": rng.standard_normal((4, 4), dtype=np.float32),
    }


@pytest.mark.parametrize("impl", IMPLS)
def test_add_16m(benchmark, impl, data):
    _setup(benchmark, impl, "add 16M float32 (fresh output)")
    a, b = _conv(impl, data["a"], data["b"])
    lib = _lib(impl)
    r = benchmark(lib.add, a, b)
    np.testing.assert_array_equal(_np(r), data["a"] + data["b"])


@pytest.mark.parametrize("impl", IMPLS)
def test_add_broadcast_row(benchmark, impl, data):
    _setup(benchmark, impl, "add (4096,4096)+(4096,) float32")
    m, row = _conv(impl, data["m"], data["row"])
    lib = _lib(impl)
    r = benchmark(lib.add, m, row)
    np.testing.assert_array_equal(_np(r), data["m"] + data["row"])


@pytest.mark.parametrize("impl", IMPLS)
def test_exp_16m(benchmark, impl, data):
    _setup(benchmark, impl, "exp 16M float32")
    (a,) = _conv(impl, data["a"])
    r = benchmark(_lib(impl).exp, a)
    np.testing.assert_allclose(_np(r), np.exp(data["a"]), rtol=4e-7)


@pytest.mark.parametrize("impl", IMPLS)
def test_tanh_16m(benchmark, impl, data):
    _setup(benchmark, impl, "tanh 16M float32")
    (a,) = _conv(impl, data["a"])
    r = benchmark(_lib(impl).tanh, a)
    np.testing.assert_allclose(_np(r), np.tanh(data["a"]), rtol=4e-7,
                               atol=1e-7)


@pytest.mark.parametrize("impl", IMPLS)
def test_sum_16m(benchmark, impl, data):
    _setup(benchmark, impl, "sum 16M float32")
    (a,) = _conv(impl, data["a"])
    r = benchmark(_lib(impl).sum, a)
    exact = data["a"].astype(np.float64).sum()
    assert abs(float(r) - exact) <= 1e-5 * np.abs(data["a"]).sum()


@pytest.mark.parametrize("impl", IMPLS)
def test_multiply_4x4(benchmark, impl, data):
    _setup(benchmark, impl, "multiply 4x4 float32 (call overhead)")
    s, t = _conv(impl, data["s4"], data["t4"])
    r = benchmark(_lib(impl).multiply, s, t)
    np.testing.assert_array_equal(_np(r), data["s4"] * data["t4"])


# ---------------------------------------------------------------- idle workers

@pytest.mark.parametrize("before", ["nothing", "fasttensor", "torch"])
def test_numpy_right_after(benchmark, before):
    """A NumPy product timed right after another library's parallel op.

    fasttensor's OpenMP workers spin only briefly once an op returns
    (GOMP_SPINCOUNT=10000 unless the user set a policy), so a NumPy call
    that follows one should take as long as one that follows nothing.  The
    `torch` row shows the same for PyTorch's runtime in this process.
    """
    benchmark.group = "numpy-matmul-256-right-after"
    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 256)).astype(np.float32)
    big = rng.standard_normal(1 << 22).astype(np.float32)
    if before == "fasttensor":
        x = ft.asarray(big)

        def setup():
            ft.exp(x)
    elif before == "torch":
        torch = pytest.importorskip("torch")
        tx = torch.from_numpy(big)

        def setup():
            torch.exp(tx)
    else:
        def setup():
            pass
    benchmark.extra_info["before"] = before
    result = benchmark.pedantic(lambda: a @ a, setup=setup, rounds=200,
                                iterations=1, warmup_rounds=5)
    np.testing.assert_allclose(result, a.astype(np.float64) @ a, rtol=1e-3,
                               atol=1e-3)
