"""The bfloat16 matrix engines (src/ops/gemm_bf16.h).

Every test runs on each engine this machine can run: ``amx_emulated`` and
``avx512_bf16_emulated`` (the AMX tile kernel and the AVX512-BF16 vector
kernel, their packing and their driver over software models of the
instructions) everywhere, ``amx`` and ``avx512_bf16`` where the CPU, OS and
build allow them (skipped with the reason otherwise).

Reference: float64 NumPy on the inputs rounded to bfloat16 by ml_dtypes.
A float32 sum of k exact products (each bfloat16 product is exact in
float32) is within (k + 2) * 2**-24 * (|A| @ |B|) of it, elementwise.
"""

import io

import ml_dtypes
import numpy as np
import pytest

import fasttensor as ft
from fasttensor import _C

BF16 = ml_dtypes.bfloat16
U = 2.0 ** -24
ENGINES = ["amx_emulated", "avx512_bf16_emulated", "amx", "avx512_bf16"]


@pytest.fixture(params=ENGINES)
def engine(request):
    name = request.param
    previous = _C._bf16_engine()
    faults = _C._amx_model_faults()
    try:
        _C._set_bf16_engine(name)
    except RuntimeError as e:
        # The models run everywhere (their check product included); only
        # the hardware engines may be missing.
        if name.endswith("_emulated"):
            raise
        pytest.skip(str(e))
    try:
        yield name
    finally:
        _C._bf16_engine_tune(0, 0)
        _C._set_bf16_engine("auto")
        if _C._bf16_engine() != previous:
            _C._set_bf16_engine(previous)
    assert _C._amx_model_faults() == faults, "the tile model faulted"


def _rand(rng, shape, dtype=BF16):
    return rng.standard_normal(shape).astype(np.float32).astype(dtype)


def _reference(a, b):
    a64 = np.asarray(a).astype(BF16).astype(np.float64)
    b64 = np.asarray(b).astype(BF16).astype(np.float64)
    return a64 @ b64, np.abs(a64) @ np.abs(b64)


def _check(c, a, b, c0=None):
    c = np.asarray(c).astype(np.float64)
    ref, mag = _reference(a, b)
    k = np.asarray(a).shape[1]
    bound = (k + 2) * U * mag
    if c0 is not None:
        ref = ref + c0.astype(np.float64)
        bound = (k + 3) * U * (mag + np.abs(c0))
    err = np.abs(c - ref)
    assert np.all(err <= bound), (
        f"max error {err.max()} above the bound {bound[err > bound].min()}")
    assert np.linalg.norm(c - ref) <= 1e-2 * np.linalg.norm(ref) + 1e-30


def _mm(a, b, **kw):
    return _C._bf16_engine_matmul(ft.asarray(a), ft.asarray(b), **kw)


SIZES = [1, 15, 16, 17, 31, 32, 33, 47, 64, 65]
KS = [1, 31, 32, 33, 64, 100]


@pytest.mark.parametrize("m", SIZES)
def test_rows(engine, rng, m):
    a, b = _rand(rng, (m, 33)), _rand(rng, (33, 31))
    _check(_mm(a, b), a, b)


@pytest.mark.parametrize("n", SIZES)
def test_columns(engine, rng, n):
    a, b = _rand(rng, (17, 64)), _rand(rng, (64, n))
    _check(_mm(a, b), a, b)


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("s", [1, 16, 33, 65])
def test_depth(engine, rng, s, k):
    a, b = _rand(rng, (s, k)), _rand(rng, (k, s + 1))
    c = _mm(a, b)
    assert c.dtype == np.float32 and c.shape == (s, s + 1)
    _check(c, a, b)


def test_empty_k(engine):
    a = np.zeros((17, 0), BF16)
    b = np.zeros((0, 5), BF16)
    np.testing.assert_array_equal(np.asarray(_mm(a, b)), np.zeros((17, 5)))
    c0 = ft.asarray(np.ones((17, 5), np.float32))
    _mm(a, b, accumulate_into=c0)
    np.testing.assert_array_equal(np.asarray(c0), np.ones((17, 5)))


