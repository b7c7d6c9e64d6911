"""Element-wise ops against NumPy: values, dtypes, broadcasting, strides,
out=, special values and every bad input, on every ISA path."""

import numpy as np
import pytest
from numpy.exceptions import AxisError  # noqa: F401  (used by siblings)

import fasttensor as ft

F = ft._C

FLOATS = [np.float32, np.float64]
INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
        np.uint64]

ARITH = ["add", "subtract", "multiply", "divide", "maximum", "minimum"]
COMPARE = ["equal", "not_equal", "less", "less_equal", "greater",
           "greater_equal", "logical_and", "logical_or", "logical_xor"]


def assert_close(got, ref, dtype=None):
    got = np.asarray(got)
    ref = np.asarray(ref)
    assert got.shape == ref.shape
    assert got.dtype == (ref.dtype if dtype is None else dtype)
    if got.dtype.kind == "f":
        eps = np.finfo(got.dtype).eps
        np.testing.assert_allclose(got, ref, rtol=4 * eps,
                                   atol=4 * np.finfo(got.dtype).tiny)
    else:
        np.testing.assert_array_equal(got, ref)


# Lengths around the vector widths (8/4 on AVX2, 16/8 on AVX-512), the
# 256-element gather block and the 2 * 16384 split of long runs.
SIZES = [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 255, 257, 1000, 32769]


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("n", SIZES)
def test_binary_float_sizes(isa, dt, n, rng):
    a = rng.standard_normal(n).astype(dt)
    b = rng.standard_normal(n).astype(dt) + 3
    for name in ARITH + ["power", "floor_divide", "remainder"]:
        ref = getattr(np, name)(np.abs(a) if name == "power" else a, b)
        got = getattr(F, name)(np.abs(a) if name == "power" else a, b)
        assert_close(got, ref)
    for name in COMPARE:
        assert_close(getattr(F, name)(a, b), getattr(np, name)(a, b))


@pytest.mark.parametrize("dt", FLOATS)
def test_unary_float(isa, dt, rng):
    x = rng.standard_normal(1031).astype(dt) * 4
    for name in ["negative", "positive", "absolute", "sqrt", "square", "exp",
                 "tanh", "isnan", "logical_not"]:
        with np.errstate(invalid="ignore"):
            ref = getattr(np, name)(x)
        got = getattr(F, name)(x).numpy()
        if name in ("exp", "tanh"):
            np.testing.assert_allclose(got, ref, rtol=3 * np.finfo(dt).eps)
        else:
            assert_close(got, ref)
    np.testing.assert_allclose(F.log(np.abs(x)).numpy(), np.log(np.abs(x)),
                               rtol=2 * np.finfo(dt).eps)
    assert_close(F.relu(x), np.maximum(x, 0))


def test_nan_propagation(isa):
    a = np.array([np.nan, 1, np.nan, -np.inf, 0.0, 2], np.float32)
    b = np.array([1, np.nan, np.nan, np.inf, -0.0, 1], np.float32)
    for name in ["maximum", "minimum", "add", "less", "equal", "not_equal"]:
        assert_close(getattr(F, name)(a, b), getattr(np, name)(a, b))
        assert_close(getattr(F, name)(b, a), getattr(np, name)(b, a))


def test_float_floordiv_mod_special(isa):
    a = np.array([7, -7, 7, -7, 1, -1, 0, np.inf, 5, 5.5], np.float64)
    b = np.array([2, 2, -2, -2, 0, 0, 0, 2, np.inf, -np.inf], np.float64)
    with np.errstate(all="ignore"):
        assert_close(F.floor_divide(a, b), np.floor_divide(a, b))
        assert_close(F.remainder(a, b), np.remainder(a, b))


