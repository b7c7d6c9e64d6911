// Vectorised elementary functions on V<float> and V<double>.
//
// Included by kernel sources only; it lives in the per-ISA namespace of
// simd.h, so each ISA gets its own copy.
//
// exp (accurate, the public ft.exp):
//   1. n = round(x / ln2), r = x - n*ln2_hi - n*ln2_lo  (Cody-Waite split,
//      so r is exact to about 2**-40 relative).
//   2. exp(r) on |r| <= ln2/2: float uses a degree-7 polynomial (the Cephes
//      coefficients), double a degree-13 Taylor series (truncation error
//      below 2**-60).
//   3. 2**n is applied in two halves, 2**(n/2) * 2**(n - n/2), so results in
//      the subnormal range and up to the overflow threshold round once.
//   Inputs are clamped to [lo, hi] where exp(lo) rounds to 0 and exp(hi)
//   overflows to inf; NaN is passed through explicitly.
//   Measured maximum error (tests/test_vmath.py, 2**24 points spread over
//   [-104, 89] against float64 NumPy): float32 1 ULP.
//
// exp_fast (softmax and attention, arguments <= 0 after max subtraction):
//   the same reduction and polynomial with one 2**n multiply, no NaN
//   handling and no subnormal results: anything below -87.3 returns
//   exactly 0 (so exp(-inf) is exactly 0).  Max error 1 ULP on [-87.3, 0].
#pragma once

#include "core/simd.h"

namespace ft {
namespace FT_ISA {

template <class T>
struct ExpConst;

template <>
struct ExpConst<float> {
    static constexpr float lo = -110.0f;
    static constexpr float hi = 89.0f;
    static constexpr float fast_lo = -87.3f;
    static constexpr float log2e = 1.44269504088896341f;
    static constexpr float ln2_hi = 0.693359375f;
    static constexpr float ln2_lo = -2.12194440e-4f;
};

template <>
struct ExpConst<double> {
    static constexpr double lo = -746.0;
    static constexpr double hi = 710.0;
    static constexpr double fast_lo = -708.0;
    static constexpr double log2e = 1.4426950408889634074;
    static constexpr double ln2_hi = 6.93147180369123816490e-01;
    static constexpr double ln2_lo = 1.90821492927058770002e-10;
};

// exp(r) for |r| <= ln2/2.
FT_INLINE V<float> exp_poly(V<float> r) {
    using VF = V<float>;
    VF p = VF::set1(1.9875691500e-4f);
    p = vfma(p, r, VF::set1(1.3981999507e-3f));
    p = vfma(p, r, VF::set1(8.3334519073e-3f));
    p = vfma(p, r, VF::set1(4.1665795894e-2f));
    p = vfma(p, r, VF::set1(1.6666665459e-1f));
    p = vfma(p, r, VF::set1(5.0000001201e-1f));
    VF r2 = r * r;
    return vfma(p, r2, r + VF::set1(1.0f));
}

FT_INLINE V<double> exp_poly(V<double> r) {
    using VD = V<double>;
    // Taylor coefficients 1/k! for k = 13 down to 2.
    static constexpr double c[12] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
        1.0 / 3628800.0,    1.0 / 362880.0,    1.0 / 40320.0,
        1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,
        1.0 / 24.0,         1.0 / 6.0,         1.0 / 2.0};
    VD p = VD::set1(c[0]);
    for (int i = 1; i < 12; ++i) p = vfma(p, r, VD::set1(c[i]));
    VD r2 = r * r;
    return vfma(p, r2, r + VD::set1(1.0));
}

template <class T>
FT_INLINE V<T> vexp(V<T> x) {
    using C = ExpConst<T>;
    using VT = V<T>;
    VT xc = vmin(vmax(x, VT::set1(C::lo)), VT::set1(C::hi));
    VT n = vround(xc * VT::set1(C::log2e));
    VT r = vfnma(n, VT::set1(C::ln2_hi), xc);
    r = vfnma(n, VT::set1(C::ln2_lo), r);
    VT p = exp_poly(r);
    VT n1 = vfloor(n * VT::set1(T(0.5)));
    VT n2 = n - n1;
    VT y = p * pow2i(n1) * pow2i(n2);
    return select(visnan(x), x, y);
}

template <class T>
FT_INLINE V<T> vexp_fast(V<T> x) {
    using C = ExpConst<T>;
    using VT = V<T>;
    M<T> tiny = x < VT::set1(C::fast_lo);
    VT xc = vmin(vmax(x, VT::set1(C::fast_lo)), VT::set1(C::hi - T(1)));
    VT n = vround(xc * VT::set1(C::log2e));
    VT r = vfnma(n, VT::set1(C::ln2_hi), xc);
    r = vfnma(n, VT::set1(C::ln2_lo), r);
    VT y = exp_poly(r) * pow2i(n);
    return select(tiny, VT::zero(), y);
}

}  // namespace FT_ISA
}  // namespace ft
