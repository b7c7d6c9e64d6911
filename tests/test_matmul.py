"""matmul, dot and linear against a float64 NumPy reference.

Accuracy bound used throughout (elementwise, for an m x k by k x n product
in a float dtype with unit roundoff eps):

    |C - C_ref| <= (k + 2) * eps * (|A| @ |B|)

C_ref is computed in float64 from the same (rounded) inputs.  Each C
element is one multiply-add chain of k terms, so k * eps bounds its
rounding error to first order; the slack of 2 covers the final addition to
C between cache blocks of k.  (A deep product with a small C adds the sums
of groups of kc blocks instead, which takes fewer additions per term.)

The blocking edges (MR, NR, KC, MC, NC and one past each) are reached with
small operands by shrinking the cache blocks through ``_C._gemm_tune``; the
tile sizes come from the active ISA's table (``_C._gemm_info``).
"""

import numpy as np
import pytest

import fasttensor as ft
from fasttensor import _C

matmul = getattr(ft, "matmul", _C.matmul)
dot = getattr(ft, "dot", _C.dot)
linear = getattr(ft, "linear", _C.linear)

FLOATS = [np.float32, np.float64]
PATHS = {"auto": 0, "nopack": 1, "packed": 2}


@pytest.fixture
def tune():
    """Set GEMM blocks / path for one test and restore the defaults."""
    yield _C._gemm_tune
    _C._gemm_tune(0, 0, 0, 0)


def ref_product(a, b):
    return np.matmul(np.asarray(a, np.float64), np.asarray(b, np.float64))


def assert_gemm_close(c, a, b):
    """The module's accuracy bound for c = a @ b (see the docstring)."""
    c = np.asarray(c)
    a = np.asarray(a)
    b = np.asarray(b)
    k = a.shape[-1]
    eps = np.finfo(c.dtype).eps
    ref = ref_product(a, b)
    bound = (k + 2) * eps * ref_product(np.abs(a), np.abs(b))
    assert c.shape == ref.shape
    err = np.abs(c.astype(np.float64) - ref)
    bad = err > bound
    assert not bad.any(), (
        f"{bad.sum()} elements over the bound; worst err {err.max():.3g}, "
        f"bound there {bound.flat[np.argmax(err)]:.3g}")


def rand(rng, shape, dtype):
    return (rng.standard_normal(shape)).astype(dtype)


# ------------------------------------------------------ blocking edges


def edge_sizes(info):
    mr, nr = info["mr"], info["nr"]
    ms = sorted({1, mr - 1, mr, mr + 1, 2 * mr - 1, 2 * mr, 2 * mr + 1,
                 3 * mr + 2} - {0})
    ns = sorted({1, nr - 1, nr, nr + 1, 2 * nr + 1, 4 * nr + 3} - {0})
    return ms, ns


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("path", list(PATHS))
def test_blocking_edges(isa, dtype, path, tune, rng):
    info = _C._gemm_info(dtype)
    mr, nr = info["mr"], info["nr"]
    # KC = 16, MC = 2 MR, NC = 2 NR: every size below crosses each block
    # boundary (one below, at, one above) with operands of a few KiB.
    tune(16, 2 * mr, 2 * nr, PATHS[path])
    ms, ns = edge_sizes(info)
    for k in (0, 1, 15, 16, 17, 33):
        for m in ms:
            for n in ns:
                a = rand(rng, (m, k), dtype)
                b = rand(rng, (k, n), dtype)
                c = matmul(a, b)
                assert np.asarray(c).dtype == dtype
                if k == 0:
                    assert (np.asarray(c) == 0).all()
                else:
                    assert_gemm_close(c, a, b)


