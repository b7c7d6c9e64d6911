// Strided copy, dtype conversion and fill (ew_cast, ew_fill).
//
// Loop plan shared by both: drop size-1 dims, order the remaining dims by
// the destination's strides (largest first, so the innermost loop walks
// the destination contiguously where it can), merge dims that are
// contiguous for every operand, then run a 1-D inner loop over the last
// dim for every index of the outer dims.  A same-dtype copy whose inner dim
// is contiguous on both sides becomes one memcpy per outer index; large
// copies split the outer index range over threads.
//
// Conversions to and from float16 and bfloat16 pass through float32 in
// blocks of kCvtBlock elements: the other side is gathered into (or
// scattered from) a float32 block, and the vectorised kernels of
// kernels/convert.h turn the block into 16-bit values or back.  float32
// runs that are contiguous on both sides skip the block.  Sources wider
// than float32 (float64, 32- and 64-bit integers) are rounded to float32
// "to odd" first (core/half.h), so that the 16-bit result is rounded once,
// correctly.
#include <cstring>
#include <type_traits>

#include "core/dtype.h"
#include "core/half.h"
#include "core/parallel.h"
#include "kernels/convert.h"
#include "ops/elementwise.h"

namespace ft {

namespace {

constexpr int kMaxDims = 64;

// A collapsed iteration over up to two operands (src and dst).
struct Plan {
    int nd = 0;
    int64_t shape[kMaxDims];
    int64_t st[2][kMaxDims];  // byte strides: [0] src, [1] dst
    bool empty = false;
};

Plan make_plan(int ndim, const int64_t* shape, const int64_t* ss,
               const int64_t* sd) {
    Plan p;
    int order[kMaxDims];
    int n = 0;
    for (int i = 0; i < ndim; ++i) {
        if (shape[i] == 0) p.empty = true;
        if (shape[i] != 1) order[n++] = i;
    }
    // Insertion sort by |dst stride| descending (ndim is small).
    for (int i = 1; i < n; ++i) {
        int v = order[i], j = i;
        auto key = [&](int d) { return sd[d] < 0 ? -sd[d] : sd[d]; };
        while (j > 0 && key(order[j - 1]) < key(v)) {
            order[j] = order[j - 1];
            --j;
        }
        order[j] = v;
    }
    for (int i = 0; i < n; ++i) {
        const int d = order[i];
        const int64_t s_src = ss ? ss[d] : 0;
        if (p.nd > 0) {
            const int q = p.nd - 1;
            if (s_src * shape[d] == p.st[0][q] && sd[d] * shape[d] == p.st[1][q]) {
                p.shape[q] *= shape[d];
                p.st[0][q] = s_src;
                p.st[1][q] = sd[d];
                continue;
            }
        }
        p.shape[p.nd] = shape[d];
        p.st[0][p.nd] = s_src;
        p.st[1][p.nd] = sd[d];
        ++p.nd;
    }
    if (p.nd == 0) {  // a single element
        p.nd = 1;
        p.shape[0] = 1;
        p.st[0][0] = p.st[1][0] = 0;
    }
    return p;
}

// Calls inner(src, dst, n) for every outer index of the plan, threads
// splitting the outer range when the copy is large.  A large copy with
// fewer outer indices than threads (a contiguous tensor is a single run)
// splits its inner runs instead, into pieces of about 64 KiB of
// destination; inner() then sees a run in several calls.
template <class Inner>
void run_plan(const Plan& p, const char* src, char* dst, size_t elem_bytes,
              Inner inner) {
    if (p.empty) return;
    const int outer_nd = p.nd - 1;
    const int64_t n_inner = p.shape[p.nd - 1];
    int64_t n_outer = 1;
    for (int i = 0; i < outer_nd; ++i) n_outer *= p.shape[i];
    const bool large =
        n_outer * n_inner * (int64_t)elem_bytes >= (int64_t)1 << 20;
    if (large && n_outer < max_threads()) {
        const int64_t piece = (int64_t)(65536 / elem_bytes);
        const int64_t pieces = (n_inner + piece - 1) / piece;
        parallel_for(n_outer * pieces, 1, [&](int64_t begin, int64_t end) {
            for (int64_t u = begin; u < end; ++u) {
                int64_t rem = u / pieces;
                const int64_t j0 = (u % pieces) * piece;
                const char* s = src + j0 * p.st[0][outer_nd];
                char* d = dst + j0 * p.st[1][outer_nd];
                for (int i = outer_nd - 1; i >= 0; --i) {
                    s += (rem % p.shape[i]) * p.st[0][i];
                    d += (rem % p.shape[i]) * p.st[1][i];
                    rem /= p.shape[i];
                }
                inner(s, d, n_inner - j0 < piece ? n_inner - j0 : piece);
            }
        });
        return;
    }
    // About 64 KiB of destination per chunk.
    int64_t grain = (int64_t)(65536 / (elem_bytes * (size_t)n_inner)) + 1;
    if (!large) grain = n_outer;
    parallel_for(n_outer, grain, [&](int64_t begin, int64_t end) {
        int64_t idx[kMaxDims];
        int64_t rem = begin;
        const char* s = src;
        char* d = dst;
        for (int i = outer_nd - 1; i >= 0; --i) {
            idx[i] = rem % p.shape[i];
            rem /= p.shape[i];
            s += idx[i] * p.st[0][i];
            d += idx[i] * p.st[1][i];
        }
        for (int64_t o = begin; o < end; ++o) {
            inner(s, d, n_inner);
            // Advance the outer multi-index (odometer).
            for (int i = outer_nd - 1; i >= 0; --i) {
                s += p.st[0][i];
                d += p.st[1][i];
                if (++idx[i] < p.shape[i]) break;
                s -= p.st[0][i] * p.shape[i];
                d -= p.st[1][i] * p.shape[i];
                idx[i] = 0;
            }
        }
    });
}

template <class To, class From>
inline To convert(From v) {
    return static_cast<To>(v);
}

// bool is stored as one byte holding 0 or 1.
template <class From>
inline bool to_bool(From v) {
    return v != From(0);
}

template <class From, class To>
void cast_loop(const Plan& p, const char* src, char* dst) {
    const int64_t ss = p.st[0][p.nd - 1], sd = p.st[1][p.nd - 1];
    run_plan(p, src, dst, sizeof(To), [ss, sd](const char* s, char* d, int64_t n) {
        if (ss == (int64_t)sizeof(From) && sd == (int64_t)sizeof(To)) {
            const From* a = reinterpret_cast<const From*>(s);
            To* b = reinterpret_cast<To*>(d);
            for (int64_t i = 0; i < n; ++i) b[i] = convert<To>(a[i]);
        } else {
            for (int64_t i = 0; i < n; ++i) {
                From v;
                std::memcpy(&v, s + i * ss, sizeof v);
                To w = convert<To>(v);
                std::memcpy(d + i * sd, &w, sizeof w);
            }
        }
    });
}

template <class From>
void cast_to_bool_loop(const Plan& p, const char* src, char* dst) {
    const int64_t ss = p.st[0][p.nd - 1], sd = p.st[1][p.nd - 1];
    run_plan(p, src, dst, 1, [ss, sd](const char* s, char* d, int64_t n) {
        for (int64_t i = 0; i < n; ++i) {
            From v;
            std::memcpy(&v, s + i * ss, sizeof v);
            d[i * sd] = to_bool(v) ? 1 : 0;
        }
    });
}

// ---------------------------------------------------------------- 16-bit

// Tag for the two 16-bit float dtypes on either side of a conversion.
struct Lowp {};

constexpr int64_t kCvtBlock = 256;

const CvtKernels& cvt() { return FT_DISPATCH(cvt_kernels()); }

// A source element as float32: exact for float32 and the narrow integers,
// rounded to odd for float64 and 64-bit or 32-bit integers.
template <class From>
inline float to_f32_odd(From v) {
    if constexpr (std::is_same<From, float>::value) {
        return v;
    } else if constexpr (std::is_same<From, double>::value) {
        return f64_to_f32_odd(v);
    } else if constexpr (std::is_signed<From>::value) {
        return i64_to_f32_odd(int64_t(v));
    } else {
        return u64_to_f32_odd(uint64_t(v));
    }
}

// dst = src where at least one side (From or To is Lowp) is float16 or
// bfloat16; `from_bf16` / `to_bf16` pick the format of a Lowp side.
template <class From, class To>
void cast_lowp_loop(const Plan& p, const char* src, char* dst, bool from_bf16,
                    bool to_bf16) {
    constexpr bool kFromLowp = std::is_same<From, Lowp>::value;
    constexpr bool kToLowp = std::is_same<To, Lowp>::value;
    constexpr int64_t kFromSize = kFromLowp ? 2 : int64_t(sizeof(From));
    constexpr int64_t kToSize = kToLowp ? 2 : int64_t(sizeof(To));
    const int64_t ss = p.st[0][p.nd - 1], sd = p.st[1][p.nd - 1];
    const CvtWidenFn widen =
        from_bf16 ? cvt().bf16_to_f32 : cvt().f16_to_f32;
    const CvtNarrowFn narrow =
        to_bf16 ? cvt().f32_to_bf16 : cvt().f32_to_f16;
    run_plan(p, src, dst, size_t(kToSize), [=](const char* s, char* d,
                                               int64_t n) {
        const bool s_contig = ss == kFromSize, d_contig = sd == kToSize;
        // One kernel call covers contiguous float32 <-> 16-bit runs.
        if constexpr (kFromLowp && std::is_same<To, float>::value) {
            if (s_contig && d_contig) {
                widen(reinterpret_cast<const uint16_t*>(s),
                      reinterpret_cast<float*>(d), n);
                return;
            }
        }
        if constexpr (kToLowp && std::is_same<From, float>::value) {
            if (s_contig && d_contig) {
                narrow(reinterpret_cast<const float*>(s),
                       reinterpret_cast<uint16_t*>(d), n);
                return;
            }
        }
        alignas(64) float block[kCvtBlock];
        alignas(64) uint16_t bits[kCvtBlock];
        for (int64_t i0 = 0; i0 < n; i0 += kCvtBlock) {
            const int64_t m = n - i0 < kCvtBlock ? n - i0 : kCvtBlock;
            const char* sb = s + i0 * ss;
            char* db = d + i0 * sd;
            // Source -> float32 block.
            if constexpr (kFromLowp) {
                const uint16_t* h = reinterpret_cast<const uint16_t*>(sb);
                if (!s_contig) {
                    for (int64_t j = 0; j < m; ++j)
                        std::memcpy(&bits[j], sb + j * ss, 2);
                    h = bits;
                }
                widen(h, block, m);
            } else {
                for (int64_t j = 0; j < m; ++j) {
                    From v;
                    std::memcpy(&v, sb + j * ss, sizeof v);
                    block[j] = to_f32_odd(v);
                }
            }
            // float32 block -> destination.
            if constexpr (kToLowp) {
                uint16_t* h =
                    d_contig ? reinterpret_cast<uint16_t*>(db) : bits;
                narrow(block, h, m);
                if (!d_contig) {
                    for (int64_t j = 0; j < m; ++j)
                        std::memcpy(db + j * sd, &bits[j], 2);
                }
            } else {
                for (int64_t j = 0; j < m; ++j) {
                    // bool: non-zero (NaN included) is true.
                    const To w = static_cast<To>(block[j]);
                    std::memcpy(db + j * sd, &w, sizeof w);
                }
            }
        }
    });
}

inline bool is_lowp(DType dt) { return dt == kFloat16 || dt == kBFloat16; }

// Conversions into float16 / bfloat16 from any dtype.
template <class From>
int cast_into_lowp(DType from, DType to, const Plan& p, const char* src,
                   char* dst) {
    cast_lowp_loop<From, Lowp>(p, src, dst, from == kBFloat16,
                               to == kBFloat16);
    return kOk;
}

// Conversions from float16 / bfloat16 to any dtype.
int cast_from_lowp(DType from, DType to, const Plan& p, const char* src,
                   char* dst) {
    const bool bf = from == kBFloat16, tb = to == kBFloat16;
    switch (to) {
        case kBool: cast_lowp_loop<Lowp, bool>(p, src, dst, bf, tb); break;
        case kInt8: cast_lowp_loop<Lowp, int8_t>(p, src, dst, bf, tb); break;
        case kInt16: cast_lowp_loop<Lowp, int16_t>(p, src, dst, bf, tb); break;
        case kInt32: cast_lowp_loop<Lowp, int32_t>(p, src, dst, bf, tb); break;
        case kInt64: cast_lowp_loop<Lowp, int64_t>(p, src, dst, bf, tb); break;
        case kUInt8: cast_lowp_loop<Lowp, uint8_t>(p, src, dst, bf, tb); break;
        case kUInt16:
            cast_lowp_loop<Lowp, uint16_t>(p, src, dst, bf, tb);
            break;
        case kUInt32:
            cast_lowp_loop<Lowp, uint32_t>(p, src, dst, bf, tb);
            break;
        case kUInt64:
            cast_lowp_loop<Lowp, uint64_t>(p, src, dst, bf, tb);
            break;
        case kFloat16:
        case kBFloat16: cast_lowp_loop<Lowp, Lowp>(p, src, dst, bf, tb); break;
        case kFloat32: cast_lowp_loop<Lowp, float>(p, src, dst, bf, tb); break;
        case kFloat64: cast_lowp_loop<Lowp, double>(p, src, dst, bf, tb); break;
        default: return kErrDType;
    }
    return kOk;
}

template <class From>
int cast_from(DType from, DType to, const Plan& p, const char* src,
              char* dst) {
    switch (to) {
        case kBool: cast_to_bool_loop<From>(p, src, dst); return kOk;
        case kInt8: cast_loop<From, int8_t>(p, src, dst); return kOk;
        case kInt16: cast_loop<From, int16_t>(p, src, dst); return kOk;
        case kInt32: cast_loop<From, int32_t>(p, src, dst); return kOk;
        case kInt64: cast_loop<From, int64_t>(p, src, dst); return kOk;
        case kUInt8: cast_loop<From, uint8_t>(p, src, dst); return kOk;
        case kUInt16: cast_loop<From, uint16_t>(p, src, dst); return kOk;
        case kUInt32: cast_loop<From, uint32_t>(p, src, dst); return kOk;
        case kUInt64: cast_loop<From, uint64_t>(p, src, dst); return kOk;
        case kFloat32: cast_loop<From, float>(p, src, dst); return kOk;
        case kFloat64: cast_loop<From, double>(p, src, dst); return kOk;
        case kFloat16:
        case kBFloat16: return cast_into_lowp<From>(from, to, p, src, dst);
        default: return kErrDType;
    }
}

void copy_same(const Plan& p, const char* src, char* dst, size_t es) {
    const int64_t ss = p.st[0][p.nd - 1], sd = p.st[1][p.nd - 1];
    const int64_t e = (int64_t)es;
    run_plan(p, src, dst, es, [ss, sd, e, es](const char* s, char* d, int64_t n) {
        if (ss == e && sd == e) {
            std::memcpy(d, s, (size_t)n * es);
        } else {
            for (int64_t i = 0; i < n; ++i) std::memcpy(d + i * sd, s + i * ss, es);
        }
    });
}

}  // namespace

int ew_cast(DType from, DType to, int ndim, const int64_t* shape,
            const char* src, const int64_t* ss, char* dst, const int64_t* sd) {
    if (ndim > kMaxDims) return kErrArgument;
    const Plan p = make_plan(ndim, shape, ss, sd);
    if (from == to) {
        copy_same(p, src, dst, dtype_size(from));
        return kOk;
    }
    switch (from) {
        case kBool: return cast_from<uint8_t>(from, to, p, src, dst);
        case kInt8: return cast_from<int8_t>(from, to, p, src, dst);
        case kInt16: return cast_from<int16_t>(from, to, p, src, dst);
        case kInt32: return cast_from<int32_t>(from, to, p, src, dst);
        case kInt64: return cast_from<int64_t>(from, to, p, src, dst);
        case kUInt8: return cast_from<uint8_t>(from, to, p, src, dst);
        case kUInt16: return cast_from<uint16_t>(from, to, p, src, dst);
        case kUInt32: return cast_from<uint32_t>(from, to, p, src, dst);
        case kUInt64: return cast_from<uint64_t>(from, to, p, src, dst);
        case kFloat32: return cast_from<float>(from, to, p, src, dst);
        case kFloat64: return cast_from<double>(from, to, p, src, dst);
        case kFloat16:
        case kBFloat16: return cast_from_lowp(from, to, p, src, dst);
        default: return kErrDType;
    }
}

int ew_fill(DType dt, int ndim, const int64_t* shape, char* dst,
            const int64_t* sd, const void* value) {
    if (ndim > kMaxDims) return kErrArgument;
    const Plan p = make_plan(ndim, shape, nullptr, sd);
    const size_t es = dtype_size(dt);
    const int64_t step = p.st[1][p.nd - 1];
    unsigned char v[8];
    std::memcpy(v, value, es);
    bool all_zero = true;
    for (size_t i = 0; i < es; ++i) all_zero &= v[i] == 0;
    run_plan(p, nullptr, dst, es, [&](const char*, char* d, int64_t n) {
        if (all_zero && step == (int64_t)es) {
            std::memset(d, 0, (size_t)n * es);
            return;
        }
        for (int64_t i = 0; i < n; ++i) std::memcpy(d + i * step, v, es);
    });
    return kOk;
}

}  // namespace ft
