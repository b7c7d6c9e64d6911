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
// one A block the jr loop is split instead, unless C is small and k deep:
// then k is cut into groups of kc blocks fixed by the shape (deep_split).
// Chunks are handed out dynamically (core/parallel.h).  How k is cut
// depends on the shape alone, never on the thread count, so every C
// element is computed by the same chain of operations whatever the thread
// count: results are bitwise identical.
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
#include "ops/gemm_bf16.h"

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

// Column chunks of at least this width may be handed to threads as
// independent products (see packed_path).
constexpr int64_t kJcMinWidth = 256;

// The packed path reads its operands through one of these: a T matrix
// packed by the kernel set's own routines, or a float32 / 16-bit source
// (GemmSrc) packed into the same float32 panels.
template <class T>
struct PlainOperand {
    const T* p;
    PlainOperand off(int64_t elems) const { return {p + elems}; }
    void pack_a(const GemmKernelSet<T>& ks, int64_t mc, int64_t kc,
                int64_t rs, int64_t cs, T* dst) const {
        ks.pack_a(mc, kc, p, rs, cs, dst);
    }
    void pack_b(const GemmKernelSet<T>& ks, int64_t kc, int64_t nc,
                int64_t rs, int64_t cs, T* dst) const {
        ks.pack_b(kc, nc, p, rs, cs, dst);
    }
    const T* panel(int64_t, int64_t) const { return nullptr; }
};

struct SrcOperand {
    const char* p;
    int src;  // GemmSrc
    const GemmSrcKernels* sk;
    SrcOperand off(int64_t elems) const {
        return {p + elems * gemm_src_size(src), src, sk};
    }
    void pack_a(const GemmKernelSet<float>&, int64_t mc, int64_t kc,
                int64_t rs, int64_t cs, float* dst) const {
        sk->pack_a[src](mc, kc, p, rs, cs, dst);
    }
    void pack_b(const GemmKernelSet<float>&, int64_t kc, int64_t nc,
                int64_t rs, int64_t cs, float* dst) const {
        sk->pack_b[src](kc, nc, p, rs, cs, dst);
    }
    const float* panel(int64_t, int64_t) const { return nullptr; }
};

// B packed beforehand (gemm_prepack_b): every kc block of k, each the
// full-width panel of round_up(n, NR) columns in the pack_b layout, one
// after another.  Offsets are columns (the product runs with rs_b = 0 and
// cs_b = 1); panel() gives the packed kc x nc panel at (pc, col0).
struct PrepackedOperand {
    const float* base;
    int64_t npad;  // round_up(n, NR)
    int64_t col0;
    PrepackedOperand off(int64_t cols) const {
        return {base, npad, col0 + cols};
    }
    void pack_b(const GemmKernelSet<float>&, int64_t, int64_t, int64_t,
                int64_t, float*) const {}
    const float* panel(int64_t pc, int64_t kcur) const {
        return base + pc * npad + col0 * kcur;
    }
};

template <class T, class OA, class OB = OA>
struct OpProblem {
    int64_t m, n, k;
    OA a;
    int64_t rs_a, cs_a;
    OB b;
    int64_t rs_b, cs_b;
    T* c;
    int64_t rs_c, cs_c;
    bool accumulate;
};

template <class T>
OpProblem<T, PlainOperand<T>> plain(const Problem<T>& p) {
    return {p.m,    p.n,    p.k,    {p.a}, p.rs_a, p.cs_a,
            {p.b},  p.rs_b, p.cs_b, p.c,   p.rs_c, p.cs_c,
            p.accumulate};
}

// Deep products with a small C ((64 x 4096) @ (4096 x 64), say): the ic
// and jr loops hold too little work to share out once per kc block, and
// the single C tile would be read and written once per block.  Instead k
// is cut into groups of whole kc blocks, each group's product goes to its
// own partial C, the groups run in parallel (each on one thread), and the
// partials are added to C in group order.  The groups depend on the shape
// alone, never on the thread count, so results stay bitwise identical
// whatever the number of threads; the summation order differs from the
// plain loop nest's (C is a sum of per-group sums), within the same
// error bound.
constexpr int64_t kSplitKMaxCElems = 256 * 256;
constexpr int64_t kSplitKMinBlocks = 4;
constexpr int64_t kSplitKMaxGroups = 16;

