"""fasttensor.nn: layer_norm against float64 NumPy and PyTorch, the
module's names, and the seed article's LSTM step (lstm_cell)."""

import numpy as np
import pytest

import fasttensor as ft
import fasttensor.nn as F
from fasttensor import _C

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")



def _needs(*names):
    missing = [n for n in names if not hasattr(_C, n)]
    return pytest.mark.skipif(
        bool(missing),
        reason=f"fasttensor._C does not provide {', '.join(missing)} in this build")


needs_activations = _needs("sigmoid", "relu", "gelu", "silu", "tanh")
needs_elementwise = _needs("sigmoid", "tanh", "linear", "add", "multiply")


def ref_layer_norm(x, k, w=None, b=None, eps=1e-5):
    x = np.asarray(x, np.float64)
    axes = tuple(range(x.ndim - k, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,k", [((4, 1), 1), ((3, 7), 1), ((5, 8), 1),
                                     ((2, 33), 1), ((6, 4, 5), 2),
                                     ((2, 3, 1000), 1), ((1, 70000), 1)])
def test_layer_norm(isa, dtype, shape, k, rng):
    x = (rng.standard_normal(shape) * 3 + 100).astype(dtype)  # far from 0 mean
    ns = shape[len(shape) - k:]
    w = rng.standard_normal(ns).astype(dtype)
    b = rng.standard_normal(ns).astype(dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for args in ((None, None), (w, None), (None, b), (w, b)):
        got = F.layer_norm(x, ns, *args)
        assert np.asarray(got).dtype == dtype
        np.testing.assert_allclose(np.asarray(got), ref_layer_norm(x, k, *args),
                                   rtol=tol, atol=tol)


def test_layer_norm_layouts(isa, rng):
    x = rng.standard_normal((8, 12)).astype(np.float32)
    got = F.layer_norm(ft.asarray(x).T, 8, eps=1e-3)
    np.testing.assert_allclose(np.asarray(got), ref_layer_norm(x.T, 1, eps=1e-3),
                               rtol=1e-5, atol=1e-5)
    # Constant rows: var = 0, y = 0 (+ bias).
    got = F.layer_norm(np.full((2, 5), 7.0, np.float32), (5,),
                       bias=np.ones(5, np.float32))
    np.testing.assert_allclose(np.asarray(got), 1.0)


@needs_torch
def test_layer_norm_against_torch(isa, rng):
    x = rng.standard_normal((3, 4, 10)).astype(np.float32)
    w = rng.standard_normal((4, 10)).astype(np.float32)
    b = rng.standard_normal((4, 10)).astype(np.float32)
    ref = torch.nn.functional.layer_norm(torch.from_numpy(x), (4, 10),
                                         torch.from_numpy(w), torch.from_numpy(b),
                                         eps=1e-6).numpy()
    got = np.asarray(F.layer_norm(x, (4, 10), w, b, eps=1e-6))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_layer_norm_bad_input():
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"normalized_shape=\(3,\).*\(2, 3, 4\)"):
        F.layer_norm(x, 3)
    with pytest.raises(ValueError, match=r"weight has shape \(3,\)"):
        F.layer_norm(x, 4, weight=np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"bias has shape \(4, 1\)"):
        F.layer_norm(x, 4, bias=np.ones((4, 1), np.float32))
    with pytest.raises(TypeError, match="normalized_shape must be"):
        F.layer_norm(x, "4")


def test_module_names():
    for name in ("softmax", "log_softmax", "layer_norm",
                 "scaled_dot_product_attention", "flatten", "sigmoid", "relu",
                 "gelu", "silu", "tanh", "linear", "lstm_cell"):
        assert callable(getattr(F, name)), name
    assert F.softmax is _C.softmax
    assert F.scaled_dot_product_attention is _C.scaled_dot_product_attention
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(np.ones(2, np.float32), approximate="fast")


def test_seed_flatten():
    # The seed article: F.flatten(conv_output, start_dim=1).
    conv = np.random.default_rng(0).standard_normal((10, 5, 5, 3)).astype(np.float32)
    assert F.flatten(conv, start_dim=1).shape == (10, 75)


