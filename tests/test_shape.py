"""Shape manipulation against NumPy: views where NumPy gives views, the
same values, the same errors."""

import numpy as np
import pytest

import fasttensor as ft

AxisError = np.exceptions.AxisError


@pytest.fixture
def a(rng):
    return rng.standard_normal((2, 3, 4)).astype(np.float32)


@pytest.mark.parametrize("shape", [(24,), (4, 6), (2, 12), (-1, 4), (2, -1, 2),
                                   (1, 24, 1), (2, 3, 4), (4, 3, 2), (3, 1, 8)])
def test_reshape_contiguous_is_a_view(a, shape):
    t = ft.asarray(a)
    got = ft.reshape(t, shape)
    np.testing.assert_array_equal(np.asarray(got), a.reshape(shape))
    assert np.shares_memory(np.asarray(got), a)
    assert t.reshape(*shape).shape == a.reshape(shape).shape


@pytest.mark.parametrize("view", [
    lambda x: x.transpose(2, 0, 1), lambda x: x[:, ::2], lambda x: x[..., ::-1],
    lambda x: x.swapaxes(0, 1)])
@pytest.mark.parametrize("shape", [(-1,), (4, -1), (2, 2, -1), (1, -1, 1)])
def test_reshape_strided_matches_numpy(a, view, shape):
    got = ft.reshape(view(ft.asarray(a)), shape)
    want = view(a).reshape(shape)
    np.testing.assert_array_equal(np.asarray(got), want)
    assert np.shares_memory(np.asarray(got), a) == np.shares_memory(want, a)


def test_reshape_errors(a):
    t = ft.asarray(a)
    with pytest.raises(ValueError, match="cannot reshape tensor of size 24 into shape"):
        t.reshape(5, 5)
    with pytest.raises(ValueError, match="one unknown"):
        t.reshape(-1, -1)
    with pytest.raises(ValueError, match="without a copy"):
        t.transpose().view(24)
    assert ft.reshape(ft.zeros((0, 3)), (3, 0, 5)).shape == (3, 0, 5)


def test_flatten_start_end(a):
    t = ft.asarray(a)
    assert ft.flatten(t).shape == (24,)
    assert ft.flatten(t, start_dim=1).shape == (2, 12)
    assert t.flatten(0, 1).shape == (6, 4)
    assert ft.flatten(ft.tensor(3.0)).shape == (1,)
    np.testing.assert_array_equal(np.asarray(ft.flatten(t.T, 1)), a.T.reshape(4, 6))
    with pytest.raises(ValueError, match="start_dim"):
        ft.flatten(t, 2, 1)
    with pytest.raises(AxisError):
        ft.flatten(t, 5)
    assert ft.ravel(t).shape == (24,)


def test_transpose_family(a):
    t = ft.asarray(a)
    np.testing.assert_array_equal(np.asarray(ft.transpose(t)), a.T)
    np.testing.assert_array_equal(np.asarray(t.transpose(1, 2, 0)), a.transpose(1, 2, 0))
    np.testing.assert_array_equal(np.asarray(t.permute(2, 1, 0)), a.transpose(2, 1, 0))
    np.testing.assert_array_equal(np.asarray(ft.permute_dims(t, (-1, 0, 1))),
                                  np.permute_dims(a, (-1, 0, 1)))
    np.testing.assert_array_equal(np.asarray(ft.swapaxes(t, 0, -1)), a.swapaxes(0, -1))
    np.testing.assert_array_equal(np.asarray(ft.moveaxis(t, 0, -1)), np.moveaxis(a, 0, -1))
    with pytest.raises(ValueError, match="repeated"):
        t.transpose(0, 0, 1)
    with pytest.raises(ValueError, match="don't match"):
        t.transpose(0, 1)
    with pytest.raises(AxisError):
        ft.swapaxes(t, 0, 3)


def test_squeeze_unsqueeze_expand(a):
    x = a.reshape(2, 1, 3, 1, 4)
    t = ft.asarray(x)
    np.testing.assert_array_equal(np.asarray(ft.squeeze(t)), np.squeeze(x))
    np.testing.assert_array_equal(np.asarray(t.squeeze(1)), np.squeeze(x, 1))
    np.testing.assert_array_equal(np.asarray(ft.squeeze(t, (1, -2))), np.squeeze(x, (1, 3)))
    with pytest.raises(ValueError, match="size not equal to one"):
        ft.squeeze(t, 0)
    np.testing.assert_array_equal(np.asarray(ft.unsqueeze(ft.asarray(a), 1)),
                                  np.expand_dims(a, 1))
    np.testing.assert_array_equal(np.asarray(ft.expand_dims(ft.asarray(a), (0, -1))),
                                  np.expand_dims(a, (0, -1)))
    with pytest.raises(AxisError):
        ft.unsqueeze(ft.asarray(a), 5)


