// GEMM blocking table for AVX-512 (32 zmm registers).
//
// MR x NR tiles: sgemm 12 x 32 and dgemm 12 x 16, 24 accumulators each
// (see ../gemm.inl for the register budget).  The fallback blocks assume a
// Skylake-X / Sapphire Rapids core (48 KiB L1d, 2 MiB L2):
//   KC: the kc x NR micro-panel of B fills l1_frac of L1
//       (192 x 32 x 4 B = 24 KiB);
//   MC: the mc x kc block of A fills l2_frac of L2;
//   NC: the kc x nc panel of B fills l3_frac of L3.
// The driver recomputes KC, MC and NC from the cache sizes it reads at
// run time.
#pragma once

#include "core/simd.h"

namespace ft {
namespace FT_ISA {

template <class T>
struct GemmBlocking;

// clang-format off
template <>
struct GemmBlocking<float> {
    static constexpr int MR = 12, NV = 2;              // 12 x 32
    static constexpr int KC = 192, MC = 1020, NC = 4096;
    static constexpr float L1_FRAC = 0.5f, L2_FRAC = 0.5f, L3_FRAC = 0.25f;
};
template <>
struct GemmBlocking<double> {
    static constexpr int MR = 12, NV = 2;              // 12 x 16
    static constexpr int KC = 192, MC = 504, NC = 2048;
    static constexpr float L1_FRAC = 0.5f, L2_FRAC = 0.5f, L3_FRAC = 0.25f;
};
// clang-format on

}  // namespace FT_ISA
}  // namespace ft