@pytest.mark.parametrize("dt", INTS)
def test_integer_ops(isa, dt, rng):
    info = np.iinfo(dt)
    a = rng.integers(info.min, info.max, 513, dtype=dt, endpoint=True)
    b = rng.integers(info.min, info.max, 513, dtype=dt, endpoint=True)
    b[::7] = 0
    a[:3] = info.min
    if info.min < 0:
        b[1] = -1  # INT_MIN // -1 wraps, never traps
    with np.errstate(all="ignore"):
        for name in ["add", "subtract", "multiply", "floor_divide",
                     "remainder", "maximum", "minimum", "bitwise_and",
                     "bitwise_or", "bitwise_xor"] + COMPARE:
            assert_close(getattr(F, name)(a, b), getattr(np, name)(a, b))
        for name in ["negative", "absolute", "square", "logical_not", "isnan"]:
            assert_close(getattr(F, name)(a), getattr(np, name)(a))
    e = rng.integers(0, 9, 513).astype(dt)
    assert_close(F.power(a, e), np.power(a, e))


def test_integer_negative_power_raises():
    with pytest.raises(ValueError, match="negative integer powers"):
        F.power(np.array([2, 3], np.int32), np.array([1, -1], np.int32))
    assert_close(F.power(np.array([2, 3], np.uint8), np.uint8(2)),
                 np.array([4, 9], np.uint8))


def test_bool_ops(isa):
    a = np.array([True, False, True, False])
    b = np.array([True, True, False, False])
    for name in ["add", "multiply", "maximum", "minimum", "bitwise_and",
                 "bitwise_or", "bitwise_xor", "floor_divide"] + COMPARE:
        assert_close(getattr(F, name)(a, b), getattr(np, name)(a, b))
    assert_close(F.logical_not(a), np.logical_not(a))
    with pytest.raises(TypeError):
        F.subtract(a, b)
    with pytest.raises(TypeError):
        F.negative(a)


@pytest.mark.parametrize("x1, x2", [
    (np.ones(3, np.float32), 2.0),
    (np.ones(3, np.float32), 2),
    (np.ones(3, np.int32), 2),
    (np.ones(3, np.int32), 2.5),
    (np.ones(3, np.int8), np.ones(3, np.uint8)),
    (np.ones(3, np.int64), np.ones(3, np.float32)),
    (np.ones(3, np.bool_), 1),
    (3, np.ones(3, np.uint16)),
])
def test_promotion(x1, x2):
    for name in ["add", "multiply", "divide", "maximum", "less"]:
        ref = getattr(np, name)(x1, x2)
        got = getattr(F, name)(x1, x2)
        assert got.dtype == ref.dtype, name
        assert_close(got, ref)


def test_unary_int_promotes():
    assert F.exp(np.arange(3, dtype=np.int32)).dtype == np.float64
    assert F.sqrt(np.arange(3, dtype=np.int16)).dtype == np.float32
    # NumPy gives float16 here; fasttensor's smallest float is float32.
    assert F.exp(np.arange(3, dtype=np.int8)).dtype == np.float32
    assert F.divide(np.arange(3), 2).dtype == np.float64


@pytest.mark.parametrize("sa, sb", [
    ((4, 5), (5,)), ((4, 1), (1, 5)), ((), (3, 2)), ((2, 1, 3), (4, 1)),
    ((3, 0), (1,)), ((1,), (0,)), ((300, 129), (129,)), ((129, 1), (129, 300)),
])
def test_broadcast(isa, sa, sb, rng):
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    for name in ARITH + COMPARE:
        assert_close(getattr(F, name)(a, b), getattr(np, name)(a, b))
        assert_close(getattr(F, name)(b, a), getattr(np, name)(b, a))


def test_strided_views(isa, rng):
    base = rng.standard_normal((64, 96)).astype(np.float64)
    views = [base[::-1], base[:, ::3], base.T, base[5:50:2, ::-2],
             base[:, :1], base.T[::2]]
    for v in views:
        t = ft.asarray(v)
        for name in ["exp", "tanh", "negative", "sqrt"]:
            with np.errstate(invalid="ignore"):
                ref = getattr(np, name)(v)
            got = getattr(F, name)(t).numpy()
            np.testing.assert_allclose(got, ref, rtol=4 * np.finfo(np.float64).eps)
        w = np.ascontiguousarray(v)[::-1]
        assert_close(F.add(t, w), v + w)
        assert_close(F.multiply(t, ft.asarray(w).T.T), v * w)
    # Transposed output: the loop follows the output's strides.
    out = ft.empty((96, 64), dtype=ft.float64).T
    F.add(base, 1.0, out=out)
    assert_close(out, base + 1.0)


