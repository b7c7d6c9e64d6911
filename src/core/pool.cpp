#include "core/pool.h"

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ft {

namespace {

size_t alignment_for(size_t rounded) {
    if (rounded >= kHugeThreshold) return size_t(2) << 20;
    if (rounded >= kLargeThreshold) return 4096;
    return 64;
}

bool hugepages_wanted() {
    const char* v = std::getenv("FASTTENSOR_HUGEPAGES");
    return !(v && v[0] == '0');
}

void* system_alloc(size_t rounded) {
    void* p = nullptr;
    if (posix_memalign(&p, alignment_for(rounded), rounded) != 0) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    static const bool huge = hugepages_wanted();
    if (huge && rounded >= kHugeThreshold) madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}

struct Pool {
    std::mutex mu;
    std::unordered_map<size_t, std::vector<void*>> free_lists;
    PoolStats st{};
    bool enabled = true;

    // Release every cached block; the caller holds mu.
    void release_cache_locked() {
        for (auto& kv : free_lists) {
            for (void* p : kv.second) std::free(p);
            st.total_bytes -= kv.first * kv.second.size();
            st.n_free_blocks -= kv.second.size();
            st.free_bytes -= kv.first * kv.second.size();
        }
        free_lists.clear();
    }

    bool within_limit_locked(size_t rounded) const {
        return st.limit == 0 || st.total_bytes + rounded <= st.limit;
    }

    void note_used_locked(size_t rounded) {
        st.used_bytes += rounded;
        if (st.used_bytes > st.peak_used_bytes) st.peak_used_bytes = st.used_bytes;
        if (st.total_bytes > st.peak_total_bytes) st.peak_total_bytes = st.total_bytes;
    }
};

// Never destroyed: tensors may still be freed while the interpreter exits.
Pool& pool() {
    static Pool* p = new Pool();
    return *p;
}

}  // namespace

size_t pool_round(size_t n) {
    if (n <= kLargeThreshold) return (n + kSmallUnit - 1) / kSmallUnit * kSmallUnit;
    size_t top = size_t(1) << (63 - __builtin_clzll(n));
    size_t step = top / 8;
    return (n + step - 1) / step * step;
}

void* pool_alloc(size_t nbytes) {
    Pool& P = pool();
    const size_t rounded = pool_round(nbytes == 0 ? 1 : nbytes);
    {
        std::lock_guard<std::mutex> g(P.mu);
        P.st.n_allocs++;
        auto it = P.free_lists.find(rounded);
        if (it != P.free_lists.end() && !it->second.empty()) {
            void* p = it->second.back();
            it->second.pop_back();
            P.st.n_free_blocks--;
            P.st.free_bytes -= rounded;
            P.st.n_cache_hits++;
            P.note_used_locked(rounded);
            return p;
        }
        if (!P.within_limit_locked(rounded)) {
            P.release_cache_locked();
            if (!P.within_limit_locked(rounded)) {
                P.st.n_ooms++;
                return nullptr;
            }
        }
        // Reserve the bytes before leaving the lock so that concurrent
        // requests cannot overshoot the limit together.
        P.st.total_bytes += rounded;
    }
    void* p = system_alloc(rounded);
    std::lock_guard<std::mutex> g(P.mu);
    if (!p) {
        P.release_cache_locked();
        p = system_alloc(rounded);
        if (!p) {
            P.st.total_bytes -= rounded;
            P.st.n_ooms++;
            return nullptr;
        }
    }
    P.st.n_system_allocs++;
    P.note_used_locked(rounded);
    return p;
}

void pool_free(void* p, size_t nbytes) {
    if (!p) return;
    Pool& P = pool();
    const size_t rounded = pool_round(nbytes == 0 ? 1 : nbytes);
    std::lock_guard<std::mutex> g(P.mu);
    P.st.used_bytes -= rounded;
    if (!P.enabled || (P.st.limit != 0 && P.st.total_bytes > P.st.limit)) {
        std::free(p);
        P.st.total_bytes -= rounded;
        return;
    }
    P.free_lists[rounded].push_back(p);
    P.st.n_free_blocks++;
    P.st.free_bytes += rounded;
}

void pool_free_all() {
    Pool& P = pool();
    std::lock_guard<std::mutex> g(P.mu);
    P.release_cache_locked();
}

void pool_set_limit(size_t limit) {
    Pool& P = pool();
    std::lock_guard<std::mutex> g(P.mu);
    P.st.limit = limit;
    if (limit != 0 && P.st.total_bytes > limit) P.release_cache_locked();
}

void pool_set_enabled(bool enabled) {
    Pool& P = pool();
    std::lock_guard<std::mutex> g(P.mu);
    P.enabled = enabled;
    if (!enabled) P.release_cache_locked();
}

bool pool_enabled() {
    Pool& P = pool();
    std::lock_guard<std::mutex> g(P.mu);
    return P.enabled;
}

void pool_reset_peaks() {
    Pool& P = pool();
    std::lock_guard<std::mutex> g(P.mu);
    P.st.peak_used_bytes = P.st.used_bytes;
    P.st.peak_total_bytes = P.st.total_bytes;
}

PoolStats pool_stats() {
    Pool& P = pool();
    std::lock_guard<std::mutex> g(P.mu);
    return P.st;
}

}  // namespace ft
