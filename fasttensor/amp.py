"""Automatic mixed precision: products in bfloat16 or float16.

Inside ``with ft.autocast(dtype=ft.bfloat16):`` the matrix products
(``matmul`` and ``@``, ``dot``, ``nn.linear``, ``nn.scaled_dot_product_attention``)
take their float32 operands in the 16-bit dtype and return that dtype, with
float32 accumulation.  Everything else runs as written: softmax,
layer_norm, sums, element-wise ops and the other precision-sensitive ops
keep float32 inputs in float32, and 16-bit inputs in their dtype, as
PyTorch's CPU autocast does.  Operands of other dtypes (float64, integers)
are never cast.

The state belongs to the calling thread: a thread started inside an
autocast block does not inherit it.  Blocks nest, the innermost wins, and
``enabled=False`` switches autocast off for its block.
"""

import functools
import threading

import ml_dtypes
import numpy as np

from . import _C

__all__ = ["autocast", "get_autocast_dtype", "is_autocast_enabled"]

_LOWP = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


class autocast:
    """Run matrix products in a 16-bit float dtype (context manager or
    decorator).

    Parameters
    ----------
    dtype : dtype, optional
        ``fasttensor.bfloat16`` (the default, as in PyTorch's CPU autocast)
        or ``fasttensor.float16``.
    enabled : bool
        False switches autocast off inside the block, also within an
        enclosing autocast block.
    device_type : {"cpu"}
        Accepted for PyTorch compatibility; fasttensor runs on the CPU.

    Raises
    ------
    TypeError
        For a dtype other than bfloat16 or float16.
    ValueError
        For a device_type other than "cpu".

    Notes
    -----
    Operands are cast to the 16-bit dtype before the product (a rounding
    per element, as PyTorch does) and the product is accumulated in
    float32.  This build has no 16-bit matrix kernels, so the 16-bit
    operands are widened to float32 for the float32 kernels: autocast gives
    16-bit results and precision here, not speed (see ``show_config``).
    ``dot`` is in the product list, unlike PyTorch's CPU autocast, which
    leaves ``torch.dot`` in float32.

    Examples
    --------
    >>> a = ft.ones((4, 4))
    >>> with ft.autocast(dtype=ft.bfloat16):
    ...     (a @ a).dtype
    dtype(bfloat16)
    >>> @ft.autocast()
    ... def f(x):
    ...     return x @ x
    >>> f(a).dtype
    dtype(bfloat16)
    """

    def __init__(self, dtype=None, enabled=True, *, device_type="cpu"):
        if device_type != "cpu":
            raise ValueError(
                f"autocast: only device_type 'cpu' is supported, got "
                f"{device_type!r}")
        if dtype is None:
            dtype = _LOWP[1]
        try:
            dt = np.dtype(dtype)
        except TypeError:
            dt = None
        if dt not in _LOWP:
            raise TypeError(
                f"autocast: dtype must be fasttensor.bfloat16 or "
                f"fasttensor.float16, got {dtype!r}")
        self.dtype = dt
        self.enabled = bool(enabled)
        # Saved states per thread, so that one autocast object can be
        # entered by several threads, or re-entered, at once.
        self._saved = threading.local()

    def __enter__(self):
        stack = getattr(self._saved, "stack", None)
        if stack is None:
            stack = self._saved.stack = []
        stack.append(_C._autocast_enter(self.dtype, self.enabled))
        return self

    def __exit__(self, *exc):
        _C._autocast_exit(self._saved.stack.pop())
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def run_in_autocast(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return run_in_autocast

    def __repr__(self):
        return f"autocast(dtype={self.dtype}, enabled={self.enabled})"


def is_autocast_enabled():
    """Whether the calling thread is inside an enabled autocast block."""
    return _C._autocast_dtype() is not None


def get_autocast_dtype():
    """The calling thread's autocast dtype, or None outside autocast."""
    return _C._autocast_dtype()
