// Reduction kernels: sum, prod, max, min, argmax, argmin, any, all and the
// second pass of var, over a planned RedPlan (kernels/ew_table.h).
//
// Two layouts:
//   1-D   the reduced dims end in the input's innermost run: each kept
//         element reduces runs of the last reduced dim (stride 1 runs are
//         vectorised; other strides are gathered in kBlockR blocks).
//   rows  the innermost kept dim is contiguous (a non-inner axis of a
//         C-contiguous array): kept columns are processed kColChunk at a
//         time; every reduced position adds one contiguous row segment
//         into a vector scratch (L1-resident), flushed every kRowBlock rows
//         into the kept elements' accumulators.  No transposing copy.
//         Only sum, mean, var, max and min of floats have this vector
//         path; prod, argmax, argmin, any, all and every integer
//         reduction walk the same rows with a scalar step per element.
//
// Float sums (formula sum x, or sum (x - c)**2 for var): 8 vector
// accumulators take 8 steps each per block of 64*N elements; the block is
// added up in a tree and handed to a cascade (a binary counter of partial
// sums), so the error bound grows like (8 + log2 N + log2(n / 64N)) eps,
// the same order as NumPy's pairwise sum; float32 partial sums are held in
// double.  In rows mode each lane accumulates kRowBlock rows in T before
// the flush into double.
//
// Register budget (AVX2, float): 8 accumulators + 1 load + 1 centre.
//
// NaN: max/min propagate NaN; argmax/argmin return the first NaN's index,
// as NumPy does.  Ties resolve to the first index.
//
// Integer sums and products wrap modulo 2**64 (the op layer casts to
// int64/uint64 first, as NumPy does); any/all test x != 0.
#include <limits>
#include <type_traits>

#include "core/simd.h"
#include "kernels/ew_table.h"

