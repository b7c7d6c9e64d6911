"""softmax and log_softmax against float64 NumPy and, where installed,
PyTorch: every axis and layout, sizes around the vector and block edges,
special values, every ISA path (the ``isa`` fixture)."""

import numpy as np
import pytest

import fasttensor as ft
from fasttensor import _C

try:
    from numpy.exceptions import AxisError
except ImportError:  # NumPy < 1.25
    from numpy import AxisError

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def ref_softmax(x, axis, log=False):
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        d = x - m
        s = np.sum(np.exp(d), axis=axis, keepdims=True)
        return d - np.log(s) if log else np.exp(d) / s


def check(got, x, axis, log, dtype):
    ref = ref_softmax(x, axis, log)
    got = np.asarray(got)
    assert got.dtype == dtype
    if dtype == np.float32:
        rtol, atol = (2e-6, 2e-6) if log else (2e-5, 1e-7)
    else:
        rtol, atol = 1e-12, 1e-14
    if log:
        # -inf stays -inf; elsewhere compare relative to max(1, |ref|): the
        # log-sum-exp is what rounds.
        fin = np.isfinite(ref)
        np.testing.assert_array_equal(got[~fin], ref[~fin])
        scale = np.maximum(1, np.abs(ref[fin]))
        np.testing.assert_allclose(got[fin] / scale, ref[fin] / scale,
                                   rtol=0, atol=atol * 4)
    else:
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)


@pytest.fixture(params=[False, True], ids=["softmax", "log_softmax"])
def log(request):
    return request.param


def fn(log):
    return _C.log_softmax if log else _C.softmax


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33,
                               63, 64, 65, 100, 257])
def test_last_axis_sizes(isa, log, dtype, n, rng):
    x = (rng.standard_normal((5, n)) * 4).astype(dtype)
    check(fn(log)(x), x, -1, log, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_long_rows_online(isa, log, dtype, rng):
    # Longer than the cached-row limit (192 KiB): the online normaliser.
    n = 70000 if dtype == np.float32 else 30000
    x = (rng.standard_normal((2, n)) * 5).astype(dtype)
    x[1, :40000 if dtype == np.float32 else 20000] = -np.inf  # -inf blocks first
    check(fn(log)(x), x, -1, log, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (4, 1, 33), (2, 3, 4, 5),
                                   (17, 9, 3)])
def test_every_axis(isa, log, dtype, shape, rng):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    for axis in range(-len(shape), len(shape)):
        check(fn(log)(x, axis=axis), x, axis, log, dtype)


@pytest.mark.parametrize("inner", [1, 3, 8, 13, 32, 33, 300])
def test_inner_axis_lane_edges(isa, log, inner, rng):
    # Non-last axis: vectorised across `inner` lanes (chunks of 256, groups
    # of 4 vectors), n = 6 steps.
    x = rng.standard_normal((2, 6, inner)).astype(np.float32)
    check(fn(log)(x, axis=1), x, 1, log, np.float32)


def test_inner_axis_online(isa, log, rng):
    # A non-last axis too long for the cached column path.
    x = rng.standard_normal((3000, 40)).astype(np.float32) * 4
    x[:1500, 5] = -np.inf
    check(fn(log)(x, axis=0), x, 0, log, np.float32)


def test_layouts(isa, log, rng):
    base = rng.standard_normal((12, 20, 9)).astype(np.float32)
    views = {
        "transposed": base.transpose(2, 0, 1),
        "sliced": base[:, ::2, :],
        "reversed": base[::-1, :, ::-1],
        "no_unit_stride": base[:, ::2, ::3],  # gather path
        "broadcast": np.broadcast_to(base[:1], (4, 20, 9)),
    }
    for name, v in views.items():
        for axis in range(3):
            got = fn(log)(ft.asarray(v), axis=axis)
            check(got, v, axis, log, np.float32)


