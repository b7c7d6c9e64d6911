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
//   Measured maximum error (tests/test_vmath.py against float64 NumPy,
//   rounded to float32 for float32): float32 1 ULP over 2**24 points
//   spread over [-104, 89]; float64 1 ULP over 2**21 random points in
//   [-745, 709].  Same on the scalar and AVX2 paths.
//
// exp_fast (softmax and attention, arguments <= 0 after max subtraction):
//   the same reduction and polynomial with one 2**n multiply, no NaN
//   handling and no subnormal results: anything below -87.3 returns
//   exactly 0 (so exp(-inf) is exactly 0).  Max error 1 ULP on [-87.3, 0].
#pragma once

#include <limits>

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

// (exp(r) - 1 - r) / r**2 for |r| <= ln2/2: float uses the Cephes
// coefficients, double the Taylor series to 1/13!.  expm1 uses it as is,
// so that it never forms 1 + r; exp adds 1 + r.
FT_INLINE V<float> expm1_poly_tail(V<float> r) {
    using VF = V<float>;
    VF p = VF::set1(1.9875691500e-4f);
    p = vfma(p, r, VF::set1(1.3981999507e-3f));
    p = vfma(p, r, VF::set1(8.3334519073e-3f));
    p = vfma(p, r, VF::set1(4.1665795894e-2f));
    p = vfma(p, r, VF::set1(1.6666665459e-1f));
    return vfma(p, r, VF::set1(5.0000001201e-1f));
}

FT_INLINE V<double> expm1_poly_tail(V<double> r) {
    using VD = V<double>;
    VD p = VD::set1(1.0 / 6227020800.0);
    const double inv_fact[11] = {
        1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0,    1.0 / 40320.0,    1.0 / 5040.0,
        1.0 / 720.0,       1.0 / 120.0,      1.0 / 24.0,
        1.0 / 6.0,         1.0 / 2.0};
    for (int i = 0; i < 11; ++i) p = vfma(p, r, VD::set1(inv_fact[i]));
    return p;
}

