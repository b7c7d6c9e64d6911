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

// Reduced-precision products on the float32 kernels: C (float32) = (C +)
// A @ B with every operand element rounded to `round_to` (kFloat16 or
// kBFloat16) and widened exactly.  a_dt and b_dt are round_to itself or
// kFloat32 (rounded to nearest even while packing); any other pair gives
// kErrDType.  The operands are read in their own format by the packing
// step, so no operand is converted in a separate pass, and the result is
// bitwise the float32 gemm() of the rounded operands with the same shapes
// and strides (whatever the thread count).  The caller rounds C to the
// 16-bit dtype when that is the result dtype.
int gemm_lowp(DType round_to, int64_t m, int64_t n, int64_t k,
              const void* a, DType a_dt, int64_t rs_a, int64_t cs_a,
              const void* b, DType b_dt, int64_t rs_b, int64_t cs_b,
              float* c, int64_t rs_c, int64_t cs_c, bool accumulate);

// gemm_lowp over broadcast batch dims, as gemm_batched (bsc in float32
// elements, bsa / bsb in elements of a_dt / b_dt).
int gemm_lowp_batched(DType round_to, int nbatch, const int64_t* batch_shape,
                      const int64_t* bsa, const int64_t* bsb,
                      const int64_t* bsc, int64_t m, int64_t n, int64_t k,
                      const void* a, DType a_dt, int64_t rs_a, int64_t cs_a,
                      const void* b, DType b_dt, int64_t rs_b, int64_t cs_b,
                      float* c, int64_t rs_c, int64_t cs_c, bool accumulate);

// *out = sum_i x[i] * y[i] over the operands rounded to round_to (as
// gemm_lowp), accumulated in float64 as dot(kFloat32, ...).
int dot_lowp(DType round_to, int64_t n, const void* x, DType x_dt,
             int64_t incx, const void* y, DType y_dt, int64_t incy,
             float* out);

// B (k x n) packed once for products that reuse it (a linear layer's
// weight): the float32 panels of the packed path for every kc block, read
// by gemm_prepacked instead of packing B on each call.  round_to is
// kFloat32 (b_dt kFloat32, values as they are), kFloat16 or kBFloat16 (b_dt
// round_to or kFloat32, as gemm_lowp).  dst holds
// gemm_prepacked_b_bytes(k, n) bytes; *kc_out receives the kc the panels
// were cut with.  Returns kOk or kErrDType.
size_t gemm_prepacked_b_bytes(int64_t k, int64_t n);
int gemm_prepack_b(DType round_to, int64_t k, int64_t n, const void* b,
                   DType b_dt, int64_t rs_b, int64_t cs_b, float* dst,
                   int64_t* kc_out);

// gemm_prepacked's answer when the product of the unpacked B would not
// take the packed path with the panels' kc (GEMV, no-pack, other blocks):
// the caller then runs gemm / gemm_lowp on the unpacked B, so the two
// give bitwise the same result.
constexpr int kPrepackedNotTaken = -1;

// C (float32) = (C +) A @ B with B from gemm_prepack_b (same round_to).
// C must have unit column stride.  Returns kOk, kErrDType, kErrNoMemory
// or kPrepackedNotTaken.
int gemm_prepacked(DType round_to, int64_t m, int64_t n, int64_t k,
                   const void* a, DType a_dt, int64_t rs_a, int64_t cs_a,
                   const float* packed_b, int64_t kc_packed, float* c,
                   int64_t rs_c, int64_t cs_c, bool accumulate);

// Single-thread FMA peak of the active ISA in GFLOP/s, measured over about
// `seconds` (the ceiling the GEMM benchmarks report against).
double fma_peak_gflops(double seconds);

// Name of the ISA whose GEMM kernels are active.
const char* gemm_isa();

// The active ISA's register tile and cache blocks for dtype dt (float32 or
// float64): out = {MR, NR, KC, MC, NC}.
void gemm_blocks(DType dt, int64_t* out);

// Override the cache blocks (0: derived from the cache sizes) and the path
// (0: automatic, 1: no packing, 2: packed, 3: packed with threads over
// the ic / jr loops only) so that tests can reach every blocking edge with
// small operands and compare the thread splits.  Not thread-safe; call
// between ops.
void gemm_tune(int64_t kc, int64_t mc, int64_t nc, int path);

}  // namespace ft
