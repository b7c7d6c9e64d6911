"""scaled_dot_product_attention against a float64 NumPy reference and,
where installed, PyTorch: sizes around the tile edges (q blocks of 60/64
rows, key blocks of 256, panels of 4/16/32), long key sequences (the
repacking path), masks of every kind, causal with L != S, fully-masked
rows, strided operands, broadcasting and GQA, on every ISA path."""

import math

import numpy as np
import pytest

import fasttensor as ft
from fasttensor import _C

try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

sdpa = _C.scaled_dot_product_attention


def ref_sdpa(q, k, v, mask=None, causal=False, scale=None):
    """float64 reference; a row with every key masked gives 0 (PyTorch)."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    L, S = q.shape[-2], k.shape[-2]
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = (q @ np.swapaxes(k, -1, -2)) * scale
    if causal:
        s = np.where(np.tril(np.ones((L, S), bool)), s, -np.inf)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype == bool:
            s = np.where(mask, s, -np.inf)
        else:
            s = s + mask.astype(np.float64)
    m = np.max(s, axis=-1, keepdims=True)
    dead = np.isneginf(m)
    with np.errstate(invalid="ignore"):
        p = np.exp(s - np.where(dead, 0, m))
    p = p / np.where(dead, 1, p.sum(-1, keepdims=True))
    return p @ v


def check(got, ref, dtype):
    got = np.asarray(got)
    assert got.dtype == dtype
    assert got.shape == ref.shape
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


def rand(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("L,S", [(1, 1), (1, 17), (5, 1), (59, 15), (60, 16),
                                 (61, 17), (130, 255), (64, 256), (65, 257),
                                 (121, 300)])
def test_sizes(isa, L, S, rng):
    q, k, v = rand(rng, (2, L, 24)), rand(rng, (2, S, 24)), rand(rng, (2, S, 24))
    check(sdpa(q, k, v), ref_sdpa(q, k, v), np.float32)


@pytest.mark.parametrize("D,Dv", [(1, 1), (3, 5), (16, 33), (64, 64),
                                  (100, 17), (256, 256)])
def test_head_dims(isa, D, Dv, rng):
    q, k = rand(rng, (1, 2, 37, D)), rand(rng, (1, 2, 70, D))
    v = rand(rng, (1, 2, 70, Dv))
    check(sdpa(q, k, v), ref_sdpa(q, k, v), np.float32)


def test_float64(isa, rng):
    q, k, v = (rand(rng, (2, 3, n, 20), np.float64) for n in (45, 90, 90))
    check(sdpa(q, k, v), ref_sdpa(q, k, v), np.float64)
    m = rng.random((45, 90)) < 0.8
    check(sdpa(q, k, v, attn_mask=m), ref_sdpa(q, k, v, m), np.float64)
    check(sdpa(q, k, v, is_causal=True), ref_sdpa(q, k, v, causal=True),
          np.float64)


def test_long_keys_repack(isa, rng):
    # K and V larger than 2 MiB packed: blocks are repacked per q block.
    S = 4200
    q, k, v = rand(rng, (1, 70, 64)), rand(rng, (1, S, 64)), rand(rng, (1, S, 64))
    check(sdpa(q, k, v), ref_sdpa(q, k, v), np.float32)
    check(sdpa(q, k, v, is_causal=True), ref_sdpa(q, k, v, causal=True),
          np.float32)
    m = rng.random((70, S)) < 0.3
    check(sdpa(q, k, v, attn_mask=m), ref_sdpa(q, k, v, m), np.float32)


@pytest.mark.parametrize("L,S", [(1, 1), (7, 7), (5, 9), (9, 5), (130, 70),
                                  (70, 300), (300, 70), (257, 257)])
def test_causal(isa, L, S, rng):
    q, k, v = rand(rng, (2, L, 16)), rand(rng, (2, S, 16)), rand(rng, (2, S, 8))
    check(sdpa(q, k, v, is_causal=True), ref_sdpa(q, k, v, causal=True),
          np.float32)


@pytest.mark.parametrize("mshape", [(61, 300), (1, 300), (61, 1), (3, 1, 61, 300),
                                    (1, 2, 1, 300), (300,)])
def test_bool_masks_broadcast(isa, mshape, rng):
    q = rand(rng, (3, 2, 61, 32))
    k, v = rand(rng, (3, 2, 300, 32)), rand(rng, (3, 2, 300, 32))
    m = rng.random(mshape) < 0.6
    check(sdpa(q, k, v, attn_mask=m), ref_sdpa(q, k, v, m), np.float32)


@pytest.mark.parametrize("mshape", [(61, 300), (1, 300), (2, 61, 300), (2, 1, 300)])
def test_float_masks(isa, mshape, rng):
    q, k, v = rand(rng, (2, 61, 32)), rand(rng, (2, 300, 32)), rand(rng, (2, 300, 32))
    m = rng.standard_normal(mshape).astype(np.float32) * 3
    m[..., ::7] = -np.inf
    check(sdpa(q, k, v, attn_mask=m), ref_sdpa(q, k, v, m), np.float32)
    # A float64 mask is cast to the query's dtype.
    check(sdpa(q, k, v, attn_mask=m.astype(np.float64)),
          ref_sdpa(q, k, v, m), np.float32)


def test_fully_masked_rows(isa, rng):
    q, k, v = rand(rng, (2, 70, 16)), rand(rng, (2, 600, 16)), rand(rng, (2, 600, 16))
    m = rng.random((70, 600)) < 0.5
    m[3] = False
    m[64] = False
    m[10, :300] = False  # masked through the first key blocks only
    got = np.asarray(sdpa(q, k, v, attn_mask=m))
    assert (got[:, 3] == 0).all() and (got[:, 64] == 0).all()
    check(got, ref_sdpa(q, k, v, m), np.float32)
    mf = np.where(m, 0.0, -np.inf).astype(np.float32)
    check(sdpa(q, k, v, attn_mask=mf), ref_sdpa(q, k, v, m), np.float32)
    # No keys at all gives 0 too.
    got = np.asarray(sdpa(q, k[:, :0], v[:, :0]))
    assert got.shape == (2, 70, 16) and (got == 0).all()


def test_nan_scores_give_nan(isa, rng):
    q, k, v = rand(rng, (1, 5, 8)), rand(rng, (1, 9, 8)), rand(rng, (1, 9, 8))
    q[0, 2, 1] = np.nan
    got = np.asarray(sdpa(q, k, v))
    assert np.isnan(got[0, 2]).all()
    ok = [0, 1, 3, 4]
    check(got[:, ok], ref_sdpa(q, k, v)[:, ok], np.float32)


def test_strided_and_broadcast(isa, rng):
    # (B, L, H, D) storage viewed as (B, H, L, D); keys stored transposed.
    qs = rand(rng, (2, 50, 3, 40))
    kt = rand(rng, (2, 3, 40, 90))
    vs = rand(rng, (2, 90, 3, 40))[:, :, :, ::2]
    q = ft.asarray(qs).permute(0, 2, 1, 3) if hasattr(ft.Tensor, "permute") \
        else ft.asarray(qs.transpose(0, 2, 1, 3))
    qn = qs.transpose(0, 2, 1, 3)
    kn = kt.swapaxes(-1, -2)
    vn = vs.transpose(0, 2, 1, 3)
    check(sdpa(q, kn, vn), ref_sdpa(qn, kn, vn), np.float32)
    # Value rows read in place: unit column stride, a row stride of 48.
    vw = rand(rng, (2, 3, 90, 48))[..., :32]
    check(sdpa(qn, kn, vw), ref_sdpa(qn, kn, vw), np.float32)
    check(sdpa(qn, kn, vw[:, :, ::-1]), ref_sdpa(qn, kn, vw[:, :, ::-1]),
          np.float32)
    # Batch dims broadcast: key/value shared by every batch element.
    q2, k2 = rand(rng, (4, 3, 20, 16)), rand(rng, (3, 33, 16))
    v2 = rand(rng, (1, 3, 33, 8))
    check(sdpa(q2, k2, v2), ref_sdpa(q2, k2, v2), np.float32)
    # 2-D inputs and an explicit scale.
    q3, k3, v3 = rand(rng, (5, 3)), rand(rng, (5, 3)), rand(rng, (5, 3))
    check(sdpa(q3, k3, v3, scale=0.3), ref_sdpa(q3, k3, v3, scale=0.3),
          np.float32)


def test_gqa(isa, rng):
    q = rand(rng, (2, 6, 30, 16))
    k, v = rand(rng, (2, 2, 40, 16)), rand(rng, (2, 2, 40, 16))
    kr, vr = np.repeat(k, 3, axis=1), np.repeat(v, 3, axis=1)
    check(sdpa(q, k, v, enable_gqa=True), ref_sdpa(q, kr, vr), np.float32)


def test_seed_example(isa, rng):
    # The seed article's attention: softmax(Q K^T / sqrt(3)) V with 5 x 3.
    Q, K, V = rand(rng, (5, 3)), rand(rng, (5, 3)), rand(rng, (5, 3))
    scores = Q.astype(np.float64) @ K.T / np.sqrt(3)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    check(sdpa(Q, K, V), probs @ V, np.float32)
    # The same with the unfused ops: softmax over the score matrix.
    got = _C.softmax(scores.astype(np.float32), dim=-1)
    np.testing.assert_allclose(np.asarray(got), probs, rtol=2e-5, atol=1e-7)


@needs_torch
@pytest.mark.parametrize("case", range(8))
def test_against_torch(isa, case):
    g = torch.Generator().manual_seed(case)
    B, H = 2, 3
    L, S = [(1, 1), (17, 65), (70, 33), (128, 300), (61, 61), (5, 700),
            (300, 40), (64, 256)][case]
    D, Dv = [(8, 8), (64, 32), (16, 16), (64, 64), (33, 7), (128, 128),
             (24, 24), (256, 64)][case]
    q = torch.randn(B, H, L, D, generator=g)
    k = torch.randn(B, H, S, D, generator=g)
    v = torch.randn(B, H, S, Dv, generator=g)
    bm = torch.rand(B, 1, L, S, generator=g) < 0.7
    bm[:, :, 0] = False  # fully masked row
    fm = torch.randn(1, H, L, S, generator=g)
    fm[..., ::5] = -math.inf
    for kw in ({}, {"is_causal": True}, {"attn_mask": bm}, {"attn_mask": fm},
               {"scale": 0.05}):
        ref = TF.scaled_dot_product_attention(q, k, v, **kw).numpy()
        ft_kw = {kk: (vv.numpy() if torch.is_tensor(vv) else vv)
                 for kk, vv in kw.items()}
        got = np.asarray(sdpa(q.numpy(), k.numpy(), v.numpy(), **ft_kw))
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=2e-5,
                                   err_msg=str(kw))


def test_bad_input():
    q = np.ones((2, 4, 8), np.float32)
    k = np.ones((2, 6, 8), np.float32)
    v = np.ones((2, 6, 5), np.float32)
    with pytest.raises(ValueError,
                       match=r"head dims differ .*\(2, 4, 8\).*\(2, 6, 7\)"):
        sdpa(q, np.ones((2, 6, 7), np.float32), v)
    with pytest.raises(ValueError, match=r"lengths differ .*\(2, 6, 8\).*\(2, 5, 5\)"):
        sdpa(q, k, np.ones((2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 5\) does not "
                                         r"broadcast to \(2, 4, 6\)"):
        sdpa(q, k, v, attn_mask=np.ones((4, 5), bool))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 2, 4, 6\)"):
        sdpa(q, k, v, attn_mask=np.ones((3, 2, 4, 6), bool))
    with pytest.raises(ValueError, match="could not be broadcast"):
        sdpa(q, np.ones((3, 6, 8), np.float32), np.ones((3, 6, 5), np.float32))
    with pytest.raises(ValueError, match="is_causal"):
        sdpa(q, k, v, attn_mask=np.ones((4, 6), bool), is_causal=True)
    with pytest.raises(ValueError, match="at least 2 dims"):
        sdpa(np.ones(8, np.float32), k, v)
    with pytest.raises(TypeError, match="one dtype"):
        sdpa(q, k.astype(np.float64), v)
    with pytest.raises(TypeError, match="floating"):
        sdpa(q.astype(np.int32), k.astype(np.int32), v.astype(np.int32))
    with pytest.raises(TypeError, match="attn_mask must be bool or floating"):
        sdpa(q, k, v, attn_mask=np.ones((4, 6), np.int64))
    with pytest.raises(NotImplementedError, match="dropout_p"):
        sdpa(q, k, v, dropout_p=0.1)
    with pytest.raises(ValueError, match="multiple of the key/value heads"):
        sdpa(np.ones((1, 3, 4, 8), np.float32), np.ones((1, 2, 6, 8), np.float32),
             np.ones((1, 2, 6, 8), np.float32), enable_gqa=True)
