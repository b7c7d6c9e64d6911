// float32 <-> bfloat16 / float16 conversion kernels over contiguous runs.
//
// Formula: dst[i] = round_nearest_even(src[i]) into 16 bits (narrowing),
// dst[i] = exact float32 value of src[i] (widening); NaN, inf, signed
// zero and subnormals as in core/half.h, whose scalar functions are the
// reference and the tail code of every path.
//
// Layout contract: src and dst are contiguous, need no alignment and do
// not overlap; n >= 0.  16-bit values travel as raw uint16_t bits.
//
// Per ISA:
//   scalar   the core/half.h functions element by element.
//   avx2     float16: F16C VCVTPS2PH (immediate round-to-nearest, so MXCSR
//            RC does not matter) and VCVTPH2PS, 8 lanes.  bfloat16: integer
//            round-to-nearest-even on 8 lanes (add 0x7fff + kept LSB, shift
//            right 16, NaN lanes replaced by the quieted top half), packed
//            to 16 bits with PACKUSDW; widening is a zero-extend and a
//            shift left by 16.
//   avx512   the same methods on 16 lanes (VPMOVDW packs the words).
//
// Register budget: 2 input vectors and 4 constants per step; far below
// the 16 (AVX2) or 32 (AVX-512) registers.
//
// Edge handling: the last n % lanes elements go through the scalar
// functions, which give the same bits as the vector code.
//
// Accuracy: exact (correctly rounded narrowing, exact widening).  The
// AVX2 and scalar paths are checked against each other on all 2**32
// float32 inputs by tests/test_lowp.py::test_all_float32_patterns (marked
// slow) and against ml_dtypes and NumPy on all 65536 16-bit patterns.
#include "core/half.h"
#include "core/simd.h"
#include "kernels/convert.h"

namespace ft {
namespace FT_ISA {

namespace {

void narrow_tail_bf16(const float* src, uint16_t* dst, int64_t i,
                      int64_t n) {
    for (; i < n; ++i) dst[i] = bf16_from_f32(src[i]);
}

void widen_tail_bf16(const uint16_t* src, float* dst, int64_t i, int64_t n) {
    for (; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}

void narrow_tail_f16(const float* src, uint16_t* dst, int64_t i, int64_t n) {
    for (; i < n; ++i) dst[i] = f16_from_f32(src[i]);
}

void widen_tail_f16(const uint16_t* src, float* dst, int64_t i, int64_t n) {
    for (; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

#if defined(FT_ISA_AVX512)

// ---------------------------------------------------------------- AVX-512

FT_INLINE __m256i bf16_round_avx512_16(__m512 v) {
    const __m512i x = _mm512_castps_si512(v);
    const __m512i lsb =
        _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(
        x, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    const __m512i ax = _mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff));
    const __mmask16 nan =
        _mm512_cmpgt_epi32_mask(ax, _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_or_epi32(r, nan, x, _mm512_set1_epi32(0x00400000));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

void cvt_f32_bf16(const float* src, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i h = bf16_round_avx512_16(_mm512_loadu_ps(src + i));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), h);
    }
    narrow_tail_bf16(src, dst, i, n);
}

void cvt_bf16_f32(const uint16_t* src, float* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i h =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
        const __m512i w = _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
        _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(w));
    }
    widen_tail_bf16(src, dst, i, n);
}

void cvt_f32_f16(const float* src, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i h = _mm512_cvtps_ph(
            _mm512_loadu_ps(src + i),
            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), h);
    }
    narrow_tail_f16(src, dst, i, n);
}

void cvt_f16_f32(const uint16_t* src, float* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i h =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(h));
    }
    widen_tail_f16(src, dst, i, n);
}

#elif defined(FT_ISA_AVX2)

// ---------------------------------------------------------------- AVX2

FT_INLINE __m128i bf16_round_avx2_8(__m256 v) {
    const __m256i x = _mm256_castps_si256(v);
    const __m256i lsb =
        _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(
        x, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
    // NaN lanes: |x| > inf as signed integers (both sides non-negative).
    const __m256i ax = _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff));
    const __m256i nan = _mm256_cmpgt_epi32(ax, _mm256_set1_epi32(0x7f800000));
    const __m256i quiet = _mm256_or_si256(x, _mm256_set1_epi32(0x00400000));
    r = _mm256_srli_epi32(_mm256_blendv_epi8(r, quiet, nan), 16);
    // Every lane is <= 0xffff now, so the unsigned saturating pack is a
    // plain narrowing.
    return _mm_packus_epi32(_mm256_castsi256_si128(r),
                            _mm256_extracti128_si256(r, 1));
}

void cvt_f32_bf16(const float* src, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m128i h0 = bf16_round_avx2_8(_mm256_loadu_ps(src + i));
        const __m128i h1 = bf16_round_avx2_8(_mm256_loadu_ps(src + i + 8));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h0);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 8), h1);
    }
    if (i + 8 <= n) {
        const __m128i h = bf16_round_avx2_8(_mm256_loadu_ps(src + i));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
        i += 8;
    }
    narrow_tail_bf16(src, dst, i, n);
}

void cvt_bf16_f32(const uint16_t* src, float* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h =
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
        const __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(w));
    }
    widen_tail_bf16(src, dst, i, n);
}

void cvt_f32_f16(const float* src, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(
            _mm256_loadu_ps(src + i),
            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
    }
    narrow_tail_f16(src, dst, i, n);
}

void cvt_f16_f32(const uint16_t* src, float* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h =
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    widen_tail_f16(src, dst, i, n);
}

#else

// ---------------------------------------------------------------- scalar

void cvt_f32_bf16(const float* src, uint16_t* dst, int64_t n) {
    narrow_tail_bf16(src, dst, 0, n);
}

void cvt_bf16_f32(const uint16_t* src, float* dst, int64_t n) {
    widen_tail_bf16(src, dst, 0, n);
}

void cvt_f32_f16(const float* src, uint16_t* dst, int64_t n) {
    narrow_tail_f16(src, dst, 0, n);
}

void cvt_f16_f32(const uint16_t* src, float* dst, int64_t n) {
    widen_tail_f16(src, dst, 0, n);
}

#endif

}  // namespace

const CvtKernels& cvt_kernels() {
    static const CvtKernels k = {cvt_f32_bf16, cvt_bf16_f32, cvt_f32_f16,
                                 cvt_f16_f32};
    return k;
}

}  // namespace FT_ISA
}  // namespace ft
