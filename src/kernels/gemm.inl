// GEMM micro-kernels, packing, the macro-kernel, the no-pack path, GEMV and
// dot, written once over V<T> and compiled per ISA (see core/simd.h).
//
// Formula: C[i, j] = (C[i, j] +) sum_p A[i, p] * B[p, j]; C is m x n, A is
// m x k, B is k x n, every stride in elements (any sign, 0 allowed).
//
// Packing contract (the layout the micro-kernel reads):
//   packed A: micro-panels of MR rows, each kc x MR, k-major: the MR values
//             of one k are adjacent, so one broadcast per row per k;
//   packed B: micro-panels of NR = NV * lanes columns, each kc x NR,
//             k-major: the NR values of one k are NV adjacent vectors.
//   Partial micro-panels (mc % MR, nc % NR) are zero-padded, so the vector
//   kernel computes every tile, edge tiles included; the padded rows and
//   columns only ever reach lanes that are never written back.
//   The float32 set also packs from 16-bit sources (GemmSrc: bfloat16,
//   float16, float32 rounded to either, nearest even): the panels hold the
//   exact float32 values of the (rounded) elements, so a reduced-precision
//   product costs the float32 one plus half the operand bytes read, and
//   its result is bitwise the float32 product of the rounded operands.
//   The conversion is vectorised (F16C, 16-bit shifts, integer rounding)
//   wherever the float32 packer loads whole vectors; strided gathers
//   convert element by element with core/half.h.
//
// Register budget of the MR x NR micro-kernel (row-preferring: C rows are
// vectors): MR * NV accumulators + NV B vectors + 1 broadcast.
//   avx2   sgemm 6 x 16, dgemm 6 x 8 : 12 ymm acc + 2 + 1 = 15 of 16
//   avx512 sgemm 12 x 32, dgemm 12 x 16: 24 zmm acc + 2 + 1 = 27 of 32
//   scalar 4 x 4: 16 scalar accumulators
// 12 (24) independent FMA chains cover the 2 FMA pipes x 4-cycle latency of
// Zen 3 / Haswell (Skylake-X) with room to spare.  The per-ISA tiles and
// cache blocks live in <isa>/gemm_blocking.h.
//
// Edge handling: a full tile with unit column stride is updated in place;
// a partial tile (m_left < MR or n_left < NR) is written with masked vector
// stores; a C with non-unit column stride goes through an aligned tile
// buffer and a strided copy.
//
// Accuracy: each C element is one fused multiply-add chain over p in
// increasing order inside a kc block, blocks added to C in increasing
// order: |error| <= k * eps * sum_p |A[i, p]| * |B[p, j]| to first order.
// (A deep product with a small C sums groups of kc blocks separately and
// adds the group sums in order: ops/gemm.cpp, deep_split.)
// The order depends on kc only, never on the thread count or the tile a
// thread happens to compute, so results are bitwise identical whatever the
// number of threads.  dot accumulates float32 inputs in float64.

#include <type_traits>

#include "core/half.h"
#include "core/simd.h"
#include "kernels/gemm_kernels.h"