def test_cache_blocks(engine, rng):
    # Small blocks: 4 m blocks x 4 n blocks, with edges in both; the
    # result must not depend on the blocking at all.
    a, b = _rand(rng, (100, 150)), _rand(rng, (150, 110))
    _C._bf16_engine_tune(32, 64)
    small = np.asarray(_mm(a, b))
    _check(small, a, b)
    _C._bf16_engine_tune(0, 0)
    default = np.asarray(_mm(a, b))
    np.testing.assert_array_equal(small, default)


def test_default_blocks(engine, rng):
    # Crosses the default blocks: 2 m blocks of 1024 rows (k = 40) and an
    # n block edge at 256 columns.
    a, b = _rand(rng, (1100, 40)), _rand(rng, (40, 300))
    _check(_mm(a, b), a, b)


def test_transposed_and_strided(engine, rng):
    base_a = _rand(rng, (70, 80))
    base_b = _rand(rng, (90, 66))
    ta, tb = ft.asarray(base_a), ft.asarray(base_b)
    cases = [
        (ta.T[:40, :50], tb[:50, :33]),             # A transposed
        (ta[:33, :47], tb.T[:47, :35]),             # B transposed
        (ta[::2, 1::3], tb[:27, ::2]),              # both strided
        (ta[::-1, :40], tb[40:0:-1, ::-1]),         # negative strides
        (ta.T[::-2, ::-1], tb[:70, 1::2].T.T),      # mixed
        (ta[:20, :64], tb[64:0:-1, 2:40]),          # rows of B reversed
        (ta[:9, :33], tb[:33, 5].reshape(33, 1)),   # one column
    ]
    for xa, xb in cases:
        c = _C._bf16_engine_matmul(xa, xb)
        _check(c, np.asarray(xa), np.asarray(xb))


def test_float32_sources_round_while_packing(engine, rng):
    a32 = rng.standard_normal((37, 45)).astype(np.float32)
    b32 = rng.standard_normal((45, 29)).astype(np.float32)
    # Ties of bfloat16 rounding (to even), NaN and infinities, in A and in
    # B, whose rows pack 16 columns at a time (the first tile) and
    # column by column (the last 13).
    a32[0, :4] = [1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 3e38]
    ties = [1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8),
            2.0 ** 100 * (1 + 3 * 2 ** -8)]
    b32[1, 12:16] = ties
    b32[2, 25:29] = ties
    b32[5, 3] = np.inf
    a32[7, 9] = np.nan
    b32[9, 20] = np.nan
    # A signalling NaN whose payload lies in the dropped half: still NaN.
    b32[11, 7] = np.uint32(0x7f800001).view(np.float32)
    got = np.asarray(_mm(a32, b32))
    with np.errstate(invalid="ignore"):  # ml_dtypes on the signalling NaN
        a16, b16 = a32.astype(BF16), b32.astype(BF16)
    from_bf16 = np.asarray(_mm(a16, b16))
    np.testing.assert_array_equal(got, from_bf16)
    assert np.isnan(got[7]).all() and np.isnan(got[:, [7, 20]]).all()
    assert np.isinf(got[np.arange(37) != 7, 3]).all()
    # Elements away from the non-finite inputs match the reference.
    ref, mag = _reference(a16, b16)
    keep = np.isfinite(ref)
    keep[[0, 7], :] = False   # row 0 may overflow float32 on the way
    keep[:, [3, 7, 20]] = False
    assert keep.sum() == 35 * 26
    err = np.abs(got.astype(np.float64)[keep] - ref[keep])
    assert np.all(err <= (45 + 2) * U * mag[keep])
    # Column-major float32 B (a transposed weight) packs the same values.
    bt = ft.asarray(np.ascontiguousarray(b32.T)).T
    np.testing.assert_array_equal(
        np.asarray(_C._bf16_engine_matmul(ft.asarray(a32), bt)), from_bf16)
    # Mixed: float32 A with bfloat16 B.
    mixed = np.asarray(_mm(a32, b16))
    np.testing.assert_array_equal(mixed, from_bf16)