def test_out_argument(isa, log, rng):
    x = rng.standard_normal((6, 10)).astype(np.float32)
    out = ft.empty((6, 10), dtype=ft.float32)
    res = fn(log)(x, axis=1, out=out)
    assert res is out
    check(out, x, 1, log, np.float32)
    # A transposed out: the mixed layout goes through the gather path.
    buf = ft.empty((10, 6), dtype=ft.float32)
    outT = buf.T
    fn(log)(x, axis=1, out=outT)
    check(outT, x, 1, log, np.float32)
    # In place.
    t = ft.asarray(x.copy())
    fn(log)(t, axis=0, out=t)
    check(t, x, 0, log, np.float32)


def test_streaming_output(isa, rng):
    # An output of 16 MiB and more is written with non-temporal stores.
    x = rng.standard_normal((1024, 4100)).astype(np.float32)
    check(_C.softmax(x), x, -1, False, np.float32)
    check(_C.log_softmax(x), x, -1, True, np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values(isa, log, dtype):
    big = np.finfo(dtype).max / 2
    inf, nan = np.inf, np.nan
    rows = [
        [big, -big, 0, 1],
        [big, big, big, big],
        [-inf, 1, 2, -inf],
        [-inf, -inf, -inf, -inf],
        [nan, 1, 2, 3],
        [inf, 1, 2, 3],
        [inf, inf, -inf, 0],
        [-1e4, -1e4 + 1, -1e4 + 2, -1e4],
    ]
    x = np.array(rows, dtype=dtype)
    got = np.asarray(fn(log)(x))
    with np.errstate(invalid="ignore"):
        ref = ref_softmax(x, -1, log)
    # NaN rows: all -inf, any NaN, any +inf (PyTorch's results).
    for r in (3, 4, 5, 6):
        assert np.isnan(got[r]).all(), (r, got[r])
        assert np.isnan(ref[r]).all()
    ok = [0, 1, 2, 7]
    np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-5, atol=1e-6)
    # -inf entries give exactly 0 (softmax) or -inf (log_softmax).
    assert got[2, 0] == (-inf if log else 0) and got[2, 3] == got[2, 0]
    # The same rule down a non-last axis.
    gotT = np.asarray(fn(log)(np.ascontiguousarray(x.T), axis=0)).T
    np.testing.assert_array_equal(np.isnan(gotT), np.isnan(got))
    np.testing.assert_allclose(gotT[ok], ref[ok], rtol=1e-5, atol=1e-6)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_against_torch(isa, log, dtype, rng):
    inf, nan = np.inf, np.nan
    x = (rng.standard_normal((4, 6, 37)) * 10).astype(dtype)
    x[0, 0, :] = -inf
    x[1, 2, 3] = nan
    x[2, 1, 5] = inf
    x[3, :, 7] = -inf
    x[3, 4, :30] = 1e30
    tf = torch.log_softmax if log else torch.softmax
    for dim in range(3):
        got = np.asarray(fn(log)(x, dim=dim))
        ref = tf(torch.from_numpy(x), dim=dim).numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        fin = ~np.isnan(ref)
        np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-5, atol=1e-6)


def test_dtypes_and_scalars(isa):
    # Integers give float64, 0-d is one element.
    got = _C.softmax(np.array([[1, 2, 3]], dtype=np.int64))
    assert got.dtype == np.float64
    check(got, [[1, 2, 3]], -1, False, np.float64)
    assert float(np.asarray(_C.softmax(np.float32(3.0)))) == 1.0
    assert _C.softmax(np.zeros((0, 4), np.float32)).shape == (0, 4)
    assert _C.softmax(np.zeros((3, 0), np.float32), axis=1).shape == (3, 0)
    # Lists use the default float dtype.
    assert _C.softmax([1.0, 2.0]).dtype == np.float32


def test_bad_input():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(AxisError):
        _C.softmax(x, axis=2)
    with pytest.raises(AxisError):
        _C.log_softmax(x, dim=-3)
    with pytest.raises(TypeError, match="axis or dim"):
        _C.softmax(x, axis=0, dim=0)
    with pytest.raises(TypeError, match="axis must be an integer"):
        _C.softmax(x, axis=1.5)
    with pytest.raises(ValueError, match=r"out has shape \(3, 2\)"):
        _C.softmax(x, out=ft.empty((3, 2), dtype=ft.float32))
    with pytest.raises(TypeError, match="out has dtype float64"):
        _C.softmax(x, out=ft.empty((2, 3), dtype=ft.float64))