namespace ft {
namespace FT_ISA {

namespace gemm_detail {

// Multiply-add: one fused instruction on the vector ISAs; the portable
// build has no FMA instruction (std::fma would be a library call), so it
// rounds the product and the sum separately.
template <class T>
FT_INLINE V<T> madd(V<T> a, V<T> b, V<T> c) {
#if defined(FT_ISA_SCALAR)
    return {a.r * b.r + c.r};
#else
    return vfma(a, b, c);
#endif
}

FT_INLINE int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// ------------------------------------------------------- operand sources
//
// The packing routines, the GEMV kernels and widen() read their operand
// through a source S: S::E is the stored element, S::load / load_partial
// return one V<T> of values, S::get one value.  SrcPlain reads T as it is;
// the four 16-bit sources (float32 kernel set only) give the float32 value
// of a bfloat16 or float16 element, or of a float32 element rounded to
// bfloat16 / float16 (nearest even, NaN kept and quieted), so that a
// product on them is bit for bit the float32 product of the rounded
// operands.  Vector and scalar code give the same bits (core/half.h is the
// reference, as in kernels/convert.inl).
template <class T>
struct SrcPlain {
    using E = T;
    static FT_INLINE V<T> load(const E* p) { return V<T>::load(p); }
    static FT_INLINE V<T> load_partial(const E* p, int64_t n) {
        return V<T>::load_partial(p, n);
    }
    static FT_INLINE T get(const E* p) { return *p; }
};

#if defined(FT_ISA_AVX512)
FT_INLINE __m512 src_bf16_widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
FT_INLINE __m512 src_f16_widen(__m256i h) { return _mm512_cvtph_ps(h); }
// Round to bfloat16 and widen back: the rounded value is the float32 with
// the low 16 bits cleared.
FT_INLINE __m512 src_bf16_round(__m512 v) {
    const __m512i x = _mm512_castps_si512(v);
    const __m512i lsb =
        _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(
        x, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    const __m512i ax = _mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff));
    const __mmask16 nan =
        _mm512_cmpgt_epi32_mask(ax, _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_or_epi32(r, nan, x, _mm512_set1_epi32(0x00400000));
    return _mm512_castsi512_ps(
        _mm512_and_si512(r, _mm512_set1_epi32(int(0xffff0000u))));
}
FT_INLINE __m512 src_f16_round(__m512 v) {
    return _mm512_cvtph_ps(_mm512_cvtps_ph(
        v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
FT_INLINE __m256i src_load16(const uint16_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
#elif defined(FT_ISA_AVX2)
FT_INLINE __m256 src_bf16_widen(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
FT_INLINE __m256 src_f16_widen(__m128i h) { return _mm256_cvtph_ps(h); }
FT_INLINE __m256 src_bf16_round(__m256 v) {
    const __m256i x = _mm256_castps_si256(v);
    const __m256i lsb =
        _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(
        x, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
    // NaN lanes: |x| > inf as signed integers (both sides non-negative).
    const __m256i ax = _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff));
    const __m256i nan = _mm256_cmpgt_epi32(ax, _mm256_set1_epi32(0x7f800000));
    const __m256i quiet = _mm256_or_si256(x, _mm256_set1_epi32(0x00400000));
    r = _mm256_blendv_epi8(r, quiet, nan);
    return _mm256_castsi256_ps(
        _mm256_and_si256(r, _mm256_set1_epi32(int(0xffff0000u))));
}
FT_INLINE __m256 src_f16_round(__m256 v) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(
        v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
FT_INLINE __m128i src_load16(const uint16_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
#endif

FT_INLINE float src_bf16_scalar(uint16_t h) { return bf16_to_f32(h); }
FT_INLINE float src_f16_scalar(uint16_t h) { return f16_to_f32(h); }
FT_INLINE float src_f32_bf16_scalar(float x) {
    return bf16_to_f32(bf16_from_f32(x));
}
FT_INLINE float src_f32_f16_scalar(float x) {
    return f16_to_f32(f16_from_f32(x));
}

// 16-bit sources: a partial vector goes through a zeroed buffer (edges
// only), so no load reads past the n elements.
#if defined(FT_ISA_SCALAR)
#define FT_SRC16(NAME, WIDEN, SCALAR)                                     \
    struct NAME {                                                         \
        using E = uint16_t;                                               \
        static FT_INLINE V<float> load(const E* p) { return {SCALAR(*p)}; } \
        static FT_INLINE V<float> load_partial(const E* p, int64_t n) {   \
            return {n > 0 ? SCALAR(*p) : 0.0f};                           \
        }                                                                 \
        static FT_INLINE float get(const E* p) { return SCALAR(*p); }     \
    };
#define FT_SRC32(NAME, ROUND, SCALAR)                                     \
    struct NAME {                                                         \
        using E = float;                                                  \
        static FT_INLINE V<float> load(const E* p) { return {SCALAR(*p)}; } \
        static FT_INLINE V<float> load_partial(const E* p, int64_t n) {   \
            return {n > 0 ? SCALAR(*p) : 0.0f};                           \
        }                                                                 \
        static FT_INLINE float get(const E* p) { return SCALAR(*p); }     \
    };
#else
#define FT_SRC16(NAME, WIDEN, SCALAR)                                     \
    struct NAME {                                                         \
        using E = uint16_t;                                               \
        static FT_INLINE V<float> load(const E* p) {                      \
            return {WIDEN(src_load16(p))};                                \
        }                                                                 \
        static FT_INLINE V<float> load_partial(const E* p, int64_t n) {   \
            alignas(64) uint16_t t[V<float>::N] = {};                     \
            for (int64_t i = 0; i < n && i < V<float>::N; ++i) t[i] = p[i]; \
            return {WIDEN(src_load16(t))};                                \
        }                                                                 \
        static FT_INLINE float get(const E* p) { return SCALAR(*p); }     \
    };
#define FT_SRC32(NAME, ROUND, SCALAR)                                     \
    struct NAME {                                                         \
        using E = float;                                                  \
        static FT_INLINE V<float> load(const E* p) {                      \
            return {ROUND(V<float>::load(p).r)};                          \
        }                                                                 \
        static FT_INLINE V<float> load_partial(const E* p, int64_t n) {   \
            return {ROUND(V<float>::load_partial(p, n).r)};               \
        }                                                                 \
        static FT_INLINE float get(const E* p) { return SCALAR(*p); }     \
    };
#endif

FT_SRC16(SrcBf16, src_bf16_widen, src_bf16_scalar)
FT_SRC16(SrcF16, src_f16_widen, src_f16_scalar)
FT_SRC32(SrcF32Bf16, src_bf16_round, src_f32_bf16_scalar)
FT_SRC32(SrcF32F16, src_f16_round, src_f32_f16_scalar)
#undef FT_SRC16
#undef FT_SRC32

// Write the MR x NV accumulator tile to C (m_valid rows, n_valid columns).
template <class T, int MR, int NV>
FT_INLINE void store_tile(V<T> (&acc)[MR][NV], T* c, int64_t rs_c,
                          int64_t cs_c, bool accumulate, int64_t m_valid,
                          int64_t n_valid) {
    constexpr int L = V<T>::N;
    constexpr int NR = NV * L;
    if (cs_c == 1 && n_valid == NR) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
            if (i >= m_valid) break;
            T* ci = c + i * rs_c;
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) {
                V<T> r = acc[i][v];
                if (accumulate) r = r + V<T>::load(ci + v * L);
                r.store(ci + v * L);
            }
        }
    } else if (cs_c == 1) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
            if (i >= m_valid) break;
            T* ci = c + i * rs_c;
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) {
                const int64_t nn = n_valid - v * L;
                if (nn <= 0) break;
                V<T> r = acc[i][v];
                if (nn >= L) {
                    if (accumulate) r = r + V<T>::load(ci + v * L);
                    r.store(ci + v * L);
                } else {
                    if (accumulate)
                        r = r + V<T>::load_partial(ci + v * L, nn);
                    r.store_partial(ci + v * L, nn);
                }
            }
        }
    } else {
        alignas(64) T tile[MR * NR];
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[i][v].store(tile + i * NR + v * L);
        for (int64_t i = 0; i < m_valid; ++i) {
            T* ci = c + i * rs_c;
            for (int64_t j = 0; j < n_valid; ++j) {
                const T r = tile[i * NR + j];
                ci[j * cs_c] = accumulate ? r + ci[j * cs_c] : r;
            }
        }
    }
}

// The micro-kernel: C tile (MR x NR) = (C +) packed A micro-panel
// (kc x MR) @ packed B micro-panel (kc x NR).
template <class T, int MR, int NV>
FT_INLINE void ukr(int64_t kc, const T* __restrict pa,
                   const T* __restrict pb, T* c, int64_t rs_c, int64_t cs_c,
                   bool accumulate, int64_t m_valid, int64_t n_valid) {
    constexpr int L = V<T>::N;
    constexpr int NR = NV * L;
    V<T> acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = V<T>::zero();

    // Bring the C tile towards L1 while the k loop runs.
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
        if (i >= m_valid) break;
        __builtin_prefetch(c + i * rs_c, 1, 3);
        __builtin_prefetch(c + i * rs_c + (n_valid - 1) * cs_c, 1, 3);
    }

#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; ++p) {
        V<T> b[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) b[v] = V<T>::load(pb + v * L);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
            const V<T> a = V<T>::set1(pa[i]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[i][v] = madd(a, b[v], acc[i][v]);
        }
        pa += MR;
        pb += NR;
    }
    store_tile<T, MR, NV>(acc, c, rs_c, cs_c, accumulate, m_valid, n_valid);
}

template <class T, int MR, int NV>
void macro(int64_t mc, int64_t nc, int64_t kc, const T* pa, const T* pb,
           T* c, int64_t rs_c, int64_t cs_c, bool accumulate) {
    constexpr int NR = NV * V<T>::N;
    // jr outside ir: the kc x NR micro-panel of B stays in L1 while the
    // A micro-panels stream from L2.
    for (int64_t jr = 0; jr < nc; jr += NR) {
        const int64_t nn = min64(NR, nc - jr);
        const T* b = pb + jr * kc;
        for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mm = min64(MR, mc - ir);
            ukr<T, MR, NV>(kc, pa + ir * kc, b, c + ir * rs_c + jr * cs_c,
                           rs_c, cs_c, accumulate, mm, nn);
        }
    }
}

