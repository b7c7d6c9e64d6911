// The table behind fasttensor/include/fasttensor/fasttensor.h: C-callable
// shims over the C++ entry points.
#include "fasttensor/fasttensor.h"

#include "core/cpu.h"
#include "core/pool.h"
#include "ops/elementwise.h"
#include "ops/gemm.h"
#include "ops/nn.h"

namespace {

const char* capi_active_isa() { return ft::isa_name(ft::active_isa()); }

int capi_cast(int from, int to, int ndim, const int64_t* shape,
              const char* src, const int64_t* ss, char* dst,
              const int64_t* sd) {
    return ft::ew_cast((ft::DType)from, (ft::DType)to, ndim, shape, src, ss,
                       dst, sd);
}

int capi_gemm(int dt, int64_t m, int64_t n, int64_t k, const void* a,
              int64_t rs_a, int64_t cs_a, const void* b, int64_t rs_b,
              int64_t cs_b, void* c, int64_t rs_c, int64_t cs_c,
              int accumulate) {
    return ft::gemm((ft::DType)dt, m, n, k, a, rs_a, cs_a, b, rs_b, cs_b, c,
                    rs_c, cs_c, accumulate != 0);
}

int capi_dot(int dt, int64_t n, const void* x, int64_t incx, const void* y,
             int64_t incy, void* out) {
    return ft::dot((ft::DType)dt, n, x, incx, y, incy, out);
}

int capi_softmax(int dt, int log, int ndim, const int64_t* shape, int axis,
                 const void* in, const int64_t* si, void* out,
                 const int64_t* so) {
    return ft::softmax((ft::DType)dt, log != 0, ndim, shape, axis, in, si,
                       out, so);
}

const ft_capi kTable = {
    FT_CAPI_VERSION, capi_active_isa, ft::pool_alloc, ft::pool_free,
    capi_cast,       capi_gemm,       capi_dot,       capi_softmax,
};

}  // namespace

namespace ft {
const ft_capi* capi_table() { return &kTable; }
}  // namespace ft
