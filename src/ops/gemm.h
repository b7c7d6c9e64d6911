// Matrix products (ISA-free drivers over the per-ISA micro-kernels).
//
// Shapes: C is m x n, A is m x k, B is k x n.  Strides are in ELEMENTS and
// may be any value, including 0 and negative: rs_* steps one row, cs_* one
// column.  Packing absorbs every layout, so callers never copy an operand
// to make it contiguous.  The op layer has validated shapes and dtypes, and
// C does not overlap A or B.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ft {

// C = A @ B, or C += A @ B when `accumulate` is true.  k == 0 gives zeros
// (or leaves C unchanged when accumulating).  Float dtypes use the blocked
// kernels; integer dtypes a plain compiled loop (wrapping arithmetic, as
// NumPy).  Returns kOk, kErrDType or kErrNoMemory.
int gemm(DType dt, int64_t m, int64_t n, int64_t k,
         const void* a, int64_t rs_a, int64_t cs_a,
         const void* b, int64_t rs_b, int64_t cs_b,
         void* c, int64_t rs_c, int64_t cs_c, bool accumulate);

// A batch of products over `nbatch` broadcast batch dims of shape
// `batch_shape`; bsa/bsb/bsc are the per-batch-dim element strides of A, B
// and C (0 where an operand is broadcast).  Small products run in parallel
// over the batch, large ones one after another with threads inside each.
int gemm_batched(DType dt, int nbatch, const int64_t* batch_shape,
                 const int64_t* bsa, const int64_t* bsb, const int64_t* bsc,
                 int64_t m, int64_t n, int64_t k,
                 const void* a, int64_t rs_a, int64_t cs_a,
                 const void* b, int64_t rs_b, int64_t cs_b,
                 void* c, int64_t rs_c, int64_t cs_c, bool accumulate);

// *out = sum_i x[i * incx] * y[i * incy] for 1-D operands of length n.
int dot(DType dt, int64_t n, const void* x, int64_t incx,
        const void* y, int64_t incy, void* out);

// Single-thread FMA peak of the active ISA in GFLOP/s, measured over about
// `seconds` (the ceiling the GEMM benchmarks report against).
double fma_peak_gflops(double seconds);

// Name of the ISA whose GEMM kernels are active.
const char* gemm_isa();

// The active ISA's register tile and cache blocks for dtype dt (float32 or
// float64): out = {MR, NR, KC, MC, NC}.
void gemm_blocks(DType dt, int64_t* out);

// Override the cache blocks (0: derived from the cache sizes) and the path
// (0: automatic, 1: no packing, 2: packed) so that tests can reach every
// blocking edge with small operands.  Not thread-safe; call between ops.
void gemm_tune(int64_t kc, int64_t mc, int64_t nc, int path);

}  // namespace ft
