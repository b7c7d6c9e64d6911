// Element-wise and reduction drivers: loop planning and threading.
//
// Shapes: every operand is a strided view over one broadcast `shape`
// (ops/elementwise.h).  Planning, for element-wise ops:
//   1. dims of size 1 are dropped; a dim of size 0 means nothing to do;
//   2. dims are ordered by the output's |stride|, largest outermost, so
//      the innermost loop walks the output contiguously (transposed
//      outputs included);
//   3. adjacent dims are merged where every operand is contiguous across
//      them ((4096, 4096) + (4096,) becomes one stride-0 outer dim over a
//      contiguous inner run);
//   4. the innermost dim is the kernel's 1-D run; runs longer than
//      2 * kInnerChunk are cut into kInnerChunk pieces so that one long
//      run can be shared between threads.
// Work below kParallelGrain elements never enters a parallel region.
//
// Reductions: kept and reduced dims are planned separately (RedPlan in
// kernels/ew_table.h); threads split the kept elements, or, for a single
// kept element (a full reduction), the reduced run itself, whose partial
// results are combined here in order.
#include "ops/elementwise.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "core/parallel.h"
#include "core/pool.h"
#include "kernels/ew_table.h"

namespace ft {
namespace {

// Elements below which an op stays on the calling thread.  A parallel
// region costs a few microseconds while the workers still spin, but up to
// a few hundred once they have gone to sleep (GOMP_SPINCOUNT is small so
// that idle workers leave the cores to other libraries): measured on a
// 2-core Zen 3 guest, an add of 64K floats gains 1.1x from a second thread
// when called in a loop and loses 20x when called once after a pause.
// Below 128K elements the single-thread time is too small to risk that.
constexpr int64_t kParallelGrain = 131072;
constexpr int64_t kInnerChunk = 16384;

const EwKernels& table() { return FT_DISPATCH(ew_kernels()); }

bool is_bool_out(BinOp op) {
    return (op >= BinOp::eq && op <= BinOp::ge) ||
           op == BinOp::logical_and || op == BinOp::logical_or ||
           op == BinOp::logical_xor;
}

// A planned element-wise loop over up to 4 operands (operand 0 is the
// output).  Strides are in elements of each operand.
struct Loop {
    int nop = 0;
    int nd = 0;
    int64_t shape[kEwMaxDims];
    int64_t st[4][kEwMaxDims];
};

int64_t iabs(int64_t x) { return x < 0 ? -x : x; }

// Returns kOk with L.nd = -1 when the loop is empty.
int plan_loop(Loop& L, int nop, int ndim, const int64_t* shape,
              const int64_t* const* strides, const int64_t* itemsize) {
    L.nop = nop;
    int nd = 0;
    int64_t sh[kEwMaxDims];
    int64_t st[4][kEwMaxDims];
    for (int d = 0; d < ndim; ++d) {
        if (shape[d] == 0) {
            L.nd = -1;
            return kOk;
        }
        if (shape[d] == 1) continue;
        sh[nd] = shape[d];
        for (int o = 0; o < nop; ++o) {
            if (strides[o][d] % itemsize[o] != 0) return kErrArgument;
            st[o][nd] = strides[o][d] / itemsize[o];
        }
        ++nd;
    }
    // Order by the output's |stride|, largest first (stable insertion).
    int perm[kEwMaxDims];
    for (int d = 0; d < nd; ++d) perm[d] = d;
    for (int i = 1; i < nd; ++i) {
        int p = perm[i];
        int j = i;
        while (j > 0 && iabs(st[0][perm[j - 1]]) < iabs(st[0][p])) {
            perm[j] = perm[j - 1];
            --j;
        }
        perm[j] = p;
    }
    // Merge adjacent dims where every operand is contiguous across them.
    L.nd = 0;
    for (int i = 0; i < nd; ++i) {
        const int d = perm[i];
        if (L.nd > 0) {
            const int q = L.nd - 1;
            bool merge = true;
            for (int o = 0; o < nop; ++o)
                merge = merge && L.st[o][q] == st[o][d] * sh[d];
            if (merge) {
                L.shape[q] *= sh[d];
                for (int o = 0; o < nop; ++o) L.st[o][q] = st[o][d];
                continue;
            }
        }
        L.shape[L.nd] = sh[d];
        for (int o = 0; o < nop; ++o) L.st[o][L.nd] = st[o][d];
        ++L.nd;
    }
    return kOk;
}

// Runs call(ptr[nop], inner_strides[nop], n) over the planned loop.
template <class F>
void run_loop(const Loop& L, char* const* base, const int64_t* itemsize,
              F&& call) {
    const int nop = L.nop;
    if (L.nd < 0) return;
    int64_t zero[4] = {0, 0, 0, 0};
    if (L.nd == 0) {
        call(base, zero, int64_t(1));
        return;
    }
    const int nd = L.nd;
    const int64_t inner = L.shape[nd - 1];
    int64_t outer = 1;
    for (int d = 0; d < nd - 1; ++d) outer *= L.shape[d];
    const int64_t nchunk =
        inner > 2 * kInnerChunk ? (inner + kInnerChunk - 1) / kInnerChunk : 1;
    const int64_t chunk = (inner + nchunk - 1) / nchunk;
    const int64_t ntasks = outer * nchunk;
    int64_t grain = ntasks;
    if (outer * inner >= kParallelGrain) {
        grain = kParallelGrain / chunk;
        if (grain < 1) grain = 1;
    }
    int64_t ist[4];
    for (int o = 0; o < nop; ++o) ist[o] = L.st[o][nd - 1];

    parallel_for(ntasks, grain, [&](int64_t t0, int64_t t1) {
        // Outer multi-index of task t0, then an odometer.
        int64_t idx[kEwMaxDims];
        int64_t off[4] = {0, 0, 0, 0};
        int64_t o = t0 / nchunk;
        for (int d = nd - 2; d >= 0; --d) {
            idx[d] = o % L.shape[d];
            o /= L.shape[d];
            for (int k = 0; k < nop; ++k) off[k] += idx[d] * L.st[k][d];
        }
        int64_t c = t0 % nchunk;
        char* p[4];
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t i0 = c * chunk;
            const int64_t n = inner - i0 < chunk ? inner - i0 : chunk;
            for (int k = 0; k < nop; ++k)
                p[k] = base[k] + (off[k] + i0 * ist[k]) * itemsize[k];
            call(p, ist, n);
            if (++c == nchunk) {
                c = 0;
                for (int d = nd - 2; d >= 0; --d) {
                    for (int k = 0; k < nop; ++k) off[k] += L.st[k][d];
                    if (++idx[d] < L.shape[d]) break;
                    for (int k = 0; k < nop; ++k)
                        off[k] -= L.st[k][d] * L.shape[d];
                    idx[d] = 0;
                }
            }
        }
    });
}

// ------------------------------------------------------------ reductions

// Calls f(k, out_ptr) for every kept element in flat C order.
template <class F>
void for_each_out(int64_t nk, char* out, const int64_t* shape,
                  const int64_t* stride, int nd, F&& f) {
    int64_t idx[kEwMaxDims] = {0};
    int64_t off = 0;
    for (int64_t k = 0; k < nk; ++k) {
        f(k, out + off);
        for (int d = nd - 1; d >= 0; --d) {
            off += stride[d];
            if (++idx[d] < shape[d]) break;
            off -= stride[d] * shape[d];
            idx[d] = 0;
        }
    }
}

template <class T>
void write_out(RedOp op, DType dt, const RedAcc& a, int64_t rcount,
               int64_t ddof, char* p) {
    switch (op) {
        case RedOp::argmax:
        case RedOp::argmin:
            *(int64_t*)p = a.idx;
            return;
        case RedOp::any:
        case RedOp::all:
            *(uint8_t*)p = a.s != 0;
            return;
        default:
            break;
    }
    if (dtype_is_float(dt)) {
        double v = a.f;
        if (op == RedOp::mean) {
            v = v / double(rcount);
        } else if (op == RedOp::var) {
            int64_t den = rcount - ddof;
            v = v / double(den > 0 ? den : 0);
        }
        *(T*)p = T(v);
    } else if (std::numeric_limits<T>::is_signed &&
               (op == RedOp::max || op == RedOp::min)) {
        *(T*)p = T(a.s);
    } else {
        *(T*)p = T(a.u);
    }
}

// Combines the partial result b (a later piece of the same reduction)
// into a; only for the ops split_full() splits.
void combine(RedOp op, RedAcc& a, const RedAcc& b, int64_t idx_offset) {
    switch (op) {
        case RedOp::sum:
        case RedOp::mean:
        case RedOp::var:
            a.f += b.f;
            return;
        case RedOp::max:
        case RedOp::min:
            if (std::isnan(a.f)) return;
            if (std::isnan(b.f) ||
                (op == RedOp::max ? b.f > a.f : b.f < a.f))
                a.f = b.f;
            return;
        case RedOp::argmax:
        case RedOp::argmin:
            if (a.idx >= 0 && std::isnan(a.f)) return;
            if (b.idx < 0) return;
            if (a.idx < 0 || std::isnan(b.f) ||
                (op == RedOp::argmax ? b.f > a.f : b.f < a.f)) {
                a.f = b.f;
                a.idx = b.idx + idx_offset;
            }
            return;
        default:
            return;
    }
}

bool splittable(RedOp op, DType dt) {
    if (!(dt == kFloat32 || dt == kFloat64)) return false;
    return op == RedOp::sum || op == RedOp::mean || op == RedOp::var ||
           op == RedOp::max || op == RedOp::min || op == RedOp::argmax ||
           op == RedOp::argmin;
}

// Runs fn over all kept elements, on all threads when the work is large.
int run_reduce(RedFn fn, RedOp op, DType dt, const RedPlan& pl,
               const char* in, RedAcc* acc, int64_t nk) {
    const int64_t per = pl.rcount > 0 ? pl.rcount : 1;
    const int nt = max_threads();
    // A single kept element over one long run: split the run.
    if (nk == 1 && pl.nr == 1 && nt > 1 && pl.rcount >= 4 * kParallelGrain &&
        splittable(op, dt)) {
        const int64_t n = pl.rcount;
        int64_t len = n / (4 * nt);
        if (len < kParallelGrain) len = kParallelGrain;
        const int64_t np = (n + len - 1) / len;
        RedAcc* part = (RedAcc*)pool_alloc(size_t(np) * sizeof(RedAcc));
        if (!part) return kErrNoMemory;
        const int64_t isz = int64_t(dtype_size(dt));
        parallel_for(np, 1, [&](int64_t b, int64_t e) {
            for (int64_t c = b; c < e; ++c) {
                RedPlan sub = pl;
                const int64_t r0 = c * len;
                sub.rshape[0] = n - r0 < len ? n - r0 : len;
                sub.rcount = sub.rshape[0];
                fn(sub, in + r0 * pl.rstride[0] * isz, part + c, 0, 1);
            }
        });
        acc[0] = part[0];
        for (int64_t c = 1; c < np; ++c) combine(op, acc[0], part[c], c * len);
        pool_free(part, size_t(np) * sizeof(RedAcc));
        return kOk;
    }
    // One chunk per thread: when the kept elements are the
    // contiguous axis (a column sum), a chunk of a few kept elements would
    // read a sliver of every cache line and share lines with the chunk next
    // to it on the other thread.
    int64_t grain = kParallelGrain / per;
    if (grain < (nk + nt - 1) / nt) grain = (nk + nt - 1) / nt;
    if (grain < 1) grain = 1;
    if (nk * per < kParallelGrain) grain = nk;
    parallel_for(nk, grain, [&](int64_t b, int64_t e) {
        fn(pl, in, acc, b, e);
    });
    return kOk;
}

}  // namespace

