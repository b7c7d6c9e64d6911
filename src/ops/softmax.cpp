// softmax / log_softmax driver: layout analysis and threading.
//
// Shapes: the input is an n-d view; `axis` is the softmax axis of length
// n.  The other dims, with size-1 dims dropped and neighbours merged where
// both views allow, are the "outer" positions.  Three layouts:
//   rows     the axis has unit stride in both views: each position is one
//            contiguous row (row kernels, spread over threads in chunks of
//            about kRowGrainElems elements);
//   columns  some other dim has unit stride in both views: the kernels run
//            up to kSoftmaxMaxLanes softmaxes side by side along it, one
//            vector lane each, never transposing anything;
//   gather   neither: each row is copied into a per-thread buffer, done in
//            place there, and copied out.
// Outputs larger than kStreamBytes are written with non-temporal stores
// (rows layout), which keeps them from evicting the input and saves the
// read-for-ownership of every output line.
#include <atomic>
#include <cstdint>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "core/pool.h"
#include "kernels/nn_kernels.h"
#include "ops/nn.h"

namespace ft {
namespace {

constexpr int64_t kRowGrainElems = 16384;
constexpr int64_t kColGrainElems = 32768;
constexpr int64_t kStreamBytes = int64_t(16) << 20;

struct Dim {
    int64_t n, si, so;  // size, element strides of in and out
};

// Merges neighbouring dims that step like one dim in both views.
int collapse(Dim* d, int nd) {
    int m = 0;
    for (int i = 0; i < nd; ++i) {
        if (m > 0 && d[m - 1].si == d[i].n * d[i].si &&
            d[m - 1].so == d[i].n * d[i].so) {
            d[m - 1].n *= d[i].n;
            d[m - 1].si = d[i].si;
            d[m - 1].so = d[i].so;
        } else {
            d[m++] = d[i];
        }
    }
    return m;
}

// Element offsets of outer position `idx` (C order over d[0..nd)).
inline void offsets(int64_t idx, const Dim* d, int nd, int64_t* oi,
                    int64_t* oo) {
    int64_t a = 0, b = 0;
    for (int i = nd - 1; i >= 0; --i) {
        const int64_t c = idx % d[i].n;
        idx /= d[i].n;
        a += c * d[i].si;
        b += c * d[i].so;
    }
    *oi = a;
    *oo = b;
}

template <class T>
struct SmFns;
template <>
struct SmFns<float> {
    static auto rows(const SoftmaxKernels& k) { return k.rows_f32; }
    static auto cols(const SoftmaxKernels& k) { return k.cols_f32; }
};
template <>
struct SmFns<double> {
    static auto rows(const SoftmaxKernels& k) { return k.rows_f64; }
    static auto cols(const SoftmaxKernels& k) { return k.cols_f64; }
};

template <class T>
int softmax_t(bool log, int ndim, const int64_t* shape, int axis,
              const T* in, const int64_t* si, T* out, const int64_t* so) {
    const int64_t es = (int64_t)sizeof(T);
    const int64_t n = shape[axis];
    const int64_t sn_i = si[axis] / es, sn_o = so[axis] / es;
    Dim dims[64];
    int nd = 0;
    int64_t outer = 1;
    for (int i = 0; i < ndim; ++i) {
        if (shape[i] == 0) return kOk;
        if (i == axis || shape[i] == 1) continue;
        dims[nd++] = {shape[i], si[i] / es, so[i] / es};
        outer *= shape[i];
    }
    nd = collapse(dims, nd);
    const SoftmaxKernels& K = FT_DISPATCH(softmax_kernels)();
    const auto rows_fn = SmFns<T>::rows(K);
    const auto cols_fn = SmFns<T>::cols(K);
    const int flags0 = log ? kSoftmaxLog : 0;
    std::atomic<int> status{kOk};

    // Rows: the axis is contiguous in both views.
    if ((sn_i == 1 && sn_o == 1) || n == 1) {
        int flags = flags0;
        const bool stream = outer * n * es >= kStreamBytes;
        if (stream) flags |= kSoftmaxStream;
        const bool need_tmp = stream && !log && n * es <= K.row_cached_bytes;
        int64_t grain = kRowGrainElems / (n > 0 ? n : 1);
        if (grain < 1) grain = 1;
        parallel_for(outer, grain, [&](int64_t b, int64_t e) {
            T* tmp = nullptr;
            if (need_tmp) {
                tmp = (T*)pool_alloc((size_t)K.row_cached_bytes);
                if (!tmp) {
                    status = kErrNoMemory;
                    return;
                }
            }
            if (nd <= 1) {
                const int64_t rs_i = nd ? dims[0].si : 0;
                const int64_t rs_o = nd ? dims[0].so : 0;
                rows_fn(e - b, n, in + b * rs_i, rs_i, out + b * rs_o, rs_o,
                        flags, tmp);
            } else {
                for (int64_t r = b; r < e; ++r) {
                    int64_t oi, oo;
                    offsets(r, dims, nd, &oi, &oo);
                    rows_fn(1, n, in + oi, 0, out + oo, 0, flags, tmp);
                }
            }
            if (tmp) pool_free(tmp, (size_t)K.row_cached_bytes);
        });
        return status;
    }

    // Columns: vectorise across a dim with unit stride in both views.
    int vd = -1;
    for (int i = nd - 1; i >= 0; --i)
        if (dims[i].si == 1 && dims[i].so == 1) {
            vd = i;
            break;
        }
    if (vd >= 0) {
        const int64_t inner = dims[vd].n;
        Dim rest[64];
        int nr = 0;
        for (int i = 0; i < nd; ++i)
            if (i != vd) rest[nr++] = dims[i];
        const int64_t npos = outer / inner;
        const int64_t nchunk =
            (inner + kSoftmaxMaxLanes - 1) / kSoftmaxMaxLanes;
        const int64_t items = npos * nchunk;
        int64_t grain = kColGrainElems / (n * (inner < kSoftmaxMaxLanes
                                                   ? inner
                                                   : kSoftmaxMaxLanes));
        if (grain < 1) grain = 1;
        parallel_for(items, grain, [&](int64_t b, int64_t e) {
            for (int64_t it = b; it < e; ++it) {
                const int64_t pos = it / nchunk, ch = it % nchunk;
                int64_t oi = 0, oo = 0;
                if (nr) offsets(pos, rest, nr, &oi, &oo);
                const int64_t j0 = ch * kSoftmaxMaxLanes;
                const int64_t w = inner - j0 < kSoftmaxMaxLanes
                                      ? inner - j0
                                      : kSoftmaxMaxLanes;
                cols_fn(n, w, in + oi + j0, sn_i, out + oo + j0, sn_o,
                        flags0);
            }
        });
        return kOk;
    }

    // Gather: copy each row into a buffer, work there, copy it back.
    int64_t grain = kRowGrainElems / n;
    if (grain < 1) grain = 1;
    parallel_for(outer, grain, [&](int64_t b, int64_t e) {
        T* buf = (T*)pool_alloc((size_t)(n * es));
        if (!buf) {
            status = kErrNoMemory;
            return;
        }
        for (int64_t r = b; r < e; ++r) {
            int64_t oi, oo;
            offsets(r, dims, nd, &oi, &oo);
            const T* x = in + oi;
            for (int64_t i = 0; i < n; ++i) buf[i] = x[i * sn_i];
            rows_fn(1, n, buf, 0, buf, 0, flags0, nullptr);
            T* y = out + oo;
            for (int64_t i = 0; i < n; ++i) y[i * sn_o] = buf[i];
        }
        pool_free(buf, (size_t)(n * es));
    });
    return status;
}

}  // namespace

int softmax(DType dt, bool log, int ndim, const int64_t* shape, int axis,
            const void* in, const int64_t* si, void* out,
            const int64_t* so) {
    if (ndim > 64 || axis < 0 || axis >= ndim) return kErrArgument;
    if (dt == kFloat32)
        return softmax_t<float>(log, ndim, shape, axis, (const float*)in, si,
                                (float*)out, so);
    if (dt == kFloat64)
        return softmax_t<double>(log, ndim, shape, axis, (const double*)in,
                                 si, (double*)out, so);
    return kErrDType;
}

}  // namespace ft