@pytest.mark.parametrize("dtype", FLOATS)
def test_default_blocks_edges(isa, dtype, rng):
    """Sizes one either side of the real KC and MC with the real blocks."""
    info = _C._gemm_info(dtype)
    kc, mc = info["kc"], info["mc"]
    for m, k, n in [(mc + 1, kc + 1, 40), (mc - 1, kc - 1, 33),
                    (mc, kc, info["nr"] * 3 + 1), (37, 2 * kc + 1, 129)]:
        a = rand(rng, (m, k), dtype)
        b = rand(rng, (k, n), dtype)
        assert_gemm_close(matmul(a, b), a, b)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("m,k,n", [(97, 89, 101), (1, 211, 103),
                                   (103, 211, 1), (2, 3, 5), (193, 7, 191),
                                   (5, 1031, 3)])
def test_prime_sizes(isa, dtype, m, k, n, rng):
    a = rand(rng, (m, k), dtype)
    b = rand(rng, (k, n), dtype)
    assert_gemm_close(matmul(a, b), a, b)


# ---------------------------------------------------- layouts and views


def layouts(rng, m, k, n, dtype):
    """(name, A, B) pairs covering transposed, sliced, negative-stride and
    column-major operands (all NumPy views, passed without copying)."""
    a = rand(rng, (m, k), dtype)
    b = rand(rng, (k, n), dtype)
    big_a = rand(rng, (2 * m + 1, 3 * k + 2), dtype)
    big_b = rand(rng, (3 * k + 1, 2 * n + 3), dtype)
    yield "contiguous", a, b
    yield "a.T b.T", np.ascontiguousarray(a.T).T, np.ascontiguousarray(b.T).T
    yield "fortran", np.asfortranarray(a), np.asfortranarray(b)
    yield "sliced", big_a[1::2, 2::3][:m, :k], big_b[::3, 1::2][:k, :n]
    yield "negative", a[::-1, ::-1], b[::-1]
    yield "neg cols", a[:, ::-1], b[:, ::-1]
    yield "mixed", big_a[::-2][:m, 1:k + 1], np.asfortranarray(b)[::-1]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("m,k,n", [(31, 45, 37), (1, 50, 70), (60, 40, 1),
                                   (130, 70, 90)])
def test_layouts(isa, dtype, path, m, k, n, tune, rng):
    info = _C._gemm_info(dtype)
    tune(32, 2 * info["mr"], 3 * info["nr"], PATHS[path])
    for name, a, b in layouts(rng, m, k, n, dtype):
        c = matmul(a, b)
        assert_gemm_close(c, a, b)


@pytest.mark.parametrize("dtype", FLOATS)
def test_output_layouts(isa, dtype, rng):
    """C with a column-major or sliced layout through out=."""
    a = rand(rng, (45, 33), dtype)
    b = rand(rng, (33, 29), dtype)
    for path in PATHS.values():
        _C._gemm_tune(0, 0, 0, path)
        try:
            for base in (np.zeros((29, 45), dtype).T,
                         np.zeros((90, 87), dtype)[::2, ::3],
                         np.zeros((45, 29), dtype)[::-1]):
                out = ft.asarray(base)
                res = matmul(a, b, out=out)
                assert res is out
                assert_gemm_close(base, a, b)
        finally:
            _C._gemm_tune(0, 0, 0, 0)


# ------------------------------------------------- batches and 1-D cases


@pytest.mark.parametrize("sa,sb", [
    ((2, 3, 4, 5), (5, 6)),
    ((5, 6), (2, 3, 6, 4)),
    ((2, 1, 4, 5), (3, 5, 6)),
    ((1, 4, 5), (7, 5, 6)),
    ((4, 5), (5,)),
    ((5,), (5, 6)),
    ((5,), (5,)),
    ((3, 4, 5), (5,)),
    ((5,), (2, 5, 6)),
    ((0, 4, 5), (5, 6)),
    ((2, 4, 0), (2, 0, 3)),
    ((64, 20, 16), (64, 16, 24)),
])
def test_batches_and_promotion(isa, sa, sb, rng):
    a = rand(rng, sa, np.float32)
    b = rand(rng, sb, np.float32)
    c = np.asarray(matmul(a, b))
    expect = np.matmul(a, b)
    assert c.shape == expect.shape
    if c.size and a.shape[-1]:
        assert_gemm_close(c, a, b)
    else:
        assert (c == 0).all()


