// Software models of the AMX tile instructions the bfloat16 tile kernel
// uses, and of VDPBF16PS for the vector kernel, in baseline C++, so that
// the kernels, their packing and their driver run (slowly) on any CPU and
// are tested where there is no AMX or AVX512-BF16.
//
// State per thread, as on the hardware: 8 tile registers of 16 rows x 64
// bytes and the loaded TileConfig.  Semantics follow Intel's pseudo-code
// (ISA reference, LDTILECFG, TILELOADD, TILESTORED, TILEZERO, TDPBF16PS):
//
//   LDTILECFG   palette 1 only; rows <= 16, colsb <= 64; zeroes all tiles.
//   TILELOADD   rows[t] rows of colsb[t] bytes from base + r * stride; the
//               bytes beyond colsb and the rows beyond rows[t] become 0.
//   TILESTORED  rows[t] rows of colsb[t] bytes to base + r * stride.
//   TDPBF16PS   for m < rows[C], k < colsb[A] / 4, n < colsb[C] / 4:
//                 C[m][n] += bf16(A[m][2k]) * bf16(B[k][2n])
//                 C[m][n] += bf16(A[m][2k+1]) * bf16(B[k][2n+1])
//               in float32, the two products in that order, rounding to
//               nearest even; bfloat16 denormal inputs read as zero and a
//               denormal float32 result of each addition is flushed to a
//               zero of the same sign (the instruction ignores MXCSR).
//               The product of two bfloat16 values is exact in float32
//               (8 + 8 significant bits), so only the additions round.
//               Bytes beyond colsb[C] and rows beyond rows[C] become 0.
//
// An instruction the CPU would refuse (no configuration loaded, a tile
// shape TDPBF16PS rejects, equal tile operands) does nothing and counts a
// fault (model_faults()); the tests require the count to stay 0.
//
// VDPBF16PS (ModelVec::dpbf16ps), per lane j of 16, in this order:
//   acc[j] += bf16(a[2j+1]) * bf16(b[2j+1])
//   acc[j] += bf16(a[2j]) * bf16(b[2j])
// with the same float32 rounding, input and output flushing as above.
//
// Only src/ops/gemm_bf16.cpp includes this header (baseline flags).
#pragma once

#include <cstdint>
#include <cstring>

#include "core/half.h"
#include "kernels/amx_tiles.h"

namespace ft {
namespace amx_emu {

struct ModelState {
    TileConfig cfg;
    bool configured = false;
    alignas(64) uint8_t tile[8][kTileRows][kTileBytes];
};

inline ModelState& model_state() {
    static thread_local ModelState s;
    return s;
}

inline int64_t& model_fault_count() {
    static int64_t n = 0;
    return n;
}

inline void model_fault() {
    __atomic_add_fetch(&model_fault_count(), 1, __ATOMIC_RELAXED);
}

// bfloat16 bits as float32, denormals (exponent field 0) read as zero.
inline float model_bf16_daz(uint16_t h) {
    if ((h & 0x7f80u) == 0) h &= 0x8000u;
    return bf16_to_f32(h);
}

// A denormal float32 becomes a zero of the same sign.
inline float model_ftz(float x) {
    const uint32_t u = f32_bits(x);
    return (u & 0x7f800000u) == 0 ? f32_from_bits(u & 0x80000000u) : x;
}

struct ModelTiles {
    static void config(const TileConfig& cfg) {
        ModelState& s = model_state();
        bool ok = cfg.palette == 1;
        for (int t = 0; t < 8; ++t)
            ok = ok && cfg.rows[t] <= kTileRows && cfg.colsb[t] <= kTileBytes;
        if (!ok) {
            model_fault();
            return;
        }
        s.cfg = cfg;
        s.configured = true;
        std::memset(s.tile, 0, sizeof s.tile);
    }

    static void release() {
        ModelState& s = model_state();
        s.configured = false;
        std::memset(s.tile, 0, sizeof s.tile);
    }

    template <int T>
    static void zero() {
        static_assert(T >= 0 && T < 8, "tile number");
        ModelState& s = model_state();
        if (!s.configured) return model_fault();
        std::memset(s.tile[T], 0, sizeof s.tile[T]);
    }

    template <int T>
    static void load(const void* base, int64_t stride) {
        static_assert(T >= 0 && T < 8, "tile number");
        ModelState& s = model_state();
        if (!s.configured) return model_fault();
        const int rows = s.cfg.rows[T], colsb = s.cfg.colsb[T];
        std::memset(s.tile[T], 0, sizeof s.tile[T]);
        for (int r = 0; r < rows; ++r)
            std::memcpy(s.tile[T][r],
                        static_cast<const char*>(base) + r * stride, colsb);
    }