def test_accumulate(engine, rng):
    a, b = _rand(rng, (50, 70)), _rand(rng, (70, 40))
    c0 = rng.standard_normal((50, 40)).astype(np.float32)
    c = ft.asarray(c0.copy())
    r = _mm(a, b, accumulate_into=c)
    assert r is c
    _check(c, a, b, c0)
    # A transposed, strided float32 accumulator.
    back = np.zeros((40, 50), np.float32)
    back[...] = c0.T
    ct = ft.asarray(back).T
    _C._bf16_engine_matmul(ft.asarray(a), ft.asarray(b), accumulate_into=ct)
    np.testing.assert_array_equal(np.asarray(ct), np.asarray(c))


def test_prepacked_matches(engine, rng):
    a, b = _rand(rng, (65, 100)), rng.standard_normal((100, 47)).astype(
        np.float32)
    ta, tb = ft.asarray(a), ft.asarray(b)
    plain = np.asarray(_C._bf16_engine_matmul(ta, tb))
    packed = np.asarray(_C._bf16_engine_matmul(ta, tb, prepacked=True))
    np.testing.assert_array_equal(plain, packed)
    c = ft.asarray(np.ones((65, 47), np.float32))
    _C._bf16_engine_matmul(ta, tb, accumulate_into=c, prepacked=True)
    np.testing.assert_array_equal(np.asarray(c), (plain + np.float32(1)))


def test_threads_bitwise(engine, rng, threads):
    a, b = _rand(rng, (130, 70)), _rand(rng, (70, 96))
    _C._bf16_engine_tune(32, 32)
    ft.set_num_threads(1)
    one = np.asarray(_mm(a, b))
    ft.set_num_threads(2)
    two = np.asarray(_mm(a, b))
    np.testing.assert_array_equal(one, two)
    _check(one, a, b)


def test_bad_inputs(engine):
    a = ft.asarray(np.ones((4, 3), BF16))
    b = ft.asarray(np.ones((3, 5), BF16))
    with pytest.raises(ValueError, match=r"bf16_engine_matmul: inner "
                       r"dimensions differ \(a.shape=\(4, 3\), "
                       r"b.shape=\(4, 3\): 3 != 4\)"):
        _C._bf16_engine_matmul(a, a)
    with pytest.raises(ValueError, match=r"a must be 2-D, got shape \(3,\)"):
        _C._bf16_engine_matmul(ft.asarray(np.ones(3, BF16)), b)
    with pytest.raises(TypeError, match=r"b must be bfloat16 or float32, "
                       r"got float64"):
        _C._bf16_engine_matmul(a, ft.asarray(np.ones((3, 5))))
    with pytest.raises(TypeError, match=r"a must be bfloat16 or float32, "
                       r"got int32"):
        _C._bf16_engine_matmul(ft.asarray(np.ones((4, 3), np.int32)), b)
    with pytest.raises(TypeError, match="accumulate_into must be float32"):
        _C._bf16_engine_matmul(a, b, accumulate_into=ft.zeros((4, 5),
                                                              dtype=ft.float64))
    with pytest.raises(ValueError, match=r"accumulate_into.shape=\(5, 4\), "
                       r"expected \(4, 5\)"):
        _C._bf16_engine_matmul(a, b, accumulate_into=ft.zeros((5, 4)))
    with pytest.raises(TypeError, match="must be a fasttensor Tensor"):
        _C._bf16_engine_matmul(a, b, accumulate_into=np.zeros((4, 5),
                                                              np.float32))


def test_convert_engine_refuses_product():
    previous = _C._bf16_engine()
    try:
        _C._set_bf16_engine("convert")
        assert _C._bf16_engine() == "convert"
        assert _C._bf16_engine_peak_tflops(0.0) == 0.0
        with pytest.raises(RuntimeError, match="engine is 'convert'"):
            _C._bf16_engine_matmul(ft.ones((2, 2)), ft.ones((2, 2)))
    finally:
        _C._set_bf16_engine("auto")
        if _C._bf16_engine() != previous:
            _C._set_bf16_engine(previous)


