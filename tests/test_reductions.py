"""Reductions against NumPy (float64 references): every axis form,
keepdims, strided and transposed inputs, NaN rules, dtypes and errors."""

import numpy as np
import pytest
from numpy.exceptions import AxisError

import fasttensor as ft

F = ft._C

REDS = ["sum", "prod", "max", "min", "mean", "var", "std", "any", "all"]


def check(name, x, rtol_eps=8, **kw):
    ref = getattr(np, name)(x, **kw)
    got = getattr(F, name)(x, **kw)
    got = np.asarray(got)
    ref = np.asarray(ref)
    assert got.shape == ref.shape, (name, kw)
    assert got.dtype == ref.dtype, (name, kw, got.dtype, ref.dtype)
    if ref.dtype.kind == "f":
        if name == "prod":  # each factor adds one rounding
            rtol_eps = x.size
        # Reference in float64 from the same data.
        ref64 = np.asarray(getattr(np, name)(x.astype(np.float64), **kw))
        eps = np.finfo(ref.dtype).eps
        scale = np.asarray(getattr(np, name)(np.abs(x.astype(np.float64)),
                                             **kw)) if name in (
            "sum", "mean") else np.abs(ref64)
        ok = np.abs(got - ref64) <= (rtol_eps * eps * scale
                                     + np.finfo(ref.dtype).tiny)
        ok |= np.isnan(got) & np.isnan(ref64)
        assert np.all(ok), (name, kw)
    else:
        np.testing.assert_array_equal(got, ref)


AXES = [None, 0, 1, -1, (0, 1), (0, 2), (2, 0), ()]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_float_axes(isa, dt, rng):
    x = rng.standard_normal((5, 17, 33)).astype(dt)
    for name in REDS:
        for axis in AXES:
            for keepdims in (False, True):
                check(name, x, axis=axis, keepdims=keepdims)
    for axis in [None, 0, 1, 2, -1]:
        for name in ["argmax", "argmin"]:
            check(name, x, axis=axis)