namespace ft {
namespace FT_ISA {
namespace {

constexpr int64_t kBlockR = 256;
constexpr int64_t kColChunk = 1024;
constexpr int64_t kRowBlock = 64;

// Binary-counter cascade of partial sums: level k holds the sum of 2**k
// pieces, so rounding error grows with log2 of the number of pieces.
struct Cascade {
    double lv[64];
    uint64_t cnt = 0;
    FT_INLINE void add(double x) {
        int k = 0;
        while ((cnt >> k) & 1) {
            x += lv[k];
            ++k;
        }
        lv[k] = x;
        ++cnt;
    }
    FT_INLINE double total() const {
        double t = 0;
        for (int k = 0; k < 64; ++k)
            if ((cnt >> k) & 1) t += lv[k];
        return t;
    }
};

template <class T>
FT_INLINE bool any_lane(M<T> m) {
    return reduce_max(select(m, V<T>::set1(T(1)), V<T>::zero())) > T(0);
}

template <class T>
FT_INLINE bool is_nan(T x) { return x != x; }

// ------------------------------------------------------------ policies
//
// Each policy: init(acc), step(acc, x, r, c) for one element at flat
// reduced index r (c: var's centre), and run(p, n, s, r0, acc, c) for a
// 1-D run.  The default run() loops over step().

template <class T, class P>
FT_INLINE void run_steps(const T* p, int64_t n, int64_t s, int64_t r0,
                         RedAcc& a, double c) {
    if (s == 1) {
        for (int64_t i = 0; i < n; ++i) P::step(a, p[i], r0 + i, c);
    } else {
        for (int64_t i = 0; i < n; ++i) P::step(a, p[i * s], r0 + i, c);
    }
}

// Integer (and bool) policies; the accumulator is acc.u for sums and
// products (wrap-around), acc.s / acc.u for signed / unsigned extrema.
template <class T>
struct ISum {
    static FT_INLINE void init(RedAcc& a) { a.u = 0; }
    static FT_INLINE void step(RedAcc& a, T x, int64_t, double) {
        a.u += uint64_t(x);
    }
    static void run(const T* p, int64_t n, int64_t s, int64_t, RedAcc& a,
                    double) {
        uint64_t t = 0;
        if (s == 1) {
            for (int64_t i = 0; i < n; ++i) t += uint64_t(p[i]);
        } else {
            for (int64_t i = 0; i < n; ++i) t += uint64_t(p[i * s]);
        }
        a.u += t;
    }
};
template <class T>
struct IProd {
    static FT_INLINE void init(RedAcc& a) { a.u = 1; }
    static FT_INLINE void step(RedAcc& a, T x, int64_t, double) {
        a.u *= uint64_t(x);
    }
    static void run(const T* p, int64_t n, int64_t s, int64_t r0, RedAcc& a,
                    double c) {
        run_steps<T, IProd>(p, n, s, r0, a, c);
    }
};
template <class T, bool kMax>
struct IExt {
    static constexpr bool kSigned = std::is_signed<T>::value;
    static FT_INLINE T get(const RedAcc& a) {
        return kSigned ? T(a.s) : T(a.u);
    }
    static FT_INLINE void put(RedAcc& a, T x) {
        if (kSigned) a.s = int64_t(x); else a.u = uint64_t(x);
    }
    static FT_INLINE void init(RedAcc& a) {
        put(a, kMax ? std::numeric_limits<T>::min()
                    : std::numeric_limits<T>::max());
    }
    static FT_INLINE void step(RedAcc& a, T x, int64_t, double) {
        T m = get(a);
        put(a, kMax ? (x > m ? x : m) : (x < m ? x : m));
    }
    static void run(const T* p, int64_t n, int64_t s, int64_t, RedAcc& a,
                    double) {
        T m = get(a);
        if (s == 1) {
            for (int64_t i = 0; i < n; ++i)
                m = kMax ? (p[i] > m ? p[i] : m) : (p[i] < m ? p[i] : m);
        } else {
            for (int64_t i = 0; i < n; ++i) {
                T x = p[i * s];
                m = kMax ? (x > m ? x : m) : (x < m ? x : m);
            }
        }
        put(a, m);
    }
};
// argmax/argmin for integers: acc.idx = -1 until the first element.
template <class T, bool kMax>
struct IArg {
    using E = IExt<T, kMax>;
    static FT_INLINE void init(RedAcc& a) {
        E::init(a);
        a.idx = -1;
    }
    static FT_INLINE void step(RedAcc& a, T x, int64_t r, double) {
        T m = E::get(a);
        if (a.idx < 0 || (kMax ? x > m : x < m)) {
            E::put(a, x);
            a.idx = r;
        }
    }
    static void run(const T* p, int64_t n, int64_t s, int64_t r0, RedAcc& a,
                    double c) {
        run_steps<T, IArg>(p, n, s, r0, a, c);
    }
};
template <class T, bool kAny>
struct ILogic {
    static FT_INLINE void init(RedAcc& a) { a.s = kAny ? 0 : 1; }
    static FT_INLINE void step(RedAcc& a, T x, int64_t, double) {
        if (kAny) a.s |= (x != T(0)); else a.s &= (x != T(0));
    }
    static void run(const T* p, int64_t n, int64_t s, int64_t, RedAcc& a,
                    double) {
        // Blocks without branches inside, early exit between blocks.
        for (int64_t i = 0; i < n; i += kBlockR) {
            if (kAny ? a.s != 0 : a.s == 0) return;
            int64_t m = n - i < kBlockR ? n - i : kBlockR;
            int hit = kAny ? 0 : 1;
            for (int64_t j = 0; j < m; ++j) {
                bool nz = p[(i + j) * s] != T(0);
                if (kAny) hit |= nz; else hit &= nz;
            }
            a.s = hit;
        }
    }
};

// ------------------------------------------------------------ float

template <class T, bool kSq>
double fsum_contig(const T* p, int64_t n, T c) {
    using VT = V<T>;
    constexpr int N = VT::N;
    constexpr int64_t B = 64 * N;
    const VT cv = VT::set1(c);
    Cascade cs;
    int64_t i = 0;
    for (; i + B <= n; i += B) {
        VT a[8];
        for (int u = 0; u < 8; ++u) a[u] = VT::zero();
        for (int64_t j = i; j < i + B; j += 8 * N) {
            for (int u = 0; u < 8; ++u) {
                VT x = VT::load(p + j + u * N);
                if (kSq) {
                    VT d = x - cv;
                    a[u] = vfma(d, d, a[u]);
                } else {
                    a[u] = a[u] + x;
                }
            }
        }
        VT s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
        cs.add(double(reduce_add(s)));
    }
    VT a = VT::zero();
    for (; i + N <= n; i += N) {
        VT x = VT::load(p + i);
        if (kSq) {
            VT d = x - cv;
            a = vfma(d, d, a);
        } else {
            a = a + x;
        }
    }
    cs.add(double(reduce_add(a)));
    double t = 0;
    for (; i < n; ++i) {
        double d = kSq ? double(p[i]) - double(c) : double(p[i]);
        t += kSq ? d * d : d;
    }
    cs.add(t);
    return cs.total();
}

// Sum (kSq false) or var's sum of squared deviations (kSq true).
template <class T, bool kSq>
struct FSum {
    static FT_INLINE void init(RedAcc& a) { a.f = 0; }
    static FT_INLINE void step(RedAcc& a, T x, int64_t, double c) {
        if (kSq) {
            T d = T(x - T(c));
            a.f += double(d * d);
        } else {
            a.f += double(x);
        }
    }
    static void run(const T* p, int64_t n, int64_t s, int64_t, RedAcc& a,
                    double c) {
        if (s == 1) {
            a.f += fsum_contig<T, kSq>(p, n, T(c));
            return;
        }
        alignas(64) T buf[kBlockR];
        for (int64_t i = 0; i < n; i += kBlockR) {
            int64_t m = n - i < kBlockR ? n - i : kBlockR;
            for (int64_t j = 0; j < m; ++j) buf[j] = p[(i + j) * s];
            a.f += fsum_contig<T, kSq>(buf, m, T(c));
        }
    }
    // Rows mode: one vector step and the flush of a scratch lane.
    static FT_INLINE V<T> vinit() { return V<T>::zero(); }
    static FT_INLINE V<T> vstep(V<T> acc, V<T> x, V<T> c) {
        if (kSq) {
            V<T> d = x - c;
            return vfma(d, d, acc);
        }
        return acc + x;
    }
    static FT_INLINE void flush(RedAcc& a, T v) { a.f += double(v); }
};

template <class T>
struct FProd {
    static FT_INLINE void init(RedAcc& a) { a.f = 1; }
    static FT_INLINE void step(RedAcc& a, T x, int64_t, double) {
        a.f = double(T(T(a.f) * x));
    }
    static void run(const T* p, int64_t n, int64_t s, int64_t r0, RedAcc& a,
                    double c) {
        using VT = V<T>;
        constexpr int N = VT::N;
        if (s != 1 || n < 4 * N) return run_steps<T, FProd>(p, n, s, r0, a, c);
        VT q0 = VT::set1(T(1)), q1 = q0;
        int64_t i = 0;
        for (; i + 2 * N <= n; i += 2 * N) {
            q0 = q0 * VT::load(p + i);
            q1 = q1 * VT::load(p + i + N);
        }
        alignas(64) T lanes[N];
        (q0 * q1).store(lanes);
        T t = T(a.f);
        for (int j = 0; j < N; ++j) t *= lanes[j];
        for (; i < n; ++i) t *= p[i];
        a.f = double(t);
    }
};

// max/min with NaN propagation.  Values live in acc.f (exact for float).
template <class T, bool kMax>
struct FExt {
    static FT_INLINE void init(RedAcc& a) {
        a.f = kMax ? -std::numeric_limits<double>::infinity()
                   : std::numeric_limits<double>::infinity();
    }
    static FT_INLINE void combine(RedAcc& a, double v) {
        if (is_nan(a.f)) return;
        if (is_nan(v) || (kMax ? v > a.f : v < a.f)) a.f = v;
    }
    static FT_INLINE void step(RedAcc& a, T x, int64_t, double) {
        combine(a, double(x));
    }
    // Extremum of a contiguous run; *has_nan tells whether a NaN occurred.
    static T contig(const T* p, int64_t n, bool* has_nan) {
        using VT = V<T>;
        constexpr int N = VT::N;
        const T init = kMax ? -std::numeric_limits<T>::infinity()
                            : std::numeric_limits<T>::infinity();
        VT m0 = VT::set1(init), m1 = m0, m2 = m0, m3 = m0;
        M<T> nan = visnan(m0);
        int64_t i = 0;
        auto upd = [&](VT m, VT x) { return kMax ? vmax(m, x) : vmin(m, x); };
        for (; i + 4 * N <= n; i += 4 * N) {
            VT x0 = VT::load(p + i), x1 = VT::load(p + i + N);
            VT x2 = VT::load(p + i + 2 * N), x3 = VT::load(p + i + 3 * N);
            nan = nan | (visnan(x0) | visnan(x1)) | (visnan(x2) | visnan(x3));
            m0 = upd(m0, x0);
            m1 = upd(m1, x1);
            m2 = upd(m2, x2);
            m3 = upd(m3, x3);
        }
        for (; i + N <= n; i += N) {
            VT x = VT::load(p + i);
            nan = nan | visnan(x);
            m0 = upd(m0, x);
        }
        VT m = upd(upd(m0, m1), upd(m2, m3));
        T r = kMax ? reduce_max(m) : reduce_min(m);
        bool hn = any_lane<T>(nan);
        for (; i < n; ++i) {
            T x = p[i];
            if (is_nan(x)) hn = true;
            else if (kMax ? x > r : x < r) r = x;
        }
        *has_nan = hn;
        return r;
    }
    static void run(const T* p, int64_t n, int64_t s, int64_t r0, RedAcc& a,
                    double c) {
        if (s != 1) {
            alignas(64) T buf[kBlockR];
            for (int64_t i = 0; i < n; i += kBlockR) {
                int64_t m = n - i < kBlockR ? n - i : kBlockR;
                for (int64_t j = 0; j < m; ++j) buf[j] = p[(i + j) * s];
                run(buf, m, 1, r0 + i, a, c);
            }
            return;
        }
        bool hn;
        T r = contig(p, n, &hn);
        combine(a, hn ? double(std::numeric_limits<T>::quiet_NaN())
                      : double(r));
    }
    static FT_INLINE V<T> vinit() {
        return V<T>::set1(kMax ? -std::numeric_limits<T>::infinity()
                               : std::numeric_limits<T>::infinity());
    }
    // NaN in acc stays; NaN in x enters (the instructions return x then).
    static FT_INLINE V<T> vstep(V<T> acc, V<T> x, V<T>) {
        return select(visnan(acc), acc, kMax ? vmax(acc, x) : vmin(acc, x));
    }
    static FT_INLINE void flush(RedAcc& a, T v) { combine(a, double(v)); }
};

// argmax/argmin for floats: the extremum of the run first (vectorised),
// then the first index holding it (or the first NaN).
template <class T, bool kMax>
struct FArg {
    static FT_INLINE void init(RedAcc& a) {
        FExt<T, kMax>::init(a);
        a.idx = -1;
    }
    static FT_INLINE void step(RedAcc& a, T x, int64_t r, double) {
        if (a.idx >= 0 && is_nan(a.f)) return;
        double v = double(x);
        if (a.idx < 0 || is_nan(v) || (kMax ? v > a.f : v < a.f)) {
            a.f = v;
            a.idx = r;
        }
    }
    static void run(const T* p, int64_t n, int64_t s, int64_t r0, RedAcc& a,
                    double c) {
        if (n <= 0 || (a.idx >= 0 && is_nan(a.f))) return;
        if (s != 1) {
            alignas(64) T buf[kBlockR];
            for (int64_t i = 0; i < n; i += kBlockR) {
                int64_t m = n - i < kBlockR ? n - i : kBlockR;
                for (int64_t j = 0; j < m; ++j) buf[j] = p[(i + j) * s];
                run(buf, m, 1, r0 + i, a, c);
            }
            return;
        }
        bool hn;
        T r = FExt<T, kMax>::contig(p, n, &hn);
        int64_t i = 0;
        if (hn) {
            while (!is_nan(p[i])) ++i;
        } else {
            while (p[i] != r) ++i;
        }
        step(a, p[i], r0 + i, c);
    }
};

// ------------------------------------------------------------ drivers

// Offset (elements) of kept element k.
FT_INLINE int64_t kept_offset(const RedPlan& pl, int64_t k) {
    int64_t off = 0;
    for (int d = pl.nk - 1; d >= 0; --d) {
        int64_t q = k / pl.kshape[d];
        off += (k - q * pl.kshape[d]) * pl.kstride[d];
        k = q;
    }
    return off;
}

// Visits every reduced position but the innermost dim: f(offset, r_flat)
// where r_flat is the flat index of the run's first element.
template <class F>
FT_INLINE void for_each_run(const RedPlan& pl, F&& f) {
    const int nr = pl.nr;
    const int64_t inner = nr > 0 ? pl.rshape[nr - 1] : 1;
    int64_t idx[kEwMaxDims] = {0};
    int64_t off = 0;
    const int64_t nruns = pl.rcount / (inner > 0 ? inner : 1);
    for (int64_t run = 0; run < nruns; ++run) {
        f(off, run * inner);
        for (int d = nr - 2; d >= 0; --d) {
            off += pl.rstride[d];
            if (++idx[d] < pl.rshape[d]) break;
            off -= pl.rstride[d] * pl.rshape[d];
            idx[d] = 0;
        }
    }
}

template <class T, class P>
void red_1d(const RedPlan& pl, const char* in, RedAcc* acc, int64_t k0,
            int64_t k1) {
    const T* base = (const T*)in;
    const int64_t inner = pl.nr > 0 ? pl.rshape[pl.nr - 1] : 1;
    const int64_t s = pl.nr > 0 ? pl.rstride[pl.nr - 1] : 1;
    for (int64_t k = k0; k < k1; ++k) {
        const T* p = base + kept_offset(pl, k);
        const double c = pl.center ? pl.center[k].f : 0.0;
        RedAcc& a = acc[k];
        P::init(a);
        if (pl.rcount == 0) continue;
        for_each_run(pl, [&](int64_t off, int64_t r0) {
            P::run(p + off, inner, s, r0, a, c);
        });
    }
}

// Rows mode, scalar steps: every reduced position streams one contiguous
// segment of kept columns.
template <class T, class P>
void rows_scalar(const RedPlan& pl, const T* p, RedAcc* acc, int64_t ncols) {
    for (int64_t j = 0; j < ncols; ++j) P::init(acc[j]);
    const int64_t inner = pl.rshape[pl.nr - 1];
    const int64_t s = pl.rstride[pl.nr - 1];
    for_each_run(pl, [&](int64_t off, int64_t r0) {
        for (int64_t i = 0; i < inner; ++i) {
            const T* row = p + off + i * s;
            for (int64_t j = 0; j < ncols; ++j)
                P::step(acc[j], row[j], r0 + i, pl.center ? pl.center[j].f : 0);
        }
    });
}

// Rows mode, vector steps into an L1 scratch of kColChunk lanes.
template <class T, class P>
void rows_vector(const RedPlan& pl, const T* p, RedAcc* acc, int64_t ncols) {
    using VT = V<T>;
    constexpr int N = VT::N;
    alignas(64) T tmp[kColChunk];
    alignas(64) T ctr[kColChunk];
    const int64_t inner = pl.rshape[pl.nr - 1];
    const int64_t s = pl.rstride[pl.nr - 1];
    for (int64_t c0 = 0; c0 < ncols; c0 += kColChunk) {
        const int64_t w = ncols - c0 < kColChunk ? ncols - c0 : kColChunk;
        const int64_t wv = w / N * N;
        RedAcc* a = acc + c0;
        for (int64_t j = 0; j < w; ++j) {
            P::init(a[j]);
            ctr[j] = pl.center ? T(pl.center[c0 + j].f) : T(0);
        }
        int64_t in_block = 0;
        alignas(64) T iv[N];
        P::vinit().store(iv);
        auto reset = [&]() {
            for (int64_t j = 0; j < wv; j += N) P::vinit().store(tmp + j);
            for (int64_t j = wv; j < w; ++j) tmp[j] = iv[0];
        };
        auto flush = [&]() {
            for (int64_t j = 0; j < w; ++j) P::flush(a[j], tmp[j]);
        };
        reset();
        for_each_run(pl, [&](int64_t off, int64_t) {
            for (int64_t i = 0; i < inner; ++i) {
                const T* row = p + off + i * s + c0;
                int64_t j = 0;
                for (; j < wv; j += N) {
                    P::vstep(VT::load(tmp + j), VT::load(row + j),
                             VT::load(ctr + j))
                        .store(tmp + j);
                }
                for (; j < w; ++j) {
                    P::vstep(VT::set1(tmp[j]), VT::set1(row[j]),
                             VT::set1(ctr[j]))
                        .store_partial(tmp + j, 1);
                }
                if (++in_block == kRowBlock) {
                    flush();
                    reset();
                    in_block = 0;
                }
            }
        });
        if (in_block) flush();
    }
}

template <class T, class P, bool kVec>
void red_rows(const RedPlan& pl, const char* in, RedAcc* acc, int64_t k0,
              int64_t k1) {
    const T* base = (const T*)in;
    const int64_t w = pl.kshape[pl.nk - 1];
    int64_t k = k0;
    while (k < k1) {
        const int64_t col = k % w;
        const int64_t ncols = (w - col) < (k1 - k) ? (w - col) : (k1 - k);
        const T* p = base + kept_offset(pl, k);
        RedPlan sub = pl;
        if (pl.center) sub.center = pl.center + k;
        if constexpr (kVec) rows_vector<T, P>(sub, p, acc + k, ncols);
        else rows_scalar<T, P>(sub, p, acc + k, ncols);
        k += ncols;
    }
}

template <class T, class P, bool kVec>
void red_entry(const RedPlan& pl, const char* in, RedAcc* acc, int64_t k0,
               int64_t k1) {
    if (pl.rows && pl.rcount > 0)
        red_rows<T, P, kVec>(pl, in, acc, k0, k1);
    else
        red_1d<T, P>(pl, in, acc, k0, k1);
}

template <class T>
void fill_float_reduce(EwKernels& k, DType dt) {
    auto& r = k.reduce;
    r[int(RedOp::sum)][dt] = red_entry<T, FSum<T, false>, true>;
    r[int(RedOp::mean)][dt] = red_entry<T, FSum<T, false>, true>;
    r[int(RedOp::var)][dt] = red_entry<T, FSum<T, true>, true>;
    r[int(RedOp::prod)][dt] = red_entry<T, FProd<T>, false>;
    r[int(RedOp::max)][dt] = red_entry<T, FExt<T, true>, true>;
    r[int(RedOp::min)][dt] = red_entry<T, FExt<T, false>, true>;
    r[int(RedOp::argmax)][dt] = red_entry<T, FArg<T, true>, false>;
    r[int(RedOp::argmin)][dt] = red_entry<T, FArg<T, false>, false>;
    r[int(RedOp::any)][dt] = red_entry<T, ILogic<T, true>, false>;
    r[int(RedOp::all)][dt] = red_entry<T, ILogic<T, false>, false>;
}

template <class T>
void fill_int_reduce(EwKernels& k, DType dt) {
    auto& r = k.reduce;
    r[int(RedOp::sum)][dt] = red_entry<T, ISum<T>, false>;
    r[int(RedOp::prod)][dt] = red_entry<T, IProd<T>, false>;
    r[int(RedOp::max)][dt] = red_entry<T, IExt<T, true>, false>;
    r[int(RedOp::min)][dt] = red_entry<T, IExt<T, false>, false>;
    r[int(RedOp::argmax)][dt] = red_entry<T, IArg<T, true>, false>;
    r[int(RedOp::argmin)][dt] = red_entry<T, IArg<T, false>, false>;
    r[int(RedOp::any)][dt] = red_entry<T, ILogic<T, true>, false>;
    r[int(RedOp::all)][dt] = red_entry<T, ILogic<T, false>, false>;
}

}  // namespace

void fill_reduce_table(EwKernels& k) {
    fill_float_reduce<float>(k, kFloat32);
    fill_float_reduce<double>(k, kFloat64);
    fill_int_reduce<int8_t>(k, kInt8);
    fill_int_reduce<int16_t>(k, kInt16);
    fill_int_reduce<int32_t>(k, kInt32);
    fill_int_reduce<int64_t>(k, kInt64);
    fill_int_reduce<uint8_t>(k, kUInt8);
    fill_int_reduce<uint16_t>(k, kUInt16);
    fill_int_reduce<uint32_t>(k, kUInt32);
    fill_int_reduce<uint64_t>(k, kUInt64);
    // bool is 0/1 bytes: its extrema, arg-extrema and logic are uint8's.
    fill_int_reduce<uint8_t>(k, kBool);
    k.reduce[int(RedOp::sum)][kBool] = nullptr;
    k.reduce[int(RedOp::prod)][kBool] = nullptr;
}

}  // namespace FT_ISA
}  // namespace ft