def test_set_engine_errors():
    previous = _C._bf16_engine()
    with pytest.raises(ValueError, match=r"unknown engine 'tpu'; expected "
                       r"one of 'auto', 'convert', 'amx'"):
        _C._set_bf16_engine("tpu")
    with pytest.raises(TypeError, match="name must be a str"):
        _C._set_bf16_engine(3)
    cpu = _C.cpu_features()
    if not cpu["avx512_bf16"]:
        with pytest.raises(RuntimeError, match="'avx512_bf16' cannot run "
                           r"here: (this build has no AVX512-BF16 kernel|"
                           "the CPU does not report AVX512-BF16)"):
            _C._set_bf16_engine("avx512_bf16")
    if not (cpu["amx_tile"] and cpu["amx_bf16"]):
        with pytest.raises(RuntimeError, match="'amx' cannot run here: "
                           r"(this build has no AMX kernel|the CPU does "
                           "not report AMX)"):
            _C._set_bf16_engine("amx")
    hardware = [name for name, present in (
        ("amx", cpu["amx_tile"] and cpu["amx_bf16"]),
        ("avx512_bf16", cpu["avx512_bf16"])) if present]
    if hardware and _C._active_isa() == "avx512":
        _C._set_isa("avx2")
        try:
            # A lower ISA switches the hardware engines off, whatever was
            # chosen.
            for name in hardware:
                with pytest.raises(RuntimeError, match="below avx512"):
                    _C._set_bf16_engine(name)
            assert _C._bf16_engine() == "convert"
        finally:
            _C._set_isa("avx512")
    assert _C._bf16_engine() == previous


def test_auto_never_picks_emulation():
    previous = _C._bf16_engine()
    try:
        _C._set_bf16_engine("auto")
        auto = _C._bf16_engine()
        assert auto in ("amx", "avx512_bf16", "convert")
        cpu = _C.cpu_features()
        if not (cpu["amx_tile"] and cpu["amx_bf16"]) and not cpu["avx512_bf16"]:
            assert auto == "convert"
    finally:
        if _C._bf16_engine() != previous:
            _C._set_bf16_engine(previous)


def test_show_config_reports_engine(engine):
    buf = io.StringIO()
    cfg = ft.show_config(file=buf)
    assert cfg["bf16_engine"] == engine
    assert f"bf16 matmul   : {engine} (" in buf.getvalue()


def test_peak_probe(engine):
    # Only that the probe runs the tile instructions and returns a rate.
    assert _C._bf16_engine_peak_tflops(0.001) > 0.0


def test_pair_order_by_hand(engine):
    """The order of the four products of two k pairs, worked out by hand:
    terms t0 = 1, t1 = 0, t2 = 2**-24, t3 = 2**-23.  TDPBF16PS adds t0, t1,
    t2, t3: 1 + 2**-24 is a tie (rounds to 1), then 1 + 2**-23.  VDPBF16PS
    adds t1, t0, t3, t2: 1 + 2**-23, then a tie that rounds to the even
    1 + 2**-22.  The exact sum is 1 + 3 * 2**-24."""
    a = np.array([[1.0, 0.0, 2.0 ** -12, 2.0 ** -11]], np.float32)
    b = np.array([[1.0], [1.0], [2.0 ** -12], [2.0 ** -12]], np.float32)
    got = float(np.asarray(_mm(a, b))[0, 0])
    if engine.startswith("amx"):
        assert got == 1 + 2.0 ** -23
    else:
        assert got == 1 + 2.0 ** -22


def _bf16_bits(values):
    return np.asarray(values, np.float32).astype(BF16).view(np.uint16)


