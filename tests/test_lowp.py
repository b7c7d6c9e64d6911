"""float16 and bfloat16: conversions, arithmetic, products, promotion,
autocast and flush-denormal.

References: ml_dtypes (bfloat16) and NumPy (float16) for conversions,
float64 NumPy on the same rounded inputs for arithmetic and products, and
PyTorch's promotion rules and results where torch is installed.  Every
kernel-level test runs on each ISA path this CPU has (``isa`` fixture).
"""

import threading

import ml_dtypes
import numpy as np
import pytest

import fasttensor as ft
from fasttensor import _C

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
LOWP = [BF16, F16]
IDS = ["bfloat16", "float16"]
# Precision of each dtype: the distance from 1 to the next value.
EPS = {BF16: 2.0 ** -7, F16: 2.0 ** -10}


def bits(a):
    return np.asarray(a).view(np.uint16)


def f32_bits(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32)


def assert_same_16(got, want):
    """Bitwise equal, except that NaN only needs to be NaN with the same
    sign (payload and quiet-bit conventions differ between libraries)."""
    g = np.asarray(got).astype(np.float32)
    w = np.asarray(want).astype(np.float32)
    gn, wn = np.isnan(g), np.isnan(w)
    np.testing.assert_array_equal(gn, wn)
    np.testing.assert_array_equal(np.signbit(g[gn]), np.signbit(w[wn]))
    gb, wb = bits(got)[~gn], bits(want)[~wn]
    bad = np.flatnonzero(gb != wb)
    assert bad.size == 0, (
        f"{bad.size} mismatches, first: got {gb[bad[0]]:#06x}, want "
        f"{wb[bad[0]]:#06x}")


def all_patterns(dtype):
    return np.arange(65536, dtype=np.uint32).astype(np.uint16).view(dtype)


# ---------------------------------------------------------------- dtypes


def test_dtype_objects():
    assert ft.bfloat16 == BF16
    assert ft.float16 == F16
    assert ft.zeros(3, dtype=ft.bfloat16).dtype == BF16
    assert ft.ones((2, 2), dtype="float16").dtype == F16
    assert ft.asarray(np.ones(3, BF16)).dtype == BF16
    assert ft.full((2,), 0.1, dtype=ft.bfloat16).tolist() == [
        float(BF16.type(0.1))] * 2


def test_numpy_interop_zero_copy():
    a = np.arange(6, dtype=np.float32).astype(BF16).reshape(2, 3)
    t = ft.asarray(a)
    assert np.shares_memory(np.asarray(t), a)
    b = np.asarray(t[:, 1])
    assert b.dtype == BF16 and np.shares_memory(b, a)
    h = ft.asarray(np.ones(4, F16))
    assert memoryview(h).format == "e"
    assert np.shares_memory(np.asarray(h), np.asarray(h))


def test_bfloat16_buffer_protocol_refused():
    t = ft.zeros(4, dtype=ft.bfloat16)
    with pytest.raises(BufferError, match="bfloat16 has no buffer-protocol"):
        memoryview(t)


def test_dlpack_numpy_float16():
    t = ft.asarray(np.linspace(-2, 2, 7).astype(F16))
    a = np.from_dlpack(t)
    assert a.dtype == F16
    np.testing.assert_array_equal(a, np.asarray(t))
    back = ft.from_dlpack(a)
    assert back.dtype == F16 and back.data_ptr() == t.data_ptr()


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("name", ["bfloat16", "float16"])
def test_dlpack_torch(name):
    tdt = getattr(torch, name)
    x = torch.linspace(-3, 3, 11).to(tdt)
    t = ft.from_dlpack(x)
    assert t.dtype == ft.bfloat16 if name == "bfloat16" else ft.float16
    assert t.data_ptr() == x.data_ptr()
    y = torch.from_dlpack(t[::2])
    assert y.dtype == tdt
    assert torch.equal(y, x[::2])


# ---------------------------------------------------------------- conversions


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_widen_every_pattern(isa, dtype):
    h = all_patterns(dtype)
    got = np.asarray(ft.asarray(h).astype(ft.float32))
    want = h.astype(np.float32)
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    np.testing.assert_array_equal(f32_bits(got)[~nan], f32_bits(want)[~nan])
    # float64 and back: also exact.
    np.testing.assert_array_equal(
        np.asarray(ft.asarray(h).astype(ft.float64))[~nan],
        h.astype(np.float64)[~nan])


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_every_pattern_round_trips(isa, dtype):
    h = all_patterns(dtype)
    back = ft.asarray(h).astype(ft.float32).astype(dtype)
    assert_same_16(back, h)
    # Quiet NaNs keep their payload bits exactly.
    b, hb = bits(back), bits(h)
    quiet = (0x0040 if dtype == BF16 else 0x0200)
    expo = (0x7f80 if dtype == BF16 else 0x7c00)
    qnan = ((hb & expo) == expo) & ((hb & quiet) != 0)
    np.testing.assert_array_equal(b[qnan], hb[qnan])


def special_float32():
    """Values around every rounding edge of both 16-bit formats."""
    out = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0,
           65504.0, 65519.99, 65520.0, 65536.0, -65520.0,
           3.3895314e38, 3.4e38, np.finfo(np.float32).max,
           2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 1.5 * 2.0 ** -25, 2.0 ** -26,
           2.0 ** -126, 2.0 ** -133, 2.0 ** -134, 1.5 * 2.0 ** -134,
           1e-45, 1e-40, -1e-40]
    u = []
    # bfloat16 ties (low 16 bits 0x8000) with odd and even kept LSB, and
    # one above / below.
    for hi in [0x3f80, 0x3f81, 0x4049, 0x7f7f, 0x0001, 0x0000, 0x8001,
               0x807f, 0x0080]:
        for lo in [0x7fff, 0x8000, 0x8001, 0xffff]:
            u.append(hi << 16 | lo)
    # float16 ties: low 13 bits 0x1000 at several exponents, incl. the
    # subnormal range (exponent 102..112).
    for e in [102, 103, 110, 112, 113, 120, 127, 142]:
        for m in [0x000000, 0x001000, 0x003000, 0x001001, 0x000fff,
                  0x7fefff, 0x7ff000, 0x7fffff, 0x400000, 0x401000]:
            u.append(e << 23 | m)
            u.append(1 << 31 | e << 23 | m)
    # Signalling and quiet NaNs with payloads.
    u += [0x7f800001, 0xff800001, 0x7fc00001, 0x7fa00000, 0x7fffffff,
          0x7f802000, 0xffc12345]
    return np.concatenate([np.array(out, np.float32),
                           np.array(u, np.uint32).view(np.float32)])


