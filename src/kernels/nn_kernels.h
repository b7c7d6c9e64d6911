// Per-ISA kernel tables for softmax, layer_norm and attention.
//
// Each ISA namespace (ft::scalar, ft::avx2, ft::avx512) defines the three
// accessors below in src/kernels/<isa>/{softmax,layer_norm,attention}.cpp,
// which include the shared bodies (softmax.inl, layer_norm.inl,
// attention.inl).  The ISA-free drivers in src/ops pick one table with
// FT_DISPATCH and own all threading: a kernel call covers a slice of the
// work and never opens a parallel region.
//
// Strides here are in ELEMENTS.
#pragma once

#include <cstdint>

#include "core/dispatch.h"

namespace ft {

// Flags of the softmax kernels.
enum SoftmaxFlags : int {
    kSoftmaxLog = 1,     // log_softmax instead of softmax
    kSoftmaxStream = 2,  // write the result with non-temporal stores
};

struct SoftmaxKernels {
    // `rows` rows of length n, each contiguous; row r starts at
    // in + r * rs_in and out + r * rs_out.  in == out is allowed.  With
    // kSoftmaxStream, `tmp` (row_cached_bytes, or null) holds the exps
    // between the passes of a cached row.
    void (*rows_f32)(int64_t rows, int64_t n, const float* in, int64_t rs_in,
                     float* out, int64_t rs_out, int flags, float* tmp);
    void (*rows_f64)(int64_t rows, int64_t n, const double* in,
                     int64_t rs_in, double* out, int64_t rs_out, int flags,
                     double* tmp);
    // w independent softmaxes side by side: lane j of step i is
    // in[i * sn_in + j] (contiguous across j); n steps along the axis.
    // w <= kSoftmaxMaxLanes.
    void (*cols_f32)(int64_t n, int64_t w, const float* in, int64_t sn_in,
                     float* out, int64_t sn_out, int flags);
    void (*cols_f64)(int64_t n, int64_t w, const double* in,
                     int64_t sn_in, double* out, int64_t sn_out, int flags);
    // Longest row (in bytes) that the row kernels treat as cache-resident.
    int64_t row_cached_bytes;
};

// Widest lane chunk the column kernels accept.
constexpr int64_t kSoftmaxMaxLanes = 256;

struct LayerNormKernels {
    // y = (x - mean) / sqrt(var + eps) * w + b over rows of length n
    // (contiguous); w and b may be null (1 and 0).
    void (*rows_f32)(int64_t rows, int64_t n, const float* x, int64_t rs_x,
                     const float* w, const float* b, double eps, float* y,
                     int64_t rs_y);
    void (*rows_f64)(int64_t rows, int64_t n, const double* x,
                     int64_t rs_x, const double* w, const double* b,
                     double eps, double* y, int64_t rs_y);
};

// One (batch, query-row range) unit of scaled-dot-product attention.
// Pointers are already offset to the unit's batch element; q and out are
// offset to row 0 of the batch element (the unit covers rows
// [row_begin, row_end)).  Mask kinds: 0 none, 1 bool bytes (nonzero =
// attend), 2 additive values of the q dtype.
struct AttentionUnit {
    int64_t L, S, D, Dv;
    const void* q;
    int64_t rs_q, cs_q;
    const void* k;
    int64_t rs_k, cs_k;
    const void* v;
    int64_t rs_v, cs_v;
    int mask_kind;
    const void* mask;
    int64_t rs_m, cs_m;
    bool causal;
    double scale;
    void* out;
    int64_t rs_o, cs_o;
    int64_t row_begin, row_end;
};

// Per-row state of the online softmax of one q block: running max m,
// running sum l, the rescale factor alpha of the last key block, and bad
// (nonzero once the row met a NaN or +inf score).
template <class T>
struct AttentionRows {
    T* m;
    T* l;
    T* alpha;
    T* bad;
};

struct AttentionKernels {
    // Scratch bytes one unit needs (for its L, S, D, Dv); the driver
    // allocates it from the pool, 64-byte aligned.
    int64_t (*scratch_bytes_f32)(const AttentionUnit& u);
    int64_t (*scratch_bytes_f64)(const AttentionUnit& u);
    void (*run_f32)(const AttentionUnit& u, void* scratch);
    void (*run_f64)(const AttentionUnit& u, void* scratch);
    // Query rows per block (a unit covers whole blocks but the last).
    int64_t (*q_block)(int64_t D, int64_t Dv, int64_t S, int dtsize);
    // The vector steps of the bfloat16 engine path, whose driver
    // (ops/attention.cpp) computes the two products on the engine, all in
    // float32 (mask values and out included):
    // engine_step: one key block of the online softmax of q rows
    //   [i0, i0 + qr): the scores (row i at sc + i * lds, keys
    //   [j0, j0 + nk)) are multiplied by u.scale, biased, and replaced by
    //   P = exp(s - m'); `first` starts the rows' state, otherwise O's
    //   rows (ldo apart, u.Dv wide) are rescaled by the step's alpha,
    //   ready for O += P V.
    // engine_finish: out rows [i0, i0 + qr) = O / l (0 for rows with
    //   every key masked or when no key block was visited).
    void (*engine_step)(const AttentionUnit& u, int64_t i0, int64_t qr,
                        int64_t j0, int64_t nk, float* sc, int64_t lds,
                        float* o, int64_t ldo, bool first,
                        const AttentionRows<float>& st);
    void (*engine_finish)(const AttentionUnit& u, int64_t i0, int64_t qr,
                          bool visited, const float* o, int64_t ldo,
                          const AttentionRows<float>& st);
};

FT_DECLARE_PER_ISA(const SoftmaxKernels& softmax_kernels())
FT_DECLARE_PER_ISA(const LayerNormKernels& layer_norm_kernels())
FT_DECLARE_PER_ISA(const AttentionKernels& attention_kernels())

}  // namespace ft