def test_tile_model_by_hand():
    """One TDPBF16PS on the model, against values worked out by hand:
    C[m][n] += A[m][2k] * B[k][2n], then += A[m][2k+1] * B[k][2n+1], each
    addition rounded to float32 and flushed, denormal inputs read as 0."""
    t12 = 2.0 ** -12
    # A: 2 rows x 2 pairs; B: 2 pairs x 3 columns x 2 (VNNI).
    a = _bf16_bits([[t12, t12, 2.0 ** 127, 0.0],
                    [1.5, -2.0, 0.25, 3.0]])
    b = np.zeros((2, 6), np.uint16)
    b[0, 0:2] = _bf16_bits([t12, t12])          # column 0, pair 0
    b[0, 4:6] = _bf16_bits([-(2.0 ** -120), -0.0])  # column 2, pair 0
    b[1, 2] = 0x0040                            # column 1, pair 1: 2**-127
    b[1, 4:6] = _bf16_bits([-0.0, -0.0])        # column 2, pair 1
    c = np.array([[1.0, 0.0, 0.0], [0.5, -1.0, 2.0]], np.float32)
    got = _C._amx_model_tdpbf16ps(c, a, b)
    # (0, 0): 1 + 2**-24 is a tie and rounds to 1, twice; summing the pair
    # first would give 1 + 2**-23 (float64: 1.00000011920928955).
    assert got[0, 0] == 1.0
    # (0, 1): 2**127 * 2**-127 would be 1; the denormal input reads as 0.
    assert got[0, 1] == 0.0
    # (0, 2): 2**-12 * -2**-120 = -2**-132 is denormal: flushed to -0.
    assert got[0, 2] == 0.0 and np.signbit(got[0, 2])
    # Row 1 checks which elements pair up: 0.5 + 1.5 t - 2 t = 0.5 - 2**-13.
    assert got[1, 0] == 0.5 - 2.0 ** -13
    assert got[1, 1] == -1.0
    assert got[1, 2] == 2.0    # 2 - 1.5 * 2**-120 rounds to 2
    # The accumulator argument is not modified.
    assert c[0, 0] == 1.0 and c[1, 0] == 0.5
    with pytest.raises(ValueError, match="do not form one tile product"):
        _C._amx_model_tdpbf16ps(np.zeros((17, 2), np.float32),
                                np.zeros((17, 2), np.uint16),
                                np.zeros((1, 4), np.uint16))


# ------------------------------------------------- through the public API


@pytest.mark.parametrize("m", [kk for kk in (1, 15, 16, 40)])
def test_matmul_uses_engine_from_rows(engine, rng, m):
    # ft.matmul of bfloat16 operands with at least 16 rows runs on the
    # engine: its result is the engine's float32 product rounded once.
    a, b = _rand(rng, (m, 70)), _rand(rng, (70, 33))
    got = ft.matmul(ft.asarray(a), ft.asarray(b))
    assert got.dtype == ft.bfloat16
    if m >= 16:
        expect = np.asarray(_mm(a, b)).astype(BF16)
        np.testing.assert_array_equal(np.asarray(got).view(np.uint16),
                                      expect.view(np.uint16))
    ref, mag = _reference(a, b)
    err = np.abs(np.asarray(got).astype(np.float64) - ref)
    assert np.all(err <= 2.0 ** -8 * np.abs(ref) + 80 * U * mag)


def test_autocast_and_linear_use_engine(engine, rng):
    x, w = rng.standard_normal((48, 64), np.float32), \
        rng.standard_normal((40, 64), np.float32)
    with ft.autocast(dtype=ft.bfloat16):
        got = ft.nn.linear(ft.asarray(x), ft.asarray(w))
        got_mm = ft.matmul(ft.asarray(x), ft.asarray(w).T)
    assert got.dtype == ft.bfloat16 and got_mm.dtype == ft.bfloat16
    # The float32 sources are rounded to bfloat16 inside the engine's
    # packing: the same bits as the engine on ml_dtypes-rounded operands.
    expect = np.asarray(_mm(x.astype(BF16), w.T.astype(BF16))).astype(BF16)
    for r in (got, got_mm):
        np.testing.assert_array_equal(np.asarray(r).view(np.uint16),
                                      expect.view(np.uint16))


def test_batched_matmul_uses_engine(engine, rng):
    a, b = _rand(rng, (3, 20, 35)), _rand(rng, (35, 18))
    got = np.asarray(ft.matmul(ft.asarray(a), ft.asarray(b)))
    for i in range(3):
        expect = np.asarray(_mm(a[i], b)).astype(BF16)
        np.testing.assert_array_equal(got[i].view(np.uint16),
                                      expect.view(np.uint16))


