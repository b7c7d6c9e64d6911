// bfloat16 matrix engines: the choice of engine, the operating system's
// permission for the AMX tile state, B packing buffers, and the software
// model build of the tile kernel (engine "amx_emulated").
//
// Engines:
//   amx           src/kernels/amx/gemm_amx.cpp, the tile kernel
//                 (kernels/bf16_gemm.inl) on the AMX instructions;
//   avx512_bf16   src/kernels/avx512bf16/, the vector kernel of the same
//                 file on VDPBF16PS, reading the same packed operands;
//   amx_emulated, avx512_bf16_emulated
//                 the same kernels, packing and driver over software
//                 models of the instructions (ops/amx_model.h), built here
//                 with the baseline flags: they run on any CPU, some
//                 thousand times slower, so that the kernels' logic is
//                 tested where the instructions do not exist; never chosen
//                 automatically;
//   convert       no engine: float32 kernels on widened operands.
//
// Automatic choice: amx when the build has the AMX kernel, the CPU reports
// AMX-TILE and AMX-BF16 (with the OS saving the tile state, XCR0 bits 17
// and 18), Linux grants this process the tile data state, and the active
// ISA is avx512; else avx512_bf16 when the build has that kernel, the CPU
// reports AVX512-BF16 and the active ISA is avx512; convert otherwise
// (FASTTENSOR_ISA=avx2 or scalar therefore switches both engines off).
// An engine chosen by set_bf16_engine stays chosen, except that amx and
// avx512_bf16 fall back to convert while the active ISA is below avx512.

#include "ops/gemm_bf16.h"

#include <time.h>

#include <cstring>
#include <vector>

#include "core/cpu.h"
#include "core/dtype.h"
#include "core/half.h"
#include "core/parallel.h"
#include "core/pool.h"
#include "kernels/amx_tiles.h"
#include "ops/amx_model.h"

#if defined(__linux__) && defined(FT_X86_64)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace ft {

// ------------------------------------------------ the model build

namespace amx_emu {

using Tiles = ModelTiles;

#include "kernels/bf16_gemm.inl"

int64_t model_faults() {
    return __atomic_load_n(&model_fault_count(), __ATOMIC_RELAXED);
}

int model_tdpbf16ps(int m, int n, int kp, float* c, const uint16_t* a,
                    const uint16_t* b) {
    if (m < 1 || m > 16 || n < 1 || n > 16 || kp < 1 || kp > 16) return 1;
    const int64_t before = model_faults();
    TileConfig cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    cfg.rows[0] = uint8_t(m), cfg.colsb[0] = uint16_t(4 * n);    // C
    cfg.rows[4] = uint8_t(m), cfg.colsb[4] = uint16_t(4 * kp);   // A
    cfg.rows[6] = uint8_t(kp), cfg.colsb[6] = uint16_t(4 * n);   // B
    Tiles::config(cfg);
    Tiles::load<0>(c, 4 * n);
    Tiles::load<4>(a, 4 * kp);
    Tiles::load<6>(b, 4 * n);
    Tiles::dpbf16ps<0, 4, 6>();
    Tiles::store<0>(c, 4 * n);
    Tiles::release();
    return model_faults() != before;
}

}  // namespace amx_emu

namespace bf16v_emu {

using Vec = amx_emu::ModelVec;

#define FT_BF16_VECTOR_KERNEL 1
#include "kernels/bf16_gemm.inl"
#undef FT_BF16_VECTOR_KERNEL

}  // namespace bf16v_emu

// ------------------------------------------------ engine choice

namespace {

// Linux keeps the AMX tile data state (XFEATURE_XTILEDATA, 18) off until
// a process asks for it (arch_prctl ARCH_REQ_XCOMP_PERM); asked once, the
// answer holds for every thread of the process.
bool os_grants_amx() {
#if defined(__linux__) && defined(FT_X86_64)
    static const bool granted = [] {
        constexpr long kArchGetXcompPerm = 0x1022;
        constexpr long kArchReqXcompPerm = 0x1023;
        constexpr long kXfeatureXtiledata = 18;
        if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata))
            return false;
        unsigned long bits = 0;
        if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &bits)) return false;
        return (bits & (1ul << kXfeatureXtiledata)) != 0;
    }();
    return granted;
#elif defined(FT_X86_64)
    return true;  // other systems enable the state for every process
#else
    return false;
#endif
}

