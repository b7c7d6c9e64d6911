// Element-wise, cast and reduction entry points (ISA-free drivers).
//
// ew_cast and ew_fill live in copy.cpp; the rest in elementwise.cpp.
//
// Contract shared by every function here:
//   * Operands are n-d strided views over one common, already broadcast
//     `shape` (ndim >= 0 dims); strides are in BYTES, may be 0 (broadcast)
//     or negative.  Pointers point at element [0, ..., 0].
//   * The op layer has validated everything: shapes agree, dtypes are the
//     ones documented per function, `out` does not partially overlap an
//     input (it may be the very same view, for in-place ops).
//   * Return kOk, or kErrDType when the op is not defined for the dtype.
//   * Large work runs on all threads (core/parallel.h); small work stays on
//     the calling thread.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ft {

enum class BinOp : int {
    add = 0,
    sub,
    mul,
    div,        // true division (float dtypes only)
    floordiv,   // Python semantics: floor(a / b); ints: b == 0 gives 0
    mod,        // Python semantics: sign of b; ints: b == 0 gives 0
    pow,
    maximum,    // NaN-propagating, as numpy.maximum
    minimum,
    eq,         // comparisons write kBool
    ne,
    lt,
    le,
    gt,
    ge,
    logical_and,  // write kBool
    logical_or,
    logical_xor,
    bitwise_and,  // integer and bool dtypes
    bitwise_or,
    bitwise_xor,
    kCount
};

enum class UnOp : int {
    neg = 0,
    pos,
    abs,
    exp,
    log,
    sqrt,
    tanh,
    sigmoid,
    relu,
    silu,
    gelu,        // exact: x * Phi(x), Phi via erf
    gelu_tanh,   // approximate="tanh"
    erf,
    square,
    logical_not, // writes kBool
    isnan,       // writes kBool
    kCount
};

// out = op(a, b).  a, b and out share dtype `dt`, except that comparisons
// and logical ops write kBool.
int ew_binary(BinOp op, DType dt, int ndim, const int64_t* shape,
              const char* a, const int64_t* sa,
              const char* b, const int64_t* sb,
              char* out, const int64_t* so);

// out = op(a); same dtype in and out, except logical_not/isnan (kBool out).
int ew_unary(UnOp op, DType dt, int ndim, const int64_t* shape,
             const char* a, const int64_t* sa, char* out, const int64_t* so);

// out = cond ? x : y; cond is kBool, x, y and out are `dt`.
int ew_where(DType dt, int ndim, const int64_t* shape,
             const char* cond, const int64_t* sc,
             const char* x, const int64_t* sx,
             const char* y, const int64_t* sy,
             char* out, const int64_t* so);

// dst = src converted from `from` to `to` (C++ conversion rules: floats to
// ints truncate, out-of-range is unspecified as in NumPy; to bool is != 0).
// With from == to this is a strided copy.
int ew_cast(DType from, DType to, int ndim, const int64_t* shape,
            const char* src, const int64_t* ss, char* dst, const int64_t* sd);

// Every element of dst = *value (one element of dtype dt).
int ew_fill(DType dt, int ndim, const int64_t* shape, char* dst,
            const int64_t* sd, const void* value);

enum class RedOp : int {
    sum = 0,
    prod,
    max,     // NaN-propagating
    min,
    argmax,  // out is kInt64: flat index within the reduced dims (C order)
    argmin,
    any,     // out is kBool
    all,
    mean,    // float dtypes; the op layer casts integers first
    var,     // float dtypes; uses `ddof`
    kCount
};

// Reduce the last `nred` dims of the input view; its first ndim - nred dims
// are kept and correspond, in order, to the dims of `out` (strides `so`).
// Input dtype `dt`; output dtype `dt` except argmax/argmin (kInt64) and
// any/all (kBool); sum/prod of bool or small ints is done by the op layer
// after a cast.  An empty reduction gives the identity (0 for sum, 1 for
// prod, NaN for mean/var); max/min/argmax/argmin of an empty reduction are
// rejected by the op layer before this is called.
int ew_reduce(RedOp op, DType dt, int ndim, const int64_t* shape,
              const char* in, const int64_t* si, int nred,
              char* out, const int64_t* so, int64_t ddof);

}  // namespace ft
