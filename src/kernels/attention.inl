// Fused scaled-dot-product attention, written once and compiled per ISA.
//
// Formula (PyTorch's meaning), per batch element:
//   out = softmax(q k^T * scale + bias) v
// q is L x D, k is S x D, v is S x Dv, out is L x Dv; bias is 0, or -inf
// where a bool mask is false, or an additive float mask, or -inf above the
// diagonal of tril(ones(L, S)) when causal (top-left aligned).
//
// Flash-style blocking: a unit covers rows [row_begin, row_end) of one
// batch element, cut into q blocks of QB rows.  Each q block visits the
// key/value blocks of KB keys and keeps, per row, the running max m, the
// running sum l and an output accumulator O (QB x Dv, in scratch):
//   Sc = Qs Kp                   (QB x KB score tile, Qs = q * scale)
//   Sc += bias; m' = max(m, rowmax Sc); P = exp(Sc - m')  (in place)
//   alpha = exp(m - m'); l = l alpha + rowsum P; O = O alpha + P Vp
// and finally out = O / l.  The L x S matrix never exists; extra memory
// is the scratch of one unit per thread.
//
// Packing contract:
//   Qs  QB x D row-major (lda = D), pre-multiplied by scale.
//   Kp  panels of NR keys: Kp[p][d][jj] = k[p*NR + jj][d]; keys past S
//       are zero.  One panel (D x NR) is the B operand of the QK^T
//       micro-kernel.
//   Vp  panels of NR value columns: Vp[c][j][cc] = v[j][c*NR + cc];
//       columns past Dv are zero.  One panel is the B operand of PV.
//       When v has unit column stride and Dv is a multiple of NR, PV
//       reads v in place instead (row stride rs_v) and nothing is packed.
//   When all of K and V fit in kWholePackBytes they are packed once per
//   unit and every q block reuses them; otherwise (long S) each q block
//   repacks one KB block at a time, with larger q blocks (QB_LONG) to
//   amortise the packing.
//
// Micro-kernel ukr_MRxNR: C[MR x NR] (+)= A[MR x kc] B[kc x NR], A row-major
// with leading dimension lda (broadcast one element per row and k), B one
// panel of NR contiguous elements per k, ldb apart.  Register budget: MR x NRV
// accumulators + NRV B vectors + 1 broadcast: AVX2 6 x 16 (12 + 2 + 1 of
// 16 ymm), AVX-512 12 x 32 (24 + 2 + 1 of 32 zmm), scalar 4 x 4.  Two
// epilogues: store (QK^T into the score tile), and C = C * alpha[row] +
// acc (PV into O, which also applies the online-softmax rescale).
//
// Edge handling: rows beyond a multiple of MR use the same kernel
// instantiated for 1..MR rows; keys and value columns are padded to NR in
// the packed panels and the padded score columns are never read (PV runs
// kc = the block's valid keys).  Causal attention stops the key loop at
// the q block's last row, skips score panels wholly above the diagonal
// and shortens PV's kc to each row group's last visible key.
//
// Special rows (what PyTorch 2.13 gives): a row whose keys are all masked
// gives 0; S == 0 gives 0; a NaN (or +inf) score makes the row NaN.
//
// Accuracy: products accumulate in T in key order; exp is vexp_fast
// (1 ULP on [-87.3, 0]).  float32 results agree with a float64 reference
// to about 1e-6 relative to the output scale.
#include "core/simd.h"
#include "core/vmath.h"
#include "kernels/nn_kernels.h"

