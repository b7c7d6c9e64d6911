// GEMM blocking table for the portable build (no vector registers assumed).
//
// MR x NR = 4 x 4 for both dtypes: 16 scalar accumulators, the size of the
// x86-64 baseline register file (see ../gemm.inl).  Blocks as for a 32 KiB
// L1d and 512 KiB L2; the driver rescales them from the cache sizes.
#pragma once

#include "core/simd.h"

namespace ft {
namespace FT_ISA {

template <class T>
struct GemmBlocking;

// clang-format off
template <>
struct GemmBlocking<float> {
    static constexpr int MR = 4, NV = 4;               // 4 x 4
    static constexpr int KC = 256, MC = 128, NC = 4096;
    static constexpr float L1_FRAC = 0.5f, L2_FRAC = 0.5f, L3_FRAC = 0.25f;
};
template <>
struct GemmBlocking<double> {
    static constexpr int MR = 4, NV = 4;               // 4 x 4
    static constexpr int KC = 256, MC = 64, NC = 2048;
    static constexpr float L1_FRAC = 0.5f, L2_FRAC = 0.5f, L3_FRAC = 0.25f;
};
// clang-format on

}  // namespace FT_ISA
}  // namespace ft