@pytest.mark.parametrize("shape, axis", [
    ((1000,), None), ((7,), 0), ((3, 1025), 1), ((1025, 3), 0),
    ((129, 257), 0), ((2, 3000), 0), ((300, 2, 70), (0, 2)),
    ((1, 5), 0), ((5, 1), 1), ((0, 4), 1), ((4, 0), 1), ((0,), None),
])
def test_shapes(isa, shape, axis, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    for name in ["sum", "mean", "var", "prod", "any", "all"]:
        with np.errstate(all="ignore"):
            check(name, x, axis=axis)
    if x.size and (axis is None or all(shape[a] for a in np.atleast_1d(axis))):
        for name in ["max", "min"]:
            check(name, x, axis=axis)


def test_strided_and_transposed(isa, rng):
    base = rng.standard_normal((70, 90))
    for v in [base.T, base[::-1, ::2], base[3:60:3, ::-1], base.T[::2]]:
        for name in ["sum", "mean", "max", "min", "var", "argmax", "argmin"]:
            for axis in [None, 0, 1]:
                check(name, v, axis=axis)


def test_float32_sum_accuracy(isa, rng):
    """Error no worse than NumPy's pairwise sum, contiguous and over rows."""
    x = (rng.random(1 << 21) + 1000).astype(np.float32)
    exact = np.sum(x.astype(np.float64))
    err_ft = abs(float(F.sum(x)) - exact)
    err_np = abs(float(np.sum(x)) - exact)
    assert err_ft <= max(err_np, 2 * np.finfo(np.float32).eps * exact)
    m = x.reshape(4096, 512)
    exact_cols = m.astype(np.float64).sum(axis=0)
    err_ft = np.abs(F.sum(m, axis=0).numpy() - exact_cols).max()
    err_np = np.abs(m.sum(axis=0) - exact_cols).max()
    assert err_ft <= err_np


def test_threads_agree(threads, rng):
    x = rng.standard_normal(1 << 20).astype(np.float32)
    res = []
    for n in (1, 2):
        ft.set_num_threads(n)
        res.append([float(F.sum(x)), float(F.max(x)), int(F.argmin(x)),
                    float(F.var(x))])
    np.testing.assert_allclose(res[0], res[1], rtol=1e-6)
    assert res[0][2] == res[1][2]


def test_nan_rules(isa):
    x = np.array([[1.0, np.nan, 3.0, np.nan], [5.0, 2.0, 1.0, 0.0]], np.float32)
    for name in ["max", "min", "argmax", "argmin", "sum", "mean"]:
        for axis in [None, 0, 1]:
            check(name, x, axis=axis)
    big = np.zeros(100000, np.float32)
    big[77777] = np.nan
    big[88888] = np.nan
    assert int(F.argmax(big)) == 77777
    assert np.isnan(float(F.max(big)))
    assert int(F.argmin(np.array([np.inf, -np.inf, -np.inf]))) == 1


def test_ties_first_index(isa):
    x = np.array([3, 7, 7, 1, 7, 1], np.int32)
    assert int(F.argmax(x)) == 1 and int(F.argmin(x)) == 3
    f = np.full(1000, -np.inf, np.float32)
    assert int(F.argmax(f)) == 0


@pytest.mark.parametrize("dt", [np.bool_, np.int8, np.int16, np.int32,
                                np.int64, np.uint8, np.uint16, np.uint32,
                                np.uint64])
def test_integer_dtypes(isa, dt, rng):
    x = rng.integers(0, 100, (6, 35)).astype(dt)
    for name in ["sum", "prod", "max", "min", "argmax", "argmin", "any", "all",
                 "mean", "var"]:
        for axis in [None, 0, 1]:
            check(name, x, axis=axis)


def test_dtype_argument(rng):
    x = rng.integers(-50, 50, (4, 9)).astype(np.int8)
    check("sum", x, dtype=np.int8)
    check("sum", x, dtype=np.float32)
    check("mean", x.astype(np.float32), dtype=np.float64)
    check("prod", x, axis=1, dtype=np.int64)
    assert F.sum(np.ones(3, bool)).dtype == np.int64


def test_ddof(rng):
    x = rng.standard_normal((6, 8))
    for ddof in [0, 1, 5]:
        check("var", x, axis=1, ddof=ddof)
        check("std", x, axis=0, ddof=ddof)


def test_out_and_methods(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    out = ft.empty((5,), dtype=ft.float32)
    assert F.sum(x, axis=0, out=out) is out
    np.testing.assert_allclose(out.numpy(), x.sum(axis=0), rtol=1e-6)
    t = ft.asarray(x)
    np.testing.assert_allclose(t.sum(axis=1).numpy(), x.sum(axis=1), rtol=1e-6)
    assert int(t.argmax()) == int(x.argmax())
    np.testing.assert_allclose(float(t.mean()), x.astype(np.float64).mean(),
                               atol=1e-6)
    np.testing.assert_allclose(t.max(axis=0, keepdims=True).numpy(),
                               x.max(axis=0, keepdims=True))


def test_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(AxisError):
        F.sum(x, axis=2)
    with pytest.raises(AxisError):
        F.max(x, axis=(0, -3))
    with pytest.raises(ValueError, match="duplicate"):
        F.sum(x, axis=(1, -1))
    with pytest.raises(ValueError, match="maximum which has no identity"):
        F.max(np.ones((0, 3)), axis=0)
    with pytest.raises(ValueError, match="minimum which has no identity"):
        F.min(np.ones(0))
    with pytest.raises(ValueError, match="empty sequence"):
        F.argmax(np.ones(0))
    with pytest.raises(TypeError, match="axis"):
        F.argmax(x, axis=(0, 1))
    with pytest.raises(ValueError, match="shape"):
        F.sum(x, axis=0, out=ft.empty((2,), dtype=ft.float32))
    with pytest.raises(TypeError):
        F.sum(x, dtype="complex64")
    with pytest.raises(TypeError, match="cast"):
        F.mean(x, out=ft.empty((), dtype=ft.int32))