def test_broadcast_to_and_shapes(a):
    t = ft.asarray(a[:, :1])
    b = ft.broadcast_to(t, (5, 2, 3, 4))
    np.testing.assert_array_equal(np.asarray(b), np.broadcast_to(a[:, :1], (5, 2, 3, 4)))
    assert b.is_readonly
    assert ft.broadcast_shapes((2, 1, 4), (3, 1), ()) == np.broadcast_shapes((2, 1, 4), (3, 1), ())
    with pytest.raises(ValueError, match=r"\(2, 1, 4\)"):
        ft.broadcast_to(t, (2, 3, 5))
    with pytest.raises(ValueError, match="broadcast"):
        ft.broadcast_shapes((2, 3), (4,))
    x, y = ft.broadcast_arrays(ft.ones((3, 1)), ft.ones(4))
    assert x.shape == y.shape == (3, 4)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, None])
def test_concatenate_matches_numpy(rng, axis):
    parts = [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))[:, ::-1],
             rng.standard_normal((2, 3, 4)).astype(np.float32)]
    got = ft.concatenate([ft.asarray(p) for p in parts], axis=axis)
    want = np.concatenate(parts, axis=axis)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(np.asarray(got), want)


def test_concatenate_variants_and_errors(rng):
    x = ft.tensor([0.1, 0.2, 0.3])
    h = ft.tensor([0.4, 0.5, 0.6])
    combined = ft.cat((x, h), dim=0)
    np.testing.assert_allclose(np.asarray(combined), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], rtol=1e-7)
    out = ft.empty(6)
    assert ft.concatenate([x, h], out=out) is out
    assert ft.concatenate([x, h], dtype=ft.float64).dtype == np.float64
    with pytest.raises(ValueError, match="at least one"):
        ft.concatenate([])
    with pytest.raises(ValueError, match="zero-dimensional"):
        ft.concatenate([ft.tensor(1.0), ft.tensor(2.0)])
    with pytest.raises(ValueError, match="same number of dimensions"):
        ft.concatenate([ft.ones((2, 2)), ft.ones(2)])
    with pytest.raises(ValueError, match="along dimension 1"):
        ft.concatenate([ft.ones((2, 2)), ft.ones((2, 3))])
    with pytest.raises(AxisError):
        ft.concatenate([ft.ones(2), ft.ones(2)], axis=1)
    with pytest.raises(ValueError, match="out has shape"):
        ft.concatenate([x, h], out=ft.empty(5))
    big = ft.arange(6)
    np.testing.assert_array_equal(np.asarray(ft.concatenate([big, big[::-1]])),
                                  np.concatenate([np.arange(6), np.arange(6)[::-1]]))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_stack_matches_numpy(rng, axis):
    parts = [rng.standard_normal((3, 4)) for _ in range(3)]
    np.testing.assert_array_equal(
        np.asarray(ft.stack([ft.asarray(p) for p in parts], axis=axis)),
        np.stack(parts, axis=axis))
    with pytest.raises(ValueError, match="same shape"):
        ft.stack([ft.ones(2), ft.ones(3)])


def test_split_matches_numpy(rng):
    a = rng.standard_normal((6, 4))
    for how in [3, [1, 4], [2, 2, 5]]:
        for axis in [0]:
            got = ft.split(ft.asarray(a), how, axis=axis)
            want = np.split(a, how, axis=axis)
            assert len(got) == len(want)
            for g, w in zip(got, want):
                np.testing.assert_array_equal(np.asarray(g), w)
    with pytest.raises(ValueError, match="equal division"):
        ft.split(ft.asarray(a), 4)
    with pytest.raises(ValueError, match="larger than 0"):
        ft.split(ft.asarray(a), 0)


def test_copy_and_contiguous(a):
    t = ft.asarray(a).transpose()
    c = t.contiguous()
    assert c.is_contiguous() and not np.shares_memory(np.asarray(c), a)
    np.testing.assert_array_equal(np.asarray(c), a.T)
    d = ft.asarray(a)
    assert d.contiguous() is d
    e = d.copy()
    e[0, 0, 0] = 99.0
    assert a[0, 0, 0] != 99.0
