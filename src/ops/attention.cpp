// scaled_dot_product_attention driver: work units and threading, and the
// bfloat16 engine path.
//
// Shapes: q (batch..., L, D), k (batch..., S, D), v (batch..., S, Dv),
// out (batch..., L, Dv), mask broadcast to (batch..., L, S); the batch dims
// are already broadcast by the op layer.
//
// Work: each batch element's L rows are cut into q blocks and the blocks
// into `per_batch` contiguous units, so that there are about
// kUnitsPerThread units per thread (more for causal attention, whose later
// rows cost more).  Units are handed out dynamically; each allocates one
// scratch block from the pool, so extra memory is one unit's scratch per
// thread, independent of L x S.
//
// Two unit runners:
//   float32 / float64: the per-ISA flash kernel (kernels/attention.inl),
//     own micro-kernels for both products;
//   bfloat16 engine (AttentionArgs::bf16_engine): the same online softmax
//     with both products on the bfloat16 matrix engine (ops/gemm_bf16.h):
//       S  = Q K^T        engine, K^T packed once per unit (or per key
//                         block when the unit's K and V are large)
//       P  = exp(S * scale + bias - m')   the ISA kernel's engine_step, in
//                         float32, which also rescales O by alpha
//       O += P V          engine, P rounded to bfloat16 while packing
//                         (as PyTorch's bfloat16 flash kernel rounds it)
//     and out = O / l by engine_finish (float32; the op layer rounds the
//     result).  Q, K and V are read as they are stored: bfloat16, or
//     float32 rounded to bfloat16 while packing (autocast).
#include "ops/nn.h"

#include <atomic>
#include <cstdint>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "core/pool.h"
#include "kernels/nn_kernels.h"
#include "ops/gemm_bf16.h"

