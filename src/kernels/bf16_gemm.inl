// bfloat16 GEMM on AMX tiles or on AVX512-BF16 dot products: packing,
// micro-kernel, macro-kernel and the peak probe, written once over an
// operations policy.
//
// The including file opens its own namespace (ft::amx_hw, ft::amx_emu,
// ft::bf16v_hw or ft::bf16v_emu), defines the policy there and includes
// this file inside it, so that the builds with AMX or AVX-512 flags and
// the model builds (baseline flags) never share a symbol (NOTE(odr) in
// core/simd.h).
//
// Tile engine (default): `Tiles` provides config(const TileConfig&),
//   release(), zero<t>(), load<t>(p, stride), stream_load<t>(p, stride),
//   store<t>(p, stride), dpbf16ps<c, a, b>() with tile numbers as template
//   arguments (the instructions take them as immediates), strides in
//   bytes.
// Vector engine (FT_BF16_VECTOR_KERNEL defined): `Vec` provides types Acc
//   (16 float32) and Pairs (16 bfloat16 pairs) and zero(), load(p) (64
//   bytes), broadcast_pair(p) (one pair in every lane), dpbf16ps(acc, a, b)
//   (VDPBF16PS), store(p, acc), keep(acc&) (an optimisation barrier).
//
// Formula: C (m x n, float32) = (C +) A (m x k) @ B (k x n), each product
//   term a bfloat16 x bfloat16 product, summed in float32 in k order, two
//   k values (a pair) per step of the instruction: TDPBF16PS adds the even
//   k of the pair first, VDPBF16PS the odd one (Intel's pseudo-code).
//
// Packing contract (bfloat16 bits; a float32 source is rounded to bfloat16
// to nearest even while packing, NaN kept, as half.h's bf16_from_f32):
//   A block: 32-row panels; panel p holds, for each k step s (32 values of
//     k) two 1 KiB tiles, rows p*32 .. +15 then +16 .. +31, each 16 rows x
//     32 bfloat16 (64 B, stride 64): a[((s * 2 + h) * 16 + r) * 32 + j] =
//     A[p*32 + h*16 + r][s*32 + j].
//   B: 32-column panels; panel q holds, for each k step s, two 1 KiB VNNI
//     tiles, columns q*32 .. +15 then +16 .. +31, each 16 k pairs x 16
//     columns x 2: b[((s * 2 + h) * 16 + r) * 32 + 2 * c + e] =
//     B[s*32 + 2r + e][q*32 + h*16 + c].
//   Rows, columns and k values beyond the matrix are packed as +0: a k
//   value beyond k adds 0 * 0 = +0, which leaves every sum as it is (but
//   for the sign of a zero sum, which comes out +0), and an infinite or
//   NaN input meets the padding of rows beyond m or columns beyond n only,
//   results that are never stored.
//   Packing is plain C++: A rows are copied (or rounded) step by step; a
//   row-major B interleaves two rows of 16 columns per k pair in GCC
//   vector types, a column-major B moves each bfloat16 pair as one 32-bit
//   word; both compile with the flags of the build.  A strided or
//   reversed operand takes an element-by-element path.
//
// Tile budget (palette 1, all tiles 16 rows x 64 B): tmm0-3 the 2 x 2 C
//   tiles (32 x 32 float32), tmm4-5 two A tiles (32 rows x 32 k), tmm6-7
//   two B tiles (32 k x 32 columns).  Each k step is 4 loads and 4
//   TDPBF16PS (16 x 16 x 32 multiply-adds each).
// Vector register budget: the 32 x 32 C tile in four passes of 8 rows x
//   32 columns, 16 zmm accumulators; per k pair 2 B loads (one row of
//   each VNNI tile: 16 columns x 2) and 8 A pair broadcasts read from the
//   same packed A panel, 16 VDPBF16PS.
//
// Blocking: B is packed whole (the panel of every column for the full k,
//   in the pool) and shared by the threads; work units are blocks of
//   mc rows x nc columns of C; a thread packs the A block (mc x k, the L2
//   resident part) of its unit unless it already holds it, then runs the
//   micro-kernel over the block's 32 x 32 tiles column panel by column
//   panel, so one B panel (k x 32) stays in L1/L2 while the A block
//   streams.  Units are handed out m-block by m-block (all nc blocks of an
//   m block in one chunk) when there are enough m blocks for the threads,
//   else one by one; with fewer m blocks than threads the rows split
//   finer first, then the columns.  Every C element is one chain over the
//   whole k in k order whatever the thread count or block sizes: results
//   are bitwise identical across both.
//
// Edges: m and n by the zero padding above; a partial 32 x 32 tile (and
//   any C layout other than row-major without accumulation) goes through a
//   float32 tile buffer copied into C with its strides.  Each chunk of
//   work a thread takes loads the tile configuration once and releases it
//   at its end (LDTILECFG, TILERELEASE).
//
// Accuracy: every term is exact (a bfloat16 product has 16 significant
//   bits; only a product below 2^-126 loses bits, and is flushed); each
//   float32 addition rounds to nearest even and flushes a denormal result,
//   and bfloat16 denormal inputs read as 0 (what TDPBF16PS and VDPBF16PS
//   do; the models in ops/amx_model.h do the same).  So the bound is the
//   one of a float32 sum of k exact terms, at most k roundings:
//   |C - C_exact| <= (k + 1) * 2^-24 * (|A| @ |B|) for the rounded inputs.
//   With `accumulate` the product is added to C after it is complete (one
//   more rounding).