// R streams (rows of A, or columns of B) contiguous along k, interleaved
// k-major into dst (the R values of one k adjacent).  For a converting
// source, L values of each stream are converted by one vector load into a
// small tile and then interleaved, so that the conversion is vectorised on
// every ISA; a plain source returns 0 (its callers have their own loops).
// Returns how many k were packed.
template <class T, class S, int R>
FT_INLINE int64_t pack_streams_converted(const typename S::E* const* r,
                                         int64_t kc, T* dst) {
    if constexpr (std::is_same<S, SrcPlain<T>>::value) {
        (void)r, (void)kc, (void)dst;
        return 0;
    } else {
        constexpr int L = V<T>::N;
        alignas(64) T tile[R][L];
        int64_t p = 0;
        for (; p + L <= kc; p += L) {
#pragma GCC unroll 4
            for (int i = 0; i < R; ++i) S::load(r[i] + p).store(tile[i]);
            for (int q = 0; q < L; ++q)
#pragma GCC unroll 16
                for (int i = 0; i < R; ++i) dst[(p + q) * R + i] = tile[i][q];
        }
        return p;
    }
}

// Rows of A contiguous along k: pack as many k as a vector transpose
// allows and return how far it got (the caller packs the rest).  The
// generic version does none.
template <class T, class S, int MR>
FT_INLINE int64_t pack_a_rows_simd(const typename S::E* const* r,
                                   int64_t kc, T* dst) {
    return pack_streams_converted<T, S, MR>(r, kc, dst);
}

