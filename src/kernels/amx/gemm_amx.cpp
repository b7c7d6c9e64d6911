// The bfloat16 tile kernel (src/kernels/bf16_gemm.inl) on the AMX
// instructions.  Built with the AMX and AVX-512 flags (setup.py) and run
// only when the CPU has AMX-BF16, Linux granted the tile state and the
// active ISA is avx512 (ops/gemm_bf16.cpp decides).
//
// The intrinsics paste their tile number into the instruction text, so it
// must be a literal: each policy function picks the instruction for its
// template argument from a list of literal cases.

#include <immintrin.h>
#include <time.h>

#include <cstring>

#include "core/dtype.h"
#include "core/half.h"
#include "core/parallel.h"
#include "core/pool.h"
#include "kernels/amx_tiles.h"

#if !defined(__AMX_TILE__) || !defined(__AMX_BF16__)
#error "this file needs -mamx-tile -mamx-bf16"
#endif

namespace ft {
namespace amx_hw {

#define FT_TILE_CASES(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

struct AmxTiles {
    static void config(const TileConfig& cfg) { _tile_loadconfig(&cfg); }

    static void release() { _tile_release(); }

    template <int T>
    static void zero() {
#define FT_CASE(t) \
    if constexpr (T == t) { _tile_zero(t); return; }
        FT_TILE_CASES(FT_CASE)
#undef FT_CASE
        static_assert(T >= 0 && T < 8, "tile number");
    }

    template <int T>
    static void load(const void* base, int64_t stride) {
#define FT_CASE(t) \
    if constexpr (T == t) { _tile_loadd(t, base, stride); return; }
        FT_TILE_CASES(FT_CASE)
#undef FT_CASE
        static_assert(T >= 0 && T < 8, "tile number");
    }

    template <int T>
    static void stream_load(const void* base, int64_t stride) {
#define FT_CASE(t) \
    if constexpr (T == t) { _tile_stream_loadd(t, base, stride); return; }
        FT_TILE_CASES(FT_CASE)
#undef FT_CASE
        static_assert(T >= 0 && T < 8, "tile number");
    }

    template <int T>
    static void store(void* base, int64_t stride) {
#define FT_CASE(t) \
    if constexpr (T == t) { _tile_stored(t, base, stride); return; }
        FT_TILE_CASES(FT_CASE)
#undef FT_CASE
        static_assert(T >= 0 && T < 8, "tile number");
    }

    // The kernel's accumulators are tmm0-3, its A tiles tmm4-5 and its B
    // tiles tmm6-7; those are the combinations listed.
    template <int C, int A, int B>
    static void dpbf16ps() {
#define FT_CASE(c, a, b)                            \
    if constexpr (C == c && A == a && B == b) {     \
        _tile_dpbf16ps(c, a, b);                    \
        return;                                     \
    }
#define FT_CASES_C(c) \
    FT_CASE(c, 4, 6) FT_CASE(c, 4, 7) FT_CASE(c, 5, 6) FT_CASE(c, 5, 7)
        FT_CASES_C(0) FT_CASES_C(1) FT_CASES_C(2) FT_CASES_C(3)
#undef FT_CASES_C
#undef FT_CASE
        static_assert(C < 4 && A >= 4 && A < 6 && B >= 6 && B < 8,
                      "accumulators tmm0-3, A tmm4-5, B tmm6-7");
    }
};

#undef FT_TILE_CASES

using Tiles = AmxTiles;

#include "../bf16_gemm.inl"

}  // namespace amx_hw
}  // namespace ft