def test_zero_d_and_scalars():
    r = F.add(np.float32(2), np.float32(3))
    assert r.shape == () and float(r) == 5.0
    assert F.multiply(ft.asarray(np.float32(2)), [1.0, 2.0]).tolist() == [2, 4]
    assert F.add([1, 2], [3, 4]).tolist() == [4, 6]


def test_out_argument(isa, rng):
    a = rng.standard_normal((5, 6)).astype(np.float32)
    out = ft.empty((5, 6), dtype=ft.float32)
    r = F.multiply(a, 2.0, out=out)
    assert r is out
    assert_close(out, a * 2)
    # In place on the same view, and a float64 out for a float32 result.
    t = ft.asarray(a.copy())
    F.add(t, t, out=t)
    assert_close(t, a + a)
    o64 = ft.empty((5, 6), dtype=ft.float64)
    F.add(a, a, out=o64)
    assert_close(o64, (a + a).astype(np.float64))
    # Overlapping but different views: the input is copied first.
    x = np.arange(10, dtype=np.float64)
    t = ft.asarray(x.copy())
    F.add(t[:-1], 1.0, out=t[1:])
    assert_close(t, np.concatenate([[0.0], x[:-1] + 1]))


def test_out_errors():
    a = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="shape"):
        F.add(a, a, out=ft.empty((3, 2), dtype=ft.float32))
    with pytest.raises(TypeError, match="cast"):
        F.add(a, a, out=ft.empty((2, 3), dtype=ft.int32))
    with pytest.raises(TypeError, match="Tensor"):
        F.add(a, a, out=np.empty((2, 3), np.float32))


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"broadcast.*\(2, 3\).*\(4,\)"):
        F.add(np.ones((2, 3)), np.ones(4))
    with pytest.raises(TypeError, match="bitwise_and"):
        F.bitwise_and(np.ones(3), np.ones(3))
    with pytest.raises(TypeError):
        F.add(np.ones(2), np.array(["a", "b"]))
    with pytest.raises(ValueError, match="clip"):
        F.clip(np.ones(3))
    with pytest.raises(ValueError, match="where"):
        F.where(np.ones(3, bool), 1.0)


def test_where_clip(isa, rng):
    c = rng.random((4, 5)) > 0.5
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = rng.standard_normal(5)
    assert_close(F.where(c, x, y), np.where(c, x, y))
    assert_close(F.where(c[:, :1], x, 0.0), np.where(c[:, :1], x, 0.0))
    assert_close(F.where(c, 1, 2), np.where(c, 1, 2))
    idx = F.where(c)
    for got, ref in zip(idx, np.nonzero(c)):
        assert_close(got, ref)
    assert_close(F.clip(x, -0.5, 0.5), np.clip(x, -0.5, 0.5))
    assert_close(F.clip(x, None, 0.0), np.clip(x, None, 0.0))
    xn = x.copy()
    xn[0, 0] = np.nan
    assert_close(F.clip(xn, -1, 1), np.clip(xn, -1, 1))


def test_operators_use_module_functions():
    a = ft.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert_close(a + 1, np.arange(6, dtype=np.float32).reshape(2, 3) + 1)
    assert_close(-a * 2 - a / 4, -(a.numpy()) * 2 - a.numpy() / 4)
    assert_close(a ** 2 // 3 % 5, a.numpy() ** 2 // 3 % 5)
    assert_close(a > 2, a.numpy() > 2)
    b = ft.asarray(np.arange(6, dtype=np.int64))
    b += 3
    assert b.tolist() == [3, 4, 5, 6, 7, 8]


def test_threads_agree(threads, rng):
    a = rng.standard_normal(200003).astype(np.float32)
    ft.set_num_threads(1)
    one = F.tanh(a).numpy()
    ft.set_num_threads(2)
    two = F.tanh(a).numpy()
    np.testing.assert_array_equal(one, two)


def test_public_names_exported():
    for name in ["add", "exp", "where", "clip", "sum", "argmax", "var"]:
        assert getattr(ft, name) is getattr(F, name)
