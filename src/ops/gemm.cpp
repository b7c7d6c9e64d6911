// GEMM drivers: cache blocking, packing buffers, threading, the choice
// between the packed, no-pack and GEMV paths, batching, integer loops.
//
// Shapes: C is m x n, A is m x k, B is k x n; strides in elements.
//
// The packed path is the Goto/BLIS loop nest (names as in BLIS):
//
//   for jc in n by NC:            B panel kc x nc        -> L3, shared
//     for pc in k by KC:          pack B once per (jc, pc), all threads
//       for ic in m by MC:        A block mc x kc        -> L2, per thread
//         pack A
//         for jr in nc by NR:     B micro-panel kc x NR  -> L1
//           for ir in mc by MR:   micro-kernel MR x NR   -> registers
//
// The ic loop is the one split over threads: each core packs its own A
// block into its own L2 and both read the shared B panel.  When m fits in
// one A block the jr loop is split instead.  Chunks are handed out
// dynamically (core/parallel.h).  Threads never split k, and kc depends on
// k alone, so every C element is computed by the same chain of operations
// whatever the thread count: results are bitwise identical.
//
// Blocks are derived from the cache sizes read at run time (sysfs, then
// sysconf) and the fractions in the ISA's blocking table:
//   KC = l1_frac * L1 / (NR * sizeof(T)), MC = l2_frac * L2 / (KC *
//   sizeof(T)), NC = l3_frac * L3 / (KC * sizeof(T)),
// then balanced so that the last block is not a sliver.
// FASTTENSOR_GEMM_KC / _MC / _NC override them (for tuning).

#include "ops/gemm.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "core/parallel.h"
#include "core/pool.h"
#include "kernels/gemm_kernels.h"

