// Flush-to-zero / denormals-are-zero for the calling thread and its
// OpenMP workers.
//
// MXCSR is per thread.  The workers of an OpenMP team are separate threads
// that keep their own MXCSR between parallel regions, so setting it on the
// caller alone would leave them computing with denormals.  One parallel
// region sized like parallel_for's (core/parallel.h) sets it on each of
// them; this is the only parallel region outside parallel.h, because
// parallel_for may run two chunks on one thread and skip another thread.
// Threads that libgomp starts later (a larger set_num_threads) are created
// by the calling thread and inherit its MXCSR, as Linux copies the FP
// state to a new thread.  Other Python threads have their own OpenMP teams
// and call set_flush_denormal themselves.
#include "ops/fpenv.h"

#include "core/parallel.h"

#if defined(FT_X86_64)
#include <xmmintrin.h>
#endif

namespace ft {

namespace {

#if defined(FT_X86_64)
constexpr unsigned kFtz = 1u << 15;
constexpr unsigned kDaz = 1u << 6;

void apply_mxcsr(bool on) {
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? (csr | kFtz | kDaz) : (csr & ~(kFtz | kDaz)));
}
#endif

}  // namespace

bool set_flush_denormal(bool on) {
#if defined(FT_X86_64)
    apply_mxcsr(on);
#if defined(FT_HAVE_OPENMP)
    const int nt = max_threads();
#pragma omp parallel num_threads(nt)
    apply_mxcsr(on);
#endif
    return true;
#else
    (void)on;
    return false;
#endif
}

bool flush_denormal_enabled() {
#if defined(FT_X86_64)
    return (_mm_getcsr() & (kFtz | kDaz)) == (kFtz | kDaz);
#else
    return false;
#endif
}

}  // namespace ft
