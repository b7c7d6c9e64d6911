// scaled_dot_product_attention driver: work units and threading.
//
// Shapes: q (batch..., L, D), k (batch..., S, D), v (batch..., S, Dv),
// out (batch..., L, Dv), mask broadcast to (batch..., L, S); the batch dims
// are already broadcast by the op layer.
//
// Work: each batch element's L rows are cut into q blocks (the kernel's
// QB) and the blocks into `per_batch` contiguous units, so that there are
// about kUnitsPerThread units per thread (more for causal attention,
// whose later rows cost more).  Units are handed out dynamically; each
// allocates one scratch block (the kernel's score tile, accumulators and
// packed K/V) from the pool, so extra memory is one unit's scratch per
// thread, independent of L x S.
#include <atomic>
#include <cstdint>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "core/pool.h"
#include "kernels/nn_kernels.h"
#include "ops/nn.h"

namespace ft {
namespace {
constexpr int64_t kUnitsPerThread = 4;
}

int scaled_dot_product_attention(const AttentionArgs& a) {
    if (a.dt != kFloat32 && a.dt != kFloat64) return kErrDType;
    int64_t nbt = 1;
    for (int i = 0; i < a.nbatch; ++i) nbt *= a.bshape[i];
    if (nbt == 0 || a.L == 0 || a.Dv == 0) return kOk;
    const AttentionKernels& K = FT_DISPATCH(attention_kernels)();
    const int es = a.dt == kFloat32 ? 4 : 8;
    const int64_t qb = K.q_block(a.D, a.Dv, a.S, es);
    const int64_t nq = (a.L + qb - 1) / qb;
    const int64_t nt = max_threads();
    int64_t target = nt > 1 ? kUnitsPerThread * nt * (a.causal ? 2 : 1) : 1;
    int64_t per_batch = (target + nbt - 1) / nbt;
    if (per_batch > nq) per_batch = nq;
    if (per_batch < 1) per_batch = 1;
    const int64_t blocks_per_unit = (nq + per_batch - 1) / per_batch;
    per_batch = (nq + blocks_per_unit - 1) / blocks_per_unit;
    const int64_t units = nbt * per_batch;
    std::atomic<int> status{kOk};

    parallel_for(units, 1, [&](int64_t b, int64_t e) {
        void* scratch = nullptr;
        size_t have = 0;
        for (int64_t it = b; it < e; ++it) {
            const int64_t bi = it / per_batch, ui = it % per_batch;
            int64_t oq = 0, ok = 0, ov = 0, om = 0, oo = 0, rem = bi;
            for (int d = a.nbatch - 1; d >= 0; --d) {
                const int64_t c = rem % a.bshape[d];
                rem /= a.bshape[d];
                oq += c * a.bs_q[d];
                ok += c * a.bs_k[d];
                ov += c * a.bs_v[d];
                om += c * (a.bs_m ? a.bs_m[d] : 0);
                oo += c * a.bs_o[d];
            }
            AttentionUnit u;
            const int64_t esz = es;
            const int64_t msz = a.mask_kind == 1 ? 1 : esz;
            u.L = a.L;
            u.S = a.S;
            u.D = a.D;
            u.Dv = a.Dv;
            u.q = (const char*)a.q + oq * esz;
            u.rs_q = a.rs_q;
            u.cs_q = a.cs_q;
            u.k = (const char*)a.k + ok * esz;
            u.rs_k = a.rs_k;
            u.cs_k = a.cs_k;
            u.v = (const char*)a.v + ov * esz;
            u.rs_v = a.rs_v;
            u.cs_v = a.cs_v;
            u.mask_kind = a.mask_kind;
            u.mask = a.mask_kind ? (const char*)a.mask + om * msz : nullptr;
            u.rs_m = a.rs_m;
            u.cs_m = a.cs_m;
            u.causal = a.causal;
            u.scale = a.scale;
            u.out = (char*)a.out + oo * esz;
            u.rs_o = a.rs_o;
            u.cs_o = a.cs_o;
            u.row_begin = ui * blocks_per_unit * qb;
            u.row_end = u.row_begin + blocks_per_unit * qb;
            if (u.row_end > a.L) u.row_end = a.L;
            const size_t need = (size_t)(es == 4 ? K.scratch_bytes_f32(u)
                                                 : K.scratch_bytes_f64(u));
            if (need > have) {
                if (scratch) pool_free(scratch, have);
                scratch = pool_alloc(need);
                have = scratch ? need : 0;
                if (!scratch) {
                    status = kErrNoMemory;
                    return;
                }
            }
            if (es == 4)
                K.run_f32(u, scratch);
            else
                K.run_f64(u, scratch);
        }
        if (scratch) pool_free(scratch, have);
    });
    return status;
}

}  // namespace ft
