# distutils: language = c++
"""fasttensor's compiled core: the Tensor type, the memory pool and the op
layer over the C++ kernels.

The module is assembled from one include file per area, so that the Tensor
type, the pool and every op family share one extension module (and one
memory pool):

    _common.pxi       imports, dtype tables, kernel declarations
    _pool.pxi         the memory pool's Python face
    _tensor.pxi       Buffer, Tensor, conversion, protocols, indexing
    _creation.pxi     zeros, ones, arange, ... and random numbers
    _shape.pxi        reshape, transpose, concatenate, stack, split, ...
    _elementwise.pxi  arithmetic, comparisons, math functions, where, clip
    _reduce.pxi       sum, mean, max, argmax, var, ...
    _linalg.pxi       matmul, dot, linear
    _nn.pxi           softmax, layer_norm, attention, ...
    _bench.pxi        the machine's ceilings: FMA peak, copy bandwidth
    _runtime.pxi      threads, ISA, show_config
    _lowp.pxi         float16/bfloat16 compute, autocast state, denormals
    _bf16.pxi         the bfloat16 matrix engines (AMX tiles)
    _capi.pxi         the C interface table for embedding packages
"""

include "_common.pxi"
include "_pool.pxi"
include "_tensor.pxi"
include "_creation.pxi"
include "_shape.pxi"
include "_elementwise.pxi"
include "_reduce.pxi"
include "_linalg.pxi"
include "_nn.pxi"
include "_bench.pxi"
include "_runtime.pxi"
include "_lowp.pxi"
include "_bf16.pxi"
include "_capi.pxi"