#if defined(FT_ISA_AVX2)
// 6 rows x 8 k per step: an 8 x 8 transpose with two zero rows, then
// eight overlapping 8-lane stores of 6 useful lanes each (stores in
// increasing address order, each overwriting the previous one's two spare
// lanes; the last is masked so nothing is written past the 48 values).
template <class S>
FT_INLINE int64_t pack_a_rows_simd6(const typename S::E* const* r,
                                    int64_t kc, float* dst) {
    const __m256i last6 = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
    const __m256 z = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8, dst += 48) {
        const __m256 r0 = S::load(r[0] + p).r;
        const __m256 r1 = S::load(r[1] + p).r;
        const __m256 r2 = S::load(r[2] + p).r;
        const __m256 r3 = S::load(r[3] + p).r;
        const __m256 r4 = S::load(r[4] + p).r;
        const __m256 r5 = S::load(r[5] + p).r;
        const __m256 a0 = _mm256_unpacklo_ps(r0, r1);
        const __m256 a1 = _mm256_unpackhi_ps(r0, r1);
        const __m256 a2 = _mm256_unpacklo_ps(r2, r3);
        const __m256 a3 = _mm256_unpackhi_ps(r2, r3);
        const __m256 a4 = _mm256_unpacklo_ps(r4, r5);
        const __m256 a5 = _mm256_unpackhi_ps(r4, r5);
        const __m256 b0 = _mm256_shuffle_ps(a0, a2, 0x44);  // k0 | k4
        const __m256 b1 = _mm256_shuffle_ps(a0, a2, 0xee);  // k1 | k5
        const __m256 b2 = _mm256_shuffle_ps(a1, a3, 0x44);  // k2 | k6
        const __m256 b3 = _mm256_shuffle_ps(a1, a3, 0xee);  // k3 | k7
        const __m256 b4 = _mm256_shuffle_ps(a4, z, 0x44);
        const __m256 b5 = _mm256_shuffle_ps(a4, z, 0xee);
        const __m256 b6 = _mm256_shuffle_ps(a5, z, 0x44);
        const __m256 b7 = _mm256_shuffle_ps(a5, z, 0xee);
        _mm256_storeu_ps(dst + 0, _mm256_permute2f128_ps(b0, b4, 0x20));
        _mm256_storeu_ps(dst + 6, _mm256_permute2f128_ps(b1, b5, 0x20));
        _mm256_storeu_ps(dst + 12, _mm256_permute2f128_ps(b2, b6, 0x20));
        _mm256_storeu_ps(dst + 18, _mm256_permute2f128_ps(b3, b7, 0x20));
        _mm256_storeu_ps(dst + 24, _mm256_permute2f128_ps(b0, b4, 0x31));
        _mm256_storeu_ps(dst + 30, _mm256_permute2f128_ps(b1, b5, 0x31));
        _mm256_storeu_ps(dst + 36, _mm256_permute2f128_ps(b2, b6, 0x31));
        _mm256_maskstore_ps(dst + 42, last6,
                            _mm256_permute2f128_ps(b3, b7, 0x31));
    }
    return p;
}
#endif

