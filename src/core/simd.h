// Portable vector types for fasttensor's kernels.
//
// Every kernel source is written once against V<float> and V<double> and
// compiled once per instruction set: the files under src/kernels/<isa>/
// include the shared source and the build gives each folder its own -m
// flags.  This header looks at the flags the current translation unit was
// compiled with and picks the matching register type:
//
//   FT_ISA      lanes (float / double)   registers
//   avx512      16 / 8                   __m512 / __m512d, k-mask tails
//   avx2         8 / 4                   __m256 / __m256d, maskload tails
//   scalar       1 / 1                   plain float / double
//
// FT_ISA also names the namespace (ft::avx512, ft::avx2, ft::scalar) that
// the translation unit must put its code in.
//
// NOTE(odr): a translation unit built with -mavx512f may emit out-of-line
// copies of inline functions.  Everything defined in an ISA unit lives in
// its per-ISA namespace so the linker can never substitute one ISA's copy
// for another's; ISA units avoid std:: containers and algorithms for the
// same reason (their template instances have one shared name).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__)
#include <immintrin.h>
#define FT_ISA avx512
#define FT_ISA_AVX512 1
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define FT_ISA avx2
#define FT_ISA_AVX2 1
#else
#define FT_ISA scalar
#define FT_ISA_SCALAR 1
#endif

#define FT_INLINE inline __attribute__((always_inline))

