// Element-wise 1-D kernels: arithmetic, comparisons, math functions, where.
//
// Formula: out[i*so] = op(a[i*sa], b[i*sb]) for i in [0, n); strides in
// elements of each operand (ew_table.h).
//
// Layout contract and cases, float32/float64:
//   * sa == sb == so == 1           vector loop, 2 registers per step;
//   * sa == 1, sb == 0 (or mirror)  the broadcast operand sits in one
//                                   register (scalar or row broadcast);
//   * anything else                 blocks of kBlock elements gathered
//                                   into aligned stack buffers, the
//                                   contiguous loop, and a scatter, so
//                                   strided views get the same vector math
//                                   (and the same results) as contiguous.
// Integer and bool dtypes, comparisons and logical ops: plain loops with a
// contiguous fast path that the compiler vectorises with this unit's -m
// flags.
//
// Register budget: 2 inputs x 2 registers + the polynomial temporaries of
// vmath.h; no spills at 16 registers (AVX2).
//
// Edge handling: the last n % N elements go through masked loads and
// stores (V<T>::load_partial/store_partial), never past the end.
//
// Accuracy: + - * / sqrt are IEEE-rounded; exp, log, tanh, sigmoid, erf,
// gelu, silu as documented in core/vmath.h; floor_divide, remainder and
// power of floats use the scalar NumPy algorithms lane by lane.
//
// Integer semantics (NumPy's): + - * wrap modulo 2**bits; // and % follow
// Python's signs; x // 0 and x % 0 give 0; INT_MIN // -1 wraps to INT_MIN
// (never SIGFPE); power by squaring with wrap-around, a negative exponent
// (rejected by the op layer) gives 0 unless the base is 1 or -1.
#include <type_traits>

#include "core/simd.h"
#include "core/vmath.h"
#include "kernels/ew_table.h"

