// The per-ISA table of float32 <-> float16 / bfloat16 conversion kernels.
//
// Each ISA namespace defines cvt_kernels() in src/kernels/<isa>/convert.cpp
// (body in src/kernels/convert.inl).  The kernels convert n contiguous
// elements; the strided and multi-dtype cases are planned by ew_cast in
// src/ops/copy.cpp, which moves blocks through these.  16-bit values are
// passed as their raw bits (uint16_t).  Results are bit-identical on every
// ISA (core/half.h states the rounding and NaN rules).
#pragma once

#include <cstdint>

#include "core/dispatch.h"

namespace ft {

using CvtNarrowFn = void (*)(const float* src, uint16_t* dst, int64_t n);
using CvtWidenFn = void (*)(const uint16_t* src, float* dst, int64_t n);

struct CvtKernels {
    CvtNarrowFn f32_to_bf16;
    CvtWidenFn bf16_to_f32;
    CvtNarrowFn f32_to_f16;
    CvtWidenFn f16_to_f32;
};

FT_DECLARE_PER_ISA(const CvtKernels& cvt_kernels())

}  // namespace ft