template <class T, class S, int MR>
void pack_a(int64_t mc, int64_t kc, const typename S::E* a, int64_t rs_a,
            int64_t cs_a, T* dst) {
    using E = typename S::E;
    for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
        const int64_t mr = min64(MR, mc - i0);
        const E* ai = a + i0 * rs_a;
        if (mr == MR && cs_a == 1) {
            // Rows contiguous along k: MR read streams, one write stream.
            const E* r[MR];
            for (int i = 0; i < MR; ++i) r[i] = ai + i * rs_a;
            int64_t p0;
#if defined(FT_ISA_AVX2)
            if constexpr (std::is_same<T, float>::value && MR == 6)
                p0 = pack_a_rows_simd6<S>(r, kc, dst);
            else
#endif
                p0 = pack_a_rows_simd<T, S, MR>(r, kc, dst);
            for (int64_t p = p0; p < kc; ++p)
#pragma GCC unroll 16
                for (int i = 0; i < MR; ++i)
                    dst[p * MR + i] = S::get(r[i] + p);
        } else if (mr == MR && rs_a == 1) {
            // Columns contiguous: each k is one contiguous run of MR.
            for (int64_t p = 0; p < kc; ++p)
#pragma GCC unroll 16
                for (int i = 0; i < MR; ++i)
                    dst[p * MR + i] = S::get(ai + p * cs_a + i);
        } else {
            for (int64_t p = 0; p < kc; ++p)
                for (int i = 0; i < MR; ++i)
                    dst[p * MR + i] =
                        i < mr ? S::get(ai + i * rs_a + p * cs_a) : T(0);
        }
    }
}

template <class T, class S, int NV>
void pack_b(int64_t kc, int64_t nc, const typename S::E* b, int64_t rs_b,
            int64_t cs_b, T* dst) {
    using E = typename S::E;
    constexpr int L = V<T>::N;
    constexpr int NR = NV * L;
    for (int64_t j0 = 0; j0 < nc; j0 += NR, dst += NR * kc) {
        const int64_t nr = min64(NR, nc - j0);
        const E* bj = b + j0 * cs_b;
        if (cs_b == 1 && nr == NR) {
            for (int64_t p = 0; p < kc; ++p) {
                const E* src = bj + p * rs_b;
#pragma GCC unroll 4
                for (int v = 0; v < NV; ++v)
                    S::load(src + v * L).store(dst + p * NR + v * L);
            }
        } else if (cs_b == 1) {
            for (int64_t p = 0; p < kc; ++p) {
                const E* src = bj + p * rs_b;
#pragma GCC unroll 4
                for (int v = 0; v < NV; ++v) {
                    const int64_t nn = nr - v * L;
                    V<T> x = nn >= L   ? S::load(src + v * L)
                             : nn > 0 ? S::load_partial(src + v * L, nn)
                                      : V<T>::zero();
                    x.store(dst + p * NR + v * L);
                }
            }
        } else if (nr == NR && rs_b == 1) {
            // Transposed B (columns contiguous along k): NR read streams.
            const E* col[NR];
            for (int j = 0; j < NR; ++j) col[j] = bj + j * cs_b;
            const int64_t p0 =
                pack_streams_converted<T, S, NR>(col, kc, dst);
            for (int64_t p = p0; p < kc; ++p)
#pragma GCC unroll 16
                for (int j = 0; j < NR; ++j)
                    dst[p * NR + j] = S::get(col[j] + p);
        } else {
            for (int64_t p = 0; p < kc; ++p)
                for (int j = 0; j < NR; ++j)
                    dst[p * NR + j] =
                        j < nr ? S::get(bj + p * rs_b + j * cs_b) : T(0);
        }
    }
}

// ------------------------------------------------------------- no packing
//
// The tile kernel reads A by broadcasts straight from its rows (any
// strides) and B by vector loads from its unit-stride rows; the last
// column block uses masked loads (FULLN false).  M rows (1 <= M <= MR)
// are a template parameter so that the m edge needs no row buffer.
template <class T, int M, int NV, bool FULLN>
FT_INLINE void sup_tile(int64_t k, const T* a, int64_t rs_a, int64_t cs_a,
                        const T* b, int64_t rs_b, T* c, int64_t rs_c,
                        bool accumulate, int64_t n_valid) {
    constexpr int L = V<T>::N;
    V<T> acc[M][NV];
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = V<T>::zero();
    const T* ar[M];
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) ar[i] = a + i * rs_a;
#pragma GCC unroll 2
    for (int64_t p = 0; p < k; ++p) {
        V<T> bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
            if (FULLN) {
                bv[v] = V<T>::load(b + v * L);
            } else {
                const int64_t nn = n_valid - v * L;
                bv[v] = nn >= L   ? V<T>::load(b + v * L)
                        : nn > 0 ? V<T>::load_partial(b + v * L, nn)
                                 : V<T>::zero();
            }
        }
#pragma GCC unroll 16
        for (int i = 0; i < M; ++i) {
            const V<T> av = V<T>::set1(ar[i][p * cs_a]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[i][v] = madd(av, bv[v], acc[i][v]);
        }
        b += rs_b;
    }
    store_tile<T, M, NV>(acc, c, rs_c, 1, accumulate, M, n_valid);
}