    // The streaming load differs from TILELOADD only in its cache hint.
    template <int T>
    static void stream_load(const void* base, int64_t stride) {
        load<T>(base, stride);
    }

    template <int T>
    static void store(void* base, int64_t stride) {
        static_assert(T >= 0 && T < 8, "tile number");
        ModelState& s = model_state();
        if (!s.configured) return model_fault();
        const int rows = s.cfg.rows[T], colsb = s.cfg.colsb[T];
        for (int r = 0; r < rows; ++r)
            std::memcpy(static_cast<char*>(base) + r * stride, s.tile[T][r],
                        colsb);
    }

    template <int C, int A, int B>
    static void dpbf16ps() {
        static_assert(C >= 0 && C < 8 && A >= 0 && A < 8 && B >= 0 && B < 8,
                      "tile number");
        static_assert(C != A && C != B && A != B,
                      "TDPBF16PS needs three distinct tiles");
        ModelState& s = model_state();
        const TileConfig& g = s.cfg;
        const int m_rows = g.rows[C], n = g.colsb[C] / 4, kp = g.colsb[A] / 4;
        if (!s.configured || g.colsb[C] % 4 || g.colsb[A] % 4 ||
            g.rows[A] != m_rows || g.rows[B] != kp ||
            g.colsb[B] != g.colsb[C]) {
            model_fault();
            return;
        }
        // B as float32 pairs, read once.
        float bf[kTileRows][16][2];
        for (int k = 0; k < kp; ++k)
            for (int j = 0; j < n; ++j)
                for (int e = 0; e < 2; ++e) {
                    uint16_t h;
                    std::memcpy(&h, &s.tile[B][k][(2 * j + e) * 2], 2);
                    bf[k][j][e] = model_bf16_daz(h);
                }
        for (int mi = 0; mi < m_rows; ++mi) {
            float tmp[16];
            std::memcpy(tmp, s.tile[C][mi], sizeof tmp);
            for (int k = 0; k < kp; ++k) {
                uint16_t h0, h1;
                std::memcpy(&h0, &s.tile[A][mi][4 * k], 2);
                std::memcpy(&h1, &s.tile[A][mi][4 * k + 2], 2);
                const float a0 = model_bf16_daz(h0), a1 = model_bf16_daz(h1);
                for (int j = 0; j < n; ++j) {
                    float t = model_ftz(tmp[j] + a0 * bf[k][j][0]);
                    tmp[j] = model_ftz(t + a1 * bf[k][j][1]);
                }
            }
            std::memset(s.tile[C][mi], 0, kTileBytes);
            std::memcpy(s.tile[C][mi], tmp, size_t(n) * 4);
        }
        for (int mi = m_rows; mi < kTileRows; ++mi)
            std::memset(s.tile[C][mi], 0, kTileBytes);
    }
};

// VDPBF16PS on 512-bit registers.
struct ModelVec {
    struct Acc {
        float v[16];
    };
    struct Pairs {
        uint16_t h[32];
    };
    static Acc zero() { return Acc{}; }
    static Pairs load(const uint16_t* p) {
        Pairs r;
        std::memcpy(r.h, p, sizeof r.h);
        return r;
    }
    static Pairs broadcast_pair(const uint16_t* p) {
        Pairs r;
        for (int j = 0; j < 16; ++j) r.h[2 * j] = p[0], r.h[2 * j + 1] = p[1];
        return r;
    }
    static Acc dpbf16ps(Acc c, const Pairs& a, const Pairs& b) {
        for (int j = 0; j < 16; ++j) {
            float t = model_ftz(c.v[j] + model_bf16_daz(a.h[2 * j + 1]) *
                                             model_bf16_daz(b.h[2 * j + 1]));
            c.v[j] = model_ftz(t + model_bf16_daz(a.h[2 * j]) *
                                       model_bf16_daz(b.h[2 * j]));
        }
        return c;
    }
    static void store(float* p, const Acc& c) {
        std::memcpy(p, c.v, sizeof c.v);
    }
    // Makes the compiler assume the accumulator is read and changed, so
    // that the peak probe's loop over constant inputs is not folded away.
    static void keep(Acc& c) { __asm__ volatile("" : : "r"(c.v) : "memory"); }
};

}  // namespace amx_emu
}  // namespace ft