def reference_16(x, dtype):
    with np.errstate(all="ignore"):
        return np.asarray(x).astype(dtype)


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_narrow_float32(isa, dtype, rng):
    rand = rng.integers(0, 2 ** 32, size=200_003, dtype=np.uint64)
    x = np.concatenate([special_float32(),
                        rand.astype(np.uint32).view(np.float32),
                        # dense near the float16 range and its subnormals
                        rng.uniform(-7e4, 7e4, 50_001).astype(np.float32),
                        rng.uniform(-1e-4, 1e-4, 50_001).astype(np.float32)])
    got = ft.asarray(x).astype(dtype)
    assert_same_16(got, reference_16(x, dtype))


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 15, 16, 17, 255, 256, 257, 1000])
def test_narrow_and_widen_tails(isa, dtype, n, rng):
    x = (rng.standard_normal(n) * 100).astype(np.float32)
    h = ft.asarray(x).astype(dtype)
    assert_same_16(h, reference_16(x, dtype))
    np.testing.assert_array_equal(np.asarray(h.astype(ft.float32)),
                                  reference_16(x, dtype).astype(np.float32))


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_strided_and_transposed_conversions(isa, dtype, rng):
    x = (rng.standard_normal((37, 300)) * 10).astype(np.float32)
    for view in [x[:, ::3], x.T, x[::-2, 5:], np.broadcast_to(x[0], (4, 300))]:
        got = ft.asarray(view).astype(dtype)
        assert_same_16(got, reference_16(view, dtype))
        back = ft.asarray(reference_16(view, dtype)).T.astype(ft.float32)
        np.testing.assert_array_equal(
            np.asarray(back), reference_16(view, dtype).T.astype(np.float32))
    # into a strided destination (assignment converts)
    dst = ft.zeros((37, 600), dtype=dtype)
    dst[:, ::2] = ft.asarray(x)
    assert_same_16(dst[:, ::2], reference_16(x, dtype))


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_narrow_float64_rounds_once(isa, dtype, rng):
    # Ties of the 16-bit format nudged by far less than a float32 ulp:
    # rounding through float32 with round-to-nearest would create a false
    # tie; the correct result rounds away from it.
    base = reference_16(rng.uniform(-1000, 1000, 4000), dtype)
    b64 = base.astype(np.float64)
    half_ulp = np.abs(b64) * EPS[dtype] / 2
    tiny = np.abs(b64) * 2.0 ** -40
    x = np.concatenate([b64 + half_ulp + tiny, b64 + half_ulp - tiny,
                        b64 - half_ulp + tiny, b64 + half_ulp,
                        rng.standard_normal(10_000) * 1e3,
                        [1e300, -1e300, 1e-300, np.nan, np.inf, 2.0 ** -134,
                         2.0 ** -25 + 2.0 ** -60]])
    got = ft.asarray(x).astype(dtype)
    assert_same_16(got, reference_16(x, dtype))


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
@pytest.mark.parametrize("idt", [np.int8, np.uint8, np.int16, np.int32,
                                 np.int64, np.uint32, np.uint64, np.bool_])
def test_integers_to_16bit(isa, dtype, idt, rng):
    info = np.iinfo(idt) if idt is not np.bool_ else None
    if info is None:
        x = rng.integers(0, 2, 1000).astype(np.bool_)
    else:
        x = rng.integers(info.min, info.max, 5000, dtype=idt, endpoint=True)
        x = np.concatenate([x, np.array([info.min, info.max, 0], idt)])
    if dtype == F16 or np.dtype(idt).itemsize < 8:
        want = reference_16(x, dtype)  # exact through float64
    else:
        # 64-bit values above 2**53: correct rounding from the exact
        # integer, computed with Python ints.
        want = np.array([_round_int_bf16(int(v)) for v in x], BF16)
    assert_same_16(ft.asarray(x).astype(dtype), want)


def _round_int_bf16(v):
    """bfloat16 nearest to the integer v, ties to even, from exact ints."""
    if v == 0:
        return 0.0
    s = -1 if v < 0 else 1
    m = abs(v)
    nb = m.bit_length()
    if nb <= 8:
        return float(v)
    shift = nb - 8
    q, r = divmod(m, 1 << shift)
    half = 1 << (shift - 1)
    if r > half or (r == half and q & 1):
        q += 1
    return s * float(q << shift)


def test_int64_double_rounding_trap():
    v = 2 ** 60 + 2 ** 52 + 1  # rounds to a false tie through float64
    t = ft.asarray(np.array([v, -v], np.int64)).astype(ft.bfloat16)
    assert np.asarray(t).astype(np.float64).tolist() == [
        float(2 ** 60 + 2 ** 53), -float(2 ** 60 + 2 ** 53)]


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
@pytest.mark.parametrize("to", [np.int32, np.int8, np.uint8, np.bool_,
                                np.float64, "other"])
def test_16bit_to_other_dtypes(isa, dtype, to, rng):
    x = reference_16(rng.uniform(-100, 100, 3001), dtype)
    x[::7] = 0
    if to == "other":
        to = F16 if dtype == BF16 else BF16
        want = reference_16(x.astype(np.float32), to)
        assert_same_16(ft.asarray(x).astype(to), want)
        return
    want = x.astype(np.float32).astype(to)
    np.testing.assert_array_equal(np.asarray(ft.asarray(x).astype(to)), want)


