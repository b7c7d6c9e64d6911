// softmax, log_softmax, layer_norm and scaled-dot-product attention
// (ISA-free drivers over the kernels in src/kernels/nn_kernels.h).
//
// The op layer (fasttensor/_nn.pxi) has validated shapes, dtypes and axes;
// these entry points return kOk, kErrDType (a dtype other than float32 /
// float64) or kErrNoMemory (scratch refused by the pool).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ft {

// out = softmax(in) (or log_softmax when `log`) along `axis` of an n-d
// view.  Strides are in BYTES and may be any multiple of the item size
// (0 and negative included) for `in`; `out` must not overlap `in` except
// by being the very same view.  Last-axis, inner-axis and arbitrary
// layouts are all handled without copying the whole tensor.
int softmax(DType dt, bool log, int ndim, const int64_t* shape, int axis,
            const void* in, const int64_t* si, void* out,
            const int64_t* so);

// layer_norm over the last n elements of each of `rows` contiguous rows:
// y = (x - mean) / sqrt(var + eps) * w + b (biased variance).  x and y are
// C-contiguous rows x n; w and b contiguous n, or null.
int layer_norm(DType dt, int64_t rows, int64_t n, const void* x,
               const void* w, const void* b, double eps, void* y);

// Arguments of scaled_dot_product_attention.  All strides in ELEMENTS
// (mask_kind 1: bytes, the mask being bool).  The batch dims are already
// broadcast: bshape[nbatch] is the common batch shape and bs_* give each
// operand's stride along it (0 where broadcast).
struct AttentionArgs {
    DType dt;
    int nbatch;
    const int64_t* bshape;
    const int64_t* bs_q;
    const int64_t* bs_k;
    const int64_t* bs_v;
    const int64_t* bs_m;
    const int64_t* bs_o;
    int64_t L, S, D, Dv;
    const void* q;
    int64_t rs_q, cs_q;
    const void* k;
    int64_t rs_k, cs_k;
    const void* v;
    int64_t rs_v, cs_v;
    int mask_kind;  // 0 none, 1 bool (true = attend), 2 additive (dtype dt)
    const void* mask;
    int64_t rs_m, cs_m;
    bool causal;    // tril(ones(L, S)), top-left aligned
    double scale;
    void* out;
    int64_t rs_o, cs_o;
    // The bfloat16 engine path (bf16_engine() must not be `convert`): dt is
    // float32, the dtype of a float mask and of out; q, k and v hold
    // bfloat16 values, or float32 values (qkv_f32) rounded to bfloat16
    // while packing.  Both products run on the engine with float32
    // accumulation, the softmax in float32.
    bool bf16_engine;
    bool qkv_f32;
};

int scaled_dot_product_attention(const AttentionArgs& a);

// Blocks of the bfloat16 engine path: q rows and keys per block (rounded
// up to 32), and the largest packed K and V (bytes) of a work unit kept
// for all its q blocks rather than packed block by block; 0 restores each
// default (64, 512, 4 MiB).  For tests; not thread-safe.
void attention_bf16_tune(int64_t qb, int64_t kb, int64_t whole_bytes);

}  // namespace ft
