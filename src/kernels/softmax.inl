// softmax and log_softmax kernels, written once and compiled per ISA.
//
// Formula: for a row x of length n with m = max(x) and s = sum exp(x - m),
//   softmax(x)_i     = exp(x_i - m) / s
//   log_softmax(x)_i = (x_i - m) - log s
// Subtracting m keeps every exp argument <= 0, so huge inputs cannot
// overflow and the largest term is exactly 1.
//
// Rows (the softmax axis is contiguous), rs_* steps one row:
//   cached (n * sizeof(T) <= kRowCachedBytes, the row stays in L2 across
//   the passes): pass 1 reads the row for m; pass 2 writes
//   e = exp(x - m) to out and sums it (the row is read from cache); pass 3
//   scales out by 1/s while it is still cached.  Memory sees one read and
//   one write per element.  With kSoftmaxStream pass 2 writes e to a
//   per-thread buffer instead and pass 3 streams e/s to out with
//   non-temporal stores, which saves the read-for-ownership of an output
//   that is larger than the last-level cache.
//   online (longer rows): the row is cut into blocks of kOnlineBlockBytes;
//   each block's max updates the running max m, the running sum is
//   rescaled by exp(m_old - m_new), and the block's exp-sum is taken while
//   the block is in L1.  A second pass writes exp(x - m) / s.  Two reads
//   and one write per element, one exp per element per pass.
//
// Columns (a non-last axis): w softmaxes side by side, contiguous across
// lanes, n steps of stride sn along the axis.  Lanes are taken in groups
// of up to 4 vectors whose running max, sum and NaN detector live in
// registers (4 x 8 float lanes on AVX2, 4 x 16 on AVX-512); every step
// loads one short contiguous piece per vector.  The same cached / online
// split applies to the group's n x 4N block.
//
// Register budget (AVX2 row pass 2): 4 sums, 4 differences, the exp
// temporaries, the max and the NaN detector: 14 of 16 ymm.
//
// Edge handling: a tail of n % N lanes is loaded with load_partial (zeros)
// and its lanes are masked to -inf (max) or 0 (sum) before they count.
//
// Special values, matching PyTorch: every d = x - m is <= 0 or -inf, so a
// NaN among the d values means the row holds a NaN, or +inf (m = +inf,
// inf - inf), or only -inf (m = -inf).  Those rows become all NaN.  The d
// values are summed alongside the exps as that detector (a sum of -inf and
// finite values stays -inf; only a NaN makes it NaN).  Otherwise -inf
// inputs give exactly 0 (vexp_fast returns 0 below -87.3).
//
// Accuracy: vexp_fast is within 1 ULP on [-87.3, 0]; sums use 4 (row) or 1
// (column) vector accumulators in T, so float32 results are within a few
// ULP of the float64 reference for rows of realistic length.
#include "core/simd.h"
#include "core/vmath.h"
#include "kernels/nn_kernels.h"