@pytest.mark.slow
def test_all_float32_patterns():
    """Every float32 bit pattern narrows to the same bits on every ISA path
    this CPU has, and as ml_dtypes / NumPy where those agree on NaN."""
    isas = _C._available_isas()
    previous = _C._active_isa()
    chunk = 1 << 24
    try:
        for start in range(0, 1 << 32, chunk):
            x = np.arange(start, start + chunk, dtype=np.uint64).astype(
                np.uint32).view(np.float32)
            t = ft.asarray(x)
            for dtype in LOWP:
                outs = []
                for name in isas:
                    _C._set_isa(name)
                    outs.append(bits(t.astype(dtype)))
                for o in outs[1:]:
                    np.testing.assert_array_equal(o, outs[0])
                if start % (chunk * 16) == 0:
                    assert_same_16(outs[0].view(dtype), reference_16(x, dtype))
    finally:
        _C._set_isa(previous)


# ---------------------------------------------------------------- promotion

ALL_DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
              F16, BF16, np.float32, np.float64]


def _torch_dtype(d):
    d = np.dtype(d)
    if d == BF16:
        return torch.bfloat16
    return getattr(torch, {"bool": "bool"}.get(d.name, d.name))


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("a", ALL_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("b", LOWP, ids=IDS)
def test_promotion_matches_torch(a, b):
    x = ft.ones(3, dtype=a)
    y = ft.ones(3, dtype=b)
    want = torch.result_type(torch.ones(3, dtype=_torch_dtype(a)),
                             torch.ones(3, dtype=_torch_dtype(b)))
    got = ft.add(x, y).dtype
    assert _torch_dtype(got) == want
    assert ft.add(y, x).dtype == got
    assert ft.multiply(x, y).dtype == got


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_weak_scalars_keep_16bit(dtype):
    t = ft.ones(3, dtype=dtype)
    for s in [2, 2.5, True, -1e3]:
        assert (t + s).dtype == dtype
        assert (s * t).dtype == dtype
    assert (t == 1.0).dtype == np.bool_
    assert (t + ft.ones(3, dtype=ft.float32)).dtype == np.float32


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_scalar_rounded_to_dtype_like_numpy(isa, dtype, rng):
    # NumPy (with ml_dtypes for bfloat16) rounds a weak scalar to the
    # array's dtype, computes in float32 and rounds the result.
    x = reference_16(rng.uniform(-4, 4, 999), dtype)
    for s in [0.1, 3, 1e-3, -7.3]:
        for op in [np.add, np.subtract, np.multiply, np.divide]:
            got = op(ft.asarray(x), s)
            assert got.dtype == dtype
            assert_same_16(got, op(x, s))
            assert_same_16(op(s, ft.asarray(x)), op(s, x))


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_scalar_add_like_torch(dtype, rng):
    x = reference_16(rng.uniform(-4, 4, 999), dtype)
    tx = torch.from_numpy(x.astype(np.float32)).to(_torch_dtype(dtype))
    for s in [0.1, 3, 1e-3]:
        got = ft.asarray(x) + s
        np.testing.assert_array_equal(np.asarray(got).astype(np.float32),
                                      (tx + s).float().numpy())
        got = ft.asarray(x) - s
        np.testing.assert_array_equal(np.asarray(got).astype(np.float32),
                                      (tx - s).float().numpy())


# ---------------------------------------------------------------- arithmetic


def _lowp_input(rng, shape, dtype, lo=-4.0, hi=4.0):
    return reference_16(rng.uniform(lo, hi, shape), dtype)


BINARY = [("add", np.add), ("subtract", np.subtract),
          ("multiply", np.multiply), ("divide", np.divide),
          ("maximum", np.maximum), ("minimum", np.minimum)]


def _close_16(got, ref64, dtype, ulps=1.0):
    """got (16-bit) within `ulps` units of the dtype's precision of the
    float64 reference, relative to max(|ref|, tiny)."""
    g = np.asarray(got).astype(np.float64)
    tol = ulps * EPS[dtype] * np.maximum(np.abs(ref64), 1e-3)
    bad = ~(np.abs(g - ref64) <= tol) & ~(np.isnan(g) & np.isnan(ref64))
    assert not bad.any(), (
        f"{bad.sum()} elements off, e.g. got {g[bad][:3]}, ref {ref64[bad][:3]}")


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
@pytest.mark.parametrize("name,ref", BINARY, ids=[b[0] for b in BINARY])
def test_binary(isa, dtype, name, ref, rng):
    a = _lowp_input(rng, (33, 65), dtype)
    b = _lowp_input(rng, (65,), dtype, 0.5, 3.0)
    got = getattr(ft, name)(ft.asarray(a), ft.asarray(b))
    assert got.dtype == dtype and got.shape == (33, 65)
    want = ref(a.astype(np.float64), b.astype(np.float64))
    _close_16(got, want, dtype)
    # The result is the float32 result rounded once.
    f32 = ref(a.astype(np.float32), b.astype(np.float32))
    assert_same_16(got, reference_16(f32, dtype))


UNARY = [("exp", np.exp, -4, 4), ("log", np.log, 0.01, 10),
         ("sqrt", np.sqrt, 0, 10), ("tanh", np.tanh, -4, 4),
         ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), -8, 8),
         ("relu", lambda x: np.maximum(x, 0), -4, 4),
         ("silu", lambda x: x / (1 + np.exp(-x)), -6, 6),
         ("negative", np.negative, -4, 4), ("abs", np.abs, -4, 4),
         ("square", np.square, -4, 4)]


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
@pytest.mark.parametrize("name,ref,lo,hi", UNARY, ids=[u[0] for u in UNARY])
def test_unary(isa, dtype, name, ref, lo, hi, rng):
    a = _lowp_input(rng, (1001,), dtype, lo, hi)
    got = getattr(ft, name)(ft.asarray(a)[::1])
    assert got.dtype == dtype
    _close_16(got, ref(a.astype(np.float64)), dtype)


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_gelu_and_out(isa, dtype, rng):
    from math import erf
    a = _lowp_input(rng, (500,), dtype)
    ref = np.array([v * 0.5 * (1 + erf(v / np.sqrt(2)))
                    for v in a.astype(np.float64)])
    _close_16(ft.gelu(ft.asarray(a)), ref, dtype)
    out = ft.empty((500,), dtype=ft.float32)
    r = ft.exp(ft.asarray(a), out=out)
    assert r is out
    np.testing.assert_array_equal(
        np.asarray(out), np.exp(a.astype(np.float32)).astype(dtype).astype(
            np.float32))
    out16 = ft.empty((500,), dtype=dtype)
    assert ft.add(ft.asarray(a), 1, out=out16) is out16
    with pytest.raises(ValueError):
        ft.add(ft.asarray(a), 1, out=ft.empty((3,), dtype=dtype))


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_unsupported_ops_raise(dtype):
    t = ft.ones(3, dtype=dtype)
    with pytest.raises(TypeError, match=f"bitwise_and.*{np.dtype(dtype).name}"):
        ft.bitwise_and(t, t)
    with pytest.raises(TypeError):
        ft.autocast(dtype=ft.float32)
    with pytest.raises(TypeError):
        ft.autocast(dtype=ft.int8)


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_comparisons_and_where(isa, dtype, rng):
    a = _lowp_input(rng, (200,), dtype)
    t = ft.asarray(a)
    np.testing.assert_array_equal(np.asarray(t > 0.5), a.astype(np.float32) > 0.5)
    w = ft.where(t > 0, t, 0.25)
    assert w.dtype == dtype
    np.testing.assert_array_equal(
        np.asarray(w).astype(np.float32),
        np.where(a.astype(np.float32) > 0, a.astype(np.float32), 0.25))