// The including file includes, before opening its namespace: <time.h>,
// <cstring>, core/dtype.h, core/half.h, core/parallel.h, core/pool.h and
// kernels/amx_tiles.h.

namespace {

constexpr int64_t kStepK = 32;          // k values per tile step
constexpr int64_t kPanel = 32;          // rows (A) or columns (B) per panel
constexpr int64_t kTileElems = 512;     // bfloat16 values per 1 KiB tile
constexpr int64_t kStepElems = 1024;    // two tiles: one k step of a panel

inline int64_t ceil_div(int64_t x, int64_t d) { return (x + d - 1) / d; }

// Element (i, j) of an operand as bfloat16 bits.
inline uint16_t operand_bf16(const Bf16Operand& x, int64_t i, int64_t j) {
    const int64_t off = i * x.rs + j * x.cs;
    if (x.is_f32) return bf16_from_f32(static_cast<const float*>(x.p)[off]);
    return static_cast<const uint16_t*>(x.p)[off];
}

// Rows [i0, i0 + rows) (rows <= 32) of A, all k, as one A panel.
void pack_a_panel(const Bf16Operand& a, int64_t i0, int64_t rows, int64_t k,
                  int64_t ksteps, uint16_t* dst) {
    for (int64_t s = 0; s < ksteps; ++s) {
        const int64_t k0 = s * kStepK;
        const int64_t kn = k - k0 < kStepK ? k - k0 : kStepK;
        for (int64_t r = 0; r < kPanel; ++r) {
            // Row r of the panel is row r % 16 of tile r / 16.
            uint16_t* d = dst + s * kStepElems + r * kStepK;
            if (r >= rows) {
                std::memset(d, 0, kStepK * sizeof(uint16_t));
                continue;
            }
            const int64_t i = i0 + r;
            if (a.cs == 1 && !a.is_f32) {
                std::memcpy(d, static_cast<const uint16_t*>(a.p) + i * a.rs +
                                   k0, size_t(kn) * sizeof(uint16_t));
            } else if (a.cs == 1) {
                const float* src = static_cast<const float*>(a.p) + i * a.rs +
                                   k0;
                for (int64_t j = 0; j < kn; ++j) d[j] = bf16_from_f32(src[j]);
            } else {
                for (int64_t j = 0; j < kn; ++j)
                    d[j] = operand_bf16(a, i, k0 + j);
            }
            for (int64_t j = kn; j < kStepK; ++j) d[j] = 0;
        }
    }
}

// n values of a run of an operand (element step inc) as bfloat16 bits
// into d[0], d[step], d[2 * step], ...: the inner loops of pack_b_panel,
// branch-free so that the compiler can vectorise them.
inline uint16_t to_bf16(float x) { return bf16_from_f32(x); }
inline uint16_t to_bf16(uint16_t h) { return h; }

template <class T>
inline void copy_run(const T* src, int64_t inc, int64_t n, uint16_t* d,
                     int64_t step) {
    for (int64_t i = 0; i < n; ++i) d[i * step] = to_bf16(src[i * inc]);
}

// 16 contiguous values as bfloat16 bits, in GCC vector types (which
// compile to the build's SIMD, or to scalar code): copied, or rounded to
// nearest even as bf16_from_f32 does, NaN kept quiet.  Vectors go through
// pointers, not by value, so that no function's ABI depends on the build
// flags.
typedef uint16_t U16x16 __attribute__((vector_size(32)));
typedef uint32_t U32x16 __attribute__((vector_size(64)));
// __builtin_shufflevector: clang, GCC 12 and later; __builtin_shuffle: GCC.
#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define FT_BF16_SHUFFLEVECTOR 1
#endif
#endif
#ifndef FT_BF16_SHUFFLEVECTOR
#define FT_BF16_SHUFFLEVECTOR 0
#endif

inline void bf16x16(const uint16_t* src, U16x16* out) {
    std::memcpy(out, src, sizeof *out);
}

inline void bf16x16(const float* src, U16x16* out) {
    U32x16 x;
    std::memcpy(&x, src, sizeof x);
    const U32x16 nan = (x & 0x7fffffffu) > 0x7f800000u;
    const U32x16 rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
    const U32x16 quiet = (x >> 16) | 0x0040u;
    *out = __builtin_convertvector((nan & quiet) | (~nan & rounded), U16x16);
}

// 16 values of two contiguous rows, interleaved: d[2 c + e] = row e [c]
// (one k pair of 16 VNNI columns).
template <class T>
inline void interleave16(const T* r0, const T* r1, uint16_t* d) {
    U16x16 a, b;
    bf16x16(r0, &a);
    bf16x16(r1, &b);
#if FT_BF16_SHUFFLEVECTOR
    const U16x16 lo = __builtin_shufflevector(
        a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const U16x16 hi = __builtin_shufflevector(
        a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
#else
    const U16x16 lo = __builtin_shuffle(
        a, b, U16x16{0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23});
    const U16x16 hi = __builtin_shuffle(
        a, b, U16x16{8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15,
                     31});
#endif
    std::memcpy(d, &lo, sizeof lo);
    std::memcpy(d + 16, &hi, sizeof hi);
}

// k values [0, kn) of one column, adjacent in memory, into the pair slots
// of its VNNI column: d[(kk / 2) * kStepK + kk % 2]; bfloat16 pairs move as
// one 32-bit word.
inline void column_pairs(const uint16_t* src, int64_t kn, uint16_t* d) {
    int64_t kk = 0;
    for (; kk + 1 < kn; kk += 2)
        std::memcpy(d + (kk >> 1) * kStepK, src + kk, 2 * sizeof(uint16_t));
    if (kk < kn) d[(kk >> 1) * kStepK] = src[kk];
}

inline void column_pairs(const float* src, int64_t kn, uint16_t* d) {
    for (int64_t kk = 0; kk < kn; ++kk)
        d[(kk >> 1) * kStepK + (kk & 1)] = bf16_from_f32(src[kk]);
}

template <class T>
void pack_b_panel_typed(const T* p, int64_t rs, int64_t cs, int64_t j0,
                        int64_t cols, int64_t k, int64_t ksteps,
                        uint16_t* dst) {
    for (int64_t s = 0; s < ksteps; ++s) {
        uint16_t* ds = dst + s * kStepElems;
        std::memset(ds, 0, kStepElems * sizeof(uint16_t));
        const int64_t k0 = s * kStepK;
        const int64_t kn = k - k0 < kStepK ? k - k0 : kStepK;
        if (rs == 1 && cs != 1) {
            // Column-major B (a transposed weight): the two k values of a
            // pair are adjacent in memory; walk each column down k.
            for (int64_t c = 0; c < cols; ++c) {
                // Column c is column c % 16 of tile c / 16.
                uint16_t* d = ds + (c >> 4) * kTileElems + 2 * (c & 15);
                column_pairs(p + (j0 + c) * cs + k0, kn, d);
            }
            continue;
        }
        // Two rows at a time: rows k0 + 2 q and k0 + 2 q + 1 interleave
        // into pair q of the panel's columns, 16 per tile (a row at or
        // beyond k stays zero).
        for (int64_t q = 0; 2 * q < kn; ++q) {
            const T* r0 = p + (k0 + 2 * q) * rs + j0 * cs;
            const bool second = 2 * q + 1 < kn;
            for (int64_t h = 0; h < 2 && h * 16 < cols; ++h) {
                const int64_t cn = cols - h * 16 < 16 ? cols - h * 16 : 16;
                uint16_t* d = ds + (h * 16 + q) * kStepK;
                if (cs == 1 && cn == 16 && second) {
                    interleave16(r0 + h * 16, r0 + rs + h * 16, d);
                    continue;
                }
                copy_run(r0 + h * 16 * cs, cs, cn, d, 2);
                if (second) copy_run(r0 + rs + h * 16 * cs, cs, cn, d + 1, 2);
            }
        }
    }
}

// Columns [j0, j0 + cols) (cols <= 32) of B, all k, as one VNNI panel.
void pack_b_panel(const Bf16Operand& b, int64_t j0, int64_t cols, int64_t k,
                  int64_t ksteps, uint16_t* dst) {
    if (b.is_f32)
        pack_b_panel_typed(static_cast<const float*>(b.p), b.rs, b.cs, j0,
                           cols, k, ksteps, dst);
    else
        pack_b_panel_typed(static_cast<const uint16_t*>(b.p), b.rs, b.cs, j0,
                           cols, k, ksteps, dst);
}

// The float32 tile buffer (32 x 32, row stride 32) into C.
void write_back(const float* buf, int64_t rows, int64_t cols, float* c,
                int64_t rs_c, int64_t cs_c, bool accumulate) {
    for (int64_t i = 0; i < rows; ++i) {
        float* ci = c + i * rs_c;
        const float* bi = buf + i * kPanel;
        if (accumulate) {
            for (int64_t j = 0; j < cols; ++j) ci[j * cs_c] += bi[j];
        } else {
            for (int64_t j = 0; j < cols; ++j) ci[j * cs_c] = bi[j];
        }
    }
}

#if !defined(FT_BF16_VECTOR_KERNEL)

inline void set_kernel_config(TileConfig& cfg) {
    std::memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; ++t) {
        cfg.rows[t] = kTileRows;
        cfg.colsb[t] = kTileBytes;
    }
    // LDTILECFG's intrinsic tells the compiler it reads 8 bytes only: make
    // the whole configuration reach memory first.
    __asm__ volatile("" ::: "memory");
}

// The tile configuration, loaded at the start of each chunk of work and
// released at its end.
inline void engine_begin() {
    TileConfig cfg;
    set_kernel_config(cfg);
    Tiles::config(cfg);
}

inline void engine_end() { Tiles::release(); }
// One 32 x 32 C tile over the whole k: C tiles start at 0 and are stored
// to c (row stride ldc bytes).  ap, bp: one A panel and one B panel.
template <bool kStreamB>
void micro_kernel(const uint16_t* ap, const uint16_t* bp, int64_t ksteps,
                  float* c, int64_t ldc) {
    // The tile loads' asm statements do not tell the compiler they read
    // memory: the packing stores must be complete before them.
    __asm__ volatile("" ::: "memory");
    Tiles::template zero<0>();
    Tiles::template zero<1>();
    Tiles::template zero<2>();
    Tiles::template zero<3>();
    for (int64_t s = 0; s < ksteps; ++s) {
        const uint16_t* at = ap + s * kStepElems;
        const uint16_t* bt = bp + s * kStepElems;
        Tiles::template load<4>(at, kTileBytes);
        Tiles::template load<5>(at + kTileElems, kTileBytes);
        if (kStreamB) {
            Tiles::template stream_load<6>(bt, kTileBytes);
            Tiles::template stream_load<7>(bt + kTileElems, kTileBytes);
        } else {
            Tiles::template load<6>(bt, kTileBytes);
            Tiles::template load<7>(bt + kTileElems, kTileBytes);
        }
        Tiles::template dpbf16ps<0, 4, 6>();
        Tiles::template dpbf16ps<1, 4, 7>();
        Tiles::template dpbf16ps<2, 5, 6>();
        Tiles::template dpbf16ps<3, 5, 7>();
    }
    const int64_t half = 16 * (ldc / int64_t(sizeof(float)));
    Tiles::template store<0>(c, ldc);
    Tiles::template store<1>(c + 16, ldc);
    Tiles::template store<2>(c + half, ldc);
    Tiles::template store<3>(c + half + 16, ldc);
}

#else  // FT_BF16_VECTOR_KERNEL

inline void engine_begin() {}
inline void engine_end() {}

constexpr int64_t kVecRows = 8;  // C rows per pass of the micro-kernel

// One 32 x 32 C tile over the whole k, stored to c (row stride ldc bytes).
template <bool kStreamB>
void micro_kernel(const uint16_t* ap, const uint16_t* bp, int64_t ksteps,
                  float* c, int64_t ldc) {
    using Acc = typename Vec::Acc;
    using Pairs = typename Vec::Pairs;
    const int64_t ldf = ldc / int64_t(sizeof(float));
    for (int64_t r0 = 0; r0 < kPanel; r0 += kVecRows) {
        Acc acc[kVecRows][2];
        for (int64_t r = 0; r < kVecRows; ++r)
            acc[r][0] = Vec::zero(), acc[r][1] = Vec::zero();
        for (int64_t s = 0; s < ksteps; ++s) {
            for (int64_t p = 0; p < kStepK / 2; ++p) {
                // Row p of each B tile: columns 0-15 and 16-31, k pair p.
                const uint16_t* bs = bp + s * kStepElems + p * kStepK;
                const Pairs b0 = Vec::load(bs);
                const Pairs b1 = Vec::load(bs + kTileElems);
                const uint16_t* as = ap + s * kStepElems + r0 * kStepK + 2 * p;
                for (int64_t r = 0; r < kVecRows; ++r) {
                    const Pairs a = Vec::broadcast_pair(as + r * kStepK);
                    acc[r][0] = Vec::dpbf16ps(acc[r][0], a, b0);
                    acc[r][1] = Vec::dpbf16ps(acc[r][1], a, b1);
                }
            }
        }
        for (int64_t r = 0; r < kVecRows; ++r) {
            Vec::store(c + (r0 + r) * ldf, acc[r][0]);
            Vec::store(c + (r0 + r) * ldf + 16, acc[r][1]);
        }
    }
}

#endif  // FT_BF16_VECTOR_KERNEL

struct GemmArgs {
    int64_t m, n, k, ksteps;
    Bf16Operand a;
    const uint16_t* pb;
    int64_t bsteps;      // k steps B was packed with: its panel stride
    float* c;
    int64_t rs_c, cs_c;
    bool accumulate;
    int64_t mcp, ncp;    // panels per m block, per n block
    int64_t n_mb, n_nb;  // blocks in m, in n
};

// Units [u0, u1) of the block grid, m-block-major, on the calling thread.
// Returns false when the A buffer cannot be allocated.
template <bool kStreamB>
bool run_units(const GemmArgs& g, int64_t u0, int64_t u1) {
    const size_t abytes =
        size_t(g.mcp) * size_t(g.ksteps) * kStepElems * sizeof(uint16_t);
    uint16_t* abuf = static_cast<uint16_t*>(pool_alloc(abytes));
    if (!abuf) return false;
    alignas(64) float cbuf[kPanel * kPanel];
    engine_begin();
    const int64_t pan_m = ceil_div(g.m, kPanel), pan_n = ceil_div(g.n, kPanel);
    int64_t held = -1;  // the m block abuf holds
    for (int64_t u = u0; u < u1; ++u) {
        const int64_t mb = u / g.n_nb, nb = u % g.n_nb;
        const int64_t p0 = mb * g.mcp;
        const int64_t p1 = p0 + g.mcp < pan_m ? p0 + g.mcp : pan_m;
        if (mb != held) {
            for (int64_t p = p0; p < p1; ++p) {
                const int64_t rows =
                    g.m - p * kPanel < kPanel ? g.m - p * kPanel : kPanel;
                pack_a_panel(g.a, p * kPanel, rows, g.k, g.ksteps,
                             abuf + (p - p0) * g.ksteps * kStepElems);
            }
            held = mb;
        }
        const int64_t q0 = nb * g.ncp;
        const int64_t q1 = q0 + g.ncp < pan_n ? q0 + g.ncp : pan_n;
        for (int64_t q = q0; q < q1; ++q) {
            const uint16_t* bp = g.pb + q * g.bsteps * kStepElems;
            const int64_t cols =
                g.n - q * kPanel < kPanel ? g.n - q * kPanel : kPanel;
            for (int64_t p = p0; p < p1; ++p) {
                const int64_t rows =
                    g.m - p * kPanel < kPanel ? g.m - p * kPanel : kPanel;
                const uint16_t* ap = abuf + (p - p0) * g.ksteps * kStepElems;
                float* c = g.c + p * kPanel * g.rs_c + q * kPanel * g.cs_c;
                // Row-major C, full tile, no accumulation: store directly.
                const bool direct = !g.accumulate && g.cs_c == 1 &&
                                    g.rs_c > 0 && rows == kPanel &&
                                    cols == kPanel;
                if (direct) {
                    micro_kernel<kStreamB>(ap, bp, g.ksteps, c,
                                           g.rs_c * int64_t(sizeof(float)));
                } else {
                    micro_kernel<kStreamB>(ap, bp, g.ksteps, cbuf,
                                           kPanel * int64_t(sizeof(float)));
                    write_back(cbuf, rows, cols, c, g.rs_c, g.cs_c,
                               g.accumulate);
                }
            }
        }
    }
    engine_end();
    pool_free(abuf, abytes);
    return true;
}

}  // namespace

size_t packed_b_bytes(int64_t k, int64_t n) {
    return size_t(ceil_div(k, kStepK)) * size_t(ceil_div(n, kPanel)) *
           kStepElems * sizeof(uint16_t);
}

void pack_b(int64_t k, int64_t n, const Bf16Operand& b, uint16_t* dst) {
    const int64_t ksteps = ceil_div(k, kStepK);
    const int64_t panels = ceil_div(n, kPanel);
    // About 64 KiB of packed B per chunk.
    const int64_t grain = ksteps >= 32 ? 1 : 32 / ksteps;
    parallel_for(panels, grain, [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
            const int64_t cols = n - q * kPanel < kPanel ? n - q * kPanel
                                                         : kPanel;
            pack_b_panel(b, q * kPanel, cols, k, ksteps,
                         dst + q * ksteps * kStepElems);
        }
    });
}

