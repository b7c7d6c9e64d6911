// layer_norm kernel, written once and compiled per ISA.
//
// Formula (PyTorch's LayerNorm, biased variance): for a row x of length n,
//   mean = sum(x) / n,  var = sum((x - mean)^2) / n,
//   y = (x - mean) * rsqrt(var + eps) * w + b.
// Layout: rows contiguous, rs_* steps one row; w and b (length n,
// contiguous) may be null for 1 and 0.
//
// Passes: mean, then the centred sum of squares (two passes instead of
// E[x^2] - mean^2, which cancels catastrophically for rows with a large
// mean), then the affine write.  A row of up to a few hundred KiB stays in
// L2 between the passes, so memory sees one read and one write.
// Register budget: 4 accumulators per pass.
// Edge handling: the n % N tail is loaded with load_partial (zeros) and
// masked out of the centred sum.
// Accuracy: sums run in T over pieces of kLnPiece elements (4 vector
// accumulators each) and the pieces are added in double; the mean pass
// sums x - x[0] and the variance pass centred squares, so rows far from
// zero mean lose nothing to cancellation.
#include "core/simd.h"
#include "kernels/nn_kernels.h"

namespace ft {
namespace FT_ISA {
namespace {

// Elements per partial sum; the partial sums are added in double.
constexpr int64_t kLnPiece = 1024;

template <class T>
FT_INLINE M<T> ln_first_lanes(int64_t n) {
    alignas(64) static const T iota[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                                           8, 9, 10, 11, 12, 13, 14, 15};
    return V<T>::load(iota) < V<T>::set1(T(n));
}

template <class T>
void ln_rows(int64_t rows, int64_t n, const T* x0, int64_t rs_x, const T* w,
             const T* b, double eps, T* y0, int64_t rs_y) {
    using VT = V<T>;
    constexpr int N = VT::N;
    for (int64_t r = 0; r < rows; ++r) {
        const T* x = x0 + r * rs_x;
        T* y = y0 + r * rs_y;
        // Pass 1: mean, as x[0] + mean(x - x[0]) (the shift keeps the
        // summands small when the row sits far from 0).
        const T shift = x[0];
        const VT vs = VT::set1(shift);
        double tot = 0.0;
        for (int64_t p0 = 0; p0 < n; p0 += kLnPiece) {
            const int64_t pe = n - p0 < kLnPiece ? n : p0 + kLnPiece;
            VT a0 = VT::zero(), a1 = VT::zero(), a2 = VT::zero(),
               a3 = VT::zero();
            int64_t i = p0;
            for (; i + 4 * N <= pe; i += 4 * N) {
                a0 = a0 + (VT::load(x + i) - vs);
                a1 = a1 + (VT::load(x + i + N) - vs);
                a2 = a2 + (VT::load(x + i + 2 * N) - vs);
                a3 = a3 + (VT::load(x + i + 3 * N) - vs);
            }
            for (; i + N <= pe; i += N) a0 = a0 + (VT::load(x + i) - vs);
            if (i < pe)
                a1 = a1 + select(ln_first_lanes<T>(pe - i),
                                 VT::load_partial(x + i, pe - i) - vs,
                                 VT::zero());
            tot += (double)reduce_add((a0 + a1) + (a2 + a3));
        }
        const T mean = T((double)shift + tot / (double)n);

        // Pass 2: centred sum of squares.
        const VT vm = VT::set1(mean);
        double sq = 0.0;
        for (int64_t p0 = 0; p0 < n; p0 += kLnPiece) {
            const int64_t pe = n - p0 < kLnPiece ? n : p0 + kLnPiece;
            VT a0 = VT::zero(), a1 = VT::zero(), a2 = VT::zero(),
               a3 = VT::zero();
            int64_t i = p0;
            for (; i + 4 * N <= pe; i += 4 * N) {
                VT d0 = VT::load(x + i) - vm, d1 = VT::load(x + i + N) - vm;
                VT d2 = VT::load(x + i + 2 * N) - vm;
                VT d3 = VT::load(x + i + 3 * N) - vm;
                a0 = vfma(d0, d0, a0);
                a1 = vfma(d1, d1, a1);
                a2 = vfma(d2, d2, a2);
                a3 = vfma(d3, d3, a3);
            }
            for (; i + N <= pe; i += N) {
                VT d = VT::load(x + i) - vm;
                a0 = vfma(d, d, a0);
            }
            if (i < pe) {
                VT d = select(ln_first_lanes<T>(pe - i),
                              VT::load_partial(x + i, pe - i) - vm,
                              VT::zero());
                a1 = vfma(d, d, a1);
            }
            sq += (double)reduce_add((a0 + a1) + (a2 + a3));
        }
        const T var = T(sq / (double)n);
        const T rstd = T(1) / std::sqrt(var + T(eps));

        // Pass 3: y = (x - mean) * rstd * w + b.
        const VT vr = VT::set1(rstd);
        auto put = [&](int64_t j, int64_t cnt) {
            const bool full = cnt == N;
            VT xv = full ? VT::load(x + j) : VT::load_partial(x + j, cnt);
            VT t = (xv - vm) * vr;
            if (w)
                t = t * (full ? VT::load(w + j) : VT::load_partial(w + j, cnt));
            if (b)
                t = t + (full ? VT::load(b + j) : VT::load_partial(b + j, cnt));
            if (full)
                t.store(y + j);
            else
                t.store_partial(y + j, cnt);
        };
        int64_t i = 0;
        for (; i + N <= n; i += N) put(i, N);
        if (i < n) put(i, n - i);
    }
}

void ln_rows_f32(int64_t rows, int64_t n, const float* x, int64_t rs_x,
                 const float* w, const float* b, double eps, float* y,
                 int64_t rs_y) {
    ln_rows<float>(rows, n, x, rs_x, w, b, eps, y, rs_y);
}
void ln_rows_f64(int64_t rows, int64_t n, const double* x, int64_t rs_x,
                 const double* w, const double* b, double eps, double* y,
                 int64_t rs_y) {
    ln_rows<double>(rows, n, x, rs_x, w, b, eps, y, rs_y);
}

}  // namespace

const LayerNormKernels& layer_norm_kernels() {
    static const LayerNormKernels k = {ln_rows_f32, ln_rows_f64};
    return k;
}

}  // namespace FT_ISA
}  // namespace ft
