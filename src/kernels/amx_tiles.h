// The AMX tile configuration (the 64-byte operand of LDTILECFG) and the
// declarations of the builds of the bfloat16 kernels
// (src/kernels/bf16_gemm.inl):
//   ft::amx_hw     the tile kernel on the AMX instructions (src/kernels/amx/,
//                  only where the compiler accepts the AMX flags, which
//                  defines FT_HAVE_AMX_KERNEL);
//   ft::amx_emu    the tile kernel on the software model of the tile
//                  instructions (src/ops/amx_model.h, any CPU);
//   ft::bf16v_hw   the vector kernel on VDPBF16PS (src/kernels/avx512bf16/,
//                  FT_HAVE_AVX512BF16_KERNEL);
//   ft::bf16v_emu  the vector kernel on the software model of VDPBF16PS.
#pragma once

#include <cstdint>

#include "ops/gemm_bf16.h"

namespace ft {

// Palette 1: 8 tiles of at most 16 rows x 64 bytes.
struct alignas(64) TileConfig {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];  // bytes per row of tile t
    uint8_t rows[16];    // rows of tile t
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

constexpr int kTileRows = 16;
constexpr int kTileBytes = 64;

#define FT_AMX_KERNEL_DECLS                                                  \
    /* Bytes of B packed for the tile kernel (k rounded up to 32, n to    \
       32), and the packing itself (threads inside). */                    \
    size_t packed_b_bytes(int64_t k, int64_t n);                           \
    void pack_b(int64_t k, int64_t n, const Bf16Operand& b, uint16_t* dst); \
    /* C = (C +) A @ B with B packed by pack_b for packed_k >= k rows  \
       (the product uses the first k); mc, nc: cache blocks in rows and \
       columns (multiples of 32). */                                       \
    int gemm_packed_b(int64_t m, int64_t n, int64_t k, const Bf16Operand& a, \
                      const uint16_t* pb, int64_t packed_k, float* c,      \
                      int64_t rs_c, int64_t cs_c, bool accumulate,         \
                      int64_t mc, int64_t nc);                             \
    /* TDPBF16PS or VDPBF16PS rate on one core over about `seconds`, in  \
       TFLOP/s. */                                                         \
    double peak_tflops(double seconds);

namespace amx_emu {
FT_AMX_KERNEL_DECLS
// Faults the model detected (an instruction the CPU would refuse, such as
// a tile used before LDTILECFG or shapes TDPBF16PS rejects), since start.
int64_t model_faults();
// One TDPBF16PS on the model: C (m x n float32, row-major) += A (m x 2kp
// bfloat16 bits) @ B (kp x 2n bfloat16 bits, VNNI pairs), m, kp <= 16,
// n <= 16.  Returns 0, or 1 when the model faulted.
int model_tdpbf16ps(int m, int n, int kp, float* c, const uint16_t* a,
                    const uint16_t* b);
}  // namespace amx_emu

#if defined(FT_HAVE_AMX_KERNEL)
namespace amx_hw {
FT_AMX_KERNEL_DECLS
}  // namespace amx_hw
#endif

namespace bf16v_emu {
FT_AMX_KERNEL_DECLS
}  // namespace bf16v_emu

#if defined(FT_HAVE_AVX512BF16_KERNEL)
namespace bf16v_hw {
FT_AMX_KERNEL_DECLS
}  // namespace bf16v_hw
#endif

#undef FT_AMX_KERNEL_DECLS

}  // namespace ft
