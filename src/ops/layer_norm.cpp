// layer_norm driver: rows spread over threads in chunks of about
// kLnGrainElems elements.
#include <cstdint>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "kernels/nn_kernels.h"
#include "ops/nn.h"

namespace ft {
namespace {
constexpr int64_t kLnGrainElems = 16384;
}

int layer_norm(DType dt, int64_t rows, int64_t n, const void* x,
               const void* w, const void* b, double eps, void* y) {
    if (dt != kFloat32 && dt != kFloat64) return kErrDType;
    if (rows <= 0 || n <= 0) return kOk;
    const LayerNormKernels& K = FT_DISPATCH(layer_norm_kernels)();
    int64_t grain = kLnGrainElems / n;
    if (grain < 1) grain = 1;
    parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
        if (dt == kFloat32)
            K.rows_f32(r1 - r0, n, (const float*)x + r0 * n, n,
                       (const float*)w, (const float*)b, eps,
                       (float*)y + r0 * n, n);
        else
            K.rows_f64(r1 - r0, n, (const double*)x + r0 * n, n,
                       (const double*)w, (const double*)b, eps,
                       (double*)y + r0 * n, n);
    });
    return kOk;
}

}  // namespace ft