// Number of k groups for an m x n x k product on the packed path (1: do
// not split).
template <class T>
int64_t split_k_groups(const GemmKernelSet<T>& ks, int64_t m, int64_t n,
                       int64_t k) {
    const Blocks bl = cache_blocks(ks);
    const int64_t nkb = ceil_div(k, bl.kc);
    if (m > bl.mc || m * n > kSplitKMaxCElems || nkb < kSplitKMinBlocks ||
        tuning().path == 3)
        return 1;
    // At least two kc blocks per group, at most kSplitKMaxGroups groups.
    const int64_t per = nkb / 2 > kSplitKMaxGroups
                            ? ceil_div(nkb, kSplitKMaxGroups)
                            : 2;
    return ceil_div(nkb, per);
}

template <class T, class OA, class OB>
int packed_path(const GemmKernelSet<T>& ks, const OpProblem<T, OA, OB>& p,
                int nt, bool may_split_k = true);

template <class T, class OA, class OB>
int deep_split(const GemmKernelSet<T>& ks, const OpProblem<T, OA, OB>& p,
               int nt) {
    const int64_t m = p.m, n = p.n, k = p.k;
    const int64_t groups = split_k_groups(ks, m, n, k);
    // Group g covers k values [g * kg, (g + 1) * kg), kg a whole number of
    // kc blocks as the unsplit product would cut them.
    const int64_t kc = ceil_div(k, ceil_div(k, cache_blocks(ks).kc));
    const int64_t kg = ceil_div(ceil_div(k, kc), groups) * kc;
    const int64_t ng = ceil_div(k, kg);
    Scratch part(size_t(ng) * m * n * sizeof(T));
    if (!part.p) return kErrNoMemory;
    T* parts = static_cast<T*>(part.p);
    int status = kOk;
    run(nt, ng, 1, [&](int64_t b0, int64_t e0) {
        for (int64_t g = b0; g < e0; ++g) {
            OpProblem<T, OA, OB> q = p;
            const int64_t k0 = g * kg;
            q.k = kg < k - k0 ? kg : k - k0;
            q.a = p.a.off(k0 * p.cs_a);
            q.b = p.b.off(k0 * p.rs_b);
            q.c = parts + g * m * n;
            q.rs_c = n;
            q.cs_c = 1;
            q.accumulate = false;
            const int st = packed_path(ks, q, 1, false);
            if (st != kOk) {
#pragma omp atomic write
                status = st;
            }
        }
    });
    if (status != kOk) return status;
    // C (+)= part[0] + part[1] + ..., in group order, rows shared out.
    run(nt, m, ceil_div(m, 4 * nt), [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
            T* ci = p.c + i * p.rs_c;
            const T* pi = parts + i * n;
            for (int64_t j = 0; j < n; ++j) {
                T sum = p.accumulate ? ci[j * p.cs_c] + pi[j] : pi[j];
                for (int64_t g = 1; g < ng; ++g) sum += pi[g * m * n + j];
                ci[j * p.cs_c] = sum;
            }
        }
    });
    return kOk;
}