int gemm_packed_b(int64_t m, int64_t n, int64_t k, const Bf16Operand& a,
                  const uint16_t* pb, int64_t packed_k, float* c,
                  int64_t rs_c, int64_t cs_c, bool accumulate, int64_t mc,
                  int64_t nc) {
    if (packed_k < k) return kErrArgument;
    if (m <= 0 || n <= 0) return kOk;
    if (k <= 0) {  // an empty sum: C = 0, or C unchanged
        if (!accumulate)
            for (int64_t i = 0; i < m; ++i)
                for (int64_t j = 0; j < n; ++j) c[i * rs_c + j * cs_c] = 0.f;
        return kOk;
    }
    GemmArgs g;
    g.m = m, g.n = n, g.k = k, g.ksteps = ceil_div(k, kStepK);
    g.a = a, g.pb = pb, g.bsteps = ceil_div(packed_k, kStepK);
    g.c = c, g.rs_c = rs_c, g.cs_c = cs_c;
    g.accumulate = accumulate;
    g.mcp = mc / kPanel > 0 ? mc / kPanel : 1;
    g.ncp = nc / kPanel > 0 ? nc / kPanel : 1;
    const int64_t pan_m = ceil_div(m, kPanel), pan_n = ceil_div(n, kPanel);
    g.n_mb = ceil_div(pan_m, g.mcp);
    g.n_nb = ceil_div(pan_n, g.ncp);
    // B is read once (by each thread) when there is one m block: load it
    // with the streaming hint so that it does not push the A block out of
    // L2.
    const bool stream_b = g.n_mb == 1;
    // Fewer m blocks than threads: split the rows finer, so that each
    // thread packs only its own rows of A (threads sharing an m block
    // pack the same rows twice), then, if there are still fewer blocks
    // than threads, the columns.  The result does not depend on the
    // blocks.
    const int64_t nt = in_parallel() ? 1 : max_threads();
    if (g.n_mb < nt && g.n_mb < pan_m) {
        const int64_t mbs = pan_m < nt ? pan_m : nt;
        g.mcp = ceil_div(pan_m, mbs);
        g.n_mb = ceil_div(pan_m, g.mcp);
    }
    if (g.n_mb * g.n_nb < nt && g.n_nb < pan_n) {
        const int64_t want = ceil_div(nt, g.n_mb);
        const int64_t nbs = pan_n < want ? pan_n : want;
        g.ncp = ceil_div(pan_n, nbs);
        g.n_nb = ceil_div(pan_n, g.ncp);
    }
    const int64_t units = g.n_mb * g.n_nb;
    const int64_t grain = g.n_mb >= 2 * nt ? g.n_nb : 1;
    int failed = 0;
    parallel_for(units, grain, [&](int64_t u0, int64_t u1) {
        const bool ok = stream_b ? run_units<true>(g, u0, u1)
                                 : run_units<false>(g, u0, u1);
        if (!ok) __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
    });
    return failed ? kErrNoMemory : kOk;
}