// ------------------------------------------------------------ entry points

int ew_binary(BinOp op, DType dt, int ndim, const int64_t* shape,
              const char* a, const int64_t* sa, const char* b,
              const int64_t* sb, char* out, const int64_t* so) {
    if (int(op) < 0 || op >= BinOp::kCount || dt < 0 || dt >= kNumDTypes)
        return kErrArgument;
    if (ndim < 0 || ndim > kEwMaxDims) return kErrArgument;
    EwBinaryFn fn = table().binary[int(op)][dt];
    if (!fn) return kErrDType;
    const int64_t isz = int64_t(dtype_size(dt));
    const int64_t itemsize[3] = {is_bool_out(op) ? 1 : isz, isz, isz};
    const int64_t* strides[3] = {so, sa, sb};
    Loop L;
    int st = plan_loop(L, 3, ndim, shape, strides, itemsize);
    if (st != kOk) return st;
    char* base[3] = {out, const_cast<char*>(a), const_cast<char*>(b)};
    run_loop(L, base, itemsize, [&](char* const* p, const int64_t* s,
                                    int64_t n) {
        fn(p[1], s[1], p[2], s[2], p[0], s[0], n);
    });
    return kOk;
}

int ew_unary(UnOp op, DType dt, int ndim, const int64_t* shape,
             const char* a, const int64_t* sa, char* out, const int64_t* so) {
    if (int(op) < 0 || op >= UnOp::kCount || dt < 0 || dt >= kNumDTypes)
        return kErrArgument;
    if (ndim < 0 || ndim > kEwMaxDims) return kErrArgument;
    EwUnaryFn fn = table().unary[int(op)][dt];
    if (!fn) return kErrDType;
    const int64_t isz = int64_t(dtype_size(dt));
    const bool bool_out = op == UnOp::logical_not || op == UnOp::isnan;
    const int64_t itemsize[2] = {bool_out ? 1 : isz, isz};
    const int64_t* strides[2] = {so, sa};
    Loop L;
    int st = plan_loop(L, 2, ndim, shape, strides, itemsize);
    if (st != kOk) return st;
    char* base[2] = {out, const_cast<char*>(a)};
    run_loop(L, base, itemsize, [&](char* const* p, const int64_t* s,
                                    int64_t n) {
        fn(p[1], s[1], p[0], s[0], n);
    });
    return kOk;
}