def test_broadcast_batch_views(isa, rng):
    a = rand(rng, (3, 1, 7, 9), np.float64)[:, :, ::-1]
    b = np.broadcast_to(rand(rng, (9, 4), np.float64), (2, 9, 4))
    assert_gemm_close(matmul(a, b), np.broadcast_to(a, (3, 2, 7, 9)),
                      np.broadcast_to(b, (3, 2, 9, 4)))


def test_matmul_operator_and_tensor_inputs(rng):
    a = rand(rng, (6, 7), np.float32)
    b = rand(rng, (7, 3), np.float32)
    ta, tb = ft.asarray(a), ft.asarray(b)
    assert_gemm_close(ta @ tb, a, b)
    assert_gemm_close(ta @ b, a, b)
    assert_gemm_close(a @ tb, a, b)


# ----------------------------------------------- threads and determinism


@pytest.mark.parametrize("dtype", FLOATS)
def test_threads_bitwise_identical(isa, threads, dtype, rng):
    # Packed with ic split, no-pack, both GEMV forms, skinny, and a wide
    # product whose column chunks go to threads as independent products.
    shapes = [(300, 257, 200), (150, 150, 100), (1, 3000, 2000),
              (2000, 1500, 1), (8, 700, 900), (700, 9, 800),
              (400, 300, 1100), (64, 2100, 64), (40, 3000, 70)]
    for m, k, n in shapes:
        a = rand(rng, (m, k), dtype)
        b = rand(rng, (k, n), dtype)
        results = []
        for nt in (1, 2):
            ft.set_num_threads(nt)
            results.append(np.asarray(matmul(a, b)).copy())
        assert_gemm_close(results[0], a, b)
        assert np.array_equal(results[0], results[1]), (m, k, n)
    a = rand(rng, (16, 40, 30), dtype)
    b = rand(rng, (16, 30, 50), dtype)
    ft.set_num_threads(1)
    one = np.asarray(matmul(a, b)).copy()
    ft.set_num_threads(2)
    assert np.array_equal(one, np.asarray(matmul(a, b)))


@pytest.mark.parametrize("dtype", FLOATS)
def test_deep_products_split_k(isa, dtype, tune, rng):
    # A small C and a deep k: k is cut into groups of kc blocks whose
    # partial products are added in order.  KC = 16 makes k = 64 .. 700
    # deep; the sizes cross MR, NR, the group boundaries and a partial
    # last kc block, with transposed, strided and reversed operands, and
    # with a bias added first (linear accumulates into C).
    info = _C._gemm_info(dtype)
    mr, nr = info["mr"], info["nr"]
    tune(16, 0, 0, PATHS["packed"])
    for m, k, n in [(mr + 1, 64, nr - 1), (2 * mr, 65, nr), (13, 700, 45),
                    (1 + 3 * mr, 333, 2 * nr + 1)]:
        a = rand(rng, (m, k), dtype)
        bt = rand(rng, (n, 2 * k), dtype)[:, ::2]   # B = bt.T, strided
        for x, y in [(a, bt.T), (a[::-1], bt.T),
                     (np.asfortranarray(a), bt.T.copy())]:
            assert_gemm_close(matmul(x, y), x, y)
        bias = rand(rng, (n,), dtype)
        got = np.asarray(linear(a, bt, bias)).astype(np.float64)
        ref = ref_product(a, bt.T) + bias
        bound = (k + 3) * np.finfo(dtype).eps * (
            ref_product(np.abs(a), np.abs(bt.T)) + np.abs(bias))
        assert (np.abs(got - ref) <= bound).all(), (m, k, n)


