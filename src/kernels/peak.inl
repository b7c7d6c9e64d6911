// Single-thread FMA peak of the ISA this unit is built for.
//
// Formula: GFLOP/s = 2 flops x lanes x chains x iterations / seconds, for
// kChains = 12 independent accumulators in the widest float32 registers,
// each updated acc = acc * x + y with x < 1 so the values stay finite and
// normal.  12 chains exceed the 2 FMA pipes x 4-cycle latency of Zen 3,
// Haswell and Skylake-X, so the loop runs at the FMA units' rate and the
// figure is the ceiling a float32 GEMM is measured against.  The portable
// build measures separate multiplies and adds (it has no FMA instruction).

#include <time.h>

#include "core/simd.h"

namespace ft {
namespace FT_ISA {

namespace {

FT_INLINE double now_seconds() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

}  // namespace

double fma_peak_gflops(double seconds) {
    constexpr int kChains = 12;
    constexpr int64_t kInner = 4096;
    using VF = V<float>;
    VF acc[kChains];
    for (int c = 0; c < kChains; ++c) acc[c] = VF::set1(float(c + 1));
    const VF x = VF::set1(0.999999f), y = VF::set1(1e-6f);
    int64_t iters = 0;
    const double t0 = now_seconds();
    double t1 = t0;
    do {
        // A local copy that never escapes, so every chain lives in a
        // register through the inner loop (the array itself crosses the
        // clock call below).
        VF r[kChains];
        for (int c = 0; c < kChains; ++c) r[c] = acc[c];
        for (int64_t it = 0; it < kInner; ++it) {
#pragma GCC unroll 16
            for (int c = 0; c < kChains; ++c) {
#if defined(FT_ISA_SCALAR)
                r[c] = {r[c].r * x.r + y.r};
#else
                r[c] = vfma(r[c], x, y);
                __asm__ volatile("" : "+v"(r[c].r));
#endif
            }
        }
        for (int c = 0; c < kChains; ++c) acc[c] = r[c];
        iters += kInner;
        t1 = now_seconds();
    } while (t1 - t0 < seconds);
    float sink = 0;
    for (int c = 0; c < kChains; ++c) sink += reduce_add(acc[c]);
    volatile float keep = sink;
    (void)keep;
    return 2.0 * double(VF::N) * kChains * double(iters) / (t1 - t0) * 1e-9;
}

}  // namespace FT_ISA
}  // namespace ft