bool avx512bf16_built() {
#if defined(FT_HAVE_AVX512BF16_KERNEL)
    return true;
#else
    return false;
#endif
}

bool amx_built() {
#if defined(FT_HAVE_AMX_KERNEL)
    return true;
#else
    return false;
#endif
}

void blocks(int64_t k, int64_t* mc, int64_t* nc);

// The check product: A (40 x 70) and B (70 x 40) hold multiples of 1/8
// in [-1, 1], so every product term and every partial sum is exact in
// float32 and C must equal the float64 product bit for bit, whatever the
// order of the additions.  40 and 70 cross the 32-row, 32-column and
// 32-k steps of both kernels.  The hardware kernels are tested through
// software models of their instructions; this product runs them once on
// the real ones before their first use, and an engine that gets it wrong
// is not used (bf16_engine() falls back to the next one) instead of
// returning wrong products.  The model builds run it too, which tests
// the check itself.
template <class PackB, class Gemm>
bool passes_check_product(PackB pack_b, Gemm gemm_packed_b) {
    constexpr int64_t m = 40, n = 40, k = 70;
    std::vector<float> a(m * k), b(k * n), c(m * n);
    std::vector<uint16_t> pb(amx_emu::packed_b_bytes(k, n) / 2);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t p = 0; p < k; ++p)
            a[i * k + p] = float((i * 7 + p * 3) % 17 - 8) * 0.125f;
    for (int64_t p = 0; p < k; ++p)
        for (int64_t j = 0; j < n; ++j)
            b[p * n + j] = float((p * 5 + j * 11) % 17 - 8) * 0.125f;
    int64_t mc, nc;
    blocks(k, &mc, &nc);
    pack_b(k, n, Bf16Operand{b.data(), true, n, 1}, pb.data());
    if (gemm_packed_b(m, n, k, Bf16Operand{a.data(), true, k, 1}, pb.data(),
                      k, c.data(), n, int64_t(1), false, mc, nc) != kOk)
        return false;
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double want = 0.0;
            for (int64_t p = 0; p < k; ++p)
                want += double(a[i * k + p]) * double(b[p * n + j]);
            if (double(c[i * n + j]) != want) return false;
        }
    return true;
}

// Whether engine e got the check product right (run once per engine).
bool passes_check(Bf16Engine e) {
    switch (e) {
#if defined(FT_HAVE_AMX_KERNEL)
        case Bf16Engine::amx: {
            static const bool ok =
                passes_check_product(amx_hw::pack_b, amx_hw::gemm_packed_b);
            return ok;
        }
#endif
#if defined(FT_HAVE_AVX512BF16_KERNEL)
        case Bf16Engine::avx512_bf16: {
            static const bool ok = passes_check_product(
                bf16v_hw::pack_b, bf16v_hw::gemm_packed_b);
            return ok;
        }
#endif
        case Bf16Engine::amx_emulated: {
            static const bool ok = passes_check_product(
                amx_emu::pack_b, amx_emu::gemm_packed_b);
            return ok;
        }
        case Bf16Engine::avx512_bf16_emulated: {
            static const bool ok = passes_check_product(
                bf16v_emu::pack_b, bf16v_emu::gemm_packed_b);
            return ok;
        }
        default:
            return false;
    }
}

// nullptr when `e` can run now, else why not.
const char* why_not(Bf16Engine e) {
    const CpuFeatures& f = cpu_features();
    switch (e) {
        case Bf16Engine::convert:
            return nullptr;
        case Bf16Engine::amx_emulated:
        case Bf16Engine::avx512_bf16_emulated:
            return passes_check(e) ? nullptr
                                   : "the kernel got the check product "
                                     "wrong on the software model";
        case Bf16Engine::amx:
            if (!amx_built())
                return "this build has no AMX kernel (the compiler did not "
                       "accept -mamx-tile -mamx-bf16, or the target is not "
                       "x86-64)";
            if (!f.amx_tile || !f.amx_bf16)
                return "the CPU does not report AMX-TILE and AMX-BF16 (or "
                       "the OS does not save the tile state)";
            if (active_isa() != Isa::avx512)
                return "the active ISA is below avx512 (FASTTENSOR_ISA or "
                       "_set_isa)";
            if (!os_grants_amx())
                return "Linux refused the AMX tile data state "
                       "(arch_prctl ARCH_REQ_XCOMP_PERM)";
            if (!passes_check(e))
                return "the AMX kernel got the check product wrong on this "
                       "CPU, so it is not used";
            return nullptr;
        case Bf16Engine::avx512_bf16:
            if (!avx512bf16_built())
                return "this build has no AVX512-BF16 kernel (the compiler "
                       "did not accept -mavx512bf16, or the target is not "
                       "x86-64)";
            if (!f.avx512_bf16)
                return "the CPU does not report AVX512-BF16 (with AVX-512 "
                       "F/BW/DQ/VL and the OS saving the ZMM state)";
            if (active_isa() != Isa::avx512)
                return "the active ISA is below avx512 (FASTTENSOR_ISA or "
                       "_set_isa)";
            if (!passes_check(e))
                return "the AVX512-BF16 kernel got the check product wrong "
                       "on this CPU, so it is not used";
            return nullptr;
    }
    return "unknown engine";
}

