// bfloat16 matrix engines: AMX tiles and AVX512-BF16 dot products.
//
// The reduced-precision products (ops/gemm_lowp.h) hand a bfloat16 product
// with enough rows to one of these engines when the CPU and the operating
// system allow it; every other product is computed by the float32 kernels
// on operands widened while packing.  Operand values are bfloat16, or
// float32 rounded to bfloat16 (nearest even) while packing, which is how
// autocast reaches these engines without a separate cast pass.
// Accumulation is in float32.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ft {

enum class Bf16Engine : int {
    convert = 0,       // float32 kernels on widened operands
    amx = 1,           // AMX-BF16 tiles (TDPBF16PS)
    avx512_bf16 = 2,   // AVX512-BF16 (VDPBF16PS)
    amx_emulated = 3,  // the AMX kernel over a software model of the tile
                       // instructions: any CPU, for tests only
    avx512_bf16_emulated = 4,  // the AVX512-BF16 kernel over a software
                               // model of VDPBF16PS: any CPU, tests only
};

// The engine bfloat16 products run on: the best one the CPU, the OS (Linux
// must grant the AMX tile state, requested once per process) and the
// active ISA allow, unless set_bf16_engine chose another.
Bf16Engine bf16_engine();
const char* bf16_engine_name(Bf16Engine e);

// Choose the engine by name ("auto", "convert", "amx", "avx512_bf16",
// "amx_emulated", "avx512_bf16_emulated").  Returns 0 on success, 1 for an
// unknown name, 2 when this CPU, OS or build cannot run it.  Not
// thread-safe; call between ops.
int set_bf16_engine(const char* name);

// Why the engine `name` cannot run now (CPU, OS, build or active ISA), or
// nullptr when it can ("auto" always can).
const char* bf16_engine_unavailable(const char* name);

// Products with fewer rows than this stay on the vector units (GEMV and
// decode-style shapes, where the tile setup does not pay).
constexpr int64_t kBf16TileMinRows = 16;

// One operand: bfloat16 values, or float32 values rounded to bfloat16
// while packing.  Strides in elements, any sign.
struct Bf16Operand {
    const void* p;
    bool is_f32;
    int64_t rs, cs;
};

// C (float32, m x n) = (C +) A (m x k) @ B (k x n) on the engine
// bf16_engine() names (which must not be `convert`).  Threads inside.
// Returns kOk, kErrNoMemory or kErrArgument.
int gemm_bf16_engine(int64_t m, int64_t n, int64_t k, Bf16Operand a,
                     Bf16Operand b, float* c, int64_t rs_c, int64_t cs_c,
                     bool accumulate);

// B packed once into the engine's layout, for weights multiplied many
// times: bytes needed, the packing, and the product reading it.
size_t bf16_engine_packed_b_bytes(int64_t k, int64_t n);
void bf16_engine_pack_b(int64_t k, int64_t n, Bf16Operand b, void* dst);
// packed_b holds a B of packed_k >= k rows, of which the product uses the
// first k (a key block's prefix, in attention).
int gemm_bf16_engine_prepacked(int64_t m, int64_t n, int64_t k,
                               Bf16Operand a, const void* packed_b,
                               int64_t packed_k, float* c, int64_t rs_c,
                               int64_t cs_c, bool accumulate);

// Products the engines have computed since the process started (every
// gemm_bf16_engine and gemm_bf16_engine_prepacked call that reached one):
// how a caller or a test tells that an op ran on an engine.
int64_t bf16_engine_products();

// Peak bfloat16 rate of the engine on one core in TFLOP/s, measured over
// about `seconds` (0 when the engine is `convert`).
// For the emulated engines this is the rate of the software model, not a
// hardware figure.
double bf16_engine_peak_tflops(double seconds);

// Cache blocks of the tile engines in rows (mc) and columns (nc) of C,
// rounded up to 32; 0 restores the default (an A block of about 512 KiB,
// nc = 256).  For tests and tuning; not thread-safe.
void bf16_engine_tune(int64_t mc, int64_t nc);

}  // namespace ft
