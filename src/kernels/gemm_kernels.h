// The per-ISA GEMM kernel table (ISA-free declarations).
//
// Each ISA folder compiles src/kernels/gemm.inl with its own blocking table
// (src/kernels/<isa>/gemm_blocking.h) and returns its kernels through
// gemm_kernels().  The drivers in src/ops/gemm.cpp own the loops over cache
// blocks, the threading and the buffers; everything here works on one
// thread over the pointers it is given.
//
// Strides are in elements and may be 0 or negative.
#pragma once

#include <cstdint>

#include "core/dispatch.h"

namespace ft {

template <class T>
struct GemmKernelSet {
    // Register tile (MR x NR) and the cache blocks the table tuned for a
    // reference machine; the driver rescales kc/mc/nc from the cache sizes
    // it reads at run time, with these as the fallback.
    int mr, nr;
    int kc, mc, nc;
    // Fractions of L1 (B micro-panel, kc x nr), L2 (A block, mc x kc) and
    // L3 (B panel, kc x nc) the blocks may fill.
    float l1_frac, l2_frac, l3_frac;

    // Pack the mc x kc block of A into ceil(mc / mr) micro-panels, each
    // kc x mr, k-major (the mr values of one k adjacent), zero-padded.
    void (*pack_a)(int64_t mc, int64_t kc, const T* a, int64_t rs_a,
                   int64_t cs_a, T* dst);
    // Pack the kc x nc panel of B into ceil(nc / nr) micro-panels, each
    // kc x nr, k-major (the nr values of one k adjacent), zero-padded.
    void (*pack_b)(int64_t kc, int64_t nc, const T* b, int64_t rs_b,
                   int64_t cs_b, T* dst);
    // C[0:mc, 0:nc] = (C +) packed A (mc x kc) @ packed B (kc x nc); the
    // packed operands are laid out by pack_a / pack_b with the same kc.
    void (*macro)(int64_t mc, int64_t nc, int64_t kc, const T* pa,
                  const T* pb, T* c, int64_t rs_c, int64_t cs_c,
                  bool accumulate);
    // The same product read straight from the operands, without packing:
    // B and C must have unit column stride (cs_b == cs_c == 1).
    void (*small)(int64_t m, int64_t n, int64_t k, const T* a,
                  int64_t rs_a, int64_t cs_a, const T* b, int64_t rs_b,
                  T* c, int64_t rs_c, bool accumulate);
    // y[0:n] = (y +) x^T @ M for a k x n matrix M with unit stride along
    // n (rows rs_m apart); y is contiguous.
    void (*gemv_rows)(int64_t k, int64_t n, const T* x, int64_t incx,
                      const T* mtx, int64_t rs_m, T* y, bool accumulate);
    // y[j * incy] = (y +) sum_p M[j * rs_m + p] * x[p * incx] for j < n:
    // n dot products along the unit-stride rows of M.
    void (*gemv_dots)(int64_t n, int64_t k, const T* mtx, int64_t rs_m,
                      const T* x, int64_t incx, T* y, int64_t incy,
                      bool accumulate);
    // sum_i x[i * incx] * y[i * incy], accumulated in double.
    double (*dot)(int64_t n, const T* x, int64_t incx, const T* y,
                  int64_t incy);
};

// Where the float32 kernels read an operand from: float32 as it is, 16-bit
// elements widened exactly, or float32 elements rounded to a 16-bit dtype
// (nearest even) and widened back.
enum GemmSrc : int {
    kSrcF32 = 0,
    kSrcBf16 = 1,
    kSrcF16 = 2,
    kSrcF32Bf16 = 3,  // float32 rounded to bfloat16
    kSrcF32F16 = 4,   // float32 rounded to float16
    kGemmSrcCount = 5
};

inline int64_t gemm_src_size(int src) {
    return src == kSrcBf16 || src == kSrcF16 ? 2 : 4;
}

// The float32 kernel set's operand readers for each GemmSrc (index): same
// contracts as GemmKernelSet<float>'s pack_a, pack_b, gemv_rows and
// gemv_dots, with the operand's elements of kind `src` (strides still in
// elements of that kind).  The panels and results are bit for bit those
// of the float32 routines on the widened (rounded) operand.
struct GemmSrcKernels {
    void (*pack_a[kGemmSrcCount])(int64_t mc, int64_t kc, const void* a,
                                  int64_t rs_a, int64_t cs_a, float* dst);
    void (*pack_b[kGemmSrcCount])(int64_t kc, int64_t nc, const void* b,
                                  int64_t rs_b, int64_t cs_b, float* dst);
    void (*gemv_rows[kGemmSrcCount])(int64_t k, int64_t n, const float* x,
                                     int64_t incx, const void* mtx,
                                     int64_t rs_m, float* y,
                                     bool accumulate);
    void (*gemv_dots[kGemmSrcCount])(int64_t n, int64_t k, const void* mtx,
                                     int64_t rs_m, const float* x,
                                     int64_t incx, float* y, int64_t incy,
                                     bool accumulate);
    // dst (rows x cols, contiguous row-major) = float32 values of src.
    void (*widen[kGemmSrcCount])(int64_t rows, int64_t cols, const void* src,
                                 int64_t rs, int64_t cs, float* dst);
};

struct GemmKernels {
    const char* isa;
    GemmKernelSet<float> s;
    GemmKernelSet<double> d;
    GemmSrcKernels src;
};

FT_DECLARE_PER_ISA(const GemmKernels& gemm_kernels())

// Single-thread FMA throughput of each ISA's widest registers, measured
// over about `seconds`, in GFLOP/s (float32, 2 flops per lane); in
// src/kernels/peak.inl.
FT_DECLARE_PER_ISA(double fma_peak_gflops(double seconds))

}  // namespace ft