def test_transposed_b_threads(isa, threads, rng):
    # A linear-layer product: B = W.T read through strides, 2 threads.
    x = rand(rng, (513, 300), np.float32)
    w = rand(rng, (257, 300), np.float32)
    ft.set_num_threads(2)
    two = np.asarray(matmul(x, w.T)).copy()
    ft.set_num_threads(1)
    assert np.array_equal(two, np.asarray(matmul(x, w.T)))
    assert_gemm_close(two, x, w.T)


# ------------------------------------------------------------- numerics


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("path", list(PATHS))
def test_nan_inf_propagate(isa, dtype, path, tune, rng):
    tune(0, 0, 0, PATHS[path])
    a = rand(rng, (20, 30), dtype)
    b = rand(rng, (30, 25), dtype)
    a[3, 7] = np.nan
    b[5, 11] = np.inf
    c = np.asarray(matmul(a, b))
    with np.errstate(invalid="ignore"):
        expect = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert np.array_equal(np.isnan(c), np.isnan(expect))
    assert np.array_equal(np.isinf(c), np.isinf(expect))
    assert np.isnan(c[3]).all()


def test_k_zero_gives_zeros(isa):
    out = ft.asarray(np.full((4, 5), 7.0, np.float32))
    matmul(np.ones((4, 0), np.float32), np.ones((0, 5), np.float32), out=out)
    assert (np.asarray(out) == 0).all()
    assert (np.asarray(matmul(np.ones((3, 0)), np.ones((0,)))) == 0).all()


def test_large_residual(rng):
    # A 1024^2 x 1024 float32 product checked by a random-vector residual:
    # (A @ B) @ x against A @ (B @ x) in float64.
    a = rand(rng, (1024, 1024), np.float32)
    b = rand(rng, (1024, 1024), np.float32)
    c = np.asarray(matmul(a, b)).astype(np.float64)
    x = rng.standard_normal(1024)
    ref = a.astype(np.float64) @ (b.astype(np.float64) @ x)
    scale = np.abs(a) @ (np.abs(b) @ np.abs(x))
    eps = np.finfo(np.float32).eps
    assert (np.abs(c @ x - ref) <= (1024 + 2) * eps * scale).all()


# ------------------------------------------------------------- integers


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16,
                                   np.int32, np.uint32, np.int64, np.uint64])
def test_integer_matmul(dtype, rng):
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, (13, 17), dtype=dtype, endpoint=True)
    b = rng.integers(info.min, info.max, (17, 11), dtype=dtype, endpoint=True)
    expect = np.matmul(a, b)  # wraps, as fasttensor must
    c = np.asarray(matmul(a, b))
    assert c.dtype == expect.dtype
    assert np.array_equal(c, expect)
    assert np.array_equal(np.asarray(matmul(a[::-1], b[:, ::-2])),
                          np.matmul(a[::-1], b[:, ::-2]))
    assert np.array_equal(np.asarray(matmul(b.T, a.T)), np.matmul(b.T, a.T))
    batch = rng.integers(-5, 5, (3, 4, 6)).astype(dtype)
    other = rng.integers(-5, 5, (6, 2)).astype(dtype)
    assert np.array_equal(np.asarray(matmul(batch, other)),
                          np.matmul(batch, other))


def test_integer_promotion_and_bool(rng):
    a = rng.integers(-100, 100, (5, 6)).astype(np.int8)
    b = rng.integers(0, 200, (6, 4)).astype(np.uint8)
    c = np.asarray(matmul(a, b))
    assert c.dtype == np.int16
    assert np.array_equal(c, np.matmul(a, b))
    p = rng.random((7, 9)) < 0.3
    q = rng.random((9, 5)) < 0.3
    r = np.asarray(matmul(p, q))
    assert r.dtype == np.bool_
    assert np.array_equal(r, np.matmul(p, q))
    f = np.asarray(matmul(a, np.ones((6, 2), np.float32)))
    assert f.dtype == np.matmul(a, np.ones((6, 2), np.float32)).dtype