namespace ft {
namespace FT_ISA {
namespace {

#if defined(FT_ISA_AVX512)
constexpr int kMR = 12;
constexpr int kNRV = 2;
#elif defined(FT_ISA_AVX2)
constexpr int kMR = 6;
constexpr int kNRV = 2;
#else
constexpr int kMR = 4;
constexpr int kNRV = 4;
#endif

constexpr int64_t kWholePackBytes = 2 << 20;
constexpr int64_t kQB = kMR * (128 / kMR);        // q rows per block
constexpr int64_t kQBLong = kMR * (256 / kMR);    // ... when repacking
constexpr int64_t kKB = 256;                      // keys per block
constexpr int64_t kKBLong = 128;

template <class T>
FT_INLINE T at_inf() {
    return T(HUGE_VAL);
}

template <class T>
FT_INLINE M<T> at_first_lanes(int64_t n) {
    alignas(64) static const T iota[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                                           8, 9, 10, 11, 12, 13, 14, 15};
    return V<T>::load(iota) < V<T>::set1(T(n));
}

inline int64_t at_round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// ------------------------------------------------------------ micro-kernel

template <class T, int MRr, bool Acc>
void at_ukr(int64_t kc, const T* __restrict a, int64_t lda,
            const T* __restrict bp, int64_t ldb, T* __restrict c,
            int64_t ldc, const T* __restrict alpha) {
    using VT = V<T>;
    constexpr int N = VT::N;
    VT acc[MRr][kNRV];
#pragma GCC unroll 16
    for (int i = 0; i < MRr; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < kNRV; ++j) acc[i][j] = VT::zero();
    for (int64_t k = 0; k < kc; ++k) {
        VT b[kNRV];
#pragma GCC unroll 4
        for (int j = 0; j < kNRV; ++j) b[j] = VT::load(bp + k * ldb + j * N);
#pragma GCC unroll 16
        for (int i = 0; i < MRr; ++i) {
            const VT ai = VT::set1(a[i * lda + k]);
#pragma GCC unroll 4
            for (int j = 0; j < kNRV; ++j)
                acc[i][j] = vfma(ai, b[j], acc[i][j]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < MRr; ++i) {
        T* ci = c + i * ldc;
        if (Acc) {
            const VT al = VT::set1(alpha[i]);
#pragma GCC unroll 4
            for (int j = 0; j < kNRV; ++j)
                vfma(VT::load(ci + j * N), al, acc[i][j]).store(ci + j * N);
        } else {
#pragma GCC unroll 4
            for (int j = 0; j < kNRV; ++j) acc[i][j].store(ci + j * N);
        }
    }
}

// Runs the kernel for m (1..kMR) rows.
template <class T, bool Acc, int MRr = kMR>
FT_INLINE void at_ukr_m(int m, int64_t kc, const T* a, int64_t lda,
                        const T* bp, int64_t ldb, T* c, int64_t ldc,
                        const T* alpha) {
    if (m == MRr) {
        at_ukr<T, MRr, Acc>(kc, a, lda, bp, ldb, c, ldc, alpha);
    } else if constexpr (MRr > 1) {
        at_ukr_m<T, Acc, MRr - 1>(m, kc, a, lda, bp, ldb, c, ldc, alpha);
    }
}

// ------------------------------------------------------------ packing

// Keys [j0, j1) of k into panels at dst (panel p holds keys j0 + p*NR ..).
template <class T>
void at_pack_k(const T* k, int64_t rs, int64_t cs, int64_t D, int64_t j0,
               int64_t j1, T* dst) {
    constexpr int NR = kNRV * V<T>::N;
    for (int64_t p0 = j0; p0 < j1; p0 += NR) {
        const int64_t nj = j1 - p0 < NR ? j1 - p0 : NR;
        if (nj < NR)
            for (int64_t t = 0; t < D * NR; ++t) dst[t] = T(0);
        for (int64_t jj = 0; jj < nj; ++jj) {
            const T* src = k + (p0 + jj) * rs;
            if (cs == 1)
                for (int64_t d = 0; d < D; ++d) dst[d * NR + jj] = src[d];
            else
                for (int64_t d = 0; d < D; ++d) dst[d * NR + jj] = src[d * cs];
        }
        dst += D * NR;
    }
}

// Rows [j0, j1) of v into column panels; panel c starts at
// dst + c * pstride and row j0 + t of it at + t * NR.
template <class T>
void at_pack_v(const T* v, int64_t rs, int64_t cs, int64_t Dv, int64_t j0,
               int64_t j1, T* dst, int64_t pstride) {
    constexpr int NR = kNRV * V<T>::N;
    for (int64_t c0 = 0; c0 < Dv; c0 += NR) {
        const int64_t nc = Dv - c0 < NR ? Dv - c0 : NR;
        T* d = dst + (c0 / NR) * pstride;
        for (int64_t j = j0; j < j1; ++j) {
            const T* src = v + j * rs + c0 * cs;
            T* dj = d + (j - j0) * NR;
            if (cs == 1)
                for (int64_t cc = 0; cc < nc; ++cc) dj[cc] = src[cc];
            else
                for (int64_t cc = 0; cc < nc; ++cc) dj[cc] = src[cc * cs];
            for (int64_t cc = nc; cc < NR; ++cc) dj[cc] = T(0);
        }
    }
}

// ------------------------------------------------------------ softmax step

// Row max of s[0, n).
template <class T>
FT_INLINE T at_row_max(const T* s, int64_t n) {
    using VT = V<T>;
    constexpr int N = VT::N;
    const VT ninf = VT::set1(-at_inf<T>());
    VT m0 = ninf, m1 = ninf;
    int64_t j = 0;
    for (; j + 2 * N <= n; j += 2 * N) {
        m0 = vmax(m0, VT::load(s + j));
        m1 = vmax(m1, VT::load(s + j + N));
    }
    for (; j + N <= n; j += N) m0 = vmax(m0, VT::load(s + j));
    if (j < n)
        m1 = vmax(m1, select(at_first_lanes<T>(n - j),
                             VT::load_partial(s + j, n - j), ninf));
    return reduce_max(vmax(m0, m1));
}

// s = exp(s - m) in place over [0, n); returns the sum.  *dsum: the sum of
// the differences, NaN exactly when a score was NaN or +inf.
template <class T>
FT_INLINE T at_row_exp(T* s, int64_t n, T m, T* dsum) {
    using VT = V<T>;
    constexpr int N = VT::N;
    const VT vm = VT::set1(m);
    VT a0 = VT::zero(), a1 = VT::zero(), dd = VT::zero();
    int64_t j = 0;
    for (; j + 2 * N <= n; j += 2 * N) {
        VT d0 = VT::load(s + j) - vm, d1 = VT::load(s + j + N) - vm;
        VT e0 = vexp_fast(d0), e1 = vexp_fast(d1);
        e0.store(s + j);
        e1.store(s + j + N);
        a0 = a0 + e0;
        a1 = a1 + e1;
        dd = dd + (d0 + d1);
    }
    for (; j + N <= n; j += N) {
        VT d = VT::load(s + j) - vm;
        VT e = vexp_fast(d);
        e.store(s + j);
        a0 = a0 + e;
        dd = dd + d;
    }
    if (j < n) {
        M<T> live = at_first_lanes<T>(n - j);
        VT d = select(live, VT::load_partial(s + j, n - j) - vm, VT::zero());
        VT e = select(live, vexp_fast(d), VT::zero());
        e.store_partial(s + j, n - j);
        a1 = a1 + e;
        dd = dd + d;
    }
    *dsum = reduce_add(dd);
    return reduce_add(a0 + a1);
}

// ------------------------------------------------------------ one unit

template <class T>
struct AtPlan {
    int64_t QB, KB, NR, Dvp, Spad;
    bool whole;
    bool v_direct;  // PV reads v in place (cs_v == 1, Dv % NR == 0)
    // scratch offsets in elements
    int64_t o_q, o_s, o_o, o_m, o_l, o_a, o_bad, o_k, o_v, total;
};

template <class T>
AtPlan<T> at_plan(const AttentionUnit& u) {
    AtPlan<T> p;
    p.NR = kNRV * V<T>::N;
    p.Dvp = at_round_up(u.Dv > 0 ? u.Dv : 1, p.NR);
    const int64_t spad = at_round_up(u.S > 0 ? u.S : 1, p.NR);
    p.whole = spad * (u.D + p.Dvp) * (int64_t)sizeof(T) <= kWholePackBytes;
    p.QB = p.whole ? kQB : kQBLong;
    p.KB = p.whole ? kKB : kKBLong;
    p.Spad = p.whole ? spad : p.KB;
    p.v_direct = u.cs_v == 1 && u.Dv > 0 && u.Dv % p.NR == 0;
    const int64_t QB = p.QB, D = u.D > 0 ? u.D : 1;
    // Every piece starts on a 64-byte boundary.
    const int64_t al = 64 / (int64_t)sizeof(T);
    int64_t off = 0;
    auto take = [&](int64_t n) {
        int64_t o = off;
        off += at_round_up(n, al);
        return o;
    };
    p.o_q = take(QB * D);
    p.o_s = take(QB * p.KB);
    p.o_o = take(QB * p.Dvp);
    p.o_m = take(QB);
    p.o_l = take(QB);
    p.o_a = take(QB);
    p.o_bad = take(QB);
    p.o_k = take(p.Spad * D);
    p.o_v = take(p.v_direct ? 0 : p.Dvp * p.Spad);
    p.total = off;
    return p;
}

template <class T>
int64_t at_scratch_bytes(const AttentionUnit& u) {
    return at_plan<T>(u).total * (int64_t)sizeof(T);
}

template <class T>
int64_t at_q_block_t(int64_t D, int64_t Dv, int64_t S) {
    AttentionUnit u = {};
    u.S = S;
    u.D = D;
    u.Dv = Dv;
    return at_plan<T>(u).QB;
}

// Bias of one score row: mask, causal cut.  s has n valid entries for
// keys j0 .. j0 + n - 1 of query row gi.
template <class T>
FT_INLINE void at_bias_row(const AttentionUnit& u, int64_t gi, int64_t j0,
                           int64_t n, T* s) {
    if (u.mask_kind == 1) {
        const unsigned char* mb =
            (const unsigned char*)u.mask + gi * u.rs_m + j0 * u.cs_m;
        const T ninf = -at_inf<T>();
        if (u.cs_m == 1) {
            for (int64_t j = 0; j < n; ++j) s[j] = mb[j] ? s[j] : ninf;
        } else if (u.cs_m == 0) {
            if (!mb[0])
                for (int64_t j = 0; j < n; ++j) s[j] = ninf;
        } else {
            for (int64_t j = 0; j < n; ++j)
                s[j] = mb[j * u.cs_m] ? s[j] : ninf;
        }
    } else if (u.mask_kind == 2) {
        const T* mf = (const T*)u.mask + gi * u.rs_m + j0 * u.cs_m;
        if (u.cs_m == 1) {
            for (int64_t j = 0; j < n; ++j) s[j] += mf[j];
        } else if (u.cs_m == 0) {
            const T b = mf[0];
            for (int64_t j = 0; j < n; ++j) s[j] += b;
        } else {
            for (int64_t j = 0; j < n; ++j) s[j] += mf[j * u.cs_m];
        }
    }
    if (u.causal && j0 + n - 1 > gi) {
        int64_t first = gi - j0 + 1;
        if (first < 0) first = 0;
        for (int64_t j = first; j < n; ++j) s[j] = -at_inf<T>();
    }
}

template <class T>
FT_INLINE void at_rows_start(int64_t qr, const AttentionRows<T>& st) {
    for (int64_t i = 0; i < qr; ++i) {
        st.m[i] = -at_inf<T>();
        st.l[i] = T(0);
        st.bad[i] = T(0);
    }
}

// One key block of the online softmax: score rows i0 .. i0 + qr - 1 (row
// i at sc + i * lds, keys j0 .. j0 + nk - 1) are multiplied by `scale`,
// biased, and replaced by P = exp(s - m'); m, l and alpha advance.
template <class T>
void at_softmax_step(const AttentionUnit& u, int64_t i0, int64_t qr,
                     int64_t j0, int64_t nk, T scale, T* sc, int64_t lds,
                     const AttentionRows<T>& st) {
    using VT = V<T>;
    constexpr int N = VT::N;
    for (int64_t i = 0; i < qr; ++i) {
        T* s = sc + i * lds;
        if (scale != T(1)) {
            const VT vs = VT::set1(scale);
            int64_t j = 0;
            for (; j + N <= nk; j += N) (VT::load(s + j) * vs).store(s + j);
            if (j < nk)
                (VT::load_partial(s + j, nk - j) * vs)
                    .store_partial(s + j, nk - j);
        }
        at_bias_row(u, i0 + i, j0, nk, s);
        const T bm = at_row_max(s, nk);
        const T mn = bm > st.m[i] ? bm : st.m[i];
        if (mn == -at_inf<T>()) {
            // Every key so far is masked (or NaN, which the max passes
            // over): P = 0, O unchanged.
            for (int64_t j = 0; j < nk; ++j) {
                if (s[j] != s[j]) st.bad[i] = T(1);
                s[j] = T(0);
            }
            st.alpha[i] = T(1);
            continue;
        }
        T dsum;
        const T sum = at_row_exp(s, nk, mn, &dsum);
        if (dsum != dsum) st.bad[i] = T(1);
        st.alpha[i] = std::exp(st.m[i] - mn);
        st.l[i] = st.l[i] * st.alpha[i] + sum;
        st.m[i] = mn;
    }
}

// out rows i0 .. i0 + qr - 1 = O / l: 0 for a row whose keys were all
// masked, NaN for a bad row, and 0 when no key block was visited
// (!visited: there are no keys, and neither O nor the rows' state is read).
template <class T>
void at_finish(const AttentionUnit& u, int64_t i0, int64_t qr, bool visited,
               const T* O, int64_t ldo, const AttentionRows<T>& st, T* out) {
    using VT = V<T>;
    constexpr int N = VT::N;
    const int64_t Dv = u.Dv;
    for (int64_t i = 0; i < qr; ++i) {
        T* dst = out + (i0 + i) * u.rs_o;
        if (!visited) {
            for (int64_t e = 0; e < Dv; ++e) dst[e * u.cs_o] = T(0);
            continue;
        }
        T c = st.l[i] == T(0) ? T(0) : T(1) / st.l[i];
        if (st.bad[i] != T(0)) c = T(NAN);
        const T* o = O + i * ldo;
        if (u.cs_o == 1) {
            const VT vc = VT::set1(c);
            int64_t e = 0;
            for (; e + N <= Dv; e += N) (VT::load(o + e) * vc).store(dst + e);
            if (e < Dv)
                (VT::load_partial(o + e, Dv - e) * vc)
                    .store_partial(dst + e, Dv - e);
        } else {
            for (int64_t e = 0; e < Dv; ++e) dst[e * u.cs_o] = o[e] * c;
        }
    }
}

template <class T>
void at_run(const AttentionUnit& u, void* scratch) {
    const AtPlan<T> p = at_plan<T>(u);
    const int64_t NR = p.NR, D = u.D, Dv = u.Dv, S = u.S;
    T* base = (T*)scratch;
    T* Qs = base + p.o_q;
    T* Sc = base + p.o_s;
    T* O = base + p.o_o;
    const AttentionRows<T> st = {base + p.o_m, base + p.o_l, base + p.o_a,
                                 base + p.o_bad};
    T* Kp = base + p.o_k;
    T* Vp = base + p.o_v;
    const T* q = (const T*)u.q;
    const T* k = (const T*)u.k;
    const T* v = (const T*)u.v;
    T* out = (T*)u.out;
    const int64_t lds = p.KB, ldo = p.Dvp;
    const T scale = T(u.scale);

    // Keys any row of this unit can see.
    int64_t s_end = S;
    if (u.causal && u.row_end < s_end) s_end = u.row_end;
    if (p.whole && s_end > 0) {
        at_pack_k(k, u.rs_k, u.cs_k, D, 0, s_end, Kp);
        if (!p.v_direct)
            at_pack_v(v, u.rs_v, u.cs_v, Dv, 0, s_end, Vp, p.Spad * NR);
    }

    for (int64_t i0 = u.row_begin; i0 < u.row_end; i0 += p.QB) {
        const int64_t qr = u.row_end - i0 < p.QB ? u.row_end - i0 : p.QB;
        // Pack and scale the q block.
        for (int64_t i = 0; i < qr; ++i) {
            const T* src = q + (i0 + i) * u.rs_q;
            T* dst = Qs + i * D;
            if (u.cs_q == 1)
                for (int64_t d = 0; d < D; ++d) dst[d] = src[d] * scale;
            else
                for (int64_t d = 0; d < D; ++d)
                    dst[d] = src[d * u.cs_q] * scale;
        }
        at_rows_start(qr, st);
        int64_t kv_end = S;
        if (u.causal && i0 + qr < kv_end) kv_end = i0 + qr;
        bool first = true;
        for (int64_t j0 = 0; j0 < kv_end; j0 += p.KB) {
            const int64_t nk = kv_end - j0 < p.KB ? kv_end - j0 : p.KB;
            const T* Kb;
            const T* Vb;
            int64_t vstride, vld = NR;
            if (p.whole) {
                Kb = Kp + j0 * D;  // panel j0 / NR, D * NR each
                Vb = Vp + j0 * NR;
                vstride = p.Spad * NR;
            } else {
                at_pack_k(k, u.rs_k, u.cs_k, D, j0, j0 + nk, Kp);
                if (!p.v_direct)
                    at_pack_v(v, u.rs_v, u.cs_v, Dv, j0, j0 + nk, Vp,
                              p.KB * NR);
                Kb = Kp;
                Vb = Vp;
                vstride = p.KB * NR;
            }
            if (p.v_direct) {
                // V read in place: panel pc is columns pc*NR.. of rows j0..
                Vb = v + j0 * u.rs_v;
                vstride = NR;
                vld = u.rs_v;
            }
            const int64_t npan = (nk + NR - 1) / NR;

            // 1. Scores: Sc = Qs Kb.
            for (int64_t pj = 0; pj < npan; ++pj) {
                const T* bp = Kb + pj * D * NR;
                for (int64_t ir = 0; ir < qr; ir += kMR) {
                    const int m = (int)(qr - ir < kMR ? qr - ir : kMR);
                    // Causal: a panel whose first key is past every row of
                    // this group is never read (the bias fills -inf).
                    if (u.causal && j0 + pj * NR > i0 + ir + m - 1) continue;
                    at_ukr_m<T, false>(m, D, Qs + ir * D, D, bp, NR,
                                       Sc + ir * lds + pj * NR, lds, nullptr);
                }
            }

            // 2. Bias, running max, exps, running sum.
            at_softmax_step<T>(u, i0, qr, j0, nk, T(1), Sc, lds, st);

            // 3. O = O * alpha + P Vb.
            for (int64_t pc = 0; pc * NR < Dv; ++pc) {
                const T* bp = Vb + pc * vstride;
                for (int64_t ir = 0; ir < qr; ir += kMR) {
                    const int m = (int)(qr - ir < kMR ? qr - ir : kMR);
                    int64_t kc = nk;
                    if (u.causal) {
                        const int64_t vis = i0 + ir + m - j0;  // keys seen
                        if (vis < kc) kc = vis;
                    }
                    T* c = O + ir * ldo + pc * NR;
                    if (first)
                        at_ukr_m<T, false>(m, kc, Sc + ir * lds, lds, bp, vld,
                                           c, ldo, nullptr);
                    else
                        at_ukr_m<T, true>(m, kc, Sc + ir * lds, lds, bp, vld,
                                          c, ldo, st.alpha + ir);
                }
            }
            first = false;
        }

        // 4. out = O / l.
        at_finish<T>(u, i0, qr, !first, O, ldo, st, out);
    }
}

int64_t at_scratch_f32(const AttentionUnit& u) {
    return at_scratch_bytes<float>(u);
}
int64_t at_scratch_f64(const AttentionUnit& u) {
    return at_scratch_bytes<double>(u);
}
void at_run_f32(const AttentionUnit& u, void* s) { at_run<float>(u, s); }
void at_run_f64(const AttentionUnit& u, void* s) { at_run<double>(u, s); }
int64_t at_q_block(int64_t D, int64_t Dv, int64_t S, int dtsize) {
    return dtsize == 4 ? at_q_block_t<float>(D, Dv, S)
                       : at_q_block_t<double>(D, Dv, S);
}

// The vector steps of the bfloat16 engine path (ops/attention.cpp).
void at_engine_step(const AttentionUnit& u, int64_t i0, int64_t qr,
                    int64_t j0, int64_t nk, float* sc, int64_t lds, float* o,
                    int64_t ldo, bool first, const AttentionRows<float>& st) {
    if (first) at_rows_start(qr, st);
    at_softmax_step<float>(u, i0, qr, j0, nk, float(u.scale), sc, lds, st);
    if (first) return;
    using VT = V<float>;
    constexpr int N = VT::N;
    const int64_t Dv = u.Dv;
    for (int64_t i = 0; i < qr; ++i) {
        float* oi = o + i * ldo;
        const VT va = VT::set1(st.alpha[i]);
        int64_t e = 0;
        for (; e + N <= Dv; e += N) (VT::load(oi + e) * va).store(oi + e);
        if (e < Dv)
            (VT::load_partial(oi + e, Dv - e) * va)
                .store_partial(oi + e, Dv - e);
    }
}

void at_engine_finish(const AttentionUnit& u, int64_t i0, int64_t qr,
                      bool visited, const float* o, int64_t ldo,
                      const AttentionRows<float>& st) {
    at_finish<float>(u, i0, qr, visited, o, ldo, st, (float*)u.out);
}

}  // namespace

const AttentionKernels& attention_kernels() {
    static const AttentionKernels k = {
        at_scratch_f32, at_scratch_f64,  at_run_f32,      at_run_f64,
        at_q_block,     at_engine_step, at_engine_finish};
    return k;
}

}  // namespace FT_ISA
}  // namespace ft