namespace ft {
namespace FT_ISA {
namespace {

constexpr int64_t kBlock = 256;

// ------------------------------------------------------------ float ops
//
// Each op has v() on V<T> (may be built from s() lane by lane) and s() on
// a scalar.

template <class T>
struct FAdd {
    static FT_INLINE V<T> v(V<T> a, V<T> b) { return a + b; }
};
template <class T>
struct FSub {
    static FT_INLINE V<T> v(V<T> a, V<T> b) { return a - b; }
};
template <class T>
struct FMul {
    static FT_INLINE V<T> v(V<T> a, V<T> b) { return a * b; }
};
template <class T>
struct FDiv {
    static FT_INLINE V<T> v(V<T> a, V<T> b) { return a / b; }
};
// NaN-propagating maximum/minimum: the x86 instructions return the second
// operand when either is NaN, so only a NaN in `a` needs the select.
template <class T>
struct FMax {
    static FT_INLINE V<T> v(V<T> a, V<T> b) {
        return select(visnan(a), a, vmax(a, b));
    }
};
template <class T>
struct FMin {
    static FT_INLINE V<T> v(V<T> a, V<T> b) {
        return select(visnan(a), a, vmin(a, b));
    }
};

// NumPy's divmod for floats: the quotient rounded toward -inf, corrected
// so that a == q*b + r holds as nearly as rounding allows; x // 0 is
// x / 0 (inf or NaN) and x % 0 is NaN.
template <class T>
FT_INLINE T f_floordiv(T a, T b) {
    T mod = std::fmod(a, b);
    if (b == T(0)) return a / b;
    T div = (a - mod) / b;
    if (mod != T(0) && ((b < T(0)) != (mod < T(0)))) div -= T(1);
    if (div != T(0)) {
        T fl = std::floor(div);
        if (div - fl > T(0.5)) fl += T(1);
        return fl;
    }
    return std::copysign(T(0), a / b);
}
template <class T>
FT_INLINE T f_mod(T a, T b) {
    T mod = std::fmod(a, b);
    if (b == T(0)) return mod;
    if (mod != T(0)) {
        if ((b < T(0)) != (mod < T(0))) mod += b;
    } else {
        mod = std::copysign(T(0), b);
    }
    return mod;
}

template <class T, T (*F)(T, T)>
FT_INLINE V<T> lanewise2(V<T> a, V<T> b) {
    alignas(64) T x[V<T>::N];
    alignas(64) T y[V<T>::N];
    a.store(x);
    b.store(y);
    for (int i = 0; i < V<T>::N; ++i) x[i] = F(x[i], y[i]);
    return V<T>::load(x);
}
template <class T>
FT_INLINE T f_pow(T a, T b) { return std::pow(a, b); }

template <class T>
struct FFloorDiv {
    static FT_INLINE V<T> v(V<T> a, V<T> b) {
        return lanewise2<T, f_floordiv<T>>(a, b);
    }
};
template <class T>
struct FMod {
    static FT_INLINE V<T> v(V<T> a, V<T> b) {
        return lanewise2<T, f_mod<T>>(a, b);
    }
};
template <class T>
struct FPow {
    static FT_INLINE V<T> v(V<T> a, V<T> b) {
        return lanewise2<T, f_pow<T>>(a, b);
    }
};

// Unary float ops.
#define FT_FUN(NAME, EXPR)                                        \
    template <class T>                                            \
    struct NAME {                                                 \
        static FT_INLINE V<T> v(V<T> x) { return EXPR; }          \
    };
FT_FUN(FNeg, -x)
FT_FUN(FPos, x)
FT_FUN(FAbs, vabs(x))
FT_FUN(FExp, vexp(x))
FT_FUN(FLog, vlog(x))
FT_FUN(FSqrt, vsqrt(x))
FT_FUN(FTanh, vtanh(x))
FT_FUN(FSigmoid, vsigmoid(x))
// max(0, x) with 0 first: NaN (second operand) passes through.
FT_FUN(FRelu, vmax(V<T>::zero(), x))
FT_FUN(FSilu, vsilu(x))
FT_FUN(FGelu, vgelu(x))
FT_FUN(FGeluTanh, vgelu_tanh(x))
FT_FUN(FErf, verf(x))
FT_FUN(FSquare, x * x)
#undef FT_FUN

// ------------------------------------------------------------ float loops

template <class T, class Op>
void fbin_contig(const T* a, const T* b, T* o, int64_t n) {
    using VT = V<T>;
    constexpr int N = VT::N;
    int64_t i = 0;
    for (; i + 2 * N <= n; i += 2 * N) {
        VT x0 = VT::load(a + i), x1 = VT::load(a + i + N);
        VT y0 = VT::load(b + i), y1 = VT::load(b + i + N);
        Op::v(x0, y0).store(o + i);
        Op::v(x1, y1).store(o + i + N);
    }
    for (; i + N <= n; i += N)
        Op::v(VT::load(a + i), VT::load(b + i)).store(o + i);
    if (i < n) {
        int64_t r = n - i;
        Op::v(VT::load_partial(a + i, r), VT::load_partial(b + i, r))
            .store_partial(o + i, r);
    }
}

// One side broadcast: `s` is the broadcast value; kAFirst tells whether it
// is the left operand.
template <class T, class Op, bool kScalarLeft>
void fbin_bcast(const T* a, T s, T* o, int64_t n) {
    using VT = V<T>;
    constexpr int N = VT::N;
    const VT sv = VT::set1(s);
    int64_t i = 0;
    auto f = [&](VT x) { return kScalarLeft ? Op::v(sv, x) : Op::v(x, sv); };
    for (; i + 2 * N <= n; i += 2 * N) {
        VT x0 = VT::load(a + i), x1 = VT::load(a + i + N);
        f(x0).store(o + i);
        f(x1).store(o + i + N);
    }
    for (; i + N <= n; i += N) f(VT::load(a + i)).store(o + i);
    if (i < n) f(VT::load_partial(a + i, n - i)).store_partial(o + i, n - i);
}

template <class T>
FT_INLINE void gather(const T* p, int64_t s, T* buf, int64_t m) {
    for (int64_t j = 0; j < m; ++j) buf[j] = p[j * s];
}
template <class T>
FT_INLINE void scatter(const T* buf, T* p, int64_t s, int64_t m) {
    for (int64_t j = 0; j < m; ++j) p[j * s] = buf[j];
}

template <class T, class Op>
void fbin(const char* pa, int64_t sa, const char* pb, int64_t sb, char* po,
          int64_t so, int64_t n) {
    const T* a = (const T*)pa;
    const T* b = (const T*)pb;
    T* o = (T*)po;
    if (so == 1 && sa == 1 && sb == 1) return fbin_contig<T, Op>(a, b, o, n);
    if (so == 1 && sa == 1 && sb == 0)
        return fbin_bcast<T, Op, false>(a, *b, o, n);
    if (so == 1 && sa == 0 && sb == 1)
        return fbin_bcast<T, Op, true>(b, *a, o, n);
    alignas(64) T ba[kBlock];
    alignas(64) T bb[kBlock];
    alignas(64) T bo[kBlock];
    for (int64_t i = 0; i < n; i += kBlock) {
        int64_t m = n - i < kBlock ? n - i : kBlock;
        gather(a + i * sa, sa, ba, m);
        gather(b + i * sb, sb, bb, m);
        fbin_contig<T, Op>(ba, bb, bo, m);
        scatter(bo, o + i * so, so, m);
    }
}

template <class T, class Op>
void fun_contig(const T* a, T* o, int64_t n) {
    using VT = V<T>;
    constexpr int N = VT::N;
    int64_t i = 0;
    for (; i + 2 * N <= n; i += 2 * N) {
        VT x0 = VT::load(a + i), x1 = VT::load(a + i + N);
        Op::v(x0).store(o + i);
        Op::v(x1).store(o + i + N);
    }
    for (; i + N <= n; i += N) Op::v(VT::load(a + i)).store(o + i);
    if (i < n) Op::v(VT::load_partial(a + i, n - i)).store_partial(o + i, n - i);
}

template <class T, class Op>
void fun(const char* pa, int64_t sa, char* po, int64_t so, int64_t n) {
    const T* a = (const T*)pa;
    T* o = (T*)po;
    if (sa == 1 && so == 1) return fun_contig<T, Op>(a, o, n);
    alignas(64) T ba[kBlock];
    alignas(64) T bo[kBlock];
    for (int64_t i = 0; i < n; i += kBlock) {
        int64_t m = n - i < kBlock ? n - i : kBlock;
        gather(a + i * sa, sa, ba, m);
        fun_contig<T, Op>(ba, bo, m);
        scatter(bo, o + i * so, so, m);
    }
}

// ------------------------------------------------------------ scalar ops
//
// s(a, b) on plain values, for integers, bool, comparisons and logic.

template <class T>
using Wide = typename std::conditional<
    (sizeof(T) < 4), uint32_t,
    typename std::make_unsigned<T>::type>::type;

template <class T>
struct SAdd {
    static FT_INLINE T s(T a, T b) { return T(Wide<T>(a) + Wide<T>(b)); }
};
template <class T>
struct SSub {
    static FT_INLINE T s(T a, T b) { return T(Wide<T>(a) - Wide<T>(b)); }
};
template <class T>
struct SMul {
    static FT_INLINE T s(T a, T b) { return T(Wide<T>(a) * Wide<T>(b)); }
};
template <class T>
struct SFloorDiv {
    static FT_INLINE T s(T a, T b) {
        if (b == 0) return 0;
        if (std::is_signed<T>::value) {
            if (b == T(-1)) return T(Wide<T>(0) - Wide<T>(a));
            T q = T(a / b);
            if (T(a % b) != 0 && ((a < 0) != (b < 0))) q = T(q - 1);
            return q;
        }
        return T(a / b);
    }
};
template <class T>
struct SMod {
    static FT_INLINE T s(T a, T b) {
        if (b == 0) return 0;
        if (std::is_signed<T>::value) {
            if (b == T(-1)) return 0;
            T r = T(a % b);
            if (r != 0 && ((r < 0) != (b < 0))) r = T(r + b);
            return r;
        }
        return T(a % b);
    }
};
template <class T>
struct SPow {
    static FT_INLINE T s(T a, T b) {
        if (std::is_signed<T>::value && b < 0) {
            if (a == 1) return 1;
            if (a == T(-1)) return (b & 1) ? T(-1) : T(1);
            return 0;
        }
        Wide<T> r = 1, x = Wide<T>(a);
        typename std::make_unsigned<T>::type e =
            typename std::make_unsigned<T>::type(b);
        while (e) {
            if (e & 1) r = Wide<T>(r * x);
            x = Wide<T>(x * x);
            e >>= 1;
        }
        return T(r);
    }
};
template <class T>
struct SMax {
    static FT_INLINE T s(T a, T b) { return a > b ? a : b; }
};
template <class T>
struct SMin {
    static FT_INLINE T s(T a, T b) { return a < b ? a : b; }
};
template <class T>
struct SAnd {
    static FT_INLINE T s(T a, T b) { return T(a & b); }
};
template <class T>
struct SOr {
    static FT_INLINE T s(T a, T b) { return T(a | b); }
};
template <class T>
struct SXor {
    static FT_INLINE T s(T a, T b) { return T(a ^ b); }
};

// Comparisons and logic write bool (uint8_t 0/1).
#define FT_CMP(NAME, EXPR)                                              \
    template <class T>                                                  \
    struct NAME {                                                       \
        static FT_INLINE uint8_t s(T a, T b) { return uint8_t(EXPR); }  \
    };
FT_CMP(CEq, a == b)
FT_CMP(CNe, a != b)
FT_CMP(CLt, a < b)
FT_CMP(CLe, a <= b)
FT_CMP(CGt, a > b)
FT_CMP(CGe, a >= b)
FT_CMP(LAnd, (a != T(0)) & (b != T(0)))
FT_CMP(LOr, (a != T(0)) | (b != T(0)))
FT_CMP(LXor, (a != T(0)) != (b != T(0)))
#undef FT_CMP

template <class Ti, class To, class Op>
void sbin(const char* pa, int64_t sa, const char* pb, int64_t sb, char* po,
          int64_t so, int64_t n) {
    const Ti* a = (const Ti*)pa;
    const Ti* b = (const Ti*)pb;
    To* o = (To*)po;
    if (so == 1 && sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; ++i) o[i] = Op::s(a[i], b[i]);
    } else if (so == 1 && sa == 1 && sb == 0) {
        const Ti y = *b;
        for (int64_t i = 0; i < n; ++i) o[i] = Op::s(a[i], y);
    } else if (so == 1 && sa == 0 && sb == 1) {
        const Ti x = *a;
        for (int64_t i = 0; i < n; ++i) o[i] = Op::s(x, b[i]);
    } else {
        for (int64_t i = 0; i < n; ++i) o[i * so] = Op::s(a[i * sa], b[i * sb]);
    }
}

// Unary scalar ops.
#define FT_SUN(NAME, TO, EXPR)                                \
    template <class T>                                        \
    struct NAME {                                             \
        using To = TO;                                        \
        static FT_INLINE To s(T x) { return To(EXPR); }       \
    };
FT_SUN(UNeg, T, Wide<T>(0) - Wide<T>(x))
FT_SUN(UPos, T, x)
FT_SUN(UAbs, T, x < 0 ? Wide<T>(0) - Wide<T>(x) : Wide<T>(x))
FT_SUN(USquare, T, Wide<T>(x) * Wide<T>(x))
FT_SUN(UNot, uint8_t, x == T(0))
FT_SUN(UIsNan, uint8_t, x != x)
#undef FT_SUN

template <class T, class Op>
void sun(const char* pa, int64_t sa, char* po, int64_t so, int64_t n) {
    using To = typename Op::To;
    const T* a = (const T*)pa;
    To* o = (To*)po;
    if (sa == 1 && so == 1) {
        for (int64_t i = 0; i < n; ++i) o[i] = Op::s(a[i]);
    } else {
        for (int64_t i = 0; i < n; ++i) o[i * so] = Op::s(a[i * sa]);
    }
}

template <class T>
void where_loop(const char* pc, int64_t sc, const char* px, int64_t sx,
                const char* py, int64_t sy, char* po, int64_t so, int64_t n) {
    const uint8_t* c = (const uint8_t*)pc;
    const T* x = (const T*)px;
    const T* y = (const T*)py;
    T* o = (T*)po;
    if (sc == 1 && sx == 1 && sy == 1 && so == 1) {
        for (int64_t i = 0; i < n; ++i) o[i] = c[i] ? x[i] : y[i];
    } else {
        for (int64_t i = 0; i < n; ++i)
            o[i * so] = c[i * sc] ? x[i * sx] : y[i * sy];
    }
}

}  // namespace

// ------------------------------------------------------------ the table

void fill_reduce_table(EwKernels& k);  // reduce.inl

namespace {

template <class T>
void fill_int_binary(EwKernels& k, DType dt) {
    auto& t = k.binary;
    t[int(BinOp::add)][dt] = sbin<T, T, SAdd<T>>;
    t[int(BinOp::sub)][dt] = sbin<T, T, SSub<T>>;
    t[int(BinOp::mul)][dt] = sbin<T, T, SMul<T>>;
    t[int(BinOp::floordiv)][dt] = sbin<T, T, SFloorDiv<T>>;
    t[int(BinOp::mod)][dt] = sbin<T, T, SMod<T>>;
    t[int(BinOp::pow)][dt] = sbin<T, T, SPow<T>>;
    t[int(BinOp::maximum)][dt] = sbin<T, T, SMax<T>>;
    t[int(BinOp::minimum)][dt] = sbin<T, T, SMin<T>>;
    t[int(BinOp::bitwise_and)][dt] = sbin<T, T, SAnd<T>>;
    t[int(BinOp::bitwise_or)][dt] = sbin<T, T, SOr<T>>;
    t[int(BinOp::bitwise_xor)][dt] = sbin<T, T, SXor<T>>;
}

template <class T>
void fill_compare(EwKernels& k, DType dt) {
    auto& t = k.binary;
    t[int(BinOp::eq)][dt] = sbin<T, uint8_t, CEq<T>>;
    t[int(BinOp::ne)][dt] = sbin<T, uint8_t, CNe<T>>;
    t[int(BinOp::lt)][dt] = sbin<T, uint8_t, CLt<T>>;
    t[int(BinOp::le)][dt] = sbin<T, uint8_t, CLe<T>>;
    t[int(BinOp::gt)][dt] = sbin<T, uint8_t, CGt<T>>;
    t[int(BinOp::ge)][dt] = sbin<T, uint8_t, CGe<T>>;
    t[int(BinOp::logical_and)][dt] = sbin<T, uint8_t, LAnd<T>>;
    t[int(BinOp::logical_or)][dt] = sbin<T, uint8_t, LOr<T>>;
    t[int(BinOp::logical_xor)][dt] = sbin<T, uint8_t, LXor<T>>;
    k.unary[int(UnOp::logical_not)][dt] = sun<T, UNot<T>>;
    k.unary[int(UnOp::isnan)][dt] = sun<T, UIsNan<T>>;
}

template <class T>
void fill_int_unary(EwKernels& k, DType dt) {
    auto& u = k.unary;
    u[int(UnOp::neg)][dt] = sun<T, UNeg<T>>;
    u[int(UnOp::pos)][dt] = sun<T, UPos<T>>;
    u[int(UnOp::abs)][dt] = sun<T, UAbs<T>>;
    u[int(UnOp::square)][dt] = sun<T, USquare<T>>;
}

template <class T>
void fill_float(EwKernels& k, DType dt) {
    auto& t = k.binary;
    t[int(BinOp::add)][dt] = fbin<T, FAdd<T>>;
    t[int(BinOp::sub)][dt] = fbin<T, FSub<T>>;
    t[int(BinOp::mul)][dt] = fbin<T, FMul<T>>;
    t[int(BinOp::div)][dt] = fbin<T, FDiv<T>>;
    t[int(BinOp::floordiv)][dt] = fbin<T, FFloorDiv<T>>;
    t[int(BinOp::mod)][dt] = fbin<T, FMod<T>>;
    t[int(BinOp::pow)][dt] = fbin<T, FPow<T>>;
    t[int(BinOp::maximum)][dt] = fbin<T, FMax<T>>;
    t[int(BinOp::minimum)][dt] = fbin<T, FMin<T>>;
    fill_compare<T>(k, dt);
    auto& u = k.unary;
    u[int(UnOp::neg)][dt] = fun<T, FNeg<T>>;
    u[int(UnOp::pos)][dt] = fun<T, FPos<T>>;
    u[int(UnOp::abs)][dt] = fun<T, FAbs<T>>;
    u[int(UnOp::exp)][dt] = fun<T, FExp<T>>;
    u[int(UnOp::log)][dt] = fun<T, FLog<T>>;
    u[int(UnOp::sqrt)][dt] = fun<T, FSqrt<T>>;
    u[int(UnOp::tanh)][dt] = fun<T, FTanh<T>>;
    u[int(UnOp::sigmoid)][dt] = fun<T, FSigmoid<T>>;
    u[int(UnOp::relu)][dt] = fun<T, FRelu<T>>;
    u[int(UnOp::silu)][dt] = fun<T, FSilu<T>>;
    u[int(UnOp::gelu)][dt] = fun<T, FGelu<T>>;
    u[int(UnOp::gelu_tanh)][dt] = fun<T, FGeluTanh<T>>;
    u[int(UnOp::erf)][dt] = fun<T, FErf<T>>;
    u[int(UnOp::square)][dt] = fun<T, FSquare<T>>;
}

EwKernels make_table() {
    EwKernels k;
    std::memset(&k, 0, sizeof k);
    fill_float<float>(k, kFloat32);
    fill_float<double>(k, kFloat64);
#define FT_INT(T, DT)           \
    fill_int_binary<T>(k, DT);  \
    fill_int_unary<T>(k, DT);   \
    fill_compare<T>(k, DT);
    FT_INT(int8_t, kInt8)
    FT_INT(int16_t, kInt16)
    FT_INT(int32_t, kInt32)
    FT_INT(int64_t, kInt64)
    FT_INT(uint8_t, kUInt8)
    FT_INT(uint16_t, kUInt16)
    FT_INT(uint32_t, kUInt32)
    FT_INT(uint64_t, kUInt64)
#undef FT_INT
    // bool (0/1 bytes): + is or, * is and, as in NumPy.
    auto& t = k.binary;
    t[int(BinOp::add)][kBool] = sbin<uint8_t, uint8_t, SOr<uint8_t>>;
    t[int(BinOp::mul)][kBool] = sbin<uint8_t, uint8_t, SAnd<uint8_t>>;
    t[int(BinOp::maximum)][kBool] = sbin<uint8_t, uint8_t, SOr<uint8_t>>;
    t[int(BinOp::minimum)][kBool] = sbin<uint8_t, uint8_t, SAnd<uint8_t>>;
    t[int(BinOp::bitwise_and)][kBool] = sbin<uint8_t, uint8_t, SAnd<uint8_t>>;
    t[int(BinOp::bitwise_or)][kBool] = sbin<uint8_t, uint8_t, SOr<uint8_t>>;
    t[int(BinOp::bitwise_xor)][kBool] = sbin<uint8_t, uint8_t, SXor<uint8_t>>;
    fill_compare<uint8_t>(k, kBool);
    k.unary[int(UnOp::pos)][kBool] = sun<uint8_t, UPos<uint8_t>>;
    k.unary[int(UnOp::abs)][kBool] = sun<uint8_t, UPos<uint8_t>>;
    k.where[0] = where_loop<uint8_t>;
    k.where[1] = where_loop<uint16_t>;
    k.where[2] = where_loop<uint32_t>;
    k.where[3] = where_loop<uint64_t>;
    fill_reduce_table(k);
    return k;
}

}  // namespace

const EwKernels& ew_kernels() {
    static const EwKernels table = make_table();
    return table;
}

}  // namespace FT_ISA
}  // namespace ft