int ew_where(DType dt, int ndim, const int64_t* shape, const char* cond,
             const int64_t* sc, const char* x, const int64_t* sx,
             const char* y, const int64_t* sy, char* out, const int64_t* so) {
    if (dt < 0 || dt >= kNumDTypes) return kErrArgument;
    if (ndim < 0 || ndim > kEwMaxDims) return kErrArgument;
    const int64_t isz = int64_t(dtype_size(dt));
    const int lg = isz == 1 ? 0 : isz == 2 ? 1 : isz == 4 ? 2 : 3;
    EwWhereFn fn = table().where[lg];
    const int64_t itemsize[4] = {isz, 1, isz, isz};
    const int64_t* strides[4] = {so, sc, sx, sy};
    Loop L;
    int st = plan_loop(L, 4, ndim, shape, strides, itemsize);
    if (st != kOk) return st;
    char* base[4] = {out, const_cast<char*>(cond), const_cast<char*>(x),
                     const_cast<char*>(y)};
    run_loop(L, base, itemsize, [&](char* const* p, const int64_t* s,
                                    int64_t n) {
        fn(p[1], s[1], p[2], s[2], p[3], s[3], p[0], s[0], n);
    });
    return kOk;
}

int ew_reduce(RedOp op, DType dt, int ndim, const int64_t* shape,
              const char* in, const int64_t* si, int nred, char* out,
              const int64_t* so, int64_t ddof) {
    if (int(op) < 0 || op >= RedOp::kCount || dt < 0 || dt >= kNumDTypes)
        return kErrArgument;
    if (ndim < 0 || ndim > kEwMaxDims || nred < 0 || nred > ndim)
        return kErrArgument;
    const EwKernels& K = table();
    RedFn fn = K.reduce[int(op)][dt];
    if (!fn) return kErrDType;
    if ((op == RedOp::mean || op == RedOp::var) && !dtype_is_float(dt))
        return kErrDType;
    const int64_t isz = int64_t(dtype_size(dt));
    const int nkd = ndim - nred;

    // Kept dims as the output sees them (for writing) and as the input
    // does (collapsed, for reading).
    int onk = 0;
    int64_t okshape[kEwMaxDims], okstride[kEwMaxDims];
    RedPlan pl;
    pl.nk = 0;
    pl.nr = 0;
    pl.center = nullptr;
    int64_t nk = 1;
    for (int d = 0; d < nkd; ++d) {
        if (shape[d] == 0) return kOk;
        nk *= shape[d];
        if (shape[d] == 1) continue;
        if (si[d] % isz != 0) return kErrArgument;
        okshape[onk] = shape[d];
        okstride[onk] = so[d];
        ++onk;
        const int64_t s = si[d] / isz;
        if (pl.nk > 0 && pl.kstride[pl.nk - 1] == s * shape[d]) {
            pl.kshape[pl.nk - 1] *= shape[d];
            pl.kstride[pl.nk - 1] = s;
        } else {
            pl.kshape[pl.nk] = shape[d];
            pl.kstride[pl.nk] = s;
            ++pl.nk;
        }
    }
    pl.rcount = 1;
    for (int d = nkd; d < ndim; ++d) {
        pl.rcount *= shape[d];
        if (shape[d] == 1) continue;
        if (si[d] % isz != 0) return kErrArgument;
        const int64_t s = si[d] / isz;
        if (pl.nr > 0 && pl.rstride[pl.nr - 1] == s * shape[d]) {
            pl.rshape[pl.nr - 1] *= shape[d];
            pl.rstride[pl.nr - 1] = s;
        } else {
            pl.rshape[pl.nr] = shape[d];
            pl.rstride[pl.nr] = s;
            ++pl.nr;
        }
    }
    if (pl.rcount == 0) pl.nr = 0;
    pl.rows = pl.nk > 0 && pl.nr > 0 && pl.kstride[pl.nk - 1] == 1 &&
              pl.rstride[pl.nr - 1] != 1;

    const size_t acc_bytes = size_t(nk) * sizeof(RedAcc);
    RedAcc* acc = (RedAcc*)pool_alloc(acc_bytes);
    if (!acc) return kErrNoMemory;
    int st = kOk;
    if (op == RedOp::var) {
        // Pass 1: the means, kept in acc and used as the centres.
        RedAcc* ctr = (RedAcc*)pool_alloc(acc_bytes);
        if (!ctr) {
            pool_free(acc, acc_bytes);
            return kErrNoMemory;
        }
        st = run_reduce(K.reduce[int(RedOp::sum)][dt], RedOp::sum, dt, pl, in,
                        ctr, nk);
        for (int64_t k = 0; k < nk; ++k) ctr[k].f /= double(pl.rcount);
        pl.center = ctr;
        if (st == kOk) st = run_reduce(fn, op, dt, pl, in, acc, nk);
        pool_free(ctr, acc_bytes);
    } else {
        st = run_reduce(fn, op, dt, pl, in, acc, nk);
    }
    if (st == kOk) {
        const int64_t rc = pl.rcount;
        auto write = [&](auto tag) {
            using T = decltype(tag);
            for_each_out(nk, out, okshape, okstride, onk,
                         [&](int64_t k, char* p) {
                             write_out<T>(op, dt, acc[k], rc, ddof, p);
                         });
        };
        switch (dt) {
            case kBool: write(uint8_t()); break;
            case kInt8: write(int8_t()); break;
            case kInt16: write(int16_t()); break;
            case kInt32: write(int32_t()); break;
            case kInt64: write(int64_t()); break;
            case kUInt8: write(uint8_t()); break;
            case kUInt16: write(uint16_t()); break;
            case kUInt32: write(uint32_t()); break;
            case kUInt64: write(uint64_t()); break;
            case kFloat32: write(float()); break;
            case kFloat64: write(double()); break;
            default: st = kErrDType; break;
        }
    }
    pool_free(acc, acc_bytes);
    return st;
}

}  // namespace ft