#if !defined(FT_BF16_VECTOR_KERNEL)

// TDPBF16PS on one core: 4 independent accumulator tiles, each
// instruction 16 x 16 x 32 multiply-adds (16384 flops).
double peak_tflops(double seconds) {
    engine_begin();
    Tiles::template zero<4>();
    Tiles::template zero<5>();
    Tiles::template zero<6>();
    Tiles::template zero<7>();
    Tiles::template zero<0>();
    Tiles::template zero<1>();
    Tiles::template zero<2>();
    Tiles::template zero<3>();
    constexpr int64_t kInner = 64;
    int64_t ops = 0;
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const double t0 = double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
    double t1 = t0;
    do {
        for (int64_t it = 0; it < kInner; ++it) {
            Tiles::template dpbf16ps<0, 4, 6>();
            Tiles::template dpbf16ps<1, 4, 7>();
            Tiles::template dpbf16ps<2, 5, 6>();
            Tiles::template dpbf16ps<3, 5, 7>();
        }
        ops += 4 * kInner;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t1 = double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
    } while (t1 - t0 < seconds);
    engine_end();
    return double(ops) * 16384.0 / (t1 - t0) * 1e-12;
}

#else  // FT_BF16_VECTOR_KERNEL

// VDPBF16PS on one core: 12 independent accumulators (more than the
// latency x throughput of the CPUs that have it), each instruction 16
// lanes x 2 multiply-adds (64 flops).
double peak_tflops(double seconds) {
    using Acc = typename Vec::Acc;
    using Pairs = typename Vec::Pairs;
    constexpr int kChains = 12;
    constexpr int64_t kInner = 256;
    alignas(64) static const uint16_t zeros[32] = {0};
    const Pairs a = Vec::load(zeros), b = Vec::load(zeros);
    Acc acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = Vec::zero();
    int64_t ops = 0;
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const double t0 = double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
    double t1 = t0;
    do {
        // A local copy that never escapes, so every chain stays in a
        // register through the inner loop (the array crosses the clock
        // call below, which would keep it in memory).
        Acc r[kChains];
        for (int i = 0; i < kChains; ++i) r[i] = acc[i];
        for (int64_t it = 0; it < kInner; ++it) {
#pragma GCC unroll 16
            for (int i = 0; i < kChains; ++i) {
                r[i] = Vec::dpbf16ps(r[i], a, b);
                Vec::keep(r[i]);
            }
        }
        for (int i = 0; i < kChains; ++i) acc[i] = r[i];
        ops += kChains * kInner;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t1 = double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
    } while (t1 - t0 < seconds);
    alignas(64) float sink[16];
    for (int i = 0; i < kChains; ++i) Vec::store(sink, acc[i]);
    return double(ops) * 64.0 / (t1 - t0) * 1e-12;
}

#endif  // FT_BF16_VECTOR_KERNEL