# ---------------------------------------------------------------- reductions


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_reductions(isa, dtype, axis, rng):
    a = _lowp_input(rng, (67, 129), dtype, 0.0, 2.0)
    t = ft.asarray(a)
    a64 = a.astype(np.float64)
    for name in ["sum", "mean", "max", "min"]:
        got = getattr(ft, name)(t, axis=axis)
        assert got.dtype == dtype, name
        # float32 accumulation, one rounding at the end: within one ulp.
        _close_16(got, getattr(np, name)(a64, axis=axis), dtype)
    got = ft.var(t[:, ::2], axis=axis)
    _close_16(got, np.var(a64[:, ::2], axis=axis), dtype)
    if axis is None or isinstance(axis, int):
        np.testing.assert_array_equal(
            np.asarray(ft.argmax(t, axis=axis)), np.argmax(a64, axis=axis))
    assert ft.sum(t, dtype=ft.float32).dtype == np.float32


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_sum_like_torch(rng):
    a = _lowp_input(rng, (1000,), BF16, 0, 1)
    want = torch.from_numpy(a.astype(np.float32)).bfloat16().sum()
    got = ft.sum(ft.asarray(a))
    assert got.dtype == BF16
    assert float(got) == float(want)


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_softmax_layer_norm_keep_16bit(dtype, rng):
    a = _lowp_input(rng, (8, 100), dtype)
    a64 = a.astype(np.float64)
    s = ft.softmax(ft.asarray(a), axis=-1)
    assert s.dtype == dtype
    e = np.exp(a64 - a64.max(-1, keepdims=True))
    _close_16(s, e / e.sum(-1, keepdims=True), dtype)
    ln = ft.layer_norm(ft.asarray(a), (100,))
    assert ln.dtype == dtype
    ref = (a64 - a64.mean(-1, keepdims=True)) / np.sqrt(
        a64.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(np.asarray(ln).astype(np.float64), ref,
                               rtol=2 * EPS[dtype], atol=2 * EPS[dtype])


# ---------------------------------------------------------------- products
#
# The tests below check the convert path: 16-bit operands read (and float32
# ones rounded) by the float32 GEMM's packing.  bfloat16 products run on a
# matrix engine instead where the CPU has one (tests/test_bf16_engine.py
# covers those), so the tests that compare with the float32 path bit for
# bit, or that bound the error of a float32 P in attention, pin the engine
# to 'convert' with this fixture.


@pytest.fixture
def convert_path():
    previous = _C._bf16_engine()
    _C._set_bf16_engine("convert")
    yield
    _C._set_bf16_engine("auto")
    if _C._bf16_engine() != previous:
        _C._set_bf16_engine(previous)


def _assert_product(got, ref64, dtype, k):
    """Relative error against the float64 product of the same rounded
    inputs: one rounding to the 16-bit dtype plus float32 accumulation,
    relative to the scale of the terms (sum of |a||b|)."""
    assert got.dtype == dtype
    g = np.asarray(got).astype(np.float64)
    err = np.abs(g - ref64)
    tol = 1e-2 * np.maximum(np.abs(ref64), 1e-3 * np.sqrt(k))
    assert (err <= tol).all(), float((err / tol).max())


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (5, 7, 3), (17, 33, 65),
                                   (64, 48, 257), (129, 15, 16)])
