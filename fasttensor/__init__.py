"""fasttensor: NumPy-like tensors on hand-written SIMD and OpenMP kernels.

``import fasttensor as ft`` gives NumPy's names (``asarray``, ``zeros``,
``matmul``, ``concatenate``, ``sum(axis=...)``) and, where deep-learning
code uses them, PyTorch's (``tensor``, ``cat(dim=...)``, ``randn``,
``flatten(start_dim=...)``, ``ft.nn.softmax``).  The default floating dtype
is float32.  See README.md for the API table.
"""

import os as _os

# libgomp reads its spin policy when it is loaded, which is when _C is
# imported.  Its default lets idle workers spin for about 300,000
# iterations after each parallel region; on a two-core machine that steals
# the core from whatever runs next (a NumPy or PyTorch call, say).  Unless
# the user chose a policy, spin briefly and then sleep.
if "GOMP_SPINCOUNT" not in _os.environ and "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "10000"

import ml_dtypes as _ml_dtypes
import numpy as _np

from . import _C
from ._C import (
    MemoryPool,
    OutOfMemoryError,
    Tensor,
    arange,
    asarray,
    broadcast_arrays,
    broadcast_shapes,
    broadcast_to,
    cat,
    concat,
    concatenate,
    cpu_features,
    empty,
    empty_cache,
    empty_like,
    expand_dims,
    eye,
    flatten,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    get_default_memory_pool,
    get_num_threads,
    linspace,
    manual_seed,
    max_memory_allocated,
    memory_allocated,
    memory_reserved,
    memory_stats,
    moveaxis,
    ones,
    ones_like,
    permute_dims,
    rand,
    randint,
    randn,
    ravel,
    reset_peak_memory_stats,
    reshape,
    set_allocator,
    set_num_threads,
    split,
    squeeze,
    stack,
    swapaxes,
    tensor,
    transpose,
    unsqueeze,
    zeros,
    zeros_like,
)
from ._C import (  # element-wise
    abs,
    absolute,
    add,
    bitwise_and,
    bitwise_or,
    bitwise_xor,
    clip,
    divide,
    equal,
    erf,
    exp,
    floor_divide,
    gelu,
    greater,
    greater_equal,
    isnan,
    less,
    less_equal,
    log,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    not_equal,
    positive,
    pow,
    power,
    relu,
    remainder,
    sigmoid,
    silu,
    sqrt,
    square,
    subtract,
    tanh,
    true_divide,
    where,
)
from ._C import (  # reductions
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from ._C import dot, linear, matmul  # linear algebra
from ._C import layer_norm, log_softmax, scaled_dot_product_attention, softmax
from ._C import set_flush_denormal
from ._config import show_config
from . import nn
from .amp import autocast

__version__ = "0.1.0"
__array_api_version__ = "2024.12"

bool_ = _np.dtype(_np.bool_)
int8 = _np.dtype(_np.int8)
int16 = _np.dtype(_np.int16)
int32 = _np.dtype(_np.int32)
int64 = _np.dtype(_np.int64)
uint8 = _np.dtype(_np.uint8)
uint16 = _np.dtype(_np.uint16)
uint32 = _np.dtype(_np.uint32)
uint64 = _np.dtype(_np.uint64)
float16 = _np.dtype(_np.float16)
bfloat16 = _np.dtype(_ml_dtypes.bfloat16)
float32 = _np.dtype(_np.float32)
float64 = _np.dtype(_np.float64)

e = _np.e
pi = _np.pi
inf = _np.inf
nan = _np.nan
newaxis = None


def get_include():
    """The directory holding fasttensor's C/C++ headers, for packages that
    build against its kernels."""
    return _os.path.join(_os.path.dirname(__file__), "include")


_C._init_runtime(
    isa=_os.environ.get("FASTTENSOR_ISA"),
    threads=_os.environ.get("FASTTENSOR_NUM_THREADS"),
    verbose=_os.environ.get("FASTTENSOR_VERBOSE", "") not in ("", "0"),
)
