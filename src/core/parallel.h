// The one place that decides threading.
//
// Drivers in src/ops call parallel_for; kernels under src/kernels never
// open a parallel region of their own, so regions are never nested.  The
// thread count is OpenMP's (omp_set_num_threads, OMP_NUM_THREADS,
// threadpoolctl); work below `grain` items, or a single thread, runs inline
// on the caller without entering a region at all.
#pragma once

#include <cstdint>

#if defined(FT_HAVE_OPENMP)
#include <omp.h>
#endif

namespace ft {

inline int max_threads() {
#if defined(FT_HAVE_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
}

inline bool in_parallel() {
#if defined(FT_HAVE_OPENMP)
    return omp_in_parallel();
#else
    return false;
#endif
}

// Calls f(begin, end) over [0, n) in chunks of about `grain` items, on all
// threads when there are at least two chunks.  Chunks are handed out
// dynamically so that a preempted core does not hold up the other.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    const int nt = max_threads();
    if (nt <= 1 || n <= grain || in_parallel()) {
        f(int64_t(0), n);
        return;
    }
#if defined(FT_HAVE_OPENMP)
    const int64_t nchunks = (n + grain - 1) / grain;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t c = 0; c < nchunks; ++c) {
        const int64_t b = c * grain;
        const int64_t e = b + grain < n ? b + grain : n;
        f(b, e);
    }
#endif
}

}  // namespace ft