def test_matmul(isa, dtype, m, n, k, rng):
    a = _lowp_input(rng, (m, k), dtype, -1, 1)
    b = _lowp_input(rng, (k, n), dtype, -1, 1)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    _assert_product(ft.asarray(a) @ ft.asarray(b), ref, dtype, k)
    # transposed and strided operands
    at = np.ascontiguousarray(a.T)
    bt = np.ascontiguousarray(b.T)
    got = ft.matmul(ft.asarray(at).T, ft.asarray(bt).T)
    _assert_product(got, ref, dtype, k)
    big = reference_16(rng.uniform(-1, 1, (m, 2 * k)), dtype)
    big[:, ::2] = a
    _assert_product(ft.asarray(big)[:, ::2] @ ft.asarray(b), ref, dtype, k)


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_batched_matmul_dot_linear(isa, dtype, rng):
    a = _lowp_input(rng, (3, 20, 30), dtype, -1, 1)
    b = _lowp_input(rng, (30, 10), dtype, -1, 1)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    _assert_product(ft.matmul(ft.asarray(a), ft.asarray(b)), a64 @ b64, dtype, 30)
    v = _lowp_input(rng, (3000,), dtype, -1, 1)
    w = _lowp_input(rng, (3000,), dtype, -1, 1)
    d = ft.dot(ft.asarray(v), ft.asarray(w))
    assert d.shape == ()
    _assert_product(d, np.dot(v.astype(np.float64), w.astype(np.float64)),
                    dtype, 3000)
    _assert_product(ft.dot(ft.asarray(a[0]), ft.asarray(b)), a64[0] @ b64,
                    dtype, 30)
    bias = _lowp_input(rng, (10,), dtype, -1, 1)
    got = ft.linear(ft.asarray(a), ft.asarray(b.T), ft.asarray(bias))
    _assert_product(got, a64 @ b64 + bias.astype(np.float64), dtype, 30)
    assert ft.nn.linear(ft.asarray(a), ft.asarray(b.T)).dtype == dtype
    # mixed with float32: promotes to float32, float32 kernels
    assert (ft.asarray(a) @ ft.asarray(b64.astype(np.float32))).dtype == np.float32
    with pytest.raises(ValueError, match="matmul"):
        ft.asarray(a) @ ft.asarray(a)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_matmul_close_to_torch_bfloat16(rng):
    a = _lowp_input(rng, (96, 200), BF16, -1, 1)
    b = _lowp_input(rng, (200, 80), BF16, -1, 1)
    ta = torch.from_numpy(a.astype(np.float32)).bfloat16()
    tb = torch.from_numpy(b.astype(np.float32)).bfloat16()
    want = (ta @ tb).float().numpy().astype(np.float64)
    got = np.asarray(ft.asarray(a) @ ft.asarray(b)).astype(np.float64)
    # Both round an accumulated float32 sum once to bfloat16.
    np.testing.assert_allclose(got, want, rtol=2 * EPS[BF16], atol=0.05)


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_attention(isa, convert_path, dtype, rng):
    q = _lowp_input(rng, (2, 3, 17, 8), dtype, -1, 1)
    k = _lowp_input(rng, (2, 3, 23, 8), dtype, -1, 1)
    v = _lowp_input(rng, (2, 3, 23, 8), dtype, -1, 1)
    got = ft.scaled_dot_product_attention(ft.asarray(q), ft.asarray(k),
                                          ft.asarray(v))
    q64, k64, v64 = (x.astype(np.float64) for x in (q, k, v))
    s = q64 @ np.swapaxes(k64, -1, -2) / np.sqrt(8)
    p = np.exp(s - s.max(-1, keepdims=True))
    ref = (p / p.sum(-1, keepdims=True)) @ v64
    _assert_product(got, ref, dtype, 23)


# ---------------------------------------------------------------- autocast


def test_autocast_products_and_fp32_ops(rng):
    x = ft.asarray(rng.standard_normal((16, 24)).astype(np.float32))
    w = ft.asarray(rng.standard_normal((8, 24)).astype(np.float32))
    with ft.autocast(dtype=ft.bfloat16):
        y = x @ w.T
        assert y.dtype == BF16
        ref = (np.asarray(x).astype(BF16).astype(np.float64)
               @ np.asarray(w).astype(BF16).astype(np.float64).T)
        _assert_product(y, ref, BF16, 24)
        assert ft.matmul(x, w.T).dtype == BF16
        assert ft.dot(x[0], w[0]).dtype == BF16
        assert ft.linear(x, w).dtype == BF16
        assert ft.nn.linear(x, w, ft.zeros(8)).dtype == BF16
        q = x.reshape((1, 16, 24))
        assert ft.scaled_dot_product_attention(q, q, q).dtype == BF16
        # precision-sensitive ops stay in float32
        assert ft.softmax(x, axis=-1).dtype == np.float32
        assert ft.layer_norm(x, (24,)).dtype == np.float32
        assert ft.sum(x).dtype == np.float32
        assert ft.exp(x).dtype == np.float32
        assert (x + x).dtype == np.float32
        # float64 and integer operands are never cast
        d = ft.asarray(np.ones((3, 3)))
        assert (d @ d).dtype == np.float64
        i = ft.ones((3, 3), dtype=ft.int32)
        assert (i @ i).dtype == np.int32
    assert (x @ w.T).dtype == np.float32


def test_autocast_nesting_disable_and_decorator():
    x = ft.ones((4, 4))
    assert ft.amp.get_autocast_dtype() is None
    with ft.autocast():
        assert (x @ x).dtype == BF16
        with ft.autocast(dtype=ft.float16):
            assert (x @ x).dtype == F16
            with ft.autocast(enabled=False):
                assert (x @ x).dtype == np.float32
                assert not ft.amp.is_autocast_enabled()
            assert (x @ x).dtype == F16
        assert (x @ x).dtype == BF16
    assert (x @ x).dtype == np.float32

    @ft.autocast(dtype=ft.float16)
    def f(a):
        return a @ a

    assert f(x).dtype == F16
    assert (x @ x).dtype == np.float32
    # one object entered twice
    ac = ft.autocast()
    with ac:
        with ac:
            assert (x @ x).dtype == BF16
        assert (x @ x).dtype == BF16
    assert (x @ x).dtype == np.float32
    # state restored when the block raises
    with pytest.raises(RuntimeError):
        with ft.autocast():
            raise RuntimeError("boom")
    assert ft.amp.get_autocast_dtype() is None


def test_autocast_is_per_thread():
    x = ft.ones((4, 4))
    results = {}
    inside = threading.Event()
    release = threading.Event()

    def other():
        results["start"] = (x @ x).dtype  # not inherited
        with ft.autocast(dtype=ft.float16):
            inside.set()
            release.wait(10)
            results["inner"] = (x @ x).dtype

    with ft.autocast(dtype=ft.bfloat16):
        th = threading.Thread(target=other)
        th.start()
        assert inside.wait(10)
        assert (x @ x).dtype == BF16  # the other thread's block is its own
        release.set()
        th.join()
    assert (x @ x).dtype == np.float32
    assert results == {"start": np.float32, "inner": F16}


# ---------------------------------------------------------------- denormals


