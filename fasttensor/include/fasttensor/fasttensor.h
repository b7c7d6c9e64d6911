/* fasttensor's C interface, for packages that call its kernels directly.
 *
 * The kernels are reached through a table of function pointers that the
 * extension module publishes as the capsule "fasttensor._C._capi", so a
 * package needs no link-time dependency on fasttensor: include this header
 * (its directory is fasttensor.get_include()), call ft_import_capi() once
 * with the GIL held, and keep the pointer.
 *
 *     const ft_capi *ft = ft_import_capi();
 *     if (ft == NULL) return NULL;            // ImportError is set
 *     int status = ft->gemm(FT_FLOAT32, m, n, k, a, k, 1, b, n, 1,
 *                           c, n, 1, 0);
 *
 * Conventions shared by every entry point:
 *   - strides passed to gemm/dot are in ELEMENTS, those passed to
 *     cast/softmax are in BYTES (as NumPy's); any sign, 0 for broadcast;
 *   - the kernels trust their arguments: shapes, dtypes and overlap are the
 *     caller's to check (fasttensor's Python layer does exactly that);
 *   - they return FT_OK or an ft_status code and never call into Python, so
 *     they may run without the GIL;
 *   - large work runs on fasttensor's OpenMP threads; do not call them from
 *     inside another OpenMP parallel region of the same runtime.
 *
 * The table only grows: new entries are appended and `version` increases.
 */
#ifndef FASTTENSOR_FASTTENSOR_H
#define FASTTENSOR_FASTTENSOR_H

#include <Python.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FT_CAPI_VERSION 1
#define FT_CAPI_CAPSULE "fasttensor._C._capi"

/* Element types; the numbering is stable. */
enum ft_dtype {
    FT_BOOL = 0, FT_INT8, FT_INT16, FT_INT32, FT_INT64,
    FT_UINT8, FT_UINT16, FT_UINT32, FT_UINT64,
    FT_FLOAT16, FT_BFLOAT16, FT_FLOAT32, FT_FLOAT64
};

enum ft_status {
    FT_OK = 0,
    FT_ERR_DTYPE = 1,      /* op not defined for the dtype */
    FT_ERR_NO_MEMORY = 2,  /* scratch allocation refused */
    FT_ERR_ARGUMENT = 3    /* argument outside what the kernel accepts */
};

typedef struct ft_capi {
    int version;  /* FT_CAPI_VERSION of the fasttensor that filled it */

    /* "scalar", "avx2" or "avx512": the kernel path in use. */
    const char *(*active_isa)(void);

    /* The memory pool: 64-byte aligned blocks, cached for reuse.  Free a
     * block with the size it was allocated with.  NULL when refused. */
    void *(*pool_alloc)(size_t nbytes);
    void (*pool_free)(void *p, size_t nbytes);

    /* dst = src converted between dtypes (a strided copy when equal). */
    int (*cast)(int from_dtype, int to_dtype, int ndim, const int64_t *shape,
                const char *src, const int64_t *src_strides,
                char *dst, const int64_t *dst_strides);

    /* C (m x n) = A (m x k) @ B (k x n), or C += A @ B when accumulate is
     * nonzero.  rs_* and cs_* are row and column strides in elements. */
    int (*gemm)(int dtype, int64_t m, int64_t n, int64_t k,
                const void *a, int64_t rs_a, int64_t cs_a,
                const void *b, int64_t rs_b, int64_t cs_b,
                void *c, int64_t rs_c, int64_t cs_c, int accumulate);

    /* *out = sum_i x[i * incx] * y[i * incy]. */
    int (*dot)(int dtype, int64_t n, const void *x, int64_t incx,
               const void *y, int64_t incy, void *out);

    /* out = softmax (or log_softmax when log is nonzero) of `in` along
     * `axis`; float32 and float64. */
    int (*softmax)(int dtype, int log, int ndim, const int64_t *shape,
                   int axis, const void *in, const int64_t *in_strides,
                   void *out, const int64_t *out_strides);
} ft_capi;

/* The table, or NULL with ImportError set.  Call with the GIL held. */
static inline const ft_capi *ft_import_capi(void) {
    const ft_capi *api = (const ft_capi *)PyCapsule_Import(FT_CAPI_CAPSULE, 0);
    if (api != NULL && api->version < FT_CAPI_VERSION) {
        PyErr_Format(PyExc_ImportError,
                     "fasttensor C API version %d is older than %d",
                     api->version, FT_CAPI_VERSION);
        return NULL;
    }
    return api;
}

#ifdef __cplusplus
}
#endif

#endif /* FASTTENSOR_FASTTENSOR_H */