namespace ft {
namespace FT_ISA {

template <class T>
struct V;
template <class T>
struct M;  // lane mask produced by comparisons

#if defined(FT_ISA_AVX512)

// ---------------------------------------------------------------- AVX-512
template <>
struct M<float> {
    __mmask16 k;
};
template <>
struct M<double> {
    __mmask8 k;
};

#define FT_V512(T, S, MT)                                                     \
    template <>                                                               \
    struct V<T> {                                                             \
        static constexpr int N = 64 / sizeof(T);                              \
        using reg = decltype(_mm512_setzero_##S());                           \
        reg r;                                                                \
        static FT_INLINE V zero() { return {_mm512_setzero_##S()}; }          \
        static FT_INLINE V set1(T x) { return {_mm512_set1_##S(x)}; }         \
        static FT_INLINE V load(const T* p) { return {_mm512_loadu_##S(p)}; } \
        static FT_INLINE MT tail_mask(int64_t n) {                            \
            return (MT)((1ull << n) - 1);                                     \
        }                                                                     \
        static FT_INLINE V load_partial(const T* p, int64_t n) {              \
            return {_mm512_maskz_loadu_##S(tail_mask(n), p)};                 \
        }                                                                     \
        FT_INLINE void store(T* p) const { _mm512_storeu_##S(p, r); }         \
        FT_INLINE void store_partial(T* p, int64_t n) const {                 \
            _mm512_mask_storeu_##S(p, tail_mask(n), r);                       \
        }                                                                     \
    };                                                                        \
    FT_INLINE V<T> operator+(V<T> a, V<T> b) { return {_mm512_add_##S(a.r, b.r)}; } \
    FT_INLINE V<T> operator-(V<T> a, V<T> b) { return {_mm512_sub_##S(a.r, b.r)}; } \
    FT_INLINE V<T> operator*(V<T> a, V<T> b) { return {_mm512_mul_##S(a.r, b.r)}; } \
    FT_INLINE V<T> operator/(V<T> a, V<T> b) { return {_mm512_div_##S(a.r, b.r)}; } \
    FT_INLINE V<T> vfma(V<T> a, V<T> b, V<T> c) {                              \
        return {_mm512_fmadd_##S(a.r, b.r, c.r)};                             \
    }                                                                         \
    FT_INLINE V<T> vfnma(V<T> a, V<T> b, V<T> c) {                             \
        return {_mm512_fnmadd_##S(a.r, b.r, c.r)};                            \
    }                                                                         \
    FT_INLINE V<T> vmax(V<T> a, V<T> b) { return {_mm512_max_##S(a.r, b.r)}; } \
    FT_INLINE V<T> vmin(V<T> a, V<T> b) { return {_mm512_min_##S(a.r, b.r)}; } \
    FT_INLINE V<T> vsqrt(V<T> a) { return {_mm512_sqrt_##S(a.r)}; }           \
    FT_INLINE V<T> vabs(V<T> a) { return {_mm512_abs_##S(a.r)}; }             \
    FT_INLINE V<T> vround(V<T> a) {                                           \
        return {_mm512_roundscale_##S(a.r, _MM_FROUND_TO_NEAREST_INT |        \
                                               _MM_FROUND_NO_EXC)};           \
    }                                                                         \
    FT_INLINE V<T> vfloor(V<T> a) {                                           \
        return {_mm512_roundscale_##S(a.r, _MM_FROUND_TO_NEG_INF |            \
                                               _MM_FROUND_NO_EXC)};           \
    }                                                                         \
    FT_INLINE M<T> operator<(V<T> a, V<T> b) {                                \
        return {_mm512_cmp_##S##_mask(a.r, b.r, _CMP_LT_OQ)};                 \
    }                                                                         \
    FT_INLINE M<T> operator>(V<T> a, V<T> b) {                                \
        return {_mm512_cmp_##S##_mask(a.r, b.r, _CMP_GT_OQ)};                 \
    }                                                                         \
    FT_INLINE M<T> operator<=(V<T> a, V<T> b) {                               \
        return {_mm512_cmp_##S##_mask(a.r, b.r, _CMP_LE_OQ)};                 \
    }                                                                         \
    FT_INLINE M<T> operator>=(V<T> a, V<T> b) {                               \
        return {_mm512_cmp_##S##_mask(a.r, b.r, _CMP_GE_OQ)};                 \
    }                                                                         \
    FT_INLINE M<T> operator==(V<T> a, V<T> b) {                               \
        return {_mm512_cmp_##S##_mask(a.r, b.r, _CMP_EQ_OQ)};                 \
    }                                                                         \
    FT_INLINE M<T> visnan(V<T> a) {                                            \
        return {_mm512_cmp_##S##_mask(a.r, a.r, _CMP_UNORD_Q)};               \
    }                                                                         \
    FT_INLINE M<T> operator|(M<T> a, M<T> b) { return {(MT)(a.k | b.k)}; }    \
    FT_INLINE M<T> operator&(M<T> a, M<T> b) { return {(MT)(a.k & b.k)}; }    \
    /* select(m, a, b): a where m is set, b elsewhere */                       \
    FT_INLINE V<T> select(M<T> m, V<T> a, V<T> b) {                           \
        return {_mm512_mask_blend_##S(m.k, b.r, a.r)};                        \
    }                                                                         \
    FT_INLINE T reduce_add(V<T> a) { return _mm512_reduce_add_##S(a.r); }     \
    FT_INLINE T reduce_max(V<T> a) { return _mm512_reduce_max_##S(a.r); }     \
    FT_INLINE T reduce_min(V<T> a) { return _mm512_reduce_min_##S(a.r); }

FT_V512(float, ps, __mmask16)
FT_V512(double, pd, __mmask8)
#undef FT_V512

// 2**n for integer-valued n in the normal exponent range.
FT_INLINE V<float> pow2i(V<float> n) {
    __m512i e = _mm512_cvtps_epi32(n.r);
    e = _mm512_slli_epi32(_mm512_add_epi32(e, _mm512_set1_epi32(127)), 23);
    return {_mm512_castsi512_ps(e)};
}
FT_INLINE V<double> pow2i(V<double> n) {
    __m512i e = _mm512_cvtepi32_epi64(_mm512_cvtpd_epi32(n.r));
    e = _mm512_slli_epi64(_mm512_add_epi64(e, _mm512_set1_epi64(1023)), 52);
    return {_mm512_castsi512_pd(e)};
}
// split_exp(x, &e): x = m * 2**e with m in [1, 2), for positive normal x.
FT_INLINE V<float> split_exp(V<float> x, V<float>* e) {
    __m512i b = _mm512_castps_si512(x.r);
    __m512i ei = _mm512_sub_epi32(_mm512_srli_epi32(b, 23), _mm512_set1_epi32(127));
    e->r = _mm512_cvtepi32_ps(ei);
    b = _mm512_or_si512(_mm512_and_si512(b, _mm512_set1_epi32(0x007fffff)),
                        _mm512_set1_epi32(0x3f800000));
    return {_mm512_castsi512_ps(b)};
}
FT_INLINE V<double> split_exp(V<double> x, V<double>* e) {
    __m512i b = _mm512_castpd_si512(x.r);
    __m512i ei = _mm512_sub_epi64(_mm512_srli_epi64(b, 52), _mm512_set1_epi64(1023));
    e->r = _mm512_cvtepi64_pd(ei);
    b = _mm512_or_si512(
        _mm512_and_si512(b, _mm512_set1_epi64(0x000fffffffffffffll)),
        _mm512_set1_epi64(0x3ff0000000000000ll));
    return {_mm512_castsi512_pd(b)};
}
FT_INLINE V<float> vcopysign(V<float> mag, V<float> sgn) {
    const __m512 s = _mm512_set1_ps(-0.0f);
    return {_mm512_or_ps(_mm512_andnot_ps(s, mag.r), _mm512_and_ps(s, sgn.r))};
}
FT_INLINE V<double> vcopysign(V<double> mag, V<double> sgn) {
    const __m512d s = _mm512_set1_pd(-0.0);
    return {_mm512_or_pd(_mm512_andnot_pd(s, mag.r), _mm512_and_pd(s, sgn.r))};
}

#elif defined(FT_ISA_AVX2)

// ---------------------------------------------------------------- AVX2
template <>
struct M<float> {
    __m256 k;
};
template <>
struct M<double> {
    __m256d k;
};

FT_INLINE __m256i ft_tail_mask_epi32(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
FT_INLINE __m256i ft_tail_mask_epi64(int64_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n),
                              _mm256_setr_epi64x(0, 1, 2, 3));
}

#define FT_V256(T, S, TAIL)                                                   \
    template <>                                                               \
    struct V<T> {                                                             \
        static constexpr int N = 32 / sizeof(T);                              \
        using reg = decltype(_mm256_setzero_##S());                           \
        reg r;                                                                \
        static FT_INLINE V zero() { return {_mm256_setzero_##S()}; }          \
        static FT_INLINE V set1(T x) { return {_mm256_set1_##S(x)}; }         \
        static FT_INLINE V load(const T* p) { return {_mm256_loadu_##S(p)}; } \
        static FT_INLINE V load_partial(const T* p, int64_t n) {              \
            return {_mm256_maskload_##S(p, TAIL(n))};                         \
        }                                                                     \
        FT_INLINE void store(T* p) const { _mm256_storeu_##S(p, r); }         \
        FT_INLINE void store_partial(T* p, int64_t n) const {                 \
            _mm256_maskstore_##S(p, TAIL(n), r);                              \
        }                                                                     \
    };                                                                        \
    FT_INLINE V<T> operator+(V<T> a, V<T> b) { return {_mm256_add_##S(a.r, b.r)}; } \
    FT_INLINE V<T> operator-(V<T> a, V<T> b) { return {_mm256_sub_##S(a.r, b.r)}; } \
    FT_INLINE V<T> operator*(V<T> a, V<T> b) { return {_mm256_mul_##S(a.r, b.r)}; } \
    FT_INLINE V<T> operator/(V<T> a, V<T> b) { return {_mm256_div_##S(a.r, b.r)}; } \
    FT_INLINE V<T> vfma(V<T> a, V<T> b, V<T> c) {                              \
        return {_mm256_fmadd_##S(a.r, b.r, c.r)};                             \
    }                                                                         \
    FT_INLINE V<T> vfnma(V<T> a, V<T> b, V<T> c) {                             \
        return {_mm256_fnmadd_##S(a.r, b.r, c.r)};                            \
    }                                                                         \
    FT_INLINE V<T> vmax(V<T> a, V<T> b) { return {_mm256_max_##S(a.r, b.r)}; } \
    FT_INLINE V<T> vmin(V<T> a, V<T> b) { return {_mm256_min_##S(a.r, b.r)}; } \
    FT_INLINE V<T> vsqrt(V<T> a) { return {_mm256_sqrt_##S(a.r)}; }           \
    FT_INLINE V<T> vabs(V<T> a) {                                             \
        return {_mm256_andnot_##S(_mm256_set1_##S(-0.0), a.r)};               \
    }                                                                         \
    FT_INLINE V<T> vround(V<T> a) {                                           \
        return {_mm256_round_##S(a.r, _MM_FROUND_TO_NEAREST_INT |             \
                                          _MM_FROUND_NO_EXC)};                \
    }                                                                         \
    FT_INLINE V<T> vfloor(V<T> a) { return {_mm256_floor_##S(a.r)}; }         \
    FT_INLINE M<T> operator<(V<T> a, V<T> b) {                                \
        return {_mm256_cmp_##S(a.r, b.r, _CMP_LT_OQ)};                        \
    }                                                                         \
    FT_INLINE M<T> operator>(V<T> a, V<T> b) {                                \
        return {_mm256_cmp_##S(a.r, b.r, _CMP_GT_OQ)};                        \
    }                                                                         \
    FT_INLINE M<T> operator<=(V<T> a, V<T> b) {                               \
        return {_mm256_cmp_##S(a.r, b.r, _CMP_LE_OQ)};                        \
    }                                                                         \
    FT_INLINE M<T> operator>=(V<T> a, V<T> b) {                               \
        return {_mm256_cmp_##S(a.r, b.r, _CMP_GE_OQ)};                        \
    }                                                                         \
    FT_INLINE M<T> operator==(V<T> a, V<T> b) {                               \
        return {_mm256_cmp_##S(a.r, b.r, _CMP_EQ_OQ)};                        \
    }                                                                         \
    FT_INLINE M<T> visnan(V<T> a) { return {_mm256_cmp_##S(a.r, a.r, _CMP_UNORD_Q)}; } \
    FT_INLINE M<T> operator|(M<T> a, M<T> b) { return {_mm256_or_##S(a.k, b.k)}; } \
    FT_INLINE M<T> operator&(M<T> a, M<T> b) { return {_mm256_and_##S(a.k, b.k)}; } \
    /* select(m, a, b): a where m is set, b elsewhere */                       \
    FT_INLINE V<T> select(M<T> m, V<T> a, V<T> b) {                           \
        return {_mm256_blendv_##S(b.r, a.r, m.k)};                            \
    }                                                                         \
    FT_INLINE V<T> vcopysign(V<T> mag, V<T> sgn) {                             \
        const auto s = _mm256_set1_##S(-0.0);                                 \
        return {_mm256_or_##S(_mm256_andnot_##S(s, mag.r),                    \
                              _mm256_and_##S(s, sgn.r))};                     \
    }

FT_V256(float, ps, ft_tail_mask_epi32)
FT_V256(double, pd, ft_tail_mask_epi64)
#undef FT_V256

FT_INLINE float reduce_add(V<float> a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.r),
                          _mm256_extractf128_ps(a.r, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
FT_INLINE double reduce_add(V<double> a) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a.r),
                           _mm256_extractf128_pd(a.r, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}
FT_INLINE float reduce_max(V<float> a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a.r),
                          _mm256_extractf128_ps(a.r, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
FT_INLINE double reduce_max(V<double> a) {
    __m128d s = _mm_max_pd(_mm256_castpd256_pd128(a.r),
                           _mm256_extractf128_pd(a.r, 1));
    s = _mm_max_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}
FT_INLINE float reduce_min(V<float> a) {
    __m128 s = _mm_min_ps(_mm256_castps256_ps128(a.r),
                          _mm256_extractf128_ps(a.r, 1));
    s = _mm_min_ps(s, _mm_movehl_ps(s, s));
    s = _mm_min_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
FT_INLINE double reduce_min(V<double> a) {
    __m128d s = _mm_min_pd(_mm256_castpd256_pd128(a.r),
                           _mm256_extractf128_pd(a.r, 1));
    s = _mm_min_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

FT_INLINE V<float> pow2i(V<float> n) {
    __m256i e = _mm256_cvtps_epi32(n.r);
    e = _mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23);
    return {_mm256_castsi256_ps(e)};
}
FT_INLINE V<double> pow2i(V<double> n) {
    __m256i e = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(n.r));
    e = _mm256_slli_epi64(_mm256_add_epi64(e, _mm256_set1_epi64x(1023)), 52);
    return {_mm256_castsi256_pd(e)};
}

// split_exp(x, &e): x = m * 2**e with m in [1, 2), for positive normal x.
FT_INLINE V<float> split_exp(V<float> x, V<float>* e) {
    __m256i b = _mm256_castps_si256(x.r);
    __m256i ei = _mm256_sub_epi32(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(127));
    e->r = _mm256_cvtepi32_ps(ei);
    b = _mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi32(0x007fffff)),
                        _mm256_set1_epi32(0x3f800000));
    return {_mm256_castsi256_ps(b)};
}
FT_INLINE V<double> split_exp(V<double> x, V<double>* e) {
    // AVX2 has no int64 -> double conversion: place the biased exponent
    // (< 2**11) in the mantissa of 2**52 and subtract 2**52.
    const __m256d two52 = _mm256_set1_pd(4503599627370496.0);
    __m256i b = _mm256_castpd_si256(x.r);
    __m256i eb = _mm256_srli_epi64(b, 52);
    __m256d ed = _mm256_sub_pd(
        _mm256_castsi256_pd(_mm256_or_si256(eb, _mm256_castpd_si256(two52))),
        two52);
    e->r = _mm256_sub_pd(ed, _mm256_set1_pd(1023.0));
    b = _mm256_or_si256(
        _mm256_and_si256(b, _mm256_set1_epi64x(0x000fffffffffffffll)),
        _mm256_set1_epi64x(0x3ff0000000000000ll));
    return {_mm256_castsi256_pd(b)};
}

#else

// ---------------------------------------------------------------- scalar
template <class T>
struct M {
    bool k;
};

template <class T>
struct V {
    static constexpr int N = 1;
    T r;
    static FT_INLINE V zero() { return {T(0)}; }
    static FT_INLINE V set1(T x) { return {x}; }
    static FT_INLINE V load(const T* p) { return {*p}; }
    static FT_INLINE V load_partial(const T* p, int64_t n) {
        return {n > 0 ? *p : T(0)};
    }
    FT_INLINE void store(T* p) const { *p = r; }
    FT_INLINE void store_partial(T* p, int64_t n) const {
        if (n > 0) *p = r;
    }
};

template <class T>
FT_INLINE V<T> operator+(V<T> a, V<T> b) { return {a.r + b.r}; }
template <class T>
FT_INLINE V<T> operator-(V<T> a, V<T> b) { return {a.r - b.r}; }
template <class T>
FT_INLINE V<T> operator*(V<T> a, V<T> b) { return {a.r * b.r}; }
template <class T>
FT_INLINE V<T> operator/(V<T> a, V<T> b) { return {a.r / b.r}; }
template <class T>
FT_INLINE V<T> vfma(V<T> a, V<T> b, V<T> c) { return {std::fma(a.r, b.r, c.r)}; }
template <class T>
FT_INLINE V<T> vfnma(V<T> a, V<T> b, V<T> c) {
    return {std::fma(-a.r, b.r, c.r)};
}
// Same NaN rule as the x86 max/min instructions: the second operand wins
// when either is NaN.
template <class T>
FT_INLINE V<T> vmax(V<T> a, V<T> b) { return {a.r > b.r ? a.r : b.r}; }
template <class T>
FT_INLINE V<T> vmin(V<T> a, V<T> b) { return {a.r < b.r ? a.r : b.r}; }
template <class T>
FT_INLINE V<T> vsqrt(V<T> a) { return {std::sqrt(a.r)}; }
template <class T>
FT_INLINE V<T> vabs(V<T> a) { return {std::fabs(a.r)}; }
template <class T>
FT_INLINE V<T> vround(V<T> a) { return {std::nearbyint(a.r)}; }
template <class T>
FT_INLINE V<T> vfloor(V<T> a) { return {std::floor(a.r)}; }
template <class T>
FT_INLINE M<T> operator<(V<T> a, V<T> b) { return {a.r < b.r}; }
template <class T>
FT_INLINE M<T> operator>(V<T> a, V<T> b) { return {a.r > b.r}; }
template <class T>
FT_INLINE M<T> operator<=(V<T> a, V<T> b) { return {a.r <= b.r}; }
template <class T>
FT_INLINE M<T> operator>=(V<T> a, V<T> b) { return {a.r >= b.r}; }
template <class T>
FT_INLINE M<T> operator==(V<T> a, V<T> b) { return {a.r == b.r}; }
template <class T>
FT_INLINE M<T> visnan(V<T> a) { return {a.r != a.r}; }
template <class T>
FT_INLINE M<T> operator|(M<T> a, M<T> b) { return {a.k || b.k}; }
template <class T>
FT_INLINE M<T> operator&(M<T> a, M<T> b) { return {a.k && b.k}; }
template <class T>
FT_INLINE V<T> select(M<T> m, V<T> a, V<T> b) { return {m.k ? a.r : b.r}; }
template <class T>
FT_INLINE V<T> vcopysign(V<T> mag, V<T> sgn) { return {std::copysign(mag.r, sgn.r)}; }
template <class T>
FT_INLINE T reduce_add(V<T> a) { return a.r; }
template <class T>
FT_INLINE T reduce_max(V<T> a) { return a.r; }
template <class T>
FT_INLINE T reduce_min(V<T> a) { return a.r; }

FT_INLINE V<float> pow2i(V<float> n) {
    uint32_t bits = (uint32_t)((int32_t)n.r + 127) << 23;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return {f};
}
FT_INLINE V<double> pow2i(V<double> n) {
    uint64_t bits = (uint64_t)((int64_t)n.r + 1023) << 52;
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return {d};
}

// split_exp(x, &e): x = m * 2**e with m in [1, 2), for positive normal x.
FT_INLINE V<float> split_exp(V<float> x, V<float>* e) {
    uint32_t b;
    std::memcpy(&b, &x.r, sizeof b);
    e->r = (float)((int32_t)(b >> 23) - 127);
    b = (b & 0x007fffffu) | 0x3f800000u;
    float m;
    std::memcpy(&m, &b, sizeof m);
    return {m};
}
FT_INLINE V<double> split_exp(V<double> x, V<double>* e) {
    uint64_t b;
    std::memcpy(&b, &x.r, sizeof b);
    e->r = (double)((int64_t)(b >> 52) - 1023);
    b = (b & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    double m;
    std::memcpy(&m, &b, sizeof m);
    return {m};
}

#endif

// Unary minus for every ISA; multiplying by -1 keeps -0.0 and NaN signs
// right, which 0 - a would not.
template <class T>
FT_INLINE V<T> operator-(V<T> a) {
    return a * V<T>::set1(T(-1));
}

}  // namespace FT_ISA
}  // namespace ft
