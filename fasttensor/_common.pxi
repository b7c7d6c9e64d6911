# Imports, kernel declarations and the dtype tables shared by every area.

from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES, PyBUF_WRITABLE
from cpython.pycapsule cimport (
    PyCapsule_GetPointer,
    PyCapsule_IsValid,
    PyCapsule_New,
    PyCapsule_SetName,
)
from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from libc.stdint cimport (
    int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t)
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

cimport numpy as cnp

import operator
import numbers

import numpy as np
import ml_dtypes

cnp.import_array()

try:
    from numpy.exceptions import AxisError
except ImportError:  # NumPy < 1.25
    from numpy import AxisError


cdef extern from "core/dtype.h" namespace "ft":
    ctypedef enum DType:
        kBool
        kInt8
        kInt16
        kInt32
        kInt64
        kUInt8
        kUInt16
        kUInt32
        kUInt64
        kFloat16
        kBFloat16
        kFloat32
        kFloat64
        kNumDTypes
    ctypedef enum Status:
        kOk
        kErrDType
        kErrNoMemory
        kErrArgument


cdef extern from "ops/elementwise.h" namespace "ft":
    int ew_cast(DType frm, DType to, int ndim, const int64_t* shape,
                const char* src, const int64_t* ss,
                char* dst, const int64_t* sd) nogil
    int ew_fill(DType dt, int ndim, const int64_t* shape, char* dst,
                const int64_t* sd, const void* value) nogil


# The most dims a tensor may have (NumPy allows 64; 32 keeps views small).
cdef enum:
    MAXDIM = 32

# Work below this many bytes runs with the GIL held: releasing and taking
# it back costs more than the work.
cdef enum:
    NOGIL_BYTES = 65536


# ---------------------------------------------------------------- dtypes

cdef list _DTYPE_OF = [None] * kNumDTypes
_DTYPE_OF[kBool] = np.dtype(np.bool_)
_DTYPE_OF[kInt8] = np.dtype(np.int8)
_DTYPE_OF[kInt16] = np.dtype(np.int16)
_DTYPE_OF[kInt32] = np.dtype(np.int32)
_DTYPE_OF[kInt64] = np.dtype(np.int64)
_DTYPE_OF[kUInt8] = np.dtype(np.uint8)
_DTYPE_OF[kUInt16] = np.dtype(np.uint16)
_DTYPE_OF[kUInt32] = np.dtype(np.uint32)
_DTYPE_OF[kUInt64] = np.dtype(np.uint64)
_DTYPE_OF[kFloat16] = np.dtype(np.float16)
_DTYPE_OF[kBFloat16] = np.dtype(ml_dtypes.bfloat16)
_DTYPE_OF[kFloat32] = np.dtype(np.float32)
_DTYPE_OF[kFloat64] = np.dtype(np.float64)

cdef dict _DT_OF = {d: i for i, d in enumerate(_DTYPE_OF) if d is not None}

# Struct-module format characters for the buffer protocol.  bfloat16 has
# none: the buffer protocol refuses it, NumPy reads it through __array__.
cdef list _FORMAT_OF = [None] * kNumDTypes
_FORMAT_OF[kBool] = b"?"
_FORMAT_OF[kInt8] = b"b"
_FORMAT_OF[kInt16] = b"h"
_FORMAT_OF[kInt32] = b"i"
_FORMAT_OF[kInt64] = b"q"
_FORMAT_OF[kUInt8] = b"B"
_FORMAT_OF[kUInt16] = b"H"
_FORMAT_OF[kUInt32] = b"I"
_FORMAT_OF[kUInt64] = b"Q"
_FORMAT_OF[kFloat16] = b"e"
_FORMAT_OF[kFloat32] = b"f"
_FORMAT_OF[kFloat64] = b"d"

cdef int64_t _ITEMSIZE[kNumDTypes]
for _i, _d in enumerate(_DTYPE_OF):
    _ITEMSIZE[_i] = 0 if _d is None else _d.itemsize


cdef inline bint dt_is_float(int dt) noexcept:
    return dt == kFloat32 or dt == kFloat64 or dt == kFloat16 or dt == kBFloat16


cdef inline bint dt_is_int(int dt) noexcept:
    return kInt8 <= dt <= kUInt64


cdef inline bint dt_is_unsigned(int dt) noexcept:
    return kUInt8 <= dt <= kUInt64


cdef object dtype_of(int dt):
    """The numpy.dtype of a DType code."""
    return _DTYPE_OF[dt]


cdef int dt_of(object dtype) except -1:
    """The DType code of a dtype-like; TypeError when fasttensor lacks it."""
    cdef object d
    try:
        d = dtype if type(dtype) is np.dtype else np.dtype(dtype)
    except TypeError:
        raise TypeError(f"data type {dtype!r} not understood") from None
    code = _DT_OF.get(d)
    if code is None:
        if d.kind in "biuf" and d.byteorder not in "=|":
            code = _DT_OF.get(d.newbyteorder("="))
            if code is not None:
                return code
        raise TypeError(
            f"fasttensor does not support dtype {d} (supported: bool, "
            f"int8-int64, uint8-uint64, float16, bfloat16, float32, "
            f"float64)")
    return code


cdef inline bint dt_is_lowp(int dt) noexcept:
    """float16 or bfloat16: stored in 16 bits, computed in float32."""
    return dt == kFloat16 or dt == kBFloat16


cdef int _lowp_promote(int a, int b) noexcept:
    """PyTorch's result dtype for a pair with a 16-bit float: a float
    dtype wins over integers and bool, float16 with bfloat16 gives float32,
    and the wider float wins otherwise."""
    if a == b:
        return a
    if not dt_is_float(a):
        return b
    if not dt_is_float(b):
        return a
    if dt_is_lowp(a) and dt_is_lowp(b):
        return kFloat32
    return kFloat64 if kFloat64 in (a, b) else kFloat32


# result_type for every pair of dtypes: NumPy's, except for pairs with a
# 16-bit float, which follow PyTorch (NumPy gives float16 + int32 ->
# float64; PyTorch, and fasttensor, float16).
cdef int _PROMOTE[kNumDTypes][kNumDTypes]
for _a in range(kNumDTypes):
    for _b in range(kNumDTypes):
        if _DTYPE_OF[_a] is None or _DTYPE_OF[_b] is None:
            _PROMOTE[_a][_b] = -1
        elif dt_is_lowp(_a) or dt_is_lowp(_b):
            _PROMOTE[_a][_b] = _lowp_promote(_a, _b)
        else:
            _PROMOTE[_a][_b] = _DT_OF[np.result_type(_DTYPE_OF[_a], _DTYPE_OF[_b])]


cdef inline int promote(int a, int b) except -1:
    cdef int r = _PROMOTE[a][b]
    if r < 0:
        raise TypeError(
            f"no common dtype for {dtype_of(a)} and {dtype_of(b)}")
    return r


cdef str _status_message(int status):
    if status == kErrDType:
        return "not supported for this dtype"
    if status == kErrNoMemory:
        return "out of memory for scratch space"
    return "invalid argument"


cdef check_status(int status, str op):
    """Raise the Python exception for a kernel status other than kOk."""
    if status == kOk:
        return
    if status == kErrDType:
        raise TypeError(f"{op}: {_status_message(status)}")
    if status == kErrNoMemory:
        raise MemoryError(f"{op}: {_status_message(status)}")
    raise ValueError(f"{op}: {_status_message(status)}")