template <class T, int MR, int NV, bool FULLN, int M = 1>
FT_INLINE void sup_tile_m(int64_t mm, int64_t k, const T* a, int64_t rs_a,
                          int64_t cs_a, const T* b, int64_t rs_b, T* c,
                          int64_t rs_c, bool accumulate, int64_t n_valid) {
    if constexpr (M < MR) {
        if (mm == M) {
            sup_tile<T, M, NV, FULLN>(k, a, rs_a, cs_a, b, rs_b, c, rs_c,
                                      accumulate, n_valid);
            return;
        }
        sup_tile_m<T, MR, NV, FULLN, M + 1>(mm, k, a, rs_a, cs_a, b, rs_b, c,
                                            rs_c, accumulate, n_valid);
    } else {
        sup_tile<T, MR, NV, FULLN>(k, a, rs_a, cs_a, b, rs_b, c, rs_c,
                                   accumulate, n_valid);
    }
}

template <class T, int MR, int NV>
void small(int64_t m, int64_t n, int64_t k, const T* a, int64_t rs_a,
           int64_t cs_a, const T* b, int64_t rs_b, T* c, int64_t rs_c,
           bool accumulate) {
    constexpr int NR = NV * V<T>::N;
    for (int64_t j = 0; j < n; j += NR) {
        const int64_t nn = min64(NR, n - j);
        for (int64_t i = 0; i < m; i += MR) {
            const int64_t mm = min64(MR, m - i);
            if (nn == NR)
                sup_tile_m<T, MR, NV, true>(mm, k, a + i * rs_a, rs_a, cs_a,
                                            b + j, rs_b, c + i * rs_c + j,
                                            rs_c, accumulate, nn);
            else
                sup_tile_m<T, MR, NV, false>(mm, k, a + i * rs_a, rs_a,
                                             cs_a, b + j, rs_b,
                                             c + i * rs_c + j, rs_c,
                                             accumulate, nn);
        }
    }
}

// ------------------------------------------------------------------ GEMV
//
// Row form, y = x^T M with unit stride along the rows of M: stream M row
// by row (4 rows per pass, so y is loaded and stored once per 4 rows) and
// keep y in L1.  Each y[j] is one multiply-add chain over p in order,
// whatever the column range a caller passes.
template <class T, class S>
void gemv_rows(int64_t k, int64_t n, const T* x, int64_t incx,
               const typename S::E* mtx, int64_t rs_m, T* y,
               bool accumulate) {
    using E = typename S::E;
    constexpr int L = V<T>::N;
    if (!accumulate)
        for (int64_t j = 0; j < n; ++j) y[j] = T(0);
    int64_t p = 0;
    for (; p + 4 <= k; p += 4) {
        const V<T> x0 = V<T>::set1(x[(p + 0) * incx]);
        const V<T> x1 = V<T>::set1(x[(p + 1) * incx]);
        const V<T> x2 = V<T>::set1(x[(p + 2) * incx]);
        const V<T> x3 = V<T>::set1(x[(p + 3) * incx]);
        const E* m0 = mtx + (p + 0) * rs_m;
        const E* m1 = mtx + (p + 1) * rs_m;
        const E* m2 = mtx + (p + 2) * rs_m;
        const E* m3 = mtx + (p + 3) * rs_m;
        int64_t j = 0;
        for (; j + L <= n; j += L) {
            V<T> r = V<T>::load(y + j);
            r = madd(x0, S::load(m0 + j), r);
            r = madd(x1, S::load(m1 + j), r);
            r = madd(x2, S::load(m2 + j), r);
            r = madd(x3, S::load(m3 + j), r);
            r.store(y + j);
        }
        if (j < n) {
            const int64_t nn = n - j;
            V<T> r = V<T>::load_partial(y + j, nn);
            r = madd(x0, S::load_partial(m0 + j, nn), r);
            r = madd(x1, S::load_partial(m1 + j, nn), r);
            r = madd(x2, S::load_partial(m2 + j, nn), r);
            r = madd(x3, S::load_partial(m3 + j, nn), r);
            r.store_partial(y + j, nn);
        }
    }
    for (; p < k; ++p) {
        const V<T> x0 = V<T>::set1(x[p * incx]);
        const E* m0 = mtx + p * rs_m;
        int64_t j = 0;
        for (; j + L <= n; j += L)
            madd(x0, S::load(m0 + j), V<T>::load(y + j)).store(y + j);
        if (j < n) {
            const int64_t nn = n - j;
            madd(x0, S::load_partial(m0 + j, nn),
                 V<T>::load_partial(y + j, nn))
                .store_partial(y + j, nn);
        }
    }
}

