// Exact scalar conversions between float32 and the two 16-bit float
// formats, written with integer operations only (so the result does not
// depend on MXCSR's rounding, FTZ or DAZ bits):
//
//   bfloat16  1 sign, 8 exponent, 7 mantissa bits: the top half of a
//             float32, same exponent range;
//   float16   IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa
//             bits; largest finite 65504, smallest subnormal 2**-24.
//
// Narrowing rounds to nearest, ties to even, including into and within
// the subnormal range, and overflows to +-inf.  NaN stays NaN with its
// sign, its top payload bits and the quiet bit set: this is what the
// hardware conversions do (F16C VCVTPS2PH, AVX512-BF16 VCVTNEPS2BF16), so
// every ISA path gives the same bits.  Widening is exact; a signalling
// float16 NaN comes out quiet, as from VCVTPH2PS.
//
// The double and 64-bit integer helpers round to float32 "to odd" (an
// inexact result gets its last mantissa bit set).  Rounding that float32
// once more, to nearest-even in 16 bits, then gives the correctly rounded
// 16-bit value: float32 keeps at least two bits more than either target,
// so the odd bit stands for everything below it and never forms a false
// tie.  A plain double -> float -> bfloat16 chain would round twice.
//
// Every function is `static inline` so that each translation unit, ISA
// units included, gets its own copy (see NOTE(odr) in core/simd.h).
#pragma once

#include <cstdint>
#include <cstring>

namespace ft {

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

static inline float f32_from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// ---------------------------------------------------------------- bfloat16

static inline uint16_t bf16_from_f32(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)  // NaN: quiet, keep the payload top
        return uint16_t((x >> 16) | 0x0040u);
    // Adding 0x7fff plus the kept LSB carries into bit 16 exactly when the
    // dropped half is above one half, or equal to it with an odd LSB.
    // Subnormals are linear in their bits and overflow carries into the
    // exponent (FLT_MAX-ish values become inf), so no special cases.
    x += 0x7fffu + ((x >> 16) & 1u);
    return uint16_t(x >> 16);
}

static inline float bf16_to_f32(uint16_t h) {
    return f32_from_bits(uint32_t(h) << 16);
}

// ---------------------------------------------------------------- float16

static inline uint16_t f16_from_f32(float f) {
    const uint32_t u = f32_bits(f);
    const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
    const uint32_t x = u & 0x7fffffffu;
    if (x >= 0x7f800000u) {
        if (x == 0x7f800000u) return uint16_t(sign | 0x7c00u);
        return uint16_t(sign | 0x7e00u | ((x >> 13) & 0x03ffu));
    }
    // 65520 = 65504 + half an ulp is a tie to the even neighbour, 2**16.
    if (x >= 0x477ff000u) return uint16_t(sign | 0x7c00u);
    if (x >= 0x38800000u) {  // normal result: |f| >= 2**-14
        uint32_t h = ((x >> 23) - 112u) << 10 | ((x >> 13) & 0x03ffu);
        const uint32_t rest = x & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
        return uint16_t(sign | h);
    }
    // Below 2**-25 (half the smallest subnormal; equal is a tie to 0).
    if (x <= 0x33000000u) return sign;
    // Subnormal result: round(|f| / 2**-24) = round(mant * 2**(e - 126)).
    const uint32_t e = x >> 23;  // 102 ... 112
    const uint32_t mant = (x & 0x007fffffu) | 0x00800000u;
    const uint32_t shift = 126u - e;  // 14 ... 24
    uint32_t q = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (q & 1u))) ++q;
    return uint16_t(sign | q);  // q == 0x400 is the smallest normal
}

static inline float f16_to_f32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu;
    uint32_t m = h & 0x03ffu;
    if (e == 0x1fu)
        return f32_from_bits(sign | 0x7f800000u | m << 13 |
                             (m ? 0x00400000u : 0u));
    if (e == 0) {
        if (m == 0) return f32_from_bits(sign);
        // Subnormal m * 2**-24: normalise so that bit 10 is set.
        int32_t ex = 1;
        while (!(m & 0x0400u)) {
            m <<= 1;
            --ex;
        }
        return f32_from_bits(sign | uint32_t(ex + 112) << 23 |
                             (m & 0x03ffu) << 13);
    }
    return f32_from_bits(sign | (e + 112u) << 23 | m << 13);
}

// ---------------------------------------------------------------- to odd

// |v| rounded to float32 toward odd: exact below 2**24, else the top 24
// bits with the last one set when any lower bit is.
static inline float u64_to_f32_odd(uint64_t v) {
    if (v < (uint64_t(1) << 24)) return float(v);
    const int shift = 40 - __builtin_clzll(v);  // bits beyond the top 24
    uint64_t top = v >> shift;
    if (v & ((uint64_t(1) << shift) - 1)) top |= 1;
    // float(top) is exact (top < 2**24); scaling by 2**shift is exact.
    return float(top) * f32_from_bits(uint32_t(127 + shift) << 23);
}

static inline float i64_to_f32_odd(int64_t v) {
    return v < 0 ? -u64_to_f32_odd(uint64_t(0) - uint64_t(v))
                 : u64_to_f32_odd(uint64_t(v));
}

// d rounded to float32 toward odd.  The nearest float is moved one step
// toward d when it is inexact and even; the two neighbours of an inexact
// d differ by one in their bits, so one of them is odd.  Finite doubles
// beyond FLT_MAX give FLT_MAX (odd), which still rounds to inf in 16 bits.
static inline float f64_to_f32_odd(double d) {
    float f = float(d);
    if (d != d || double(f) == d) return f;
    uint32_t u = f32_bits(f);
    if (!(u & 1u)) {
        const double ad = d < 0 ? -d : d;
        const double af = f < 0 ? -double(f) : double(f);
        u = ad > af ? u + 1u : u - 1u;  // magnitude up or down
    }
    return f32_from_bits(u);
}

}  // namespace ft
