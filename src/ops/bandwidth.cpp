// Streaming copy that measures the machine's copy bandwidth.
//
// Formula: one pass copies dst[i] = src[i] over every thread's region and
// moves 2 * bytes (read + write); bandwidth = bytes moved / wall time of
// the pass, best pass kept (the ceiling is what the machine can do, so
// noise from other processes should not lower it).
//
// Layout: src and dst are split into one contiguous region per thread,
// each a multiple of kStep bytes, 64-byte aligned.  Within a pass a thread
// copies its region `reps` times, enough to move about kPassBytes, so
// that the cost of opening the parallel region is noise and a region that
// fits the thread's L2 stays there after the first repetition.
//
// Kernels: one per instruction set, picked by the active ISA (so
// FASTTENSOR_ISA lowers it like every other kernel): 16-byte SSE2 (the
// x86-64 baseline), 32-byte AVX2, 64-byte AVX-512 loads and stores, each
// unrolled to move kStep = 128 bytes (two cache lines) per iteration.  The
// wider kernels carry a target attribute instead of living under
// src/kernels/, because they are this file's private copy loops and use
// no V<T> arithmetic.  Streaming stores (movntps) end with sfence.
//
// Edge handling: the buffer size is rounded up to a whole number of
// kStep-sized pieces per thread, and the bytes actually copied are the
// ones counted.
//
// Accuracy: the result is checked (first and last element of each region)
// so that the compiler cannot drop the copies and a broken kernel cannot
// report a figure.
#include "ops/bandwidth.h"

#include <chrono>
#include <cstdlib>
#include <cstring>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(FT_X86_64)
#include <immintrin.h>
#endif

#include "core/cpu.h"
#include "core/dtype.h"
#include "core/parallel.h"

namespace ft {

namespace {

constexpr int64_t kStep = 128;
constexpr int64_t kPassBytes = int64_t(8) << 20;
constexpr size_t kHugeAlign = size_t(2) << 20;
constexpr int kErrCopyMismatch = -1;

// ------------------------------------------------------------ copy kernels
#if defined(FT_X86_64)
void copy_sse2(const char* src, char* dst, int64_t nbytes, bool nt) {
    const float* s = reinterpret_cast<const float*>(src);
    float* d = reinterpret_cast<float*>(dst);
    const int64_t n = nbytes / 4;
    if (nt) {
        for (int64_t i = 0; i < n; i += 32) {
            __m128 r0 = _mm_load_ps(s + i), r1 = _mm_load_ps(s + i + 4);
            __m128 r2 = _mm_load_ps(s + i + 8), r3 = _mm_load_ps(s + i + 12);
            __m128 r4 = _mm_load_ps(s + i + 16), r5 = _mm_load_ps(s + i + 20);
            __m128 r6 = _mm_load_ps(s + i + 24), r7 = _mm_load_ps(s + i + 28);
            _mm_stream_ps(d + i, r0);
            _mm_stream_ps(d + i + 4, r1);
            _mm_stream_ps(d + i + 8, r2);
            _mm_stream_ps(d + i + 12, r3);
            _mm_stream_ps(d + i + 16, r4);
            _mm_stream_ps(d + i + 20, r5);
            _mm_stream_ps(d + i + 24, r6);
            _mm_stream_ps(d + i + 28, r7);
        }
        _mm_sfence();
        return;
    }
    for (int64_t i = 0; i < n; i += 32) {
        __m128 r0 = _mm_load_ps(s + i), r1 = _mm_load_ps(s + i + 4);
        __m128 r2 = _mm_load_ps(s + i + 8), r3 = _mm_load_ps(s + i + 12);
        __m128 r4 = _mm_load_ps(s + i + 16), r5 = _mm_load_ps(s + i + 20);
        __m128 r6 = _mm_load_ps(s + i + 24), r7 = _mm_load_ps(s + i + 28);
        _mm_store_ps(d + i, r0);
        _mm_store_ps(d + i + 4, r1);
        _mm_store_ps(d + i + 8, r2);
        _mm_store_ps(d + i + 12, r3);
        _mm_store_ps(d + i + 16, r4);
        _mm_store_ps(d + i + 20, r5);
        _mm_store_ps(d + i + 24, r6);
        _mm_store_ps(d + i + 28, r7);
    }
}

__attribute__((target("avx2"))) void copy_avx2(const char* src, char* dst,
                                               int64_t nbytes, bool nt) {
    const float* s = reinterpret_cast<const float*>(src);
    float* d = reinterpret_cast<float*>(dst);
    const int64_t n = nbytes / 4;
    if (nt) {
        for (int64_t i = 0; i < n; i += 32) {
            __m256 r0 = _mm256_load_ps(s + i), r1 = _mm256_load_ps(s + i + 8);
            __m256 r2 = _mm256_load_ps(s + i + 16);
            __m256 r3 = _mm256_load_ps(s + i + 24);
            _mm256_stream_ps(d + i, r0);
            _mm256_stream_ps(d + i + 8, r1);
            _mm256_stream_ps(d + i + 16, r2);
            _mm256_stream_ps(d + i + 24, r3);
        }
        _mm_sfence();
        return;
    }
    for (int64_t i = 0; i < n; i += 32) {
        __m256 r0 = _mm256_load_ps(s + i), r1 = _mm256_load_ps(s + i + 8);
        __m256 r2 = _mm256_load_ps(s + i + 16), r3 = _mm256_load_ps(s + i + 24);
        _mm256_store_ps(d + i, r0);
        _mm256_store_ps(d + i + 8, r1);
        _mm256_store_ps(d + i + 16, r2);
        _mm256_store_ps(d + i + 24, r3);
    }
}

__attribute__((target("avx512f"))) void copy_avx512(const char* src,
                                                    char* dst, int64_t nbytes,
                                                    bool nt) {
    const float* s = reinterpret_cast<const float*>(src);
    float* d = reinterpret_cast<float*>(dst);
    const int64_t n = nbytes / 4;
    if (nt) {
        for (int64_t i = 0; i < n; i += 32) {
            __m512 r0 = _mm512_load_ps(s + i);
            __m512 r1 = _mm512_load_ps(s + i + 16);
            _mm512_stream_ps(d + i, r0);
            _mm512_stream_ps(d + i + 16, r1);
        }
        _mm_sfence();
        return;
    }
    for (int64_t i = 0; i < n; i += 32) {
        __m512 r0 = _mm512_load_ps(s + i);
        __m512 r1 = _mm512_load_ps(s + i + 16);
        _mm512_store_ps(d + i, r0);
        _mm512_store_ps(d + i + 16, r1);
    }
}
#else
// Off x86-64 the copy is a plain loop of 8-byte words, which the compiler
// widens to the baseline vector width; there are no streaming stores.
void copy_words(const char* src, char* dst, int64_t nbytes, bool) {
    const uint64_t* s = reinterpret_cast<const uint64_t*>(src);
    uint64_t* d = reinterpret_cast<uint64_t*>(dst);
    for (int64_t i = 0; i < nbytes / 8; ++i) d[i] = s[i];
}
#endif

using CopyFn = void (*)(const char*, char*, int64_t, bool);

CopyFn pick_copy() {
#if defined(FT_X86_64)
    switch (active_isa()) {
        case Isa::avx512: return copy_avx512;
        case Isa::avx2: return copy_avx2;
        default: return copy_sse2;
    }
#else
    return copy_words;
#endif
}

// ------------------------------------------------------------ buffers
// Large buffers are 2 MiB aligned and offered as transparent huge pages,
// the way the memory pool serves large tensors, so the figure is the one
// a large tensor would see.
char* alloc_buffer(size_t nbytes) {
    const size_t align = nbytes >= kHugeAlign ? kHugeAlign : 64;
    void* p = nullptr;
    if (posix_memalign(&p, align, nbytes) != 0) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == kHugeAlign) madvise(p, nbytes, MADV_HUGEPAGE);
#endif
    return static_cast<char*>(p);
}

double now_seconds() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch())
        .count();
}

}  // namespace

