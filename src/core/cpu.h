// CPU feature detection and the choice of kernel ISA.
//
// Detection runs once (at import).  The chosen ISA is the best one that both
// the CPU and the operating system support (XGETBV tells whether the OS saves
// the YMM/ZMM state), lowered by FASTTENSOR_ISA when that is set.
#pragma once

#include <cstdint>

namespace ft {

enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2 };

struct CpuFeatures {
    bool avx2 = false;     // AVX2 + FMA + F16C with OS YMM support
    bool avx512 = false;   // AVX-512 F/BW/DQ/VL with OS ZMM support
    bool avx512_bf16 = false;
    bool avx512_fp16 = false;
    bool amx_bf16 = false;
    bool amx_tile = false;
    char vendor[13] = {0};
};

const CpuFeatures& cpu_features();

// Best ISA this CPU and build can run.
Isa best_isa();

// The ISA kernels currently dispatch to.
Isa active_isa();

// Set the active ISA by name ("scalar", "avx2", "avx512").  Returns 0 on
// success, 1 for an unknown name, 2 when the CPU or build lacks that ISA.
int set_active_isa(const char* name);

const char* isa_name(Isa isa);

}  // namespace ft
