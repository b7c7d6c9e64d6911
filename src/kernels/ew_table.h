// The per-ISA table of element-wise and reduction kernels.
//
// Each ISA namespace (ft::scalar, ft::avx2, ft::avx512) defines
// ew_kernels() in src/kernels/<isa>/elementwise.cpp; the ISA-free driver in
// src/ops/elementwise.cpp plans the loops (collapsing dims, ordering them
// by the output's strides, splitting work across threads) and calls the
// table of the active ISA for the innermost 1-D runs.
//
// Strides given to kernels are in ELEMENTS of the operand they describe
// (bool outputs: bytes), may be 0 (broadcast) or negative.  A null entry
// means the op is not defined for that dtype.
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/dtype.h"
#include "ops/elementwise.h"

namespace ft {

constexpr int kEwMaxDims = 32;

// out[i*so] = op(a[i*sa], b[i*sb]) for i in [0, n).
using EwBinaryFn = void (*)(const char* a, int64_t sa, const char* b,
                            int64_t sb, char* out, int64_t so, int64_t n);
// out[i*so] = op(a[i*sa]).
using EwUnaryFn = void (*)(const char* a, int64_t sa, char* out, int64_t so,
                           int64_t n);
// out[i*so] = cond[i*sc] ? x[i*sx] : y[i*sy].
using EwWhereFn = void (*)(const char* cond, int64_t sc, const char* x,
                           int64_t sx, const char* y, int64_t sy, char* out,
                           int64_t so, int64_t n);

// Running result of one reduction, per kept output element.  `f` holds
// float sums/products/extrema (float32 data accumulates in double), `s` and
// `u` the integer ones and any/all, `idx` the flat index of argmax/argmin.
struct RedAcc {
    union {
        double f;
        int64_t s;
        uint64_t u;
    };
    int64_t idx;
};

// A reduction after the driver's planning.  Kept dims (C order of the
// output) and reduced dims (C order of the input's reduced dims, so flat
// argmax indices stay in C order) are each collapsed where contiguous and
// stripped of size-1 dims; strides are in elements of the input.
struct RedPlan {
    int nk;
    int64_t kshape[kEwMaxDims];
    int64_t kstride[kEwMaxDims];
    int nr;
    int64_t rshape[kEwMaxDims];
    int64_t rstride[kEwMaxDims];
    int64_t rcount;
    // The innermost kept dim has stride 1 and the reduced dims do not end
    // in a stride-1 dim: whole rows are accumulated, one vector of kept
    // columns at a time.
    bool rows;
    // var's second pass: the per-kept-element mean (acc[k].f), else null.
    const RedAcc* center;
};

// Reduces kept elements [k0, k1) (flat, C order over kshape) into acc[k].
using RedFn = void (*)(const RedPlan& plan, const char* in, RedAcc* acc,
                       int64_t k0, int64_t k1);

struct EwKernels {
    EwBinaryFn binary[int(BinOp::kCount)][kNumDTypes];
    EwUnaryFn unary[int(UnOp::kCount)][kNumDTypes];
    EwWhereFn where[4];  // by log2 of the item size
    // var's entry is the second pass, sum((x - center)**2); mean's is sum.
    RedFn reduce[int(RedOp::kCount)][kNumDTypes];
};

FT_DECLARE_PER_ISA(const EwKernels& ew_kernels())

}  // namespace ft
