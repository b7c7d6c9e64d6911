"""Accuracy of the vector math functions (src/core/vmath.h) in ULP.

References are NumPy's float64 results (float64 inputs exact), rounded to
float32 for the float32 checks.  The maximum errors measured here are the
figures quoted in the header comment of vmath.h.
"""

import math

import numpy as np
import pytest

import fasttensor as ft

F = ft._C


def ref_erf(x):
    """erf of float64 values through the C library (a few ULP at most)."""
    return np.frompyfunc(math.erf, 1, 1)(x).astype(np.float64)


def ref_erfc(x):
    return np.frompyfunc(math.erfc, 1, 1)(x).astype(np.float64)


def ulp_diff(got, ref):
    """Distance in units in the last place between two arrays of one float
    dtype (NaNs must match separately; equal infinities are 0 apart)."""
    itype = np.int32 if got.dtype == np.float32 else np.int64
    g = got.view(itype).astype(np.int64)
    r = ref.view(itype).astype(np.int64)
    # Map the sign-magnitude bit patterns onto a monotonic integer line:
    # a negative pattern v (sign bit set) has magnitude v - INT_MIN.
    lo = np.full(1, np.iinfo(itype).min, dtype=np.int64)
    g = np.where(g < 0, lo - g, g)
    r = np.where(r < 0, lo - r, r)
    return np.abs(g - r)


def max_ulp(fn, x, ref_fn):
    got = fn(x).numpy()
    ref = ref_fn(x.astype(np.float64)).astype(x.dtype)
    nan = np.isnan(ref)
    assert np.array_equal(np.isnan(got), nan)
    return int(ulp_diff(got[~nan], ref[~nan]).max())


def ref_sigmoid(z):
    """Logistic function in float64 without overflow in either tail
    (scipy's expit returns 0 below about -709)."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def f32_sweep(lo, hi, n):
    return np.linspace(lo, hi, n, dtype=np.float64).astype(np.float32)


def f32_positive_bits(step):
    """Every step-th positive float32 bit pattern, subnormals to inf."""
    return np.arange(1, 0x7F800001, step, dtype=np.int64).astype(
        np.uint32).view(np.float32)


# Bounds each function is held to (the header quotes the measured maxima).
F32_BOUND = {"exp": 1, "log": 1, "tanh": 2}
F64_BOUND = {"exp": 1, "log": 1, "tanh": 3}


def test_exp_float32_dense(isa):
    x = f32_sweep(-104.0, 89.0, 1 << 22)
    assert max_ulp(F.exp, x, np.exp) <= F32_BOUND["exp"]


def test_log_float32_all_ranges(isa):
    x = f32_positive_bits(509)
    assert max_ulp(F.log, x, np.log) <= F32_BOUND["log"]


def test_tanh_float32_dense(isa):
    x = np.concatenate([f32_sweep(-12.0, 12.0, 1 << 21),
                        f32_positive_bits(4099)[:200000]])
    x = np.concatenate([x, -x])
    assert max_ulp(F.tanh, x, np.tanh) <= F32_BOUND["tanh"]


def test_float64_random(isa, rng):
    x = rng.uniform(-745.0, 709.0, 1 << 18)
    assert max_ulp(F.exp, x, np.exp) <= F64_BOUND["exp"]
    bits = rng.integers(1, 0x7FF0000000000000, 1 << 18, dtype=np.int64)
    pos = bits.view(np.float64)
    assert max_ulp(F.log, pos, np.log) <= F64_BOUND["log"]
    t = np.concatenate([rng.uniform(-20, 20, 1 << 17),
                        rng.standard_normal(1 << 17) * 1e-3])
    assert max_ulp(F.tanh, t, np.tanh) <= F64_BOUND["tanh"]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_special_values(isa, dt):
    tiny = np.finfo(dt).smallest_subnormal
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, tiny, -tiny, 1e30,
                  -1e30, np.finfo(dt).max, -np.finfo(dt).max], dtype=dt)
    with np.errstate(all="ignore"):
        for name in ["exp", "log", "tanh", "sqrt"]:
            got = getattr(F, name)(x).numpy()
            ref = getattr(np, name)(x.astype(np.float64)).astype(dt)
            np.testing.assert_array_equal(got, ref, err_msg=name)
            # The sign of zero results matters too (tanh(-0) = -0).
            assert np.array_equal(np.signbit(got[ref == 0]),
                                  np.signbit(ref[ref == 0])), name


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_sigmoid_erf_gelu_silu(isa, dt, rng):
    x = np.concatenate([rng.uniform(-30, 30, 20000), rng.standard_normal(20000),
                        [-1e4, -100.0, -20.0, 0.0, -0.0, 20.0, 1e4]]).astype(dt)
    xd = x.astype(np.float64)
    eps = np.finfo(dt).eps
    sig = ref_sigmoid(xd)
    sub = 4 * np.finfo(dt).smallest_subnormal
    np.testing.assert_allclose(F.sigmoid(x).numpy(), sig, rtol=4 * eps,
                               atol=sub)
    # silu scales sigmoid's subnormal tail (absolute error) by x.
    np.testing.assert_allclose(F.silu(x).numpy(), xd * sig, rtol=6 * eps,
                               atol=sub * 100)
    np.testing.assert_allclose(F.erf(x).numpy(), ref_erf(xd),
                               rtol=4 * eps, atol=np.finfo(dt).tiny)
    # gelu: relative accuracy holds down the negative tail, except for the
    # rounding of x/sqrt(2), which erfc amplifies by 2*(x/sqrt(2))**2.
    gref = 0.5 * xd * ref_erfc(-xd / np.sqrt(2))
    rtol = 8 * eps * (1 + xd * xd)
    got = F.gelu(x).numpy().astype(np.float64)
    assert np.all(np.abs(got - gref) <= rtol * np.abs(gref) + np.finfo(dt).tiny)
    # 0.5 x (1 + tanh(u)) is x * sigmoid(2u) exactly; the latter form
    # does not cancel in float64 either.  Rounding of u costs |2u| eps.
    u = np.sqrt(2 / np.pi) * (xd + 0.044715 * xd ** 3)
    tref = xd * ref_sigmoid(2 * u)
    got = F.gelu(x, approximate="tanh").numpy().astype(np.float64)
    tol = 8 * eps * (1 + np.abs(2 * u)) * np.abs(tref) + 100 * sub
    assert np.all(np.abs(got - tref) <= tol)


def test_special_values_nn(isa):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype=np.float32)
    np.testing.assert_array_equal(F.sigmoid(x).numpy(), [np.nan, 1, 0, 0.5, 0.5])
    np.testing.assert_array_equal(F.erf(x).numpy(), [np.nan, 1, -1, 0, -0.0])
    np.testing.assert_array_equal(F.relu(x).numpy(), [np.nan, np.inf, 0, 0, 0])
    g = F.gelu(x).numpy()
    assert np.isnan(g[0]) and g[1] == np.inf and g[3] == 0


def test_gelu_bad_approximate():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(np.ones(3, np.float32), approximate="fast")
