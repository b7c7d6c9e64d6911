// GEMM blocking table for AVX2 + FMA (16 ymm registers).
//
// Tuned on Zen 3 (32 KiB L1d, 512 KiB L2 per core, 2 FMA pipes, 4-cycle
// FMA latency).  MR x NR tiles: sgemm 6 x 16 and dgemm 6 x 8, 12
// accumulators each (see ../gemm.inl for the register budget).
//   KC: the kc x NR micro-panel of B fills l1_frac of L1
//       (256 x 16 x 4 B = 16 KiB);
//   MC: the mc x kc block of A fills l2_frac of L2;
//   NC: the kc x nc panel of B fills l3_frac of L3.
// The driver recomputes KC, MC and NC from the cache sizes it reads at
// run time; the values below are the fallback when it cannot read them.
#pragma once

#include "core/simd.h"

namespace ft {
namespace FT_ISA {

template <class T>
struct GemmBlocking;

// clang-format off
template <>
struct GemmBlocking<float> {
    static constexpr int MR = 6, NV = 2;               // 6 x 16
    static constexpr int KC = 256, MC = 120, NC = 4080;
    static constexpr float L1_FRAC = 0.5f, L2_FRAC = 0.45f, L3_FRAC = 0.25f;
};
template <>
struct GemmBlocking<double> {
    static constexpr int MR = 6, NV = 2;               // 6 x 8
    static constexpr int KC = 256, MC = 60, NC = 2040;
    static constexpr float L1_FRAC = 0.5f, L2_FRAC = 0.45f, L3_FRAC = 0.25f;
};
// clang-format on

}  // namespace FT_ISA
}  // namespace ft