@pytest.mark.parametrize("nthreads", [1, 2, 4])
def test_set_flush_denormal(threads, nthreads):
    ft.set_num_threads(nthreads)
    sub = np.full(1 << 21, 1e-40, np.float32)  # large: split over threads
    sub[1::2] = -3e-42
    t = ft.asarray(sub)
    try:
        assert ft.set_flush_denormal(True) is True
        assert _C._flush_denormal_enabled()
        assert ft.show_config(file=open("/dev/null", "w"))["flush_denormal"]
        r = np.asarray(ft.multiply(t, 1.0))
        assert not r.any(), f"{np.count_nonzero(r)} subnormals survived"
        # threads added after the call start with the caller's setting
        ft.set_num_threads(nthreads + 1)
        assert not np.asarray(ft.add(t, 0.0)).any()
    finally:
        assert ft.set_flush_denormal(False) is True
    assert not _C._flush_denormal_enabled()
    ft.set_num_threads(nthreads)
    r = np.asarray(ft.multiply(t, 1.0))
    np.testing.assert_array_equal(r, sub)


def test_show_config_reports_lowp_path(capsys):
    cfg = ft.show_config()
    out = capsys.readouterr().out
    assert "float32 compute via conversion" in out
    assert "flush denormal: off" in out
    assert cfg["lowp"] == "float32 compute via conversion"


# ------------------------------------------- products read while packing
#
# The reduced-precision products read 16-bit operands (or float32 ones
# rounded under autocast) in the GEMM's packing step.  Each result must be
# bit for bit the float32 product of the rounded operands with the same
# shapes and strides (fasttensor's float32 matmul makes the same blocking
# and path decisions), and within the accuracy bound of tests/test_matmul.py
# of a float64 NumPy product.

GEMM_PATHS = {"auto": 0, "nopack": 1, "packed": 2, "packed_ic_jr": 3}


@pytest.fixture
def tune():
    yield _C._gemm_tune
    _C._gemm_tune(0, 0, 0, 0)


def _layouts(rng, m, k, n, dtype):
    """(name, A, B) with A and B each a triple (16-bit, its exact float32
    copy, float32 values that round to it): the same views (transposed,
    sliced, negative-stride, column-major) of three bases, so that every
    product sees identical strides.  The third base is the second times
    1 + eps/8, under half a 16-bit unit, so rounding it gives the second
    back; rounding such values is the packing step's job."""
    tiny = np.float32(EPS[dtype] / 8)

    def base(shape):
        h = reference_16(rng.uniform(-2, 2, shape), dtype)
        h32 = h.astype(np.float32)
        return h, h32, h32 * (np.float32(1) + tiny)

    def view(t, f):
        return tuple(f(x) for x in t)

    a, b = base((m, k)), base((k, n))
    at, bt = base((k, m)), base((n, k))
    ba, bb = base((2 * m + 1, 3 * k + 2)), base((3 * k + 1, 2 * n + 3))
    yield "contiguous", a, b
    yield "transposed", view(at, lambda x: x.T), view(bt, lambda x: x.T)
    yield ("sliced", view(ba, lambda x: x[1::2, 2::3][:m, :k]),
           view(bb, lambda x: x[::3, 1::2][:k, :n]))
    yield ("negative", view(a, lambda x: x[::-1, ::-1]),
           view(b, lambda x: x[::-1]))
    yield ("neg cols", view(a, lambda x: x[:, ::-1]),
           view(b, lambda x: x[:, ::-1]))
    yield ("mixed", view(ba, lambda x: x[::-2][:m, 1:k + 1]),
           view(bt, lambda x: x.T[::-1]))


def _f32_bound_ok(c32, a32, b32):
    """|C - C_ref| <= (k + 2) * eps32 * (|A| @ |B|) for the float32 result
    of the rounded operands (C_ref in float64)."""
    a64 = np.asarray(a32, np.float64)
    b64 = np.asarray(b32, np.float64)
    ref = np.matmul(a64, b64)
    k = a64.shape[-1]
    bound = (k + 2) * np.finfo(np.float32).eps * np.matmul(np.abs(a64),
                                                           np.abs(b64))
    err = np.abs(np.asarray(c32, np.float64) - ref)
    assert (err <= bound).all(), float((err - bound).max())
    return ref


def _check_packed_product(a, b, dtype, kind):
    """One product for source kind `kind` ("16": 16-bit operands, "f32":
    float32 operands under autocast, "mixed": 16-bit A, float32 B under
    autocast): bitwise against the float32 product of the rounded operands,
    then the float64 bounds."""
    a16, a32, au = a
    b16, b32, bu = b
    want32 = np.asarray(ft.matmul(ft.asarray(a32), ft.asarray(b32)))
    xa, xb = {"16": (a16, b16), "f32": (au, bu), "mixed": (a16, bu)}[kind]
    xa, xb = ft.asarray(xa), ft.asarray(xb)
    if kind == "16":
        got = ft.matmul(xa, xb)
        got32 = _C._matmul_f32(xa, xb, dtype)
    else:
        with ft.autocast(dtype=ft.bfloat16 if dtype == BF16 else ft.float16):
            got = xa @ xb
            got32 = _C._matmul_f32(xa, xb, dtype)
    assert got.dtype == dtype and got32.dtype == np.float32
    np.testing.assert_array_equal(f32_bits(got32), f32_bits(want32))
    assert_same_16(got, reference_16(want32, dtype))
    ref = _f32_bound_ok(got32, a32, b32)
    _assert_product(got, ref, dtype, a32.shape[-1])


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
@pytest.mark.parametrize("path", list(GEMM_PATHS))
def test_products_read_16bit_while_packing(isa, convert_path, dtype, path, tune,
                                          rng):
    info = _C._gemm_info(np.float32)
    mr, nr = info["mr"], info["nr"]
    # kc = 16, mc = 2 mr, nc = 2 nr: the sizes below cross every block.
    tune(16, 2 * mr, 2 * nr, GEMM_PATHS[path])
    sizes = [(1, 17, 1), (1, 33, nr + 1), (mr - 1 or 1, 15, 1),
             (mr + 1, 16, nr - 1 or 1), (2 * mr + 1, 33, 2 * nr + 3),
             (3 * mr + 2, 50, 4 * nr + 3)]
    for m, k, n in sizes:
        for name, a, b in _layouts(rng, m, k, n, dtype):
            for kind in ("16", "f32", "mixed"):
                try:
                    _check_packed_product(a, b, dtype, kind)
                except AssertionError as e:
                    raise AssertionError(
                        f"m={m} k={k} n={n} layout={name} kind={kind}: {e}")


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
@pytest.mark.parametrize("m,k,n", [(1, 700, 300), (1, 300, 1), (300, 600, 1),
                                   (7, 500, 400), (200, 300, 260)])
