// The bfloat16 vector kernel (src/kernels/bf16_gemm.inl) on AVX512-BF16
// (VDPBF16PS), for CPUs with AVX512-BF16 and no AMX (AMD Zen 4, Intel
// Cooper Lake).  Built with the AVX-512 and AVX512-BF16 flags (setup.py)
// and run only when the CPU reports AVX512-BF16 and the active ISA is
// avx512 (ops/gemm_bf16.cpp decides).  It reads the same packed A panels
// and VNNI B panels as the tile kernel.

#include <immintrin.h>
#include <time.h>

#include <cstring>

#include "core/dtype.h"
#include "core/half.h"
#include "core/parallel.h"
#include "core/pool.h"
#include "kernels/amx_tiles.h"

#if !defined(__AVX512BF16__)
#error "this file needs -mavx512bf16"
#endif

namespace ft {
namespace bf16v_hw {

struct Avx512Bf16 {
    struct Acc {
        __m512 r;
    };
    struct Pairs {
        __m512bh r;
    };
    static Acc zero() { return {_mm512_setzero_ps()}; }
    static Pairs load(const uint16_t* p) {
        return {(__m512bh)_mm512_loadu_si512(p)};
    }
    static Pairs broadcast_pair(const uint16_t* p) {
        int32_t v;
        std::memcpy(&v, p, sizeof v);
        return {(__m512bh)_mm512_set1_epi32(v)};
    }
    static Acc dpbf16ps(Acc c, Pairs a, Pairs b) {
        return {_mm512_dpbf16_ps(c.r, a.r, b.r)};
    }
    static void store(float* p, Acc c) { _mm512_storeu_ps(p, c.r); }
    static void keep(Acc& c) { __asm__ volatile("" : "+v"(c.r)); }
};

using Vec = Avx512Bf16;

#define FT_BF16_VECTOR_KERNEL 1
#include "../bf16_gemm.inl"
#undef FT_BF16_VECTOR_KERNEL

}  // namespace bf16v_hw
}  // namespace ft