// exp(r) for |r| <= ln2/2.
template <class T>
FT_INLINE V<T> exp_poly(V<T> r) {
    return vfma(expm1_poly_tail(r), r * r, r + V<T>::set1(T(1)));
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


// ------------------------------------------------------------------ helpers

// Applies a scalar function lane by lane (the double-precision erf, whose
// vector polynomial would need several pieces, uses the C library's).
template <class T, class F>
FT_INLINE V<T> vlanewise(V<T> x, F f) {
    alignas(64) T buf[V<T>::N];
    x.store(buf);
    for (int i = 0; i < V<T>::N; ++i) buf[i] = f(buf[i]);
    return V<T>::load(buf);
}

template <class T>
FT_INLINE V<T> vnan() {
    return V<T>::set1(std::numeric_limits<T>::quiet_NaN());
}

template <class T>
FT_INLINE V<T> vinf() {
    return V<T>::set1(std::numeric_limits<T>::infinity());
}

// ------------------------------------------------------------------ expm1

template <class T>
struct Expm1Const;
template <>
struct Expm1Const<float> {
    static constexpr float lo = -20.0f;  // expm1 rounds to -1 below -17.4
    static constexpr float hi = 88.0f;
};
template <>
struct Expm1Const<double> {
    static constexpr double lo = -40.0;  // expm1 rounds to -1 below -37.5
    static constexpr double hi = 709.0;
};

// expm1(x) = 2**n * (1 + em) - 1 = 2**n * em + (2**n - 1), where em is
// expm1 of the reduced argument; 2**n - 1 is exact, so there is no
// cancellation against a rounded 1 + em.  Arguments above `hi` overflow
// to inf through the clamp only in the sense that they saturate: callers
// (tanh) use x <= 0.
template <class T>
FT_INLINE V<T> vexpm1(V<T> x) {
    using C = ExpConst<T>;
    using VT = V<T>;
    VT xc = vmin(vmax(x, VT::set1(Expm1Const<T>::lo)),
                 VT::set1(Expm1Const<T>::hi));
    VT n = vround(xc * VT::set1(C::log2e));
    VT r = vfnma(n, VT::set1(C::ln2_hi), xc);
    r = vfnma(n, VT::set1(C::ln2_lo), r);
    VT em = vfma(expm1_poly_tail(r), r * r, r);
    VT two_n = pow2i(n);
    VT y = vfma(two_n, em, two_n - VT::set1(T(1)));
    return select(visnan(x), x, y);
}

// ------------------------------------------------------------------ log
//
// log(x) = e*ln2 + log(m), x = m * 2**e with m in [sqrt(1/2), sqrt(2)),
// subnormal x first scaled by 2**mant_bits.  With f = m - 1:
//   float:  log(1 + f) = f - f*f/2 + f**3 * P(f), P of degree 8 (the
//           Cephes logf coefficients);
//   double: s = f / (2 + f), log(1 + f) = 2s + s*R(s*s) evaluated as
//           f - (hfsq - s*(hfsq + R)) with hfsq = f*f/2 and R of degree 7
//           in s*s (the fdlibm coefficients).
// e*ln2 is added as e*ln2_hi (exact) + e*ln2_lo.
// Special values: log(+-0) = -inf, log(x < 0) = NaN, log(+inf) = +inf,
// NaN passes through.
// Measured maximum error (tests/test_vmath.py): float32 1 ULP over every
// 127th positive bit pattern (subnormals to the largest float); float64
// 1 ULP over 2**21 random positive bit patterns.

template <class T>
struct LogConst;
template <>
struct LogConst<float> {
    static constexpr float min_normal = 1.17549435e-38f;
    static constexpr float sub_scale = 8388608.0f;  // 2**23
    static constexpr float sub_bits = 23.0f;
    static constexpr float sqrt2 = 1.41421356237f;
};
template <>
struct LogConst<double> {
    static constexpr double min_normal = 2.2250738585072014e-308;
    static constexpr double sub_scale = 4503599627370496.0;  // 2**52
    static constexpr double sub_bits = 52.0;
    static constexpr double sqrt2 = 1.4142135623730951;
};

FT_INLINE V<float> log1p_reduced(V<float> f, V<float> e) {
    using VF = V<float>;
    VF p = VF::set1(7.0376836292e-2f);
    p = vfma(p, f, VF::set1(-1.1514610310e-1f));
    p = vfma(p, f, VF::set1(1.1676998740e-1f));
    p = vfma(p, f, VF::set1(-1.2420140846e-1f));
    p = vfma(p, f, VF::set1(1.4249322787e-1f));
    p = vfma(p, f, VF::set1(-1.6668057665e-1f));
    p = vfma(p, f, VF::set1(2.0000714765e-1f));
    p = vfma(p, f, VF::set1(-2.4999993993e-1f));
    p = vfma(p, f, VF::set1(3.3333331174e-1f));
    VF z = f * f;
    VF y = p * z * f;
    y = vfma(e, VF::set1(ExpConst<float>::ln2_lo), y);
    y = vfnma(VF::set1(0.5f), z, y);
    VF r = f + y;
    return vfma(e, VF::set1(ExpConst<float>::ln2_hi), r);
}

FT_INLINE V<double> log1p_reduced(V<double> f, V<double> e) {
    using VD = V<double>;
    VD s = f / (VD::set1(2.0) + f);
    VD z = s * s;
    VD R = VD::set1(1.479819860511658591e-01);
    R = vfma(R, z, VD::set1(1.531383769920937332e-01));
    R = vfma(R, z, VD::set1(1.818357216161805012e-01));
    R = vfma(R, z, VD::set1(2.222219843214978396e-01));
    R = vfma(R, z, VD::set1(2.857142874366239149e-01));
    R = vfma(R, z, VD::set1(3.999999999940941908e-01));
    R = vfma(R, z, VD::set1(6.666666666666735130e-01));
    R = R * z;
    VD hfsq = VD::set1(0.5) * f * f;
    VD lo = vfma(s, hfsq + R, e * VD::set1(ExpConst<double>::ln2_lo));
    VD r = f - (hfsq - lo);
    return vfma(e, VD::set1(ExpConst<double>::ln2_hi), r);
}

template <class T>
FT_INLINE V<T> vlog(V<T> x) {
    using C = LogConst<T>;
    using VT = V<T>;
    M<T> sub = x < VT::set1(C::min_normal);
    VT xs = select(sub, x * VT::set1(C::sub_scale), x);
    VT e;
    VT m = split_exp(xs, &e);
    e = e - select(sub, VT::set1(C::sub_bits), VT::zero());
    M<T> big = m > VT::set1(C::sqrt2);
    m = select(big, m * VT::set1(T(0.5)), m);
    e = e + select(big, VT::set1(T(1)), VT::zero());
    VT y = log1p_reduced(m - VT::set1(T(1)), e);
    // Special values, in increasing priority.
    y = select(x == vinf<T>(), x, y);
    y = select(x < VT::zero(), vnan<T>(), y);
    y = select(x == VT::zero(), -vinf<T>(), y);
    return select(visnan(x), x, y);
}

// ------------------------------------------------------------------ tanh
//
// tanh(|x|) = -t / (t + 2) with t = expm1(-2|x|) in (-1, 0]; the sign of
// x is copied back.  No cancellation anywhere: t + 2 lies in (1, 2], tiny
// x give t = -2|x| exactly and tanh = |x|, large |x| saturate to t = -1.
// Measured maximum error (tests/test_vmath.py): float32 2 ULP over 2**24
// points in [-12, 12] plus 4 million bit patterns down to subnormals;
// float64 3 ULP over 2**21 random points (uniform in [-20, 20] and
// normal).  The error comes from the final division and t + 2, each
// rounded once on top of expm1's.

template <class T>
FT_INLINE V<T> vtanh(V<T> x) {
    using VT = V<T>;
    VT t = vexpm1(VT::set1(T(-2)) * vabs(x));
    VT y = -t / (t + VT::set1(T(2)));
    return vcopysign(y, x);
}

// ------------------------------------------------------------------ sigmoid
//
// With e = exp(-|x|) (never overflows): sigmoid(x) = 1 / (1 + e) for
// x >= 0 and e / (1 + e) for x < 0, so the negative tail keeps its
// relative accuracy down to the subnormal range.

template <class T>
FT_INLINE V<T> vsigmoid(V<T> x) {
    using VT = V<T>;
    VT e = vexp(-vabs(x));
    VT r = VT::set1(T(1)) / (VT::set1(T(1)) + e);
    return select(x >= VT::zero(), r, e * r);
}

template <class T>
FT_INLINE V<T> vsilu(V<T> x) {
    return x * vsigmoid(x);
}

// ------------------------------------------------------------------ erf
//
// float, a = |x|:
//   a < 1:       erf(a) = a * P(a*a), P of degree 6;
//   1 <= a < 10: erfc(a) = exp(-a*a) * Q(1/a - 0.55), Q of degree 10, and
//                erf(a) = 1 - erfc(a); exp(-a*a) uses the exact low part
//                of a*a (fma) so its error does not grow with a*a;
//   a >= 10:     erfc(a) = 0 (below the float subnormal range).
// P and Q are least-squares fits on Chebyshev nodes against mpmath, with
// relative error 1.4e-9 (P) and 1.7e-8 (Q) before rounding.
// double: the C library's erf and erfc, lane by lane.

FT_INLINE V<float> erf_small(V<float> a) {
    using VF = V<float>;
    VF z = a * a;
    VF p = VF::set1(7.898210209e-05f);
    p = vfma(p, z, VF::set1(-8.024354129e-04f));
    p = vfma(p, z, VF::set1(5.190053578e-03f));
    p = vfma(p, z, VF::set1(-2.685480854e-02f));
    p = vfma(p, z, VF::set1(1.128361243e-01f));
    p = vfma(p, z, VF::set1(-3.761262884e-01f));
    p = vfma(p, z, VF::set1(1.128379167e+00f));
    return a * p;
}

// erfc(a) for a >= 0; accurate for a >= 1.
FT_INLINE V<float> erfc_large(V<float> a) {
    using VF = V<float>;
    VF ac = vmin(vmax(a, VF::set1(1.0f)), VF::set1(10.0f));
    VF t = VF::set1(1.0f) / ac - VF::set1(0.55f);
    VF q = VF::set1(-5.013496786e-02f);
    q = vfma(q, t, VF::set1(6.261567516e-02f));
    q = vfma(q, t, VF::set1(-1.872947214e-02f));
    q = vfma(q, t, VF::set1(-2.554312039e-02f));
    q = vfma(q, t, VF::set1(5.688030324e-02f));
    q = vfma(q, t, VF::set1(-6.932363604e-02f));
    q = vfma(q, t, VF::set1(4.497341966e-02f));
    q = vfma(q, t, VF::set1(3.372504957e-02f));
    q = vfma(q, t, VF::set1(-1.812347928e-01f));
    q = vfma(q, t, VF::set1(4.088341749e-01f));
    q = vfma(q, t, VF::set1(2.762943815e-01f));
    VF a2 = ac * ac;
    VF a2lo = vfma(ac, ac, -a2);
    VF ex = vexp(-a2) * (VF::set1(1.0f) - a2lo);
    VF y = ex * q;
    return select(a >= VF::set1(10.0f), VF::zero(), y);
}

FT_INLINE V<float> verf(V<float> x) {
    using VF = V<float>;
    VF a = vabs(x);
    VF y = select(a < VF::set1(1.0f), erf_small(a),
                  VF::set1(1.0f) - erfc_large(a));
    y = vcopysign(y, x);
    return select(visnan(x), x, y);
}

FT_INLINE V<double> verf(V<double> x) {
    return vlanewise(x, [](double v) { return std::erf(v); });
}

// erfc(x) = 1 - erf(x) without cancellation for x >= 1.
FT_INLINE V<float> verfc(V<float> x) {
    using VF = V<float>;
    VF a = vabs(x);
    VF big = erfc_large(a);
    VF y = select(a < VF::set1(1.0f), VF::set1(1.0f) - erf_small(x) ,
                  select(x < VF::zero(), VF::set1(2.0f) - big, big));
    return select(visnan(x), x, y);
}

FT_INLINE V<double> verfc(V<double> x) {
    return vlanewise(x, [](double v) { return std::erfc(v); });
}

// ------------------------------------------------------------------ GELU
//
// exact:  gelu(x) = x * Phi(x) = x/2 * erfc(-x/sqrt(2)), which keeps its
//         relative accuracy in the negative tail (1 + erf(x/sqrt(2))
//         would cancel);
// tanh:   x/2 * (1 + tanh(u)) = x * sigmoid(2u),
//         u = sqrt(2/pi) * (x + 0.044715 x**3), again free of cancellation.

template <class T>
FT_INLINE V<T> vgelu(V<T> x) {
    using VT = V<T>;
    const T inv_sqrt2 = T(0.70710678118654752440);
    return VT::set1(T(0.5)) * x * verfc(x * VT::set1(-inv_sqrt2));
}

template <class T>
FT_INLINE V<T> vgelu_tanh(V<T> x) {
    using VT = V<T>;
    const T two_k = T(2 * 0.79788456080286535588);  // 2 * sqrt(2/pi)
    VT x3 = x * x * x;
    VT u2 = VT::set1(two_k) * vfma(VT::set1(T(0.044715)), x3, x);
    return x * vsigmoid(u2);
}

}  // namespace FT_ISA
}  // namespace ft