def test_products_read_16bit_default_blocks(isa, convert_path, dtype, m, k, n,
                                           rng):
    """Default blocks: GEMV row and dot forms (chunked k), the skinny
    no-pack path and the packed path."""
    for name, a, b in _layouts(rng, m, k, n, dtype):
        if name not in ("contiguous", "transposed", "negative"):
            continue
        for kind in ("16", "mixed"):
            _check_packed_product(a, b, dtype, kind)


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_products_read_16bit_batched_dot_linear(isa, dtype, rng):
    ac = ft.bfloat16 if dtype == BF16 else ft.float16
    # Broadcast batches: (2, 1, m, k) @ (3, k, n).
    a = _lowp_input(rng, (2, 1, 9, 40), dtype, -1, 1)
    b = _lowp_input(rng, (3, 40, 20), dtype, -1, 1)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    want32 = np.asarray(ft.matmul(ft.asarray(a32), ft.asarray(b32)))
    got = ft.matmul(ft.asarray(a), ft.asarray(b))
    assert got.shape == (2, 3, 9, 20)
    assert_same_16(got, reference_16(want32, dtype))
    with ft.autocast(dtype=ac):
        np.testing.assert_array_equal(
            f32_bits(_C._matmul_f32(ft.asarray(a32), ft.asarray(b), dtype)),
            f32_bits(want32))
    _assert_product(got, a.astype(np.float64) @ b.astype(np.float64), dtype,
                    40)
    # dot: 1-D (contiguous: bitwise; strided: bounds), 2-D, N-D with M-D.
    v = _lowp_input(rng, (2001,), dtype, -1, 1)
    w = _lowp_input(rng, (4002,), dtype, -1, 1)
    d = ft.dot(ft.asarray(v), ft.asarray(w[:2001]))
    want = ft.dot(ft.asarray(v.astype(np.float32)),
                  ft.asarray(w[:2001].astype(np.float32)))
    assert_same_16(d, reference_16(np.asarray(want), dtype))
    d = ft.dot(ft.asarray(v[::-1]), ft.asarray(w[::2]))
    _assert_product(d, np.dot(v[::-1].astype(np.float64),
                              w[::2].astype(np.float64)), dtype, 2001)
    x3 = _lowp_input(rng, (2, 3, 40), dtype, -1, 1)
    got = ft.dot(ft.asarray(x3), ft.asarray(b))
    want32 = np.asarray(ft.dot(ft.asarray(x3.astype(np.float32)),
                               ft.asarray(b32)))
    assert got.shape == (2, 3, 3, 20)
    assert_same_16(got, reference_16(want32, dtype))
    # linear with bias, 16-bit and float32 under autocast.
    x = _lowp_input(rng, (4, 5, 40), dtype, -1, 1)
    wt = _lowp_input(rng, (30, 40), dtype, -1, 1)
    bias = _lowp_input(rng, (30,), dtype, -1, 1)
    want32 = np.asarray(ft.linear(ft.asarray(x.astype(np.float32)),
                                  ft.asarray(wt.astype(np.float32)),
                                  ft.asarray(bias.astype(np.float32))))
    got = ft.linear(ft.asarray(x), ft.asarray(wt), ft.asarray(bias))
    assert_same_16(got, reference_16(want32, dtype))
    _assert_product(got, x.astype(np.float64) @ wt.astype(np.float64).T
                    + bias.astype(np.float64), dtype, 40)
    with ft.autocast(dtype=ac):
        got = ft.nn.linear(ft.asarray(x.astype(np.float32)), ft.asarray(wt),
                           ft.asarray(bias.astype(np.float32)))
    assert_same_16(got, reference_16(want32, dtype))
    # decode-style linear: one row against a (out, in) weight.
    got = ft.linear(ft.asarray(x[0, :1]), ft.asarray(wt))
    want32 = np.asarray(ft.linear(ft.asarray(x[0, :1].astype(np.float32)),
                                  ft.asarray(wt.astype(np.float32))))
    assert_same_16(got, reference_16(want32, dtype))
    # out= and errors keep their meaning.
    out = ft.empty((9, 20), dtype=ac)
    r = ft.matmul(ft.asarray(a[0, 0]), ft.asarray(b[0]), out=out)
    assert r is out
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ"):
        ft.asarray(a) @ ft.asarray(a)
    with ft.autocast(dtype=ac), pytest.raises(ValueError, match="matmul"):
        ft.asarray(a32) @ ft.asarray(a32)
    with pytest.raises(ValueError, match="linear: bias must have shape"):
        ft.linear(ft.asarray(x), ft.asarray(wt), ft.asarray(bias[:3]))
    with pytest.raises(TypeError, match="_matmul_f32"):
        _C._matmul_f32(ft.asarray(a32), ft.asarray(b32), np.float32)


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_autocast_rounds_specials_while_packing(isa, dtype):
    """NaN, inf, overflow to inf (float16) and ties round as the cast."""
    ac = ft.bfloat16 if dtype == BF16 else ft.float16
    a = np.array([[1.0, np.nan, 0.0], [1e5, 1.0 + 2.0 ** -8, -3e38],
                  [np.inf, -1.0, 2.0 ** -20]], np.float32)
    b = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 1.0 + 2.0 ** -11]],
                 np.float32)
    ra = reference_16(a, dtype).astype(np.float32)
    rb = reference_16(b, dtype).astype(np.float32)
    want = np.asarray(ft.matmul(ft.asarray(ra), ft.asarray(rb)))
    with ft.autocast(dtype=ac):
        got = ft.asarray(a) @ ft.asarray(b)
        got32 = _C._matmul_f32(ft.asarray(a), ft.asarray(b), dtype)
    assert_same_16(got, reference_16(want, dtype))
    g, w = np.asarray(got32), want
    np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
    np.testing.assert_array_equal(g[~np.isnan(g)], w[~np.isnan(w)])