@pytest.mark.parametrize("rows", [8, 16, 50])
def test_prepacked_linear_on_engine(engine, rng, rows):
    # A bfloat16 weight prepacked while an engine runs carries the engine's
    # panels; the product (bias and autocast included) is bitwise the
    # unpacked one's, whether or not it reads them (8 rows: it does not).
    w = _rand(rng, (40, 70))
    packed = ft.nn.prepack_linear(ft.asarray(w))
    assert packed.nbytes > 70 * 48 * 4
    x = _rand(rng, (rows, 70))
    bias = ft.asarray(_rand(rng, (40,)))
    for args in ((ft.asarray(x),), (ft.asarray(x), bias)):
        got = ft.nn.linear(args[0], packed, *args[1:])
        expect = ft.nn.linear(args[0], ft.asarray(w), *args[1:])
        np.testing.assert_array_equal(np.asarray(got).view(np.uint16),
                                      np.asarray(expect).view(np.uint16))
    x32 = rng.standard_normal((rows, 70), np.float32)
    with ft.autocast(dtype=ft.bfloat16):
        got = ft.nn.linear(ft.asarray(x32), packed)
        expect = ft.nn.linear(ft.asarray(x32), ft.asarray(w))
    np.testing.assert_array_equal(np.asarray(got).view(np.uint16),
                                  np.asarray(expect).view(np.uint16))
    # Products with 16 rows or more read the engine panels: zeroed panels
    # give a zero product; fewer rows do not read them.
    np.asarray(packed._engine_panels)[:] = 0
    got = np.asarray(ft.nn.linear(ft.asarray(x), packed)).astype(np.float32)
    assert (not got.any()) == (rows >= 16)


def test_prepacked_linear_engine_changed(rng):
    # Panels packed for one engine are not read by another: after a switch
    # the product falls back and still matches the unpacked weight.
    try:
        _C._set_bf16_engine("amx_emulated")
        w = _rand(rng, (24, 40))
        packed = ft.nn.prepack_linear(ft.asarray(w))
        _C._set_bf16_engine("avx512_bf16_emulated")
        x = ft.asarray(_rand(rng, (32, 40)))
        got = ft.nn.linear(x, packed)
        expect = ft.nn.linear(x, ft.asarray(w))
        np.testing.assert_array_equal(np.asarray(got).view(np.uint16),
                                      np.asarray(expect).view(np.uint16))
    finally:
        _C._set_bf16_engine("auto")


# ------------------------------------------------- attention on the engine
#
# bfloat16 attention with 16 or more query rows multiplies on the engine
# (ops/attention.cpp): S = Q K^T and O += P V with P rounded to bfloat16,
# the online softmax in float32 on the active ISA's vector kernels.  So
# these tests run on every engine and every ISA.  Reference: float64 on
# the bfloat16 inputs.  The result (rounded to bfloat16) is within
# 2**-8 |ref| (the final rounding and the float32 softmax) plus
# 2**-7 (|P| @ |V|) (P's rounding to bfloat16, 2**-9 relative, with
# margin) of it.


@pytest.fixture
def engine_isa(engine, isa):
    """The engine under each ISA; a hardware engine is off below avx512."""
    if _C._bf16_engine() != engine:
        pytest.skip(f"the {isa} kernels switch the {engine} engine off")
    return engine, isa


@pytest.fixture
def attention_blocks():
    """Restore the engine attention's default blocks after a test."""
    yield _C._attention_bf16_tune
    _C._attention_bf16_tune(0, 0, 0)


def _attention_reference(q, k, v, mask=None, causal=False, scale=None):
    q, k, v = (np.asarray(x).astype(np.float64) for x in (q, k, v))
    L, S = q.shape[-2], k.shape[-2]
    s = q @ np.swapaxes(k, -1, -2)
    s *= 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    if causal:
        mask = np.tril(np.ones((L, S), bool))
    if mask is not None and mask.dtype == bool:
        s = np.where(mask, s, -np.inf)
    elif mask is not None:
        s = s + np.asarray(mask).astype(np.float64)
    m = s.max(axis=-1, keepdims=True)
    dead = ~np.isfinite(m)               # every key masked: PyTorch gives 0
    e = np.exp(s - np.where(dead, 0, m))
    p = e / np.where(dead, 1, e.sum(axis=-1, keepdims=True))
    return p @ v, np.abs(p) @ np.abs(v)