def ref_lstm(x, h, c, w_ih, w_hh, b_ih, b_hh):
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    i, f, g, o = np.split(gates, 4, axis=-1)
    c2 = sig(f) * c + sig(i) * np.tanh(g)
    return sig(o) * np.tanh(c2), c2


@needs_elementwise
def test_lstm_cell_seed_step(rng):
    # The seed's LSTM step: x_t and h_{t-1} concatenated and multiplied by
    # the stacked gate weights equals lstm_cell's two products.
    hidden, n_in = 3, 3
    x = np.array([0.1, 0.2, 0.3], np.float32)
    h = np.array([0.4, 0.5, 0.6], np.float32)
    c = rng.standard_normal(hidden).astype(np.float32)
    w_ih = rng.standard_normal((4 * hidden, n_in)).astype(np.float32)
    w_hh = rng.standard_normal((4 * hidden, hidden)).astype(np.float32)
    b_ih = rng.standard_normal(4 * hidden).astype(np.float32)
    b_hh = rng.standard_normal(4 * hidden).astype(np.float32)
    h2, c2 = F.lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh)
    combined = np.concatenate([x, h]).astype(np.float64)
    w = np.concatenate([w_ih, w_hh], axis=1).astype(np.float64)
    gates = w @ combined + b_ih + b_hh
    i, f, g, o = np.split(gates, 4)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    c_ref = sig(f) * c + sig(i) * np.tanh(g)
    np.testing.assert_allclose(np.asarray(c2), c_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(h2), sig(o) * np.tanh(c_ref),
                               rtol=1e-5, atol=1e-6)


@needs_elementwise
@needs_torch
def test_lstm_cell_against_torch(rng):
    cell = torch.nn.LSTMCell(7, 5)
    x = torch.randn(4, 7)
    h = torch.randn(4, 5)
    c = torch.randn(4, 5)
    with torch.no_grad():
        h_ref, c_ref = cell(x, (h, c))
    p = {n: t.detach().numpy() for n, t in cell.named_parameters()}
    h2, c2 = F.lstm_cell(x.numpy(), h.numpy(), c.numpy(), p["weight_ih"],
                         p["weight_hh"], p["bias_ih"], p["bias_hh"])
    np.testing.assert_allclose(np.asarray(h2), h_ref.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(c2), c_ref.numpy(), rtol=1e-5, atol=1e-6)


@needs_activations
def test_activations(rng):
    x = rng.standard_normal(1000).astype(np.float32) * 4
    xd = x.astype(np.float64)
    from math import erf
    phi = 0.5 * (1 + np.vectorize(erf)(xd / np.sqrt(2)))
    cases = {
        "sigmoid": 1 / (1 + np.exp(-xd)),
        "relu": np.maximum(xd, 0),
        "silu": xd / (1 + np.exp(-xd)),
        "gelu": xd * phi,
    }
    for name, ref in cases.items():
        np.testing.assert_allclose(np.asarray(getattr(F, name)(x)), ref,
                                   rtol=1e-5, atol=1e-6, err_msg=name)
    t = 0.5 * xd * (1 + np.tanh(np.sqrt(2 / np.pi) * (xd + 0.044715 * xd ** 3)))
    np.testing.assert_allclose(np.asarray(F.gelu(x, approximate="tanh")), t,
                               rtol=1e-5, atol=1e-6)


def test_lstm_cell_bad_shapes():
    x = np.ones((2, 3), np.float32)
    h = np.ones((2, 4), np.float32)
    with pytest.raises(ValueError, match=r"w_ih has shape \(16, 2\)"):
        F.lstm_cell(x, h, h, np.ones((16, 2), np.float32), np.ones((16, 4), np.float32))
    with pytest.raises(ValueError, match=r"w_hh has shape \(16, 3\)"):
        F.lstm_cell(x, h, h, np.ones((16, 3), np.float32), np.ones((16, 3), np.float32))
    with pytest.raises(ValueError, match=r"b_ih has shape \(4,\)"):
        F.lstm_cell(x, h, h, np.ones((16, 3), np.float32), np.ones((16, 4), np.float32),
                    b_ih=np.ones(4, np.float32))