@pytest.mark.parametrize("dtype", LOWP, ids=IDS)
def test_products_read_16bit_same_across_threads(dtype, threads, rng):
    a = _lowp_input(rng, (300, 500), dtype, -1, 1)
    b = _lowp_input(rng, (500, 600), dtype, -1, 1)
    x = _lowp_input(rng, (1, 500), dtype, -1, 1)
    results = []
    for nt in (1, 2, 3):
        ft.set_num_threads(nt)
        results.append((bits(ft.asarray(a) @ ft.asarray(b)),
                        bits(ft.asarray(x) @ ft.asarray(b)),
                        bits(ft.asarray(x) @ ft.asarray(b.T.copy()).T)))
    for r in results[1:]:
        for got, want in zip(r, results[0]):
            np.testing.assert_array_equal(got, want)


# ------------------------------------------------------ prepacked weights


def _same_result(got, want):
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype and g.shape == w.shape
    if g.dtype == np.float32:
        np.testing.assert_array_equal(f32_bits(g), f32_bits(w))
    else:
        assert_same_16(g, w)


@pytest.mark.parametrize("wdtype", [np.dtype(np.float32)] + LOWP,
                         ids=["float32"] + IDS)
@pytest.mark.parametrize("path", ["packed", "auto"])
def test_prepacked_linear_matches_unpacked(isa, convert_path, wdtype, path,
                                           tune, rng):
    info = _C._gemm_info(np.float32)
    if path == "packed":
        # Small blocks and the packed path: every product reads the
        # panels, across kc, mc and nc edges.
        tune(16, 2 * info["mr"], 2 * info["nr"], GEMM_PATHS["packed"])
        shapes = [(1, 33, 20), (7, 40, 2 * info["nr"] + 3),
                  (2 * info["mr"] + 1, 50, 4 * info["nr"] + 1)]
    else:
        # Default blocks: the panels are read by the large product only;
        # GEMV and small products multiply the weight itself.
        shapes = [(1, 300, 200), (20, 64, 48), (256, 520, 384)]
    for m, kin, nout in shapes:
        w = reference_16(rng.uniform(-1, 1, (nout, kin)), wdtype)
        x = reference_16(rng.uniform(-1, 1, (m, kin)), wdtype)
        bias = reference_16(rng.uniform(-1, 1, (nout,)), wdtype)
        wt = ft.asarray(w)
        wp = ft.nn.prepack_linear(wt)
        assert wp.shape == (nout, kin) and wp.dtype == wdtype
        assert "PackedLinearWeight(shape=" in repr(wp)
        for xx in (ft.asarray(x), ft.asarray(np.asfortranarray(x)),
                   ft.asarray(x.reshape(1, m, kin))):
            for b in (None, ft.asarray(bias)):
                _same_result(ft.nn.linear(xx, wp, b), ft.nn.linear(xx, wt, b))
        # Transposed weight storage: bitwise the unpacked product with the
        # same storage.
        wp2 = ft.nn.prepack_linear(ft.asarray(np.ascontiguousarray(w.T)).T)
        _same_result(ft.nn.linear(ft.asarray(x), wp2),
                     ft.nn.linear(ft.asarray(x), wp2.weight))
        ref = x.astype(np.float64) @ w.astype(np.float64).T
        got = ft.nn.linear(ft.asarray(x), wp)
        if wdtype == np.float32:
            _f32_bound_ok(got, x.astype(np.float32),
                          w.astype(np.float32).T)
        else:
            _assert_product(got, ref, wdtype, kin)
        # The panels are what a taken product reads: zeroing them changes
        # exactly the products that read them.
        taken = path == "packed" or m == 256
        np.asarray(wp._panels)[:] = 0
        z = np.asarray(ft.nn.linear(ft.asarray(x), wp)).astype(np.float64)
        if taken:
            assert (z == 0).all()
        else:
            _same_result(ft.nn.linear(ft.asarray(x), wp),
                         ft.nn.linear(ft.asarray(x), wt))


def test_prepacked_linear_autocast_cast_and_errors(rng, tune):
    w32 = rng.uniform(-1, 1, (300, 400)).astype(np.float32)
    x32 = rng.uniform(-1, 1, (256, 400)).astype(np.float32)
    b32 = rng.uniform(-1, 1, (300,)).astype(np.float32)
    x, bias = ft.asarray(x32), ft.asarray(b32)
    # dtype= casts at packing time: the same as the cast weight.
    wp = ft.nn.prepack_linear(w32, dtype=ft.bfloat16)
    assert wp.dtype == BF16
    wb = ft.asarray(w32.astype(BF16))
    _same_result(ft.nn.linear(x, wp, bias), ft.nn.linear(x, wb, bias))
    with ft.autocast(dtype=ft.bfloat16):
        # float32 activations rounded while packing, bfloat16 panels.
        got = ft.nn.linear(x, wp, bias)
        assert got.dtype == BF16
        _same_result(got, ft.nn.linear(x, wb, bias))
        # float32 panels under autocast: the weight itself is multiplied.
        wf = ft.nn.prepack_linear(w32)
        _same_result(ft.nn.linear(x, wf, bias),
                     ft.nn.linear(x, ft.asarray(w32), bias))
    # Blocks changed after packing: still the unpacked result.
    wf = ft.nn.prepack_linear(w32)
    tune(48, 0, 0, 0)
    _same_result(ft.nn.linear(x, wf), ft.nn.linear(x, ft.asarray(w32)))
    with pytest.raises(ValueError, match="prepack_linear: weight must be 2-D"):
        ft.nn.prepack_linear(ft.ones((3,)))
    with pytest.raises(TypeError, match="prepack_linear: weight dtype"):
        ft.nn.prepack_linear(np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"linear: x.shape\[-1\]"):
        ft.nn.linear(ft.ones((2, 5)), wf)