// Dot form, y[j] = M[j, :] . x with x contiguous (incx must be 1; the
// driver copies a strided x first).  R rows share each load of x; every
// row uses the same two-accumulator pattern, so a row's result does not
// depend on which group it falls in.
template <class T, class S, int R>
FT_INLINE void gemv_dots_rows(int64_t k, const typename S::E* mtx,
                              int64_t rs_m, const T* x, T* out) {
    constexpr int L = V<T>::N;
    V<T> s0[R], s1[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) s0[r] = s1[r] = V<T>::zero();
    int64_t p = 0;
    for (; p + 2 * L <= k; p += 2 * L) {
        const V<T> xa = V<T>::load(x + p), xb = V<T>::load(x + p + L);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
            s0[r] = madd(S::load(mtx + r * rs_m + p), xa, s0[r]);
            s1[r] = madd(S::load(mtx + r * rs_m + p + L), xb, s1[r]);
        }
    }
    if (p + L <= k) {
        const V<T> xa = V<T>::load(x + p);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r)
            s0[r] = madd(S::load(mtx + r * rs_m + p), xa, s0[r]);
        p += L;
    }
    if (p < k) {
        const int64_t nn = k - p;
        const V<T> xa = V<T>::load_partial(x + p, nn);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r)
            s1[r] = madd(S::load_partial(mtx + r * rs_m + p, nn), xa,
                         s1[r]);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) out[r] = reduce_add(s0[r] + s1[r]);
}

template <class T, class S>
void gemv_dots(int64_t n, int64_t k, const typename S::E* mtx, int64_t rs_m,
               const T* x, int64_t incx, T* y, int64_t incy,
               bool accumulate) {
    (void)incx;
    T out[4];
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        gemv_dots_rows<T, S, 4>(k, mtx + j * rs_m, rs_m, x, out);
        for (int r = 0; r < 4; ++r)
            y[(j + r) * incy] =
                accumulate ? y[(j + r) * incy] + out[r] : out[r];
    }
    for (; j < n; ++j) {
        gemv_dots_rows<T, S, 1>(k, mtx + j * rs_m, rs_m, x, out);
        y[j * incy] = accumulate ? y[j * incy] + out[0] : out[0];
    }
}

// ------------------------------------------------------------------- dot
//
// Four independent accumulators (in double for float32 inputs) cover the
// FMA latency; the strided case gathers with scalar loads.
FT_INLINE V<double> load_as_double(const double* p) {
    return V<double>::load(p);
}
FT_INLINE V<double> load_as_double(const float* p) {
#if defined(FT_ISA_AVX512)
    return {_mm512_cvtps_pd(_mm256_loadu_ps(p))};
#elif defined(FT_ISA_AVX2)
    return {_mm256_cvtps_pd(_mm_loadu_ps(p))};
#else
    return {double(*p)};
#endif
}

template <class T>
double dot(int64_t n, const T* x, int64_t incx, const T* y, int64_t incy) {
    constexpr int L = V<double>::N;
    int64_t i = 0;
    double s = 0.0;
    if (incx == 1 && incy == 1) {
        V<double> a0 = V<double>::zero(), a1 = a0, a2 = a0, a3 = a0;
        for (; i + 4 * L <= n; i += 4 * L) {
            a0 = madd(load_as_double(x + i), load_as_double(y + i), a0);
            a1 = madd(load_as_double(x + i + L), load_as_double(y + i + L),
                      a1);
            a2 = madd(load_as_double(x + i + 2 * L),
                      load_as_double(y + i + 2 * L), a2);
            a3 = madd(load_as_double(x + i + 3 * L),
                      load_as_double(y + i + 3 * L), a3);
        }
        for (; i + L <= n; i += L)
            a0 = madd(load_as_double(x + i), load_as_double(y + i), a0);
        s = reduce_add((a0 + a1) + (a2 + a3));
        for (; i < n; ++i) s += double(x[i]) * double(y[i]);
        return s;
    }
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += double(x[i * incx]) * double(y[i * incy]);
        s1 += double(x[(i + 1) * incx]) * double(y[(i + 1) * incy]);
        s2 += double(x[(i + 2) * incx]) * double(y[(i + 2) * incy]);
        s3 += double(x[(i + 3) * incx]) * double(y[(i + 3) * incy]);
    }
    for (; i < n; ++i) s0 += double(x[i * incx]) * double(y[i * incy]);
    return (s0 + s1) + (s2 + s3);
}