int copy_bandwidth(int64_t nbytes, double seconds, bool nontemporal,
                   double* gbs) {
    if (nbytes < 1 || !(seconds >= 0)) return kErrArgument;

    // One region per thread, each a whole number of kSteps.
    const int nt = max_threads();
    int64_t region = (nbytes + nt - 1) / nt;
    region = (region + kStep - 1) / kStep * kStep;
    const int64_t total = region * nt;
    const int64_t reps = region >= kPassBytes ? 1 : kPassBytes / region;

    char* src = alloc_buffer(size_t(total));
    char* dst = src ? alloc_buffer(size_t(total)) : nullptr;
    if (!dst) {
        std::free(src);
        return kErrNoMemory;
    }

    // First touch from the thread that will copy the region.
    parallel_for(nt, 1, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
            float* s = reinterpret_cast<float*>(src + t * region);
            for (int64_t i = 0; i < region / 4; ++i) s[i] = float(i + t);
            std::memset(dst + t * region, 0, size_t(region));
        }
    });

    const CopyFn copy = pick_copy();
    const double bytes_per_pass = 2.0 * double(total) * double(reps);
    double best = 0.0;
    const double start = now_seconds();
    for (int pass = 0;; ++pass) {
        const double t0 = now_seconds();
        parallel_for(nt, 1, [&](int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t)
                for (int64_t r = 0; r < reps; ++r)
                    copy(src + t * region, dst + t * region, region,
                         nontemporal);
        });
        const double t1 = now_seconds();
        // The first pass warms caches and TLBs and is not counted.
        if (pass > 0 && t1 > t0) {
            const double rate = bytes_per_pass / (t1 - t0);
            if (rate > best) best = rate;
        }
        if (pass >= 3 && t1 - start >= seconds) break;
    }

    // Check the copy so that it cannot have been optimised away.
    int status = kOk;
    for (int t = 0; t < nt; ++t) {
        const float* d = reinterpret_cast<const float*>(dst + t * region);
        const int64_t last = region / 4 - 1;
        if (d[0] != float(t) || d[last] != float(last + t))
            status = kErrCopyMismatch;
    }
    std::free(src);
    std::free(dst);
    if (status == kOk) *gbs = best / 1e9;
    return status;
}

}  // namespace ft