template <class T, class OA, class OB>
int packed_path(const GemmKernelSet<T>& ks, const OpProblem<T, OA, OB>& p,
                int nt, bool may_split_k) {
    const int64_t m = p.m, n = p.n, k = p.k;
    const int64_t mr = ks.mr, nr = ks.nr;
    const Blocks bl = cache_blocks(ks);

    // Deep products with a small C: split k (see deep_split).
    if (may_split_k && split_k_groups(ks, m, n, k) > 1)
        return deep_split(ks, p, nt);

    // Wide products: split the jc loop.  Each thread runs the whole loop
    // nest on its own column chunks with its own B panel and A blocks, so
    // a call has one fork and one join instead of two per kc block, and a
    // core that is preempted delays only the chunk it holds.  The price is
    // packing A once per chunk, small next to the chunk's
    // 2 * m * k * 256 flops or more.
    if (nt > 1 && m > bl.mc && n >= 2 * nt * kJcMinWidth &&
        tuning().path != 3) {
        const int64_t w = round_up(ceil_div(n, 2 * nt), nr);
        int status = kOk;
        run(nt, ceil_div(n, w), 1, [&](int64_t b0, int64_t e0) {
            for (int64_t c = b0; c < e0; ++c) {
                OpProblem<T, OA, OB> q = p;
                q.n = w < n - c * w ? w : n - c * w;
                q.b = p.b.off(c * w * p.cs_b);
                q.c = p.c + c * w * p.cs_c;
                const int st = packed_path(ks, q, 1);
                if (st != kOk) {
#pragma omp atomic write
                    status = st;
                }
            }
        });
        return status;
    }

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
    T* pb_buf = static_cast<T*>(bbuf.p);

    for (int64_t jc = 0; jc < n; jc += nc) {
        const int64_t ncur = nc < n - jc ? nc : n - jc;
        const int64_t npanels = ceil_div(ncur, nr);
        for (int64_t pc = 0; pc < k; pc += kc) {
            const int64_t kcur = kc < k - pc ? kc : k - pc;
            const bool acc = p.accumulate || pc > 0;

            // Pack the kc x nc panel of B, micro-panels shared out.
            const OB bsrc = p.b.off(pc * p.rs_b + jc * p.cs_b);
            const T* pb = bsrc.panel(pc, kcur);
            if (!pb) {
                pb = pb_buf;
                run(nt, npanels, ceil_div(npanels, 4 * nt),
                    [&](int64_t b0, int64_t e0) {
                        const int64_t j0 = b0 * nr;
                        const int64_t j1 = e0 * nr < ncur ? e0 * nr : ncur;
                        bsrc.off(j0 * p.cs_b)
                            .pack_b(ks, kcur, j1 - j0, p.rs_b, p.cs_b,
                                    pb_buf + j0 * kcur);
                    });
            }

            const OA asrc = p.a.off(pc * p.cs_a);
            T* cblk = p.c + jc * p.cs_c;
            if (split_jr) {
                // One A block shared by all threads; split the jr loop.
                asrc.pack_a(ks, m, kcur, p.rs_a, p.cs_a, pa_all);
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
                    T* pa = pa_all + (nt > 1 ? size_t(thread_id()) : 0) *
                                         a_elems;
                    for (int64_t ib = b0; ib < e0; ++ib) {
                        const int64_t i0 = ib * mc;
                        const int64_t mcur = mc < m - i0 ? mc : m - i0;
                        asrc.off(i0 * p.rs_a)
                            .pack_a(ks, mcur, kcur, p.rs_a, p.cs_a, pa);
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
    return packed_path(ks, plain(p), nt);
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


// ------------------------------------------------- reduced-precision
//
// float16 / bfloat16 products on the float32 kernels: the operands are
// read in their own format (16-bit, or float32 rounded to the 16-bit
// dtype) by the packing routines and the GEMV kernels, which write the
// usual float32 panels, so no operand is converted in a separate pass.
// Every decision (transposition, path, blocks, threads) is the float32
// driver's, on the same shapes and strides: the result is bit for bit the
// float32 product of the rounded operands.  The no-pack path (small or
// skinny products) widens its operands into float32 scratch first; it is
// taken only where the copies cost little next to the product.

using LowpProblem = OpProblem<float, SrcOperand>;

LowpProblem transposed(const LowpProblem& p) {
    LowpProblem q = p;
    q.m = p.n;
    q.n = p.m;
    q.a = p.b;
    q.rs_a = p.cs_b;
    q.cs_a = p.rs_b;
    q.b = p.a;
    q.rs_b = p.cs_a;
    q.cs_b = p.rs_a;
    q.rs_c = p.cs_c;
    q.cs_c = p.rs_c;
    return q;
}

// rows x cols of a source operand widened into float32 scratch `s`
// (contiguous, row-major); false when the pool refused the memory.
bool widen_operand(const SrcOperand& o, int64_t rows, int64_t cols,
                   int64_t rs, int64_t cs, const Scratch& s, int nt) {
    if (!s.p) return false;
    float* dst = static_cast<float*>(s.p);
    const int64_t grain = ceil_div(rows, 4 * (nt > 1 ? nt : 1));
    run(rows * cols >= 65536 ? nt : 1, rows, grain,
        [&](int64_t r0, int64_t r1) {
            o.sk->widen[o.src](r1 - r0, cols, o.off(r0 * rs).p, rs, cs,
                               dst + r0 * cols);
        });
    return true;
}

size_t f32_bytes(int64_t rows, int64_t cols) {
    return size_t(rows) * size_t(cols) * sizeof(float);
}

// m == 1: the float32 gemv() with B read through its source.
int gemv_lowp(const GemmKernelSet<float>& ks, const LowpProblem& p, int nt) {
    const int64_t k = p.k, n = p.n;
    const GemmSrcKernels& sk = *p.b.sk;
    const int bsrc = p.b.src;
    // x (k values) in float32: small next to B.
    Scratch xs(size_t(k) * sizeof(float));
    if (!xs.p) return kErrNoMemory;
    float* x = static_cast<float*>(xs.p);
    p.a.sk->widen[p.a.src](1, k, p.a.p, 0, p.cs_a, x);
    if (p.cs_b == 1 && p.cs_c == 1) {
        // Row form, chunked over k exactly as gemv().
        const int64_t nch = ceil_div(k, kGemvChunk);
        float* part = nullptr;
        Scratch ps(nch > 1 ? size_t(nch) * n * sizeof(float) : 0);
        if (nch > 1) {
            if (!ps.p) return kErrNoMemory;
            part = static_cast<float*>(ps.p);
            run(nt, nch, 1, [&](int64_t b, int64_t e) {
                for (int64_t c = b; c < e; ++c) {
                    const int64_t k0 = c * kGemvChunk;
                    const int64_t kk =
                        kGemvChunk < k - k0 ? kGemvChunk : k - k0;
                    sk.gemv_rows[bsrc](kk, n, x + k0, 1,
                                       p.b.off(k0 * p.rs_b).p, p.rs_b,
                                       part + c * n, false);
                }
            });
        }
        static const float one = 1.0f;
        const int64_t grain = round_up(ceil_div(n, 4 * nt), 64);
        run(nt, ceil_div(n, grain), 1, [&](int64_t b, int64_t e) {
            const int64_t j0 = b * grain, j1 = e * grain < n ? e * grain : n;
            if (part)
                ks.gemv_rows(nch, j1 - j0, &one, 0, part + j0, n, p.c + j0,
                             p.accumulate);
            else
                sk.gemv_rows[bsrc](k, j1 - j0, x, 1, p.b.off(j0).p, p.rs_b,
                                   p.c + j0, p.accumulate);
        });
        return kOk;
    }
    if (p.rs_b == 1) {
        // Dot form: column j of B is contiguous along k.
        const int64_t grain = round_up(ceil_div(n, 4 * nt), 4);
        run(nt, ceil_div(n, grain), 1, [&](int64_t b, int64_t e) {
            const int64_t j0 = b * grain, j1 = e * grain < n ? e * grain : n;
            sk.gemv_dots[bsrc](j1 - j0, k, p.b.off(j0 * p.cs_b).p, p.cs_b, x,
                               1, p.c + j0 * p.cs_c, p.cs_c, p.accumulate);
        });
        return kOk;
    }
    // Neither layout: widen B into rows and take the single-pass row form.
    Scratch bs(f32_bytes(k, n));
    if (!widen_operand(p.b, k, n, p.rs_b, p.cs_b, bs, 1))
        return kErrNoMemory;
    Scratch ys(p.cs_c != 1 ? size_t(n) * sizeof(float) : 0);
    if (p.cs_c != 1 && !ys.p) return kErrNoMemory;
    float* y = p.cs_c == 1 ? p.c : static_cast<float*>(ys.p);
    if (p.cs_c != 1 && p.accumulate)
        for (int64_t j = 0; j < n; ++j) y[j] = p.c[j * p.cs_c];
    ks.gemv_rows(k, n, x, 1, static_cast<const float*>(bs.p), n, y,
                 p.accumulate);
    if (p.cs_c != 1)
        for (int64_t j = 0; j < n; ++j) p.c[j * p.cs_c] = y[j];
    return kOk;
}

// The bfloat16 matrix engines (ops/gemm_bf16.h) take a bfloat16 product
// with at least kBf16TileMinRows rows when bf16_engine() names one; both
// operands are then bfloat16 or float32 rounded to bfloat16 while packing.
bool use_bf16_engine(DType round_to, int64_t m) {
    return round_to == kBFloat16 && m >= kBf16TileMinRows &&
           bf16_engine() != Bf16Engine::convert;
}

bool bf16_engine_operand(const SrcOperand& x, int64_t rs, int64_t cs,
                         Bf16Operand* out) {
    if (x.src != kSrcBf16 && x.src != kSrcF32Bf16) return false;
    *out = {x.p, x.src == kSrcF32Bf16, rs, cs};
    return true;
}

int gemm_lowp_impl(DType round_to, LowpProblem p, int nt_max) {
    if (p.m == 0 || p.n == 0) return kOk;
    if (p.k == 0) {
        if (!p.accumulate)
            for (int64_t i = 0; i < p.m; ++i)
                for (int64_t j = 0; j < p.n; ++j)
                    p.c[i * p.rs_c + j * p.cs_c] = 0.0f;
        return kOk;
    }
    Bf16Operand ea, eb;
    if (use_bf16_engine(round_to, p.m) &&
        bf16_engine_operand(p.a, p.rs_a, p.cs_a, &ea) &&
        bf16_engine_operand(p.b, p.rs_b, p.cs_b, &eb))
        return gemm_bf16_engine(p.m, p.n, p.k, ea, eb, p.c, p.rs_c, p.cs_c,
                                p.accumulate);
    const GemmKernelSet<float>& ks = kernels().s;
    // The float32 driver's decisions (gemm_float), in the same order.
    if (p.cs_c != 1 && p.rs_c == 1) p = transposed(p);
    if (p.n == 1 && p.m > 1) p = transposed(p);
    const double flops = 2.0 * p.m * p.n * p.k;
    const int nt = nt_max > 1 ? threads_for(flops) : 1;
    if (p.m == 1 && tuning().path == 0) return gemv_lowp(ks, p, nt);
    const double mnk = double(p.m) * p.n * p.k;
    const bool skinny = p.m <= 2 * ks.mr || p.k <= 32;
    const int path = tuning().path;
    if (p.cs_c == 1 && (path == 1 || (path == 0 && (mnk <= kSmallMNK ||
                                                     skinny)))) {
        Scratch as(f32_bytes(p.m, p.k)), bs(f32_bytes(p.k, p.n));
        if (!widen_operand(p.a, p.m, p.k, p.rs_a, p.cs_a, as, nt) ||
            !widen_operand(p.b, p.k, p.n, p.rs_b, p.cs_b, bs, nt))
            return kErrNoMemory;
        Problem<float> q{p.m,    p.n,  p.k,  static_cast<const float*>(as.p),
                         p.k,    1,    static_cast<const float*>(bs.p),
                         p.n,    1,    p.c,  p.rs_c,
                         p.cs_c, p.accumulate};
        return small_path(ks, q, nt);
    }
    return packed_path(ks, p, nt);
}

// The GemmSrc an operand of dtype dt is read as in a product rounded to
// round_to (kFloat32: not rounded), or -1 when the pair is not supported.
int lowp_src(DType round_to, DType dt) {
    if (round_to == kFloat32) {
        if (dt == kFloat32) return kSrcF32;
    } else if (round_to == kBFloat16) {
        if (dt == kBFloat16) return kSrcBf16;
        if (dt == kFloat32) return kSrcF32Bf16;
    } else if (round_to == kFloat16) {
        if (dt == kFloat16) return kSrcF16;
        if (dt == kFloat32) return kSrcF32F16;
    }
    return -1;
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

namespace {

int gemm_lowp_nt(DType round_to, int64_t m, int64_t n, int64_t k,
                 const void* a, DType a_dt, int64_t rs_a, int64_t cs_a,
                 const void* b, DType b_dt, int64_t rs_b, int64_t cs_b,
                 float* c, int64_t rs_c, int64_t cs_c, bool accumulate,
                 int nt_max) {
    const int sa = lowp_src(round_to, a_dt), sb = lowp_src(round_to, b_dt);
    if (sa < 0 || sb < 0) return kErrDType;
    const GemmSrcKernels* sk = &kernels().src;
    LowpProblem p{m,
                  n,
                  k,
                  {static_cast<const char*>(a), sa, sk},
                  rs_a,
                  cs_a,
                  {static_cast<const char*>(b), sb, sk},
                  rs_b,
                  cs_b,
                  c,
                  rs_c,
                  cs_c,
                  accumulate};
    return gemm_lowp_impl(round_to, p, nt_max);
}

}  // namespace

int gemm_lowp(DType round_to, int64_t m, int64_t n, int64_t k,
              const void* a, DType a_dt, int64_t rs_a, int64_t cs_a,
              const void* b, DType b_dt, int64_t rs_b, int64_t cs_b,
              float* c, int64_t rs_c, int64_t cs_c, bool accumulate) {
    return gemm_lowp_nt(round_to, m, n, k, a, a_dt, rs_a, cs_a, b, b_dt,
                        rs_b, cs_b, c, rs_c, cs_c, accumulate,
                        max_threads());
}

int gemm_lowp_batched(DType round_to, int nbatch, const int64_t* batch_shape,
                      const int64_t* bsa, const int64_t* bsb,
                      const int64_t* bsc, int64_t m, int64_t n, int64_t k,
                      const void* a, DType a_dt, int64_t rs_a, int64_t cs_a,
                      const void* b, DType b_dt, int64_t rs_b, int64_t cs_b,
                      float* c, int64_t rs_c, int64_t cs_c,
                      bool accumulate) {
    if (lowp_src(round_to, a_dt) < 0 || lowp_src(round_to, b_dt) < 0)
        return kErrDType;
    int64_t count = 1;
    for (int d = 0; d < nbatch; ++d) count *= batch_shape[d];
    if (count == 0 || m == 0 || n == 0) return kOk;
    const int64_t esa = int64_t(dtype_size(a_dt));
    const int64_t esb = int64_t(dtype_size(b_dt));
    const char* pa = static_cast<const char*>(a);
    const char* pb = static_cast<const char*>(b);

    auto one = [&](int64_t idx, int nt) {
        int64_t oa = 0, ob = 0, oc = 0;
        for (int d = nbatch - 1; d >= 0; --d) {
            const int64_t i = idx % batch_shape[d];
            idx /= batch_shape[d];
            oa += i * bsa[d];
            ob += i * bsb[d];
            oc += i * bsc[d];
        }
        return gemm_lowp_nt(round_to, m, n, k, pa + oa * esa, a_dt, rs_a,
                            cs_a, pb + ob * esb, b_dt, rs_b, cs_b, c + oc,
                            rs_c, cs_c, accumulate, nt);
    };

    // As gemm_batched: small products side by side, large ones in turn.
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

int dot_lowp(DType round_to, int64_t n, const void* x, DType x_dt,
             int64_t incx, const void* y, DType y_dt, int64_t incy,
             float* out) {
    const int sx = lowp_src(round_to, x_dt), sy = lowp_src(round_to, y_dt);
    if (sx < 0 || sy < 0) return kErrDType;
    // Both vectors widened into float32 scratch (O(n) next to the O(n)
    // product, so there is no packing step to fold the conversion into),
    // then float32 dot's float64 accumulation.
    const GemmKernels& kk = kernels();
    Scratch s(size_t(n > 0 ? n : 1) * 2 * sizeof(float));
    if (!s.p) return kErrNoMemory;
    float* xs = static_cast<float*>(s.p);
    float* ys = xs + n;
    kk.src.widen[sx](1, n, x, 0, incx, xs);
    kk.src.widen[sy](1, n, y, 0, incy, ys);
    *out = float(kk.s.dot(n, xs, 1, ys, 1));
    return kOk;
}

namespace {

// The kc the packed path uses for a depth of k with the current blocks.
int64_t packed_kc(int64_t k) {
    const Blocks bl = cache_blocks(kernels().s);
    return k > 0 ? ceil_div(k, ceil_div(k, bl.kc)) : 1;
}

}  // namespace

size_t gemm_prepacked_b_bytes(int64_t k, int64_t n) {
    const int64_t nr = kernels().s.nr;
    return size_t(k > 0 ? k : 1) * size_t(round_up(n > 0 ? n : 1, nr)) *
           sizeof(float);
}

int gemm_prepack_b(DType round_to, int64_t k, int64_t n, const void* b,
                   DType b_dt, int64_t rs_b, int64_t cs_b, float* dst,
                   int64_t* kc_out) {
    const int sb = lowp_src(round_to, b_dt);
    if (sb < 0) return kErrDType;
    const GemmKernels& kk = kernels();
    const int64_t nr = kk.s.nr, npad = round_up(n, nr);
    const int64_t kc = packed_kc(k);
    *kc_out = kc;
    const SrcOperand src{static_cast<const char*>(b), sb, &kk.src};
    const int64_t npanels = ceil_div(n, nr);
    const int nt = threads_for(2.0 * double(k) * double(n) * 16);
    for (int64_t pc = 0; pc < k; pc += kc) {
        const int64_t kcur = kc < k - pc ? kc : k - pc;
        run(nt, npanels, ceil_div(npanels, 4 * nt),
            [&](int64_t b0, int64_t e0) {
                const int64_t j0 = b0 * nr;
                const int64_t j1 = e0 * nr < n ? e0 * nr : n;
                src.off(pc * rs_b + j0 * cs_b)
                    .pack_b(kk.s, kcur, j1 - j0, rs_b, cs_b,
                            dst + pc * npad + j0 * kcur);
            });
    }
    return kOk;
}

int gemm_prepacked(DType round_to, int64_t m, int64_t n, int64_t k,
                   const void* a, DType a_dt, int64_t rs_a, int64_t cs_a,
                   const float* packed_b, int64_t kc_packed, float* c,
                   int64_t rs_c, int64_t cs_c, bool accumulate) {
    const int sa = lowp_src(round_to, a_dt);
    if (sa < 0) return kErrDType;
    if (m == 0 || n == 0 || k == 0) return kPrepackedNotTaken;
    const GemmKernels& kk = kernels();
    const GemmKernelSet<float>& ks = kk.s;
    // Only where gemm / gemm_lowp would take the packed path with this
    // kc (the same decisions as gemm_float), so that the result is bitwise
    // theirs; the caller multiplies the unpacked B otherwise.
    if (use_bf16_engine(round_to, m)) return kPrepackedNotTaken;
    if (cs_c != 1 || (n == 1 && m > 1)) return kPrepackedNotTaken;
    const int path = tuning().path;
    if (m == 1 && path == 0) return kPrepackedNotTaken;
    const double mnk = double(m) * n * k;
    const bool skinny = m <= 2 * ks.mr || k <= 32;
    if (path == 1 || (path == 0 && (mnk <= kSmallMNK || skinny)))
        return kPrepackedNotTaken;
    if (packed_kc(k) != kc_packed) return kPrepackedNotTaken;
    // A deep product with a small C splits k (deep_split), which reads B
    // by offsets into the operand, not by packed panels.
    if (split_k_groups(ks, m, n, k) > 1) return kPrepackedNotTaken;
    const int nt = threads_for(2.0 * m * n * k);
    OpProblem<float, SrcOperand, PrepackedOperand> p{
        m,    n,  k,     {static_cast<const char*>(a), sa, &kk.src},
        rs_a, cs_a, {packed_b, round_up(n, ks.nr), 0},
        0,    1,  c,     rs_c,
        cs_c, accumulate};
    return packed_path(ks, p, nt);
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