int g_choice = -1;  // -1: automatic, else a Bf16Engine

int64_t g_products = 0;  // bf16_engine_products(), updated atomically

struct Bf16Tuning {
    int64_t mc, nc;
};

Bf16Tuning& bf16_tuning() {
    static Bf16Tuning t = {0, 0};
    return t;
}

// Cache blocks: an A block of mc rows x k in about 512 KiB (a quarter of
// Sapphire Rapids' 2 MiB L2, half of a 1 MiB one), nc = 256 columns per
// unit of work.  These follow the sizes oneDNN and OpenBLAS use for their
// AMX kernels (bk 768 / bn 384, P 256 / Q 1024); they are not tuned by
// measurement on an AMX machine.
void blocks(int64_t k, int64_t* mc, int64_t* nc) {
    const int64_t kp = k > 32 ? (k + 31) / 32 * 32 : 32;
    int64_t m = (int64_t(512) * 1024 / (kp * 2)) / 32 * 32;
    m = m < 32 ? 32 : m > 1024 ? 1024 : m;
    *mc = bf16_tuning().mc > 0 ? bf16_tuning().mc : m;
    *nc = bf16_tuning().nc > 0 ? bf16_tuning().nc : 256;
}

}  // namespace

Bf16Engine bf16_engine() {
    if (g_choice >= 0) {
        const Bf16Engine e = static_cast<Bf16Engine>(g_choice);
        return why_not(e) ? Bf16Engine::convert : e;
    }
    if (!why_not(Bf16Engine::amx)) return Bf16Engine::amx;
    if (!why_not(Bf16Engine::avx512_bf16)) return Bf16Engine::avx512_bf16;
    return Bf16Engine::convert;
}

const char* bf16_engine_name(Bf16Engine e) {
    switch (e) {
        case Bf16Engine::amx: return "amx";
        case Bf16Engine::avx512_bf16: return "avx512_bf16";
        case Bf16Engine::amx_emulated: return "amx_emulated";
        case Bf16Engine::avx512_bf16_emulated: return "avx512_bf16_emulated";
        default: return "convert";
    }
}

const char* bf16_engine_unavailable(const char* name) {
    static const struct {
        const char* name;
        Bf16Engine e;
    } table[] = {{"convert", Bf16Engine::convert},
                 {"amx", Bf16Engine::amx},
                 {"avx512_bf16", Bf16Engine::avx512_bf16},
                 {"amx_emulated", Bf16Engine::amx_emulated},
                 {"avx512_bf16_emulated", Bf16Engine::avx512_bf16_emulated}};
    if (std::strcmp(name, "auto") == 0) return nullptr;
    for (const auto& t : table)
        if (std::strcmp(name, t.name) == 0) return why_not(t.e);
    return "unknown engine";
}

int set_bf16_engine(const char* name) {
    if (std::strcmp(name, "auto") == 0) {
        g_choice = -1;
        return 0;
    }
    static const char* const names[] = {"convert", "amx", "avx512_bf16",
                                        "amx_emulated",
                                        "avx512_bf16_emulated"};
    for (int i = 0; i < 5; ++i) {
        if (std::strcmp(name, names[i]) != 0) continue;
        if (why_not(static_cast<Bf16Engine>(i))) return 2;
        g_choice = i;
        return 0;
    }
    return 1;
}

void bf16_engine_tune(int64_t mc, int64_t nc) {
    bf16_tuning().mc = mc > 0 ? (mc + 31) / 32 * 32 : 0;
    bf16_tuning().nc = nc > 0 ? (nc + 31) / 32 * 32 : 0;
}

