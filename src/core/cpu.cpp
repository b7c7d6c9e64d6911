#include "core/cpu.h"

#include <cstring>

#if defined(FT_X86_64)
#include <cpuid.h>
#endif

namespace ft {

namespace {

#if defined(FT_X86_64)
uint64_t read_xcr0() {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}
#endif

CpuFeatures detect() {
    CpuFeatures f;
#if defined(FT_X86_64)
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
    unsigned max_leaf = a;
    std::memcpy(f.vendor + 0, &b, 4);
    std::memcpy(f.vendor + 4, &d, 4);
    std::memcpy(f.vendor + 8, &c, 4);

    __get_cpuid(1, &a, &b, &c, &d);
    const bool osxsave = c & (1u << 27);
    const bool fma = c & (1u << 12);
    const bool f16c = c & (1u << 29);
    const bool avx = c & (1u << 28);
    if (!osxsave || !avx || max_leaf < 7) return f;

    // The OS must save XMM|YMM (bits 1, 2) for AVX, and also opmask,
    // ZMM_Hi256 and Hi16_ZMM (bits 5, 6, 7) for AVX-512.
    const uint64_t xcr0 = read_xcr0();
    const bool os_ymm = (xcr0 & 0x6) == 0x6;
    const bool os_zmm = (xcr0 & 0xe6) == 0xe6;
    const bool os_amx = (xcr0 & (3ull << 17)) == (3ull << 17);

    __cpuid_count(7, 0, a, b, c, d);
    const bool avx2 = b & (1u << 5);
    const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17);
    const bool avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
    f.avx2 = os_ymm && avx2 && fma && f16c;
    f.avx512 = f.avx2 && os_zmm && avx512f && avx512dq && avx512bw && avx512vl;
    f.avx512_fp16 = f.avx512 && (d & (1u << 23));
    f.amx_bf16 = os_amx && (d & (1u << 22));
    f.amx_tile = os_amx && (d & (1u << 24));
    unsigned a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    f.avx512_bf16 = f.avx512 && (a1 & (1u << 5));
#endif
    return f;
}

Isa g_active = Isa::scalar;
bool g_active_set = false;

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures features = detect();
    return features;
}

Isa best_isa() {
#if defined(FT_X86_64)
    const CpuFeatures& f = cpu_features();
    if (f.avx512) return Isa::avx512;
    if (f.avx2) return Isa::avx2;
#endif
    return Isa::scalar;
}

Isa active_isa() {
    if (!g_active_set) {
        g_active = best_isa();
        g_active_set = true;
    }
    return g_active;
}

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::avx512: return "avx512";
        case Isa::avx2: return "avx2";
        default: return "scalar";
    }
}

int set_active_isa(const char* name) {
    Isa want;
    if (std::strcmp(name, "scalar") == 0) want = Isa::scalar;
    else if (std::strcmp(name, "avx2") == 0) want = Isa::avx2;
    else if (std::strcmp(name, "avx512") == 0) want = Isa::avx512;
    else return 1;
    if ((int)want > (int)best_isa()) return 2;
    g_active = want;
    g_active_set = true;
    return 0;
}

}  // namespace ft
