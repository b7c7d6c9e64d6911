"""Deep-learning functions with PyTorch's meaning (``torch.nn.functional``).

``import fasttensor.nn as F`` gives the names a transformer or LSTM step
needs: :func:`softmax`, :func:`log_softmax`, :func:`layer_norm` and
:func:`scaled_dot_product_attention` (fused kernels of their own), the
activations :func:`sigmoid`, :func:`relu`, :func:`gelu`, :func:`silu` and
:func:`tanh` (element-wise kernels), :func:`linear`, :func:`flatten` and
:func:`lstm_cell`.

Examples
--------
The attention step of a transformer block, fused (no L x L matrix):

>>> import fasttensor as ft, fasttensor.nn as F
>>> q = ft.randn((5, 3)); k = ft.randn((5, 3)); v = ft.randn((5, 3))
>>> F.scaled_dot_product_attention(q, k, v).shape
(5, 3)
"""

from . import _C
from ._C import (
    PackedLinearWeight,
    flatten,
    layer_norm,
    log_softmax,
    prepack_linear,
    scaled_dot_product_attention,
    softmax,
)

__all__ = [
    "softmax",
    "log_softmax",
    "layer_norm",
    "scaled_dot_product_attention",
    "sigmoid",
    "relu",
    "gelu",
    "silu",
    "tanh",
    "linear",
    "prepack_linear",
    "PackedLinearWeight",
    "flatten",
    "lstm_cell",
]


def sigmoid(x):
    """``1 / (1 + exp(-x))`` element-wise (``torch.sigmoid``)."""
    return _C.sigmoid(x)


def relu(x):
    """``max(x, 0)`` element-wise (``torch.relu``)."""
    return _C.relu(x)


def silu(x):
    """``x * sigmoid(x)`` element-wise (``torch.nn.functional.silu``)."""
    return _C.silu(x)


def tanh(x):
    """Hyperbolic tangent element-wise."""
    return _C.tanh(x)


def gelu(x, approximate="none"):
    """Gaussian error linear unit (``torch.nn.functional.gelu``).

    Parameters
    ----------
    x : array_like
    approximate : {"none", "tanh"}
        ``"none"``: ``x * Phi(x)`` with the exact normal CDF (via erf);
        ``"tanh"``: ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(
            f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _C.gelu(x, approximate=approximate)


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` (``torch.nn.functional.linear``).

    Parameters
    ----------
    x : array_like
        ``(*, in_features)``.
    weight : array_like or PackedLinearWeight
        ``(out_features, in_features)``; a weight packed once by
        :func:`prepack_linear` gives the same result without repacking.
    bias : array_like, optional
        ``(out_features,)``.
    """
    return _C.linear(x, weight, bias)


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One step of an LSTM cell (``torch.nn.LSTMCell``).

    ``gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh`` is split into the
    input, forget, cell and output gates (in that order, each of width
    ``hidden``); then ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)`` and
    ``h' = sigmoid(o) * tanh(c')``.  This equals the concatenate-then-
    matmul form ``concatenate([x, h]) @ concatenate([w_ih, w_hh], 1).T``.

    Parameters
    ----------
    x : array_like
        ``(batch, input_size)`` or ``(input_size,)``.
    h, c : array_like
        ``(batch, hidden)`` or ``(hidden,)``: the previous state.
    w_ih : array_like
        ``(4 * hidden, input_size)``.
    w_hh : array_like
        ``(4 * hidden, hidden)``.
    b_ih, b_hh : array_like, optional
        ``(4 * hidden,)``.

    Returns
    -------
    (Tensor, Tensor)
        The new ``h`` and ``c``.

    Raises
    ------
    ValueError
        Weights whose shapes do not fit ``x`` and ``h``.
    """
    x = _C.asarray(x)
    h = _C.asarray(h)
    c = _C.asarray(c)
    w_ih = _C.asarray(w_ih)
    w_hh = _C.asarray(w_hh)
    hidden = h.shape[-1] if h.ndim else 0
    if w_ih.ndim != 2 or w_ih.shape[0] != 4 * hidden or w_ih.shape[1] != x.shape[-1]:
        raise ValueError(
            f"lstm_cell: w_ih has shape {w_ih.shape}, expected "
            f"({4 * hidden}, {x.shape[-1]}) for x of shape {x.shape} and h of "
            f"shape {h.shape}")
    if w_hh.shape != (4 * hidden, hidden):
        raise ValueError(
            f"lstm_cell: w_hh has shape {w_hh.shape}, expected "
            f"({4 * hidden}, {hidden}) for h of shape {h.shape}")
    if c.shape != h.shape:
        raise ValueError(
            f"lstm_cell: c has shape {c.shape}, expected h's shape {h.shape}")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and _C.asarray(b).shape != (4 * hidden,):
            raise ValueError(
                f"lstm_cell: {name} has shape {_C.asarray(b).shape}, expected "
                f"({4 * hidden},)")
    gates = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)
    i = _C.sigmoid(gates[..., 0 * hidden:1 * hidden])
    f = _C.sigmoid(gates[..., 1 * hidden:2 * hidden])
    g = _C.tanh(gates[..., 2 * hidden:3 * hidden])
    o = _C.sigmoid(gates[..., 3 * hidden:4 * hidden])
    c_new = f * c + i * g
    h_new = o * _C.tanh(c_new)
    return h_new, c_new