// ----------------------------------------------------------------- widen
//
// dst (rows x cols, row-major, contiguous) = the float32 values of a
// source matrix (any strides): scratch operands for the no-pack path and
// the GEMV forms that need a contiguous float32 copy.
template <class S>
void widen(int64_t rows, int64_t cols, const typename S::E* src, int64_t rs,
           int64_t cs, float* dst) {
    constexpr int L = V<float>::N;
    for (int64_t i = 0; i < rows; ++i, dst += cols) {
        const typename S::E* r = src + i * rs;
        if (cs == 1) {
            int64_t j = 0;
            for (; j + L <= cols; j += L) S::load(r + j).store(dst + j);
            if (j < cols)
                S::load_partial(r + j, cols - j).store_partial(dst + j,
                                                               cols - j);
        } else {
            for (int64_t j = 0; j < cols; ++j) dst[j] = S::get(r + j * cs);
        }
    }
}

// void-pointer entries of the source kernel table.
template <class S, int MR>
void pack_a_src(int64_t mc, int64_t kc, const void* a, int64_t rs_a,
                int64_t cs_a, float* dst) {
    pack_a<float, S, MR>(mc, kc, static_cast<const typename S::E*>(a), rs_a,
                         cs_a, dst);
}

template <class S, int NV>
void pack_b_src(int64_t kc, int64_t nc, const void* b, int64_t rs_b,
                int64_t cs_b, float* dst) {
    pack_b<float, S, NV>(kc, nc, static_cast<const typename S::E*>(b), rs_b,
                         cs_b, dst);
}

template <class S>
void gemv_rows_src(int64_t k, int64_t n, const float* x, int64_t incx,
                   const void* mtx, int64_t rs_m, float* y, bool accumulate) {
    gemv_rows<float, S>(k, n, x, incx,
                        static_cast<const typename S::E*>(mtx), rs_m, y,
                        accumulate);
}

template <class S>
void gemv_dots_src(int64_t n, int64_t k, const void* mtx, int64_t rs_m,
                   const float* x, int64_t incx, float* y, int64_t incy,
                   bool accumulate) {
    gemv_dots<float, S>(n, k, static_cast<const typename S::E*>(mtx), rs_m,
                        x, incx, y, incy, accumulate);
}

template <class S>
void widen_src(int64_t rows, int64_t cols, const void* src, int64_t rs,
               int64_t cs, float* dst) {
    widen<S>(rows, cols, static_cast<const typename S::E*>(src), rs, cs, dst);
}

template <class S, class B>
void set_src(GemmSrcKernels& k, int i) {
    k.pack_a[i] = &pack_a_src<S, B::MR>;
    k.pack_b[i] = &pack_b_src<S, B::NV>;
    k.gemv_rows[i] = &gemv_rows_src<S>;
    k.gemv_dots[i] = &gemv_dots_src<S>;
    k.widen[i] = &widen_src<S>;
}

template <class B>
GemmSrcKernels make_src_set() {
    GemmSrcKernels k;
    set_src<SrcPlain<float>, B>(k, kSrcF32);
    set_src<SrcBf16, B>(k, kSrcBf16);
    set_src<SrcF16, B>(k, kSrcF16);
    set_src<SrcF32Bf16, B>(k, kSrcF32Bf16);
    set_src<SrcF32F16, B>(k, kSrcF32F16);
    return k;
}

template <class T, class B>
GemmKernelSet<T> make_set() {
    GemmKernelSet<T> s;
    s.mr = B::MR;
    s.nr = B::NV * V<T>::N;
    s.kc = B::KC;
    s.mc = B::MC;
    s.nc = B::NC;
    s.l1_frac = B::L1_FRAC;
    s.l2_frac = B::L2_FRAC;
    s.l3_frac = B::L3_FRAC;
    s.pack_a = &pack_a<T, SrcPlain<T>, B::MR>;
    s.pack_b = &pack_b<T, SrcPlain<T>, B::NV>;
    s.macro = &macro<T, B::MR, B::NV>;
    s.small = &small<T, B::MR, B::NV>;
    s.gemv_rows = &gemv_rows<T, SrcPlain<T>>;
    s.gemv_dots = &gemv_dots<T, SrcPlain<T>>;
    s.dot = &dot<T>;
    return s;
}

}  // namespace gemm_detail

#define FT_GEMM_STR2(x) #x
#define FT_GEMM_STR(x) FT_GEMM_STR2(x)

const GemmKernels& gemm_kernels() {
    static const GemmKernels k = {
        FT_GEMM_STR(FT_ISA),
        gemm_detail::make_set<float, GemmBlocking<float>>(),
        gemm_detail::make_set<double, GemmBlocking<double>>(),
        gemm_detail::make_src_set<GemmBlocking<float>>(),
    };
    return k;
}

}  // namespace FT_ISA
}  // namespace ft