def _check_attention(got, q, k, v, **kw):
    ref, mag = _attention_reference(q, k, v, **kw)
    got = np.asarray(got)
    assert got.dtype == BF16 and got.shape == ref.shape
    err = np.abs(got.astype(np.float64) - ref)
    bound = 2.0 ** -8 * np.abs(ref) + 2.0 ** -7 * mag
    assert np.all(err <= bound), (
        f"max error {err.max()}, worst excess {(err - bound).max()}")
    assert np.linalg.norm(err) <= 1e-2 * np.linalg.norm(ref) + 1e-30


def _sdpa(q, k, v, **kw):
    before = _C._bf16_engine_products()
    out = ft.scaled_dot_product_attention(
        *(ft.asarray(x) for x in (q, k, v)), **kw)
    return out, _C._bf16_engine_products() - before


# (L, S, D, Dv): 32-row tile panels and 32-key steps crossed in every
# dimension, D and Dv below, at and above the tiles' 32.
SHAPES = [(16, 1, 8, 8), (17, 33, 40, 24), (64, 64, 64, 64),
          (100, 90, 72, 40), (33, 200, 16, 80)]


@pytest.mark.parametrize("shape", SHAPES)
def test_attention_on_engine(engine_isa, rng, shape):
    L, S, D, Dv = shape
    q, k, v = (_rand(rng, (2, s, d)) for s, d in ((L, D), (S, D), (S, Dv)))
    got, products = _sdpa(q, k, v)
    assert products > 0
    _check_attention(got, q, k, v)


@pytest.mark.parametrize("whole", [True, False])
def test_attention_key_blocks(engine_isa, rng, attention_blocks, whole):
    # Small blocks: several q blocks per unit and several key blocks per q
    # block, packed once per unit or block by block; the online softmax
    # rescales O between key blocks.  The result must not depend on it.
    q, k, v = _rand(rng, (1, 2, 90, 24)), _rand(rng, (1, 2, 150, 24)), \
        _rand(rng, (1, 2, 150, 40))
    q = q * 4  # peaked rows: the running max moves between blocks
    default, _ = _sdpa(q, k, v)
    attention_blocks(32, 64, 0 if whole else 1)
    got, products = _sdpa(q, k, v)
    # 2 batch elements x 3 q blocks x 3 key blocks x 2 products.
    assert products == 36
    _check_attention(got, q, k, v)
    _check_attention(default, q, k, v)


@pytest.mark.parametrize("whole", [True, False])
def test_attention_causal(engine_isa, rng, attention_blocks, threads,
                          whole):
    q, k, v = _rand(rng, (3, 70, 32)), _rand(rng, (3, 70, 32)), \
        _rand(rng, (3, 70, 32))
    got, _ = _sdpa(q, k, v, is_causal=True)
    _check_attention(got, q, k, v, causal=True)
    # Key blocks past a q block's last row are skipped and the diagonal
    # block is cut short, so a q block may use a prefix of a key block
    # packed for the whole unit: one thread (one unit for all q blocks),
    # q blocks of 32 rows in key blocks of 128 keys, L != S, Dv over two
    # 32-column panels.
    ft.set_num_threads(1)
    attention_blocks(32, 128 if whole else 32, 0 if whole else 1)
    k2, v2 = _rand(rng, (3, 100, 32)), _rand(rng, (3, 100, 48))
    got, _ = _sdpa(q, k2, v2, is_causal=True)
    _check_attention(got, q, k2, v2, causal=True)