namespace ft {
namespace {

constexpr int64_t kUnitsPerThread = 4;

// Engine path blocking: q rows per block (two 32-row tile panels), keys
// per block (PyTorch's kv block; the score tile is 128 KiB), and the
// largest packed K and V of a unit that is packed once for all its q
// blocks.  Tests lower them to cross the edges on small inputs.
struct EngineBlocks {
    int64_t qb = 64, kb = 512, whole_bytes = int64_t(4) << 20;
};

EngineBlocks& engine_blocks() {
    static EngineBlocks b;
    return b;
}

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

struct Units {
    int64_t nbt, qb, per_batch, blocks_per_unit;
    int64_t count() const { return nbt * per_batch; }
};

Units plan_units(const AttentionArgs& a, int64_t qb) {
    Units w;
    w.nbt = 1;
    for (int i = 0; i < a.nbatch; ++i) w.nbt *= a.bshape[i];
    w.qb = qb;
    const int64_t nq = (a.L + qb - 1) / qb;
    const int64_t nt = max_threads();
    const int64_t target =
        nt > 1 ? kUnitsPerThread * nt * (a.causal ? 2 : 1) : 1;
    int64_t per_batch = (target + w.nbt - 1) / w.nbt;
    if (per_batch > nq) per_batch = nq;
    if (per_batch < 1) per_batch = 1;
    w.blocks_per_unit = (nq + per_batch - 1) / per_batch;
    w.per_batch = (nq + w.blocks_per_unit - 1) / w.blocks_per_unit;
    return w;
}

// Unit `it` of the plan: pointers offset to its batch element.  es_in is
// the element size of q, k and v; es_out that of out and of a float mask.
AttentionUnit make_unit(const AttentionArgs& a, const Units& w, int64_t it,
                        int64_t es_in, int64_t es_out) {
    const int64_t bi = it / w.per_batch, ui = it % w.per_batch;
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
    const int64_t msz = a.mask_kind == 1 ? 1 : es_out;
    AttentionUnit u;
    u.L = a.L;
    u.S = a.S;
    u.D = a.D;
    u.Dv = a.Dv;
    u.q = (const char*)a.q + oq * es_in;
    u.rs_q = a.rs_q;
    u.cs_q = a.cs_q;
    u.k = (const char*)a.k + ok * es_in;
    u.rs_k = a.rs_k;
    u.cs_k = a.cs_k;
    u.v = (const char*)a.v + ov * es_in;
    u.rs_v = a.rs_v;
    u.cs_v = a.cs_v;
    u.mask_kind = a.mask_kind;
    u.mask = a.mask_kind ? (const char*)a.mask + om * msz : nullptr;
    u.rs_m = a.rs_m;
    u.cs_m = a.cs_m;
    u.causal = a.causal;
    u.scale = a.scale;
    u.out = (char*)a.out + oo * es_out;
    u.rs_o = a.rs_o;
    u.cs_o = a.cs_o;
    u.row_begin = ui * w.blocks_per_unit * w.qb;
    u.row_end = u.row_begin + w.blocks_per_unit * w.qb;
    if (u.row_end > a.L) u.row_end = a.L;
    return u;
}

// Runs run(unit, scratch, scratch_bytes) -> status over every unit, each
// thread reusing one pool block of at least need(unit) bytes.
template <class Need, class Run>
int for_each_unit(const AttentionArgs& a, const Units& w, int64_t es_in,
                  int64_t es_out, Need need, Run run) {
    std::atomic<int> status{kOk};
    parallel_for(w.count(), 1, [&](int64_t b, int64_t e) {
        void* scratch = nullptr;
        size_t have = 0;
        for (int64_t it = b; it < e && status == kOk; ++it) {
            const AttentionUnit u = make_unit(a, w, it, es_in, es_out);
            const size_t bytes = size_t(need(u));
            if (bytes > have) {
                if (scratch) pool_free(scratch, have);
                scratch = pool_alloc(bytes);
                have = scratch ? bytes : 0;
                if (!scratch) {
                    status = kErrNoMemory;
                    break;
                }
            }
            const int st = run(u, scratch);
            if (st != kOk) status = st;
        }
        if (scratch) pool_free(scratch, have);
    });
    return status;
}

// ------------------------------------------------ bfloat16 engine path

struct EnginePlan {
    int64_t s_end;                // keys any row of the unit can see
    int64_t kb, nkb;              // keys per block, blocks of them
    bool whole;                   // K and V packed once for the unit
    int64_t kbytes, vbytes;       // one key block of packed K^T, of V
    int64_t o_sc, o_o, o_rows, o_k, o_v, total;  // scratch byte offsets
};

EnginePlan engine_plan(const AttentionUnit& u, int64_t qb) {
    EnginePlan p;
    const EngineBlocks& eb = engine_blocks();
    p.s_end = u.S;
    if (u.causal && u.row_end < p.s_end) p.s_end = u.row_end;
    p.kb = eb.kb;
    p.nkb = (p.s_end + p.kb - 1) / p.kb;
    p.kbytes = round_up(int64_t(bf16_engine_packed_b_bytes(u.D, p.kb)), 64);
    p.vbytes = round_up(int64_t(bf16_engine_packed_b_bytes(p.kb, u.Dv)), 64);
    p.whole = p.nkb * (p.kbytes + p.vbytes) <= eb.whole_bytes;
    const int64_t slots = p.whole ? p.nkb : 1;
    int64_t off = 0;
    auto take = [&](int64_t bytes) {
        const int64_t o = off;
        off += round_up(bytes, 64);
        return o;
    };
    p.o_sc = take(qb * p.kb * 4);
    p.o_o = take(qb * (u.Dv > 0 ? u.Dv : 1) * 4);
    p.o_rows = take(4 * qb * 4);
    p.o_k = take(slots * p.kbytes);
    p.o_v = take(slots * p.vbytes);
    p.total = off;
    return p;
}

// Key block jb of the unit packed into the engine's layout: K^T (D x nk)
// at kdst, V (nk x Dv) at vdst.
void engine_pack_block(const AttentionUnit& u, bool f32, int64_t es,
                       const EnginePlan& p, int64_t jb, int64_t nk,
                       char* kdst, char* vdst) {
    const int64_t j0 = jb * p.kb;
    const Bf16Operand kt = {(const char*)u.k + j0 * u.rs_k * es, f32, u.cs_k,
                            u.rs_k};
    const Bf16Operand vb = {(const char*)u.v + j0 * u.rs_v * es, f32, u.rs_v,
                            u.cs_v};
    bf16_engine_pack_b(u.D, nk, kt, kdst);
    bf16_engine_pack_b(nk, u.Dv, vb, vdst);
}

int engine_run_unit(const AttentionKernels& K, const AttentionUnit& u,
                    bool f32, int64_t qb, char* scratch) {
    const EnginePlan p = engine_plan(u, qb);
    const int64_t es = f32 ? 4 : 2;
    float* sc = (float*)(scratch + p.o_sc);
    float* O = (float*)(scratch + p.o_o);
    float* rows = (float*)(scratch + p.o_rows);
    const AttentionRows<float> st = {rows, rows + qb, rows + 2 * qb,
                                     rows + 3 * qb};
    char* kp = scratch + p.o_k;
    char* vp = scratch + p.o_v;
    const int64_t lds = p.kb, ldo = u.Dv > 0 ? u.Dv : 1;
    // Keys of block jb below `end`.
    auto block_keys = [&](int64_t jb, int64_t end) {
        const int64_t j0 = jb * p.kb;
        return end - j0 < p.kb ? end - j0 : p.kb;
    };
    if (p.whole) {
        for (int64_t jb = 0; jb < p.nkb; ++jb)
            engine_pack_block(u, f32, es, p, jb, block_keys(jb, p.s_end),
                              kp + jb * p.kbytes, vp + jb * p.vbytes);
    }
    for (int64_t i0 = u.row_begin; i0 < u.row_end; i0 += qb) {
        const int64_t qr = u.row_end - i0 < qb ? u.row_end - i0 : qb;
        const Bf16Operand qop = {(const char*)u.q + i0 * u.rs_q * es, f32,
                                 u.rs_q, u.cs_q};
        int64_t kv_end = u.S;
        if (u.causal && i0 + qr < kv_end) kv_end = i0 + qr;
        bool first = true;
        for (int64_t jb = 0; jb * p.kb < kv_end; ++jb) {
            // nk keys of this block are visible to the q block; the
            // packed V holds `packed` rows, of which the product uses nk.
            const int64_t j0 = jb * p.kb, nk = block_keys(jb, kv_end);
            int64_t packed = nk;
            const char* kb = kp;
            const char* vb = vp;
            if (p.whole) {
                packed = block_keys(jb, p.s_end);
                kb += jb * p.kbytes;
                vb += jb * p.vbytes;
            } else {
                engine_pack_block(u, f32, es, p, jb, nk, kp, vp);
            }
            int status = gemm_bf16_engine_prepacked(qr, nk, u.D, qop, kb, u.D,
                                                    sc, lds, 1, false);
            if (status != kOk) return status;
            K.engine_step(u, i0, qr, j0, nk, sc, lds, O, ldo, first, st);
            const Bf16Operand pop = {sc, true, lds, 1};
            status = gemm_bf16_engine_prepacked(qr, u.Dv, nk, pop, vb, packed,
                                                O, ldo, 1, !first);
            if (status != kOk) return status;
            first = false;
        }
        K.engine_finish(u, i0, qr, !first, O, ldo, st);
    }
    return kOk;
}

}  // namespace

void attention_bf16_tune(int64_t qb, int64_t kb, int64_t whole_bytes) {
    const EngineBlocks d;
    EngineBlocks& b = engine_blocks();
    b.qb = qb > 0 ? round_up(qb, 32) : d.qb;
    b.kb = kb > 0 ? round_up(kb, 32) : d.kb;
    b.whole_bytes = whole_bytes > 0 ? whole_bytes : d.whole_bytes;
}

int scaled_dot_product_attention(const AttentionArgs& a) {
    if (a.dt != kFloat32 && a.dt != kFloat64) return kErrDType;
    if (a.bf16_engine &&
        (a.dt != kFloat32 || bf16_engine() == Bf16Engine::convert))
        return kErrArgument;
    int64_t nbt = 1;
    for (int i = 0; i < a.nbatch; ++i) nbt *= a.bshape[i];
    if (nbt == 0 || a.L == 0 || a.Dv == 0) return kOk;
    const AttentionKernels& K = FT_DISPATCH(attention_kernels)();
    if (a.bf16_engine) {
        const int64_t qb = engine_blocks().qb;
        const Units w = plan_units(a, qb);
        const int64_t es_in = a.qkv_f32 ? 4 : 2;
        return for_each_unit(
            a, w, es_in, 4,
            [&](const AttentionUnit& u) { return engine_plan(u, qb).total; },
            [&](const AttentionUnit& u, void* s) {
                return engine_run_unit(K, u, a.qkv_f32, qb, (char*)s);
            });
    }
    const int es = a.dt == kFloat32 ? 4 : 8;
    const Units w = plan_units(a, K.q_block(a.D, a.Dv, a.S, es));
    return for_each_unit(
        a, w, es, es,
        [&](const AttentionUnit& u) {
            return es == 4 ? K.scratch_bytes_f32(u) : K.scratch_bytes_f64(u);
        },
        [&](const AttentionUnit& u, void* s) {
            if (es == 4)
                K.run_f32(u, s);
            else
                K.run_f64(u, s);
            return int(kOk);
        });
}

}  // namespace ft