# ------------------------------------------------------------------ dot


@pytest.mark.parametrize("dtype", FLOATS)
def test_dot_vectors(isa, dtype, rng):
    for n in (0, 1, 3, 7, 8, 17, 64, 1000, 100003):
        x = rand(rng, n, dtype)
        y = rand(rng, n, dtype)
        r = dot(x, y)
        assert np.asarray(r).shape == ()
        assert np.asarray(r).dtype == dtype
        ref = np.dot(x.astype(np.float64), y.astype(np.float64))
        # float32 accumulates in float64: only the final rounding remains.
        bound = (4 * np.finfo(dtype).eps * abs(ref) +
                 (n + 2) * np.finfo(np.float64).eps * np.abs(x * y).sum()
                 if dtype == np.float32 else
                 (n + 2) * np.finfo(dtype).eps * np.abs(x * y).sum())
        assert abs(float(r) - ref) <= bound + 1e-300
    x = rand(rng, 301, dtype)
    y = rand(rng, 602, dtype)
    ref = np.dot(x[::-1].astype(np.float64), y[::2].astype(np.float64))
    assert abs(float(dot(x[::-1], y[::2])) - ref) <= \
        305 * np.finfo(dtype).eps * np.abs(x[::-1] * y[::2]).sum()


def test_dot_ranks(rng):
    a = rand(rng, (4, 5), np.float64)
    b = rand(rng, (5, 3), np.float64)
    assert_gemm_close(dot(a, b), a, b)
    v = rand(rng, 5, np.float64)
    np.testing.assert_allclose(np.asarray(dot(a, v)), a @ v, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(dot(v, b)), v @ b, rtol=1e-12)
    x = rand(rng, (2, 3, 5), np.float64)
    y = rand(rng, (4, 5, 6), np.float64)
    np.testing.assert_allclose(np.asarray(dot(x, y)), np.dot(x, y),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(dot(x, v)), np.dot(x, v),
                               rtol=1e-12)
    np.testing.assert_allclose(np.asarray(dot(v, y)), np.dot(v, y),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(dot(a, np.float64(2.5))), a * 2.5)
    np.testing.assert_allclose(np.asarray(dot(3, b)), 3 * b)
    i = np.arange(6, dtype=np.int32)
    assert int(dot(i, i)) == 55


def test_dot_out(rng):
    a = rand(rng, (4, 5), np.float32)
    b = rand(rng, (5, 3), np.float32)
    out = ft.empty((4, 3), dtype=np.float32)
    assert dot(a, b, out=out) is out
    assert_gemm_close(out, a, b)
    with pytest.raises(ValueError, match=r"dot"):
        dot(a, b, out=ft.empty((3, 4), dtype=np.float32))


# --------------------------------------------------------------- linear


@pytest.mark.parametrize("dtype", FLOATS)
def test_linear(isa, dtype, rng):
    w = rand(rng, (19, 23), dtype)
    bias = rand(rng, 19, dtype)
    for x in (rand(rng, (7, 23), dtype), rand(rng, 23, dtype),
              rand(rng, (2, 3, 23), dtype),
              rand(rng, (4, 6, 46), dtype)[:, ::2, ::2],
              rand(rng, (64, 23), dtype).T.copy().T):
        y = np.asarray(linear(x, w))
        assert y.shape == x.shape[:-1] + (19,)
        assert_gemm_close(y, x, w.T)
        yb = np.asarray(linear(x, w, bias)).astype(np.float64)
        ref = ref_product(x, w.T) + bias
        eps = np.finfo(dtype).eps
        bound = (23 + 3) * eps * (ref_product(np.abs(x), np.abs(w.T)) +
                                  np.abs(bias))
        assert (np.abs(yb - ref) <= bound).all()
    # A weight that is itself a transposed view.
    wt = np.asfortranarray(w)
    x = rand(rng, (5, 23), dtype)
    assert_gemm_close(linear(x, wt), x, w.T)