namespace ft {
namespace FT_ISA {
namespace {

constexpr int64_t kRowCachedBytes = 192 * 1024;
constexpr int64_t kOnlineBlockBytes = 16 * 1024;
constexpr int64_t kColCachedBytes = 128 * 1024;
constexpr int64_t kSumSteps = 64;

template <class T>
FT_INLINE T sm_inf() {
    return T(HUGE_VAL);
}

// Lanes [0, n) set, for 0 <= n <= V<T>::N.
template <class T>
FT_INLINE M<T> sm_first_lanes(int64_t n) {
    alignas(64) static const T iota[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                                           8, 9, 10, 11, 12, 13, 14, 15};
    return V<T>::load(iota) < V<T>::set1(T(n));
}

// Non-temporal store of a full vector to an address aligned to its size.
FT_INLINE void sm_stream(float* p, V<float> x) {
#if defined(FT_ISA_AVX512)
    _mm512_stream_ps(p, x.r);
#elif defined(FT_ISA_AVX2)
    _mm256_stream_ps(p, x.r);
#else
    x.store(p);
#endif
}
FT_INLINE void sm_stream(double* p, V<double> x) {
#if defined(FT_ISA_AVX512)
    _mm512_stream_pd(p, x.r);
#elif defined(FT_ISA_AVX2)
    _mm256_stream_pd(p, x.r);
#else
    x.store(p);
#endif
}
FT_INLINE void sm_fence() {
#if defined(FT_ISA_AVX512) || defined(FT_ISA_AVX2)
    _mm_sfence();
#endif
}

template <class T>
FT_INLINE void sm_fill(T* out, int64_t n, T value) {
    for (int64_t i = 0; i < n; ++i) out[i] = value;
}

// Max of x[0, n); -inf for n == 0.
template <class T>
FT_INLINE T sm_row_max(const T* x, int64_t n) {
    using VT = V<T>;
    constexpr int N = VT::N;
    const VT ninf = VT::set1(-sm_inf<T>());
    VT m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    int64_t i = 0;
    for (; i + 4 * N <= n; i += 4 * N) {
        m0 = vmax(m0, VT::load(x + i));
        m1 = vmax(m1, VT::load(x + i + N));
        m2 = vmax(m2, VT::load(x + i + 2 * N));
        m3 = vmax(m3, VT::load(x + i + 3 * N));
    }
    for (; i + N <= n; i += N) m0 = vmax(m0, VT::load(x + i));
    if (i < n) {
        VT t = VT::load_partial(x + i, n - i);
        m1 = vmax(m1, select(sm_first_lanes<T>(n - i), t, ninf));
    }
    return reduce_max(vmax(vmax(m0, m1), vmax(m2, m3)));
}

// Sum of exp(x - m) over x[0, n); when `e` is not null the exps are
// stored there.  *dsum receives the sum of the differences (the NaN
// detector described in the header).
// `pf`, when not null, is the next row: its lines are prefetched into L2
// while this pass computes, so that reading it overlaps the exps.
template <class T>
FT_INLINE T sm_row_expsum(const T* x, int64_t n, T m, T* e, T* dsum,
                          const T* pf = nullptr) {
    using VT = V<T>;
    constexpr int N = VT::N;
    constexpr int64_t kLine = 64 / (int64_t)sizeof(T);
    const VT vm = VT::set1(m);
    VT s0 = VT::zero(), s1 = VT::zero(), s2 = VT::zero(), s3 = VT::zero();
    VT dd = VT::zero();
    int64_t i = 0;
    for (; i + 4 * N <= n; i += 4 * N) {
        if (pf)
            for (int64_t l = 0; l < 4 * N; l += kLine)
                __builtin_prefetch(pf + i + l, 0, 2);
        VT d0 = VT::load(x + i) - vm;
        VT d1 = VT::load(x + i + N) - vm;
        VT d2 = VT::load(x + i + 2 * N) - vm;
        VT d3 = VT::load(x + i + 3 * N) - vm;
        VT e0 = vexp_fast(d0), e1 = vexp_fast(d1);
        VT e2 = vexp_fast(d2), e3 = vexp_fast(d3);
        if (e) {
            e0.store(e + i);
            e1.store(e + i + N);
            e2.store(e + i + 2 * N);
            e3.store(e + i + 3 * N);
        }
        s0 = s0 + e0;
        s1 = s1 + e1;
        s2 = s2 + e2;
        s3 = s3 + e3;
        dd = dd + ((d0 + d1) + (d2 + d3));
    }
    for (; i + N <= n; i += N) {
        VT d = VT::load(x + i) - vm;
        VT ev = vexp_fast(d);
        if (e) ev.store(e + i);
        s0 = s0 + ev;
        dd = dd + d;
    }
    if (i < n) {
        M<T> live = sm_first_lanes<T>(n - i);
        VT d = select(live, VT::load_partial(x + i, n - i) - vm, VT::zero());
        VT ev = select(live, vexp_fast(d), VT::zero());
        if (e) ev.store_partial(e + i, n - i);
        s1 = s1 + ev;
        dd = dd + d;
    }
    *dsum = reduce_add(dd);
    return reduce_add((s0 + s1) + (s2 + s3));
}

// sm_row_expsum over pieces of kSumPieceBytes, adding the pieces' sums:
// the rounding error of a long float32 sum then grows with the number of
// pieces, not with n.
template <class T>
FT_INLINE T sm_row_expsum_pieces(const T* x, int64_t n, T m, T* e, T* dsum,
                                 const T* pf) {
    constexpr int64_t piece = kOnlineBlockBytes / (int64_t)sizeof(T);
    T s = T(0), dd = T(0);
    for (int64_t b = 0; b < n; b += piece) {
        const int64_t len = n - b < piece ? n - b : piece;
        T d;
        s += sm_row_expsum(x + b, len, m, e ? e + b : (T*)nullptr, &d,
                           pf ? pf + b : (const T*)nullptr);
        dd += d;
    }
    *dsum = dd;
    return s;
}

// out[i] = a[i] * c; out == a allowed.
template <class T>
FT_INLINE void sm_row_scale(const T* a, int64_t n, T c, T* out) {
    using VT = V<T>;
    constexpr int N = VT::N;
    const VT vc = VT::set1(c);
    int64_t i = 0;
    for (; i + 4 * N <= n; i += 4 * N) {
        (VT::load(a + i) * vc).store(out + i);
        (VT::load(a + i + N) * vc).store(out + i + N);
        (VT::load(a + i + 2 * N) * vc).store(out + i + 2 * N);
        (VT::load(a + i + 3 * N) * vc).store(out + i + 3 * N);
    }
    for (; i + N <= n; i += N) (VT::load(a + i) * vc).store(out + i);
    if (i < n)
        (VT::load_partial(a + i, n - i) * vc).store_partial(out + i, n - i);
}

// Final pass of the online and streaming paths.  mode 0: out = a * c
// (a holds exps), 1: out = exp(a - m) * c, 2: out = (a - m) - c
// (log_softmax with c = log s; subtracting m first keeps x - m exact where
// m + log s would round away log s).  Full vectors are streamed when `stream`
// is set and out is aligned to T.
template <class T, int Mode>
FT_INLINE void sm_row_final(const T* a, int64_t n, T m, T c, T* out,
                            bool stream) {
    using VT = V<T>;
    constexpr int N = VT::N;
    const VT vm = VT::set1(m), vc = VT::set1(c);
    auto f = [&](VT x) -> VT {
        if (Mode == 0) return x * vc;
        if (Mode == 1) return vexp_fast(x - vm) * vc;
        return (x - vm) - vc;
    };
    int64_t i = 0;
    if (stream && (reinterpret_cast<uintptr_t>(out) % sizeof(T)) == 0) {
        const uintptr_t va = sizeof(VT);
        int64_t head = (int64_t)(((va - reinterpret_cast<uintptr_t>(out) % va)
                                  % va) / sizeof(T));
        if (head > n) head = n;
        if (head > 0) {
            f(VT::load_partial(a, head)).store_partial(out, head);
            i = head;
        }
        for (; i + 2 * N <= n; i += 2 * N) {
            sm_stream(out + i, f(VT::load(a + i)));
            sm_stream(out + i + N, f(VT::load(a + i + N)));
        }
        for (; i + N <= n; i += N) sm_stream(out + i, f(VT::load(a + i)));
    } else {
        for (; i + 2 * N <= n; i += 2 * N) {
            f(VT::load(a + i)).store(out + i);
            f(VT::load(a + i + N)).store(out + i + N);
        }
        for (; i + N <= n; i += N) f(VT::load(a + i)).store(out + i);
    }
    if (i < n) f(VT::load_partial(a + i, n - i)).store_partial(out + i, n - i);
}

// One row through the online normaliser: returns m and s, *bad when the
// row must become NaN.
template <class T>
FT_INLINE void sm_row_online_stats(const T* x, int64_t n, T* m_out, T* s_out,
                                   bool* bad) {
    using VT = V<T>;
    constexpr int64_t blk =
        (kOnlineBlockBytes / (int64_t)sizeof(T)) / (4 * VT::N) * (4 * VT::N);
    T m = -sm_inf<T>(), s = T(0), dsum = T(0);
    for (int64_t b = 0; b < n; b += blk) {
        const int64_t len = n - b < blk ? n - b : blk;
        const T bm = sm_row_max(x + b, len);
        if (bm > m) {
            s = s * std::exp(m - bm);  // exp(-inf) = 0 on the first block
            m = bm;
        }
        // While every value so far is -inf, subtract 0: -inf stays -inf
        // (exp gives 0) and a NaN still reaches the detector.
        T ds;
        s += sm_row_expsum(x + b, len, m == -sm_inf<T>() ? T(0) : m,
                           (T*)nullptr, &ds);
        dsum += ds;
    }
    *bad = dsum != dsum || m == sm_inf<T>() || m == -sm_inf<T>();
    *m_out = m;
    *s_out = s;
}

template <class T>
void sm_rows(int64_t rows, int64_t n, const T* in, int64_t rs_in, T* out,
             int64_t rs_out, int flags, T* tmp) {
    const bool lg = (flags & kSoftmaxLog) != 0;
    const bool stream = (flags & kSoftmaxStream) != 0;
    const T nan = T(NAN);
    const bool cached = n * (int64_t)sizeof(T) <= kRowCachedBytes;
    for (int64_t r = 0; r < rows; ++r) {
        const T* x = in + r * rs_in;
        T* y = out + r * rs_out;
        if (n == 0) continue;
        if (!cached) {
            T m, s;
            bool bad;
            sm_row_online_stats(x, n, &m, &s, &bad);
            if (bad) {
                sm_fill(y, n, nan);
            } else if (lg) {
                sm_row_final<T, 2>(x, n, m, std::log(s), y, stream);
            } else {
                sm_row_final<T, 1>(x, n, m, T(1) / s, y, stream);
            }
            continue;
        }
        const T m = sm_row_max(x, n);
        // The next row, prefetched during the exp pass (rows of this call
        // only; the hardware prefetcher covers short sequential rows).
        const T* pf = r + 1 < rows && rs_in != 0 ? x + rs_in : nullptr;
        T dsum;
        if (lg) {
            const T s = sm_row_expsum_pieces(x, n, m, (T*)nullptr, &dsum, pf);
            if (dsum != dsum) {
                sm_fill(y, n, nan);
                continue;
            }
            sm_row_final<T, 2>(x, n, m, std::log(s), y, stream);
        } else if (stream && tmp) {
            const T s = sm_row_expsum_pieces(x, n, m, tmp, &dsum, pf);
            if (dsum != dsum) {
                sm_fill(y, n, nan);
                continue;
            }
            sm_row_final<T, 0>(tmp, n, T(0), T(1) / s, y, true);
        } else {
            const T s = sm_row_expsum_pieces(x, n, m, y, &dsum, pf);
            if (dsum != dsum) {
                sm_fill(y, n, nan);
                continue;
            }
            sm_row_scale(y, n, T(1) / s, y);
        }
    }
    if (stream) sm_fence();
}

// ------------------------------------------------------------ columns

// Up to 4 vectors of lanes, the last one holding `last` lanes.
template <class T>
struct SmGroup {
    int g;          // vectors in the group (1..4)
    int64_t last;   // lanes in the last vector (1..N)
    FT_INLINE V<T> ld(const T* p, int j) const {
        return j == g - 1 && last < V<T>::N ? V<T>::load_partial(p, last)
                                            : V<T>::load(p);
    }
    FT_INLINE void st(T* p, int j, V<T> x) const {
        if (j == g - 1 && last < V<T>::N)
            x.store_partial(p, last);
        else
            x.store(p);
    }
};

// log of every lane.
template <class T>
FT_INLINE V<T> sm_vlog_lanes(V<T> x) {
    alignas(64) T t[16];
    x.store(t);
    for (int i = 0; i < V<T>::N; ++i) t[i] = std::log(t[i]);
    return V<T>::load(t);
}

template <class T>
void sm_cols_group(int64_t n, const SmGroup<T>& G, const T* x, int64_t sx,
                   T* y, int64_t sy, bool lg) {
    using VT = V<T>;
    constexpr int N = VT::N;
    const VT ninf = VT::set1(-sm_inf<T>()), pinf = VT::set1(sm_inf<T>());
    const VT zero = VT::zero();
    VT m[4], s[4], dd[4];
    for (int j = 0; j < 4; ++j) {
        m[j] = ninf;
        s[j] = zero;
        dd[j] = zero;
    }
    const int64_t gbytes = (int64_t)G.g * N * (int64_t)sizeof(T);
    const bool cached = n * gbytes <= kColCachedBytes;
    if (cached) {
        for (int64_t i = 0; i < n; ++i)
            for (int j = 0; j < G.g; ++j)
                m[j] = vmax(m[j], G.ld(x + i * sx + j * N, j));
        // Partial sums over kSumSteps steps (see the online branch).
        for (int64_t b = 0; b < n; b += kSumSteps) {
            const int64_t e_ = n - b < kSumSteps ? n - b : kSumSteps;
            VT bs[4];
            for (int j = 0; j < G.g; ++j) bs[j] = zero;
            for (int64_t i = b; i < b + e_; ++i)
                for (int j = 0; j < G.g; ++j) {
                    VT d = G.ld(x + i * sx + j * N, j) - m[j];
                    VT e = vexp_fast(d);
                    if (!lg) G.st(y + i * sy + j * N, j, e);
                    bs[j] = bs[j] + e;
                    dd[j] = dd[j] + d;
                }
            for (int j = 0; j < G.g; ++j) s[j] = s[j] + bs[j];
        }
    } else {
        // Online: blocks of nb steps, block max then block exp-sum.
        int64_t nb = kOnlineBlockBytes / gbytes;
        if (nb < 1) nb = 1;
        for (int64_t b = 0; b < n; b += nb) {
            const int64_t e_ = n - b < nb ? n - b : nb;
            VT bm[4];
            for (int j = 0; j < G.g; ++j) bm[j] = ninf;
            for (int64_t i = b; i < b + e_; ++i)
                for (int j = 0; j < G.g; ++j)
                    bm[j] = vmax(bm[j], G.ld(x + i * sx + j * N, j));
            VT ms[4];
            for (int j = 0; j < G.g; ++j) {
                VT mn = vmax(m[j], bm[j]);
                s[j] = s[j] * vexp_fast(m[j] - mn);
                m[j] = mn;
                ms[j] = select(mn == ninf, zero, mn);
            }
            // A fresh partial sum per block keeps the rounding error of
            // the long sum near sqrt(n) rather than n.
            VT bs[4];
            for (int j = 0; j < G.g; ++j) bs[j] = zero;
            for (int64_t i = b; i < b + e_; ++i)
                for (int j = 0; j < G.g; ++j) {
                    VT d = G.ld(x + i * sx + j * N, j) - ms[j];
                    bs[j] = bs[j] + vexp_fast(d);
                    dd[j] = dd[j] + d;
                }
            for (int j = 0; j < G.g; ++j) s[j] = s[j] + bs[j];
        }
    }
    // Per lane: NaN rows, then 1/s (softmax) or log s (log_softmax).
    VT c[4];
    const VT vnan = VT::set1(T(NAN));
    for (int j = 0; j < G.g; ++j) {
        M<T> bad = visnan(dd[j]) | (m[j] == pinf) | (m[j] == ninf);
        VT v = lg ? sm_vlog_lanes(s[j]) : VT::set1(T(1)) / s[j];
        c[j] = select(bad, vnan, v);
    }
    if (lg) {
        for (int64_t i = 0; i < n; ++i)
            for (int j = 0; j < G.g; ++j)
                G.st(y + i * sy + j * N, j,
                     (G.ld(x + i * sx + j * N, j) - m[j]) - c[j]);
    } else if (cached) {
        for (int64_t i = 0; i < n; ++i)
            for (int j = 0; j < G.g; ++j)
                G.st(y + i * sy + j * N, j, G.ld(y + i * sy + j * N, j) * c[j]);
    } else {
        for (int64_t i = 0; i < n; ++i)
            for (int j = 0; j < G.g; ++j) {
                VT e = vexp_fast(G.ld(x + i * sx + j * N, j) - m[j]);
                G.st(y + i * sy + j * N, j, e * c[j]);
            }
    }
}

template <class T>
void sm_cols(int64_t n, int64_t w, const T* in, int64_t sn_in, T* out,
             int64_t sn_out, int flags) {
    constexpr int N = V<T>::N;
    const bool lg = (flags & kSoftmaxLog) != 0;
    for (int64_t j0 = 0; j0 < w; j0 += 4 * N) {
        const int64_t lanes = w - j0 < 4 * N ? w - j0 : 4 * N;
        SmGroup<T> G;
        G.g = (int)((lanes + N - 1) / N);
        G.last = lanes - (int64_t)(G.g - 1) * N;
        sm_cols_group(n, G, in + j0, sn_in, out + j0, sn_out, lg);
    }
}

void sm_rows_f32(int64_t rows, int64_t n, const float* in, int64_t rs_in,
                 float* out, int64_t rs_out, int flags, float* tmp) {
    sm_rows<float>(rows, n, in, rs_in, out, rs_out, flags, tmp);
}
void sm_rows_f64(int64_t rows, int64_t n, const double* in, int64_t rs_in,
                 double* out, int64_t rs_out, int flags, double* tmp) {
    sm_rows<double>(rows, n, in, rs_in, out, rs_out, flags, tmp);
}
void sm_cols_f32(int64_t n, int64_t w, const float* in, int64_t sn_in,
                 float* out, int64_t sn_out, int flags) {
    sm_cols<float>(n, w, in, sn_in, out, sn_out, flags);
}
void sm_cols_f64(int64_t n, int64_t w, const double* in, int64_t sn_in,
                 double* out, int64_t sn_out, int flags) {
    sm_cols<double>(n, w, in, sn_in, out, sn_out, flags);
}

}  // namespace

const SoftmaxKernels& softmax_kernels() {
    static const SoftmaxKernels k = {sm_rows_f32, sm_rows_f64, sm_cols_f32,
                                     sm_cols_f64, kRowCachedBytes};
    return k;
}

}  // namespace FT_ISA
}  // namespace ft