namespace ft {

namespace {

// ------------------------------------------------------------ cache sizes

struct CacheSizes {
    int64_t l1, l2, l3;
};

int64_t read_sysfs_cache(int level) {
    char path[96];
    for (int idx = 0; idx < 8; ++idx) {
        std::snprintf(path, sizeof path,
                      "/sys/devices/system/cpu/cpu0/cache/index%d/level", idx);
        FILE* f = std::fopen(path, "r");
        if (!f) return 0;
        int lv = 0;
        const int got = std::fscanf(f, "%d", &lv);
        std::fclose(f);
        if (got != 1 || lv != level) continue;
        std::snprintf(path, sizeof path,
                      "/sys/devices/system/cpu/cpu0/cache/index%d/type", idx);
        f = std::fopen(path, "r");
        char type[32] = {0};
        if (f) {
            if (std::fscanf(f, "%31s", type) != 1) type[0] = 0;
            std::fclose(f);
        }
        if (std::strcmp(type, "Instruction") == 0) continue;
        std::snprintf(path, sizeof path,
                      "/sys/devices/system/cpu/cpu0/cache/index%d/size", idx);
        f = std::fopen(path, "r");
        if (!f) return 0;
        long v = 0;
        char unit = 0;
        const int n = std::fscanf(f, "%ld%c", &v, &unit);
        std::fclose(f);
        if (n < 1 || v <= 0) return 0;
        if (unit == 'K') v *= 1024;
        else if (unit == 'M') v *= 1024 * 1024;
        return v;
    }
    return 0;
}

int64_t read_cache(int level) {
    int64_t v = read_sysfs_cache(level);
#if defined(_SC_LEVEL1_DCACHE_SIZE)
    if (v <= 0) {
        const int name = level == 1   ? _SC_LEVEL1_DCACHE_SIZE
                         : level == 2 ? _SC_LEVEL2_CACHE_SIZE
                                      : _SC_LEVEL3_CACHE_SIZE;
        v = sysconf(name);
    }
#endif
    return v;
}

const CacheSizes& cache_sizes() {
    static const CacheSizes cs = [] {
        CacheSizes c;
        c.l1 = read_cache(1);
        c.l2 = read_cache(2);
        c.l3 = read_cache(3);
        // Sane bounds: a misreported size must not produce absurd blocks.
        if (c.l1 < 16 * 1024 || c.l1 > 256 * 1024) c.l1 = 32 * 1024;
        if (c.l2 < 128 * 1024 || c.l2 > 8 * 1024 * 1024) c.l2 = 512 * 1024;
        if (c.l3 < c.l2 || c.l3 > 256 * 1024 * 1024) c.l3 = 8 * 1024 * 1024;
        return c;
    }();
    return cs;
}

int64_t env_int(const char* name) {
    const char* s = std::getenv(name);
    if (!s || !*s) return 0;
    const long v = std::strtol(s, nullptr, 10);
    return v > 0 ? v : 0;
}

struct Blocks {
    int64_t kc, mc, nc;
};

int64_t round_down(int64_t x, int64_t m) { return x / m * m; }
int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
int64_t ceil_div(int64_t x, int64_t m) { return (x + m - 1) / m; }
int64_t clamp64(int64_t x, int64_t lo, int64_t hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

// Overrides: set by gemm_tune (tests) or the environment (first use).
struct Tuning {
    int64_t kc, mc, nc;
    int path;
};

Tuning& tuning() {
    static Tuning t = {env_int("FASTTENSOR_GEMM_KC"),
                       env_int("FASTTENSOR_GEMM_MC"),
                       env_int("FASTTENSOR_GEMM_NC"), 0};
    return t;
}

template <class T>
Blocks cache_blocks(const GemmKernelSet<T>& ks) {
    const int64_t env_kc = tuning().kc;
    const int64_t env_mc = tuning().mc;
    const int64_t env_nc = tuning().nc;
    const CacheSizes& cs = cache_sizes();
    const int64_t sz = sizeof(T);
    Blocks b;
    b.kc = round_down(int64_t(ks.l1_frac * cs.l1) / (ks.nr * sz), 16);
    b.kc = clamp64(b.kc, 64, 1024);
    if (env_kc) b.kc = env_kc;
    b.mc = round_down(int64_t(ks.l2_frac * cs.l2) / (b.kc * sz), ks.mr);
    b.mc = clamp64(b.mc, ks.mr, 4096 / ks.mr * ks.mr);
    if (env_mc) b.mc = round_up(env_mc, ks.mr);
    b.nc = round_down(int64_t(ks.l3_frac * cs.l3) / (b.kc * sz), ks.nr);
    b.nc = clamp64(b.nc, ks.nr, 8192 / ks.nr * ks.nr);
    if (env_nc) b.nc = round_up(env_nc, ks.nr);
    return b;
}

// ------------------------------------------------------------- threading

// Products below this many flops run on one thread: measured on Zen 3, a
// 2-thread fork and join costs about as much as a 64^3 product.
constexpr double kParallelFlops = 2.0 * 72 * 72 * 72;

int thread_id() {
#if defined(FT_HAVE_OPENMP)
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// f(begin, end) over [0, n): inline on one thread, else parallel_for.
template <class F>
void run(int nt, int64_t n, int64_t grain, F&& f) {
    if (n <= 0) return;
    if (nt <= 1) {
        f(int64_t(0), n);
        return;
    }
    parallel_for(n, grain, f);
}

int threads_for(double flops) {
    if (in_parallel() || flops < kParallelFlops) return 1;
    return max_threads();
}

// RAII scratch from the pool.
struct Scratch {
    void* p = nullptr;
    size_t bytes = 0;
    explicit Scratch(size_t nbytes) : bytes(nbytes) {
        if (nbytes) p = pool_alloc(nbytes);
    }
    ~Scratch() {
        if (p) pool_free(p, bytes);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
};

// --------------------------------------------------------- float drivers

template <class T>
struct Problem {
    int64_t m, n, k;
    const T* a;
    int64_t rs_a, cs_a;
    const T* b;
    int64_t rs_b, cs_b;
    T* c;
    int64_t rs_c, cs_c;
    bool accumulate;
};

// C^T = B^T A^T: the same product with the roles of rows and columns
// swapped.  Used to give C (or a GEMV's output) unit column stride.
template <class T>
Problem<T> transposed(const Problem<T>& p) {
    Problem<T> q;
    q.m = p.n;
    q.n = p.m;
    q.k = p.k;
    q.a = p.b;
    q.rs_a = p.cs_b;
    q.cs_a = p.rs_b;
    q.b = p.a;
    q.rs_b = p.cs_a;
    q.cs_b = p.rs_a;
    q.c = p.c;
    q.rs_c = p.cs_c;
    q.cs_c = p.rs_c;
    q.accumulate = p.accumulate;
    return q;
}

template <class T>
void zero_or_keep(const Problem<T>& p) {
    if (p.accumulate) return;
    for (int64_t i = 0; i < p.m; ++i)
        for (int64_t j = 0; j < p.n; ++j) p.c[i * p.rs_c + j * p.cs_c] = T(0);
}

// Copy a k x n operand into a contiguous row-major buffer.
template <class T>
void copy_rows(int64_t k, int64_t n, const T* b, int64_t rs, int64_t cs,
               T* dst) {
    for (int64_t p = 0; p < k; ++p)
        for (int64_t j = 0; j < n; ++j) dst[p * n + j] = b[p * rs + j * cs];
}

// Rows of B per partial sum in the row-form GEMV.
constexpr int64_t kGemvChunk = 256;

// m == 1: y = x^T B.
template <class T>
int gemv(const GemmKernelSet<T>& ks, const Problem<T>& p, int nt) {
    const int64_t k = p.k, n = p.n;
    if (p.cs_b == 1 && p.cs_c == 1) {
        // Row form.  Up to kGemvChunk rows: one pass, threads over column
        // ranges (each y[j] is the same chain over p whatever range it
        // falls in).  Longer: k is cut into fixed chunks of kGemvChunk
        // rows, each streamed in full (contiguous when B is) into its own
        // partial y, and the partials are added in chunk order.  The
        // chunking depends on k alone, so the result does not depend on
        // the thread count.
        const int64_t nch = ceil_div(k, kGemvChunk);
        T* part = nullptr;
        Scratch ps(nch > 1 ? size_t(nch) * n * sizeof(T) : 0);
        if (nch > 1) {
            if (!ps.p) return kErrNoMemory;
            part = static_cast<T*>(ps.p);
            run(nt, nch, 1, [&](int64_t b, int64_t e) {
                for (int64_t c = b; c < e; ++c) {
                    const int64_t k0 = c * kGemvChunk;
                    const int64_t kk =
                        kGemvChunk < k - k0 ? kGemvChunk : k - k0;
                    ks.gemv_rows(kk, n, p.a + k0 * p.cs_a, p.cs_a,
                                 p.b + k0 * p.rs_b, p.rs_b, part + c * n,
                                 false);
                }
            });
        }
        static const T one = T(1);
        const int64_t grain = round_up(ceil_div(n, 4 * nt), 64);
        run(nt, ceil_div(n, grain), 1, [&](int64_t b, int64_t e) {
            const int64_t j0 = b * grain, j1 = e * grain < n ? e * grain : n;
            if (part)  // y (+)= 1 * part[0] + 1 * part[1] + ..., in order
                ks.gemv_rows(nch, j1 - j0, &one, 0, part + j0, n, p.c + j0,
                             p.accumulate);
            else
                ks.gemv_rows(k, j1 - j0, p.a, p.cs_a, p.b + j0, p.rs_b,
                             p.c + j0, p.accumulate);
        });
        return kOk;
    }
    if (p.rs_b == 1) {
        // Dot form: column j of B is contiguous along k.
        Scratch xs(p.cs_a == 1 ? 0 : size_t(k) * sizeof(T));
        if (p.cs_a != 1 && !xs.p) return kErrNoMemory;
        const T* x = p.a;
        if (p.cs_a != 1) {
            T* xc = static_cast<T*>(xs.p);
            for (int64_t i = 0; i < k; ++i) xc[i] = p.a[i * p.cs_a];
            x = xc;
        }
        const int64_t grain = round_up(ceil_div(n, 4 * nt), 4);
        run(nt, ceil_div(n, grain), 1, [&](int64_t b, int64_t e) {
            const int64_t j0 = b * grain, j1 = e * grain < n ? e * grain : n;
            ks.gemv_dots(j1 - j0, k, p.b + j0 * p.cs_b, p.cs_b, x, 1,
                         p.c + j0 * p.cs_c, p.cs_c, p.accumulate);
        });
        return kOk;
    }
    // Neither layout: copy B (or use a contiguous y) and take the row form.
    const bool copy_b = p.cs_b != 1;
    Scratch bs(copy_b ? size_t(k) * n * sizeof(T) : 0);
    Scratch ys(p.cs_c != 1 ? size_t(n) * sizeof(T) : 0);
    if ((copy_b && !bs.p) || (p.cs_c != 1 && !ys.p)) return kErrNoMemory;
    const T* bm = p.b;
    int64_t rs_b = p.rs_b;
    if (copy_b) {
        copy_rows(k, n, p.b, p.rs_b, p.cs_b, static_cast<T*>(bs.p));
        bm = static_cast<const T*>(bs.p);
        rs_b = n;
    }
    T* y = p.cs_c == 1 ? p.c : static_cast<T*>(ys.p);
    if (p.cs_c != 1 && p.accumulate)
        for (int64_t j = 0; j < n; ++j) y[j] = p.c[j * p.cs_c];
    ks.gemv_rows(k, n, p.a, p.cs_a, bm, rs_b, y, p.accumulate);
    if (p.cs_c != 1)
        for (int64_t j = 0; j < n; ++j) p.c[j * p.cs_c] = y[j];
    return kOk;
}

// No packing: B rows and C rows unit-stride (B is copied first if not).
template <class T>
int small_path(const GemmKernelSet<T>& ks, const Problem<T>& p, int nt) {
    const T* b = p.b;
    int64_t rs_b = p.rs_b;
    Scratch bs(p.cs_b != 1 ? size_t(p.k) * p.n * sizeof(T) : 0);
    if (p.cs_b != 1) {
        if (!bs.p) return kErrNoMemory;
        copy_rows(p.k, p.n, p.b, p.rs_b, p.cs_b, static_cast<T*>(bs.p));
        b = static_cast<const T*>(bs.p);
        rs_b = p.n;
    }
    const int64_t mr = ks.mr, nr = ks.nr;
    const int64_t mblk = ceil_div(p.m, mr), nblk = ceil_div(p.n, nr);
    if (nt <= 1) {
        ks.small(p.m, p.n, p.k, p.a, p.rs_a, p.cs_a, b, rs_b, p.c, p.rs_c,
                 p.accumulate);
    } else if (mblk >= nblk) {
        const int64_t grain = ceil_div(mblk, 4 * nt);
        run(nt, mblk, grain, [&](int64_t b0, int64_t e0) {
            const int64_t i0 = b0 * mr, i1 = e0 * mr < p.m ? e0 * mr : p.m;
            ks.small(i1 - i0, p.n, p.k, p.a + i0 * p.rs_a, p.rs_a, p.cs_a, b,
                     rs_b, p.c + i0 * p.rs_c, p.rs_c, p.accumulate);
        });
    } else {
        const int64_t grain = ceil_div(nblk, 4 * nt);
        run(nt, nblk, grain, [&](int64_t b0, int64_t e0) {
            const int64_t j0 = b0 * nr, j1 = e0 * nr < p.n ? e0 * nr : p.n;
            ks.small(p.m, j1 - j0, p.k, p.a, p.rs_a, p.cs_a, b + j0, rs_b,
                     p.c + j0, p.rs_c, p.accumulate);
        });
    }
    return kOk;
}

template <class T>
int packed_path(const GemmKernelSet<T>& ks, const Problem<T>& p, int nt) {
    const int64_t m = p.m, n = p.n, k = p.k;
    const int64_t mr = ks.mr, nr = ks.nr;
    const Blocks bl = cache_blocks(ks);

    // Balanced blocks: kc depends on k only (it fixes the rounding), mc is
    // chosen so the number of A blocks is a multiple of the thread count.
    const int64_t kc = ceil_div(k, ceil_div(k, bl.kc));
    const int64_t nc = round_up(ceil_div(n, ceil_div(n, bl.nc)), nr);
    const bool split_jr = nt > 1 && m <= bl.mc;
    int64_t mblocks = ceil_div(m, bl.mc);
    if (nt > 1 && !split_jr) mblocks = round_up(mblocks, nt);
    const int64_t mc = round_up(ceil_div(m, mblocks), mr);

    const int nbuf = nt > 1 ? max_threads() : 1;
    const size_t a_elems = size_t(round_up(mc, mr)) * kc;
    Scratch abuf(a_elems * sizeof(T) * (split_jr ? 1 : nbuf));
    Scratch bbuf(size_t(round_up(nc, nr)) * kc * sizeof(T));
    if (!abuf.p || !bbuf.p) return kErrNoMemory;
    T* pa_all = static_cast<T*>(abuf.p);
    T* pb = static_cast<T*>(bbuf.p);

    for (int64_t jc = 0; jc < n; jc += nc) {
        const int64_t ncur = nc < n - jc ? nc : n - jc;
        const int64_t npanels = ceil_div(ncur, nr);
        for (int64_t pc = 0; pc < k; pc += kc) {
            const int64_t kcur = kc < k - pc ? kc : k - pc;
            const bool acc = p.accumulate || pc > 0;

            // Pack the kc x nc panel of B, micro-panels shared out.
            const T* bsrc = p.b + pc * p.rs_b + jc * p.cs_b;
            run(nt, npanels, ceil_div(npanels, 4 * nt),
                [&](int64_t b0, int64_t e0) {
                    const int64_t j0 = b0 * nr;
                    const int64_t j1 = e0 * nr < ncur ? e0 * nr : ncur;
                    ks.pack_b(kcur, j1 - j0, bsrc + j0 * p.cs_b, p.rs_b,
                              p.cs_b, pb + j0 * kcur);
                });

            const T* asrc = p.a + pc * p.cs_a;
            T* cblk = p.c + jc * p.cs_c;
            if (split_jr) {
                // One A block shared by all threads; split the jr loop.
                ks.pack_a(m, kcur, asrc, p.rs_a, p.cs_a, pa_all);
                run(nt, npanels, ceil_div(npanels, 4 * nt),
                    [&](int64_t b0, int64_t e0) {
                        const int64_t j0 = b0 * nr;
                        const int64_t j1 = e0 * nr < ncur ? e0 * nr : ncur;
                        ks.macro(m, j1 - j0, kcur, pa_all, pb + j0 * kcur,
                                 cblk + j0 * p.cs_c, p.rs_c, p.cs_c, acc);
                    });
            } else {
                // The ic loop over threads, one A buffer per thread.
                run(nt, ceil_div(m, mc), 1, [&](int64_t b0, int64_t e0) {
                    T* pa = pa_all + size_t(thread_id()) * a_elems;
                    for (int64_t ib = b0; ib < e0; ++ib) {
                        const int64_t i0 = ib * mc;
                        const int64_t mcur = mc < m - i0 ? mc : m - i0;
                        ks.pack_a(mcur, kcur, asrc + i0 * p.rs_a, p.rs_a,
                                  p.cs_a, pa);
                        ks.macro(mcur, ncur, kcur, pa, pb,
                                 cblk + i0 * p.rs_c, p.rs_c, p.cs_c, acc);
                    }
                });
            }
        }
    }
    return kOk;
}

// Products at or below this size (m * n * k) skip packing: the copies
// cost more than the cache reuse they buy.  Measured on Zen 3.
constexpr double kSmallMNK = 180.0 * 180.0 * 180.0;

template <class T>
int gemm_float(const GemmKernelSet<T>& ks, Problem<T> p, int nt_max) {
    if (p.m == 0 || p.n == 0) return kOk;
    if (p.k == 0) {
        zero_or_keep(p);
        return kOk;
    }
    // Prefer a C with unit column stride (row-preferring kernels).
    if (p.cs_c != 1 && p.rs_c == 1) p = transposed(p);
    // A vector times a matrix (or a matrix times a vector, transposed).
    if (p.n == 1 && p.m > 1) p = transposed(p);
    const double flops = 2.0 * p.m * p.n * p.k;
    const int nt = nt_max > 1 ? threads_for(flops) : 1;
    if (p.m == 1 && tuning().path == 0) return gemv(ks, p, nt);
    const double mnk = double(p.m) * p.n * p.k;
    const bool skinny = p.m <= 2 * ks.mr || p.k <= 32;
    const int path = tuning().path;
    if (p.cs_c == 1 && (path == 1 || (path == 0 && (mnk <= kSmallMNK ||
                                                     skinny))))
        return small_path(ks, p, nt);
    return packed_path(ks, p, nt);
}

// ------------------------------------------------------- integer loops

// Wrapping arithmetic as NumPy: multiply in an unsigned type at least as
// wide as int, so that no product overflows a signed type.
template <class U>
using Wide = typename std::conditional<(sizeof(U) < sizeof(unsigned)),
                                       unsigned, U>::type;

template <class U>
void gemm_int_rows(int64_t i0, int64_t i1, int64_t n, int64_t k, const U* a,
                   int64_t rs_a, int64_t cs_a, const U* b, int64_t rs_b,
                   int64_t cs_b, U* c, int64_t rs_c, int64_t cs_c,
                   bool accumulate) {
    for (int64_t i = i0; i < i1; ++i) {
        U* ci = c + i * rs_c;
        if (!accumulate)
            for (int64_t j = 0; j < n; ++j) ci[j * cs_c] = 0;
        for (int64_t p = 0; p < k; ++p) {
            const Wide<U> av = a[i * rs_a + p * cs_a];
            const U* bp = b + p * rs_b;
            if (cs_b == 1 && cs_c == 1) {
                for (int64_t j = 0; j < n; ++j)
                    ci[j] = U(Wide<U>(ci[j]) + av * Wide<U>(bp[j]));
            } else {
                for (int64_t j = 0; j < n; ++j)
                    ci[j * cs_c] = U(Wide<U>(ci[j * cs_c]) +
                                     av * Wide<U>(bp[j * cs_b]));
            }
        }
    }
}

void gemm_bool_rows(int64_t i0, int64_t i1, int64_t n, int64_t k,
                    const uint8_t* a, int64_t rs_a, int64_t cs_a,
                    const uint8_t* b, int64_t rs_b, int64_t cs_b, uint8_t* c,
                    int64_t rs_c, int64_t cs_c, bool accumulate) {
    for (int64_t i = i0; i < i1; ++i) {
        uint8_t* ci = c + i * rs_c;
        for (int64_t j = 0; j < n; ++j) {
            uint8_t r = accumulate ? ci[j * cs_c] != 0 : 0;
            for (int64_t p = 0; p < k && !r; ++p)
                r = a[i * rs_a + p * cs_a] != 0 && b[p * rs_b + j * cs_b] != 0;
            ci[j * cs_c] = r;
        }
    }
}

template <class U>
int gemm_int(int64_t m, int64_t n, int64_t k, const void* a, int64_t rs_a,
             int64_t cs_a, const void* b, int64_t rs_b, int64_t cs_b,
             void* c, int64_t rs_c, int64_t cs_c, bool accumulate,
             int nt_max, bool is_bool) {
    if (m == 0 || n == 0) return kOk;
    const int nt = nt_max > 1 ? threads_for(2.0 * m * n * k) : 1;
    const U* pa = static_cast<const U*>(a);
    const U* pb = static_cast<const U*>(b);
    U* pc = static_cast<U*>(c);
    run(nt, m, ceil_div(m, 4 * nt), [&](int64_t i0, int64_t i1) {
        if constexpr (sizeof(U) == 1) {
            if (is_bool) {
                gemm_bool_rows(i0, i1, n, k, pa, rs_a, cs_a, pb, rs_b, cs_b,
                               pc, rs_c, cs_c, accumulate);
                return;
            }
        }
        gemm_int_rows<U>(i0, i1, n, k, pa, rs_a, cs_a, pb, rs_b, cs_b, pc,
                         rs_c, cs_c, accumulate);
    });
    return kOk;
}

const GemmKernels& kernels() { return FT_DISPATCH(gemm_kernels)(); }

int gemm_impl(DType dt, int64_t m, int64_t n, int64_t k, const void* a,
              int64_t rs_a, int64_t cs_a, const void* b, int64_t rs_b,
              int64_t cs_b, void* c, int64_t rs_c, int64_t cs_c,
              bool accumulate, int nt_max) {
    switch (dt) {
        case kFloat32: {
            Problem<float> p{m,    n,    k,    static_cast<const float*>(a),
                             rs_a, cs_a, static_cast<const float*>(b),
                             rs_b, cs_b, static_cast<float*>(c),
                             rs_c, cs_c, accumulate};
            return gemm_float(kernels().s, p, nt_max);
        }
        case kFloat64: {
            Problem<double> p{m,    n,    k,    static_cast<const double*>(a),
                              rs_a, cs_a, static_cast<const double*>(b),
                              rs_b, cs_b, static_cast<double*>(c),
                              rs_c, cs_c, accumulate};
            return gemm_float(kernels().d, p, nt_max);
        }
#define FT_GEMM_INT(code, U, isbool)                                       \
    case code:                                                             \
        return gemm_int<U>(m, n, k, a, rs_a, cs_a, b, rs_b, cs_b, c, rs_c, \
                           cs_c, accumulate, nt_max, isbool);
        FT_GEMM_INT(kBool, uint8_t, true)
        FT_GEMM_INT(kInt8, uint8_t, false)
        FT_GEMM_INT(kUInt8, uint8_t, false)
        FT_GEMM_INT(kInt16, uint16_t, false)
        FT_GEMM_INT(kUInt16, uint16_t, false)
        FT_GEMM_INT(kInt32, uint32_t, false)
        FT_GEMM_INT(kUInt32, uint32_t, false)
        FT_GEMM_INT(kInt64, uint64_t, false)
        FT_GEMM_INT(kUInt64, uint64_t, false)
#undef FT_GEMM_INT
        default:
            return kErrDType;
    }
}

}  // namespace

int gemm(DType dt, int64_t m, int64_t n, int64_t k, const void* a,
         int64_t rs_a, int64_t cs_a, const void* b, int64_t rs_b,
         int64_t cs_b, void* c, int64_t rs_c, int64_t cs_c,
         bool accumulate) {
    return gemm_impl(dt, m, n, k, a, rs_a, cs_a, b, rs_b, cs_b, c, rs_c,
                     cs_c, accumulate, max_threads());
}

int gemm_batched(DType dt, int nbatch, const int64_t* batch_shape,
                 const int64_t* bsa, const int64_t* bsb, const int64_t* bsc,
                 int64_t m, int64_t n, int64_t k, const void* a,
                 int64_t rs_a, int64_t cs_a, const void* b, int64_t rs_b,
                 int64_t cs_b, void* c, int64_t rs_c, int64_t cs_c,
                 bool accumulate) {
    int64_t count = 1;
    for (int d = 0; d < nbatch; ++d) count *= batch_shape[d];
    if (count == 0 || m == 0 || n == 0) return kOk;
    const size_t es = dtype_size(dt);
    const char* pa = static_cast<const char*>(a);
    const char* pb = static_cast<const char*>(b);
    char* pc = static_cast<char*>(c);

    auto one = [&](int64_t idx, int nt) {
        int64_t oa = 0, ob = 0, oc = 0;
        for (int d = nbatch - 1; d >= 0; --d) {
            const int64_t i = idx % batch_shape[d];
            idx /= batch_shape[d];
            oa += i * bsa[d];
            ob += i * bsb[d];
            oc += i * bsc[d];
        }
        return gemm_impl(dt, m, n, k, pa + oa * int64_t(es), rs_a, cs_a,
                         pb + ob * int64_t(es), rs_b, cs_b,
                         pc + oc * int64_t(es), rs_c, cs_c, accumulate, nt);
    };

    // Small products run side by side, one per thread; large ones one
    // after another with the threads inside each.
    const double flops = 2.0 * m * n * k;
    const int nt = in_parallel() ? 1 : max_threads();
    if (count == 1 || nt <= 1 || flops >= 8 * kParallelFlops ||
        flops * count < kParallelFlops) {
        for (int64_t i = 0; i < count; ++i) {
            const int st = one(i, nt);
            if (st != kOk) return st;
        }
        return kOk;
    }
    int status = kOk;
    parallel_for(count, ceil_div(count, 4 * nt), [&](int64_t b0, int64_t e0) {
        for (int64_t i = b0; i < e0; ++i) {
            const int st = one(i, 1);
            if (st != kOk) {
#pragma omp atomic write
                status = st;
            }
        }
    });
    return status;
}

int dot(DType dt, int64_t n, const void* x, int64_t incx, const void* y,
        int64_t incy, void* out) {
    switch (dt) {
        case kFloat32:
            *static_cast<float*>(out) = float(kernels().s.dot(
                n, static_cast<const float*>(x), incx,
                static_cast<const float*>(y), incy));
            return kOk;
        case kFloat64:
            *static_cast<double*>(out) = kernels().d.dot(
                n, static_cast<const double*>(x), incx,
                static_cast<const double*>(y), incy);
            return kOk;
        default:
            // A 1 x n by n x 1 product through the integer loop.
            return gemm_impl(dt, 1, 1, n, x, 0, incx, y, incy, 0, out, 0, 0,
                             false, 1);
    }
}

double fma_peak_gflops(double seconds) {
    return FT_DISPATCH(fma_peak_gflops)(seconds);
}

const char* gemm_isa() { return kernels().isa; }

void gemm_tune(int64_t kc, int64_t mc, int64_t nc, int path) {
    Tuning& t = tuning();
    t.kc = kc > 0 ? kc : env_int("FASTTENSOR_GEMM_KC");
    t.mc = mc > 0 ? mc : env_int("FASTTENSOR_GEMM_MC");
    t.nc = nc > 0 ? nc : env_int("FASTTENSOR_GEMM_NC");
    t.path = path;
}

void gemm_blocks(DType dt, int64_t* out) {
    if (dt == kFloat64) {
        const GemmKernelSet<double>& ks = kernels().d;
        const Blocks b = cache_blocks(ks);
        out[0] = ks.mr, out[1] = ks.nr, out[2] = b.kc, out[3] = b.mc;
        out[4] = b.nc;
    } else {
        const GemmKernelSet<float>& ks = kernels().s;
        const Blocks b = cache_blocks(ks);
        out[0] = ks.mr, out[1] = ks.nr, out[2] = b.kc, out[3] = b.mc;
        out[4] = b.nc;
    }
}

}  // namespace ft