def test_linear_errors():
    x = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"linear.*\(4, 3\).*\(5, 2\)"):
        linear(x, np.ones((5, 2), np.float32))
    with pytest.raises(ValueError, match=r"linear.*weight must be 2-D"):
        linear(x, np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"linear.*bias"):
        linear(x, np.ones((5, 3), np.float32), np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"linear.*0-d"):
        linear(np.float32(1), np.ones((5, 3), np.float32))


# ------------------------------------------------------------ bad input


def test_matmul_errors():
    a = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"matmul.*\(3, 4\).*\(5, 2\).*4 != 5"):
        matmul(a, np.ones((5, 2), np.float32))
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3, 4\).*\(3, 4, 5\)"):
        matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    with pytest.raises(ValueError, match=r"matmul.*0-d.*\(\).*\(3, 4\)"):
        matmul(np.float32(2), a)
    with pytest.raises(ValueError, match=r"matmul.*0-d"):
        matmul(a, 2.0)
    with pytest.raises(ValueError, match=r"matmul.*\(4,\).*\(3,\)"):
        matmul(np.ones(4), np.ones(3))
    good_b = np.ones((4, 2), np.float32)
    with pytest.raises(ValueError, match=r"matmul.*shape"):
        matmul(a, good_b, out=ft.empty((2, 3), dtype=np.float32))
    with pytest.raises(TypeError, match=r"matmul.*dtype"):
        matmul(a, good_b, out=ft.empty((3, 2), dtype=np.float64))
    with pytest.raises(ValueError, match=r"dot.*\(3, 4\).*\(3, 4\)"):
        dot(a, a)
    with pytest.raises(ValueError, match=r"dot.*\(3,\).*\(4,\)"):
        dot(np.ones(3), np.ones(4))


def test_out_overlapping_input(rng):
    a = rand(rng, (6, 6), np.float32)
    b = rand(rng, (6, 6), np.float32)
    ta = ft.asarray(a.copy())
    expect = ref_product(a, b)
    matmul(ta, b, out=ta)
    np.testing.assert_allclose(np.asarray(ta), expect, rtol=1e-4, atol=1e-5)
    tb = ft.asarray(a.copy())
    tb @= b
    np.testing.assert_allclose(np.asarray(tb), expect, rtol=1e-4, atol=1e-5)


def test_fma_peak_positive():
    assert _C._fma_peak_gflops(0.01) > 0.1


@pytest.mark.parametrize("dtype", FLOATS)
def test_vector_products(isa, threads, dtype, rng):
    """GEMV forms: long k (chunked partial sums), transposed B, strided x,
    a bias added through accumulation; same bits on 1 and 2 threads."""
    for k, n in [(1000, 700), (257, 33), (4096, 130)]:
        x = rand(rng, 2 * k, dtype)[::2]
        b = rand(rng, (k, n), dtype)
        w = rand(rng, (n, k), dtype)
        bias = rand(rng, n, dtype)
        got = []
        for nt in (1, 2):
            ft.set_num_threads(nt)
            got.append([np.asarray(matmul(x, b)).copy(),
                        np.asarray(matmul(x[None, :], b)).copy(),
                        np.asarray(matmul(b.T, x)).copy(),
                        np.asarray(linear(x, w, bias)).copy()])
        for r1, r2 in zip(*got):
            assert np.array_equal(r1, r2)
        assert_gemm_close(got[0][0], x, b)
        assert_gemm_close(got[0][1], x[None, :], b)
        assert_gemm_close(got[0][2], b.T, x)
        ref = ref_product(x, w.T) + bias
        bound = (k + 3) * np.finfo(dtype).eps * (
            ref_product(np.abs(x), np.abs(w.T)) + np.abs(bias))
        assert (np.abs(got[0][3] - ref) <= bound).all()