def test_attention_masks(engine_isa, rng):
    q, k, v = _rand(rng, (2, 40, 32)), _rand(rng, (2, 50, 32)), \
        _rand(rng, (2, 50, 16))
    keep = rng.random((2, 40, 50)) < 0.7
    keep[0, 3] = False                      # a row with every key masked
    got, products = _sdpa(q, k, v, attn_mask=ft.asarray(keep))
    assert products > 0
    _check_attention(got, q, k, v, mask=keep)
    assert not np.asarray(got)[0, 3].astype(np.float32).any()
    bias = rng.standard_normal((40, 50)).astype(np.float32)
    got, _ = _sdpa(q, k, v, attn_mask=ft.asarray(bias))
    _check_attention(got, q, k, v, mask=bias)
    got, _ = _sdpa(q, k, v, scale=0.3)
    _check_attention(got, q, k, v, scale=0.3)


def test_attention_strided(engine_isa, rng):
    # Transposed and strided views are read in place by the packing.
    base = _rand(rng, (2, 80, 96))
    q = ft.asarray(base)[:, :40, ::2]                  # column stride 2
    k = ft.asarray(np.ascontiguousarray(
        np.swapaxes(base[:, :, :48], -1, -2))).mT      # column-major rows
    v = ft.asarray(base)[:, ::-1, 10:30]               # reversed rows
    got, products = _sdpa(q, k, v)
    assert products > 0
    _check_attention(got, np.asarray(q), np.asarray(k), np.asarray(v))


def test_attention_autocast_rounds_while_packing(engine_isa, rng):
    q, k, v = (rng.standard_normal((2, 3, 48, 32)).astype(np.float32)
               for _ in range(3))
    before = _C._bf16_engine_products()
    with ft.autocast(dtype=ft.bfloat16):
        got = ft.scaled_dot_product_attention(
            ft.asarray(q), ft.asarray(k), ft.asarray(v), is_causal=True)
    assert _C._bf16_engine_products() > before
    assert got.dtype == ft.bfloat16
    # The float32 operands rounded inside the engine's packing: the same
    # bits as bfloat16 operands rounded by ml_dtypes.
    expect, _ = _sdpa(q.astype(BF16), k.astype(BF16), v.astype(BF16),
                      is_causal=True)
    _check_attention(got, q.astype(BF16), k.astype(BF16), v.astype(BF16),
                     causal=True)
    np.testing.assert_array_equal(np.asarray(got).view(np.uint16),
                                  np.asarray(expect).view(np.uint16))


def test_attention_batch_broadcast_and_gqa(engine_isa, rng):
    q = _rand(rng, (2, 4, 20, 16))
    k, v = _rand(rng, (1, 2, 30, 16)), _rand(rng, (1, 2, 30, 8))
    got, _ = _sdpa(q, k, v, enable_gqa=True)
    rep = lambda x: np.repeat(np.broadcast_to(x, (2, 2) + x.shape[2:]), 2,
                              axis=1)
    _check_attention(got, q, rep(k), rep(v))


def test_attention_threads_bitwise(engine_isa, rng, threads):
    q, k, v = _rand(rng, (3, 100, 32)), _rand(rng, (3, 80, 32)), \
        _rand(rng, (3, 80, 32))
    ft.set_num_threads(1)
    one, _ = _sdpa(q, k, v)
    ft.set_num_threads(2)
    two, _ = _sdpa(q, k, v)
    _check_attention(one, q, k, v)
    np.testing.assert_array_equal(np.asarray(one).view(np.uint16),
                                  np.asarray(two).view(np.uint16))


def test_attention_few_rows_stay_on_vector_units(engine_isa, rng):
    # Decode-style attention (under 16 query rows) runs on the float32
    # kernels, not the engine, and still matches the reference.
    q, k, v = _rand(rng, (4, 1, 64)), _rand(rng, (4, 300, 64)), \
        _rand(rng, (4, 300, 64))
    got, products = _sdpa(q, k, v)
    assert products == 0
    _check_attention(got, q, k, v)


def test_attention_empty_keys(engine_isa):
    q = np.ones((2, 20, 8), BF16)
    k, v = np.ones((2, 0, 8), BF16), np.ones((2, 0, 5), BF16)
    got, products = _sdpa(q, k, v)
    assert products == 0 and got.shape == (2, 20, 5)
    assert not np.asarray(got).astype(np.float32).any()