size_t bf16_engine_packed_b_bytes(int64_t k, int64_t n) {
    if (k <= 0 || n <= 0) return 0;
    return amx_emu::packed_b_bytes(k, n);  // the layout both builds share
}

void bf16_engine_pack_b(int64_t k, int64_t n, Bf16Operand b, void* dst) {
    if (k <= 0 || n <= 0) return;
    uint16_t* d = static_cast<uint16_t*>(dst);
    switch (bf16_engine()) {
#if defined(FT_HAVE_AMX_KERNEL)
        case Bf16Engine::amx:
            return amx_hw::pack_b(k, n, b, d);
#endif
#if defined(FT_HAVE_AVX512BF16_KERNEL)
        case Bf16Engine::avx512_bf16:
            return bf16v_hw::pack_b(k, n, b, d);
#endif
        default:
            return amx_emu::pack_b(k, n, b, d);
    }
}

int gemm_bf16_engine_prepacked(int64_t m, int64_t n, int64_t k,
                               Bf16Operand a, const void* packed_b,
                               int64_t packed_k, float* c, int64_t rs_c,
                               int64_t cs_c, bool accumulate) {
    if (m < 0 || n < 0 || k < 0 || packed_k < k) return kErrArgument;
    int64_t mc, nc;
    blocks(k, &mc, &nc);
    const uint16_t* pb = static_cast<const uint16_t*>(packed_b);
    const Bf16Engine e = bf16_engine();
    if (e != Bf16Engine::convert)
        __atomic_add_fetch(&g_products, 1, __ATOMIC_RELAXED);
    switch (e) {
#if defined(FT_HAVE_AMX_KERNEL)
        case Bf16Engine::amx:
            return amx_hw::gemm_packed_b(m, n, k, a, pb, packed_k, c, rs_c,
                                         cs_c, accumulate, mc, nc);
#endif
#if defined(FT_HAVE_AVX512BF16_KERNEL)
        case Bf16Engine::avx512_bf16:
            return bf16v_hw::gemm_packed_b(m, n, k, a, pb, packed_k, c, rs_c,
                                           cs_c, accumulate, mc, nc);
#endif
        case Bf16Engine::amx_emulated:
            return amx_emu::gemm_packed_b(m, n, k, a, pb, packed_k, c, rs_c,
                                          cs_c, accumulate, mc, nc);
        case Bf16Engine::avx512_bf16_emulated:
            return bf16v_emu::gemm_packed_b(m, n, k, a, pb, packed_k, c, rs_c,
                                            cs_c, accumulate, mc, nc);
        default:
            return kErrArgument;
    }
}

int gemm_bf16_engine(int64_t m, int64_t n, int64_t k, Bf16Operand a,
                     Bf16Operand b, float* c, int64_t rs_c, int64_t cs_c,
                     bool accumulate) {
    if (m < 0 || n < 0 || k < 0) return kErrArgument;
    if (bf16_engine() == Bf16Engine::convert) return kErrArgument;
    const size_t bytes = bf16_engine_packed_b_bytes(k, n);
    if (bytes == 0)
        return gemm_bf16_engine_prepacked(m, n, k, a, nullptr, k, c, rs_c,
                                          cs_c, accumulate);
    void* pb = pool_alloc(bytes);
    if (!pb) return kErrNoMemory;
    bf16_engine_pack_b(k, n, b, pb);
    const int status = gemm_bf16_engine_prepacked(m, n, k, a, pb, k, c,
                                                  rs_c, cs_c, accumulate);
    pool_free(pb, bytes);
    return status;
}

int64_t bf16_engine_products() {
    return __atomic_load_n(&g_products, __ATOMIC_RELAXED);
}

double bf16_engine_peak_tflops(double seconds) {
    switch (bf16_engine()) {
#if defined(FT_HAVE_AMX_KERNEL)
        case Bf16Engine::amx:
            return amx_hw::peak_tflops(seconds);
#endif
#if defined(FT_HAVE_AVX512BF16_KERNEL)
        case Bf16Engine::avx512_bf16:
            return bf16v_hw::peak_tflops(seconds);
#endif
        // The software models' rates: what the tests run at, not hardware
        // figures.
        case Bf16Engine::amx_emulated:
            return amx_emu::peak_tflops(seconds);
        case Bf16Engine::avx512_bf16_emulated:
            return bf16v_emu::peak_tflops(seconds);
        default:
            return 0.0;
    }
}

}  // namespace ft
