// The caching host allocator behind every tensor fasttensor allocates.
//
// Policy: a request is rounded up to its size class and served from that
// class's free list when one is cached; otherwise from the system.  Freed
// blocks go back on their list, not to the system, until free_all() (or a
// failing allocation, which empties the cache and retries once).
//
// Size classes: multiples of kSmallUnit (512 B) up to 1 MiB; above that,
// eight classes per power of two, so at most 12.5% of a large block is
// rounding.  Alignment: 64 B (one cache line, one zmm register) for small
// blocks, 4 KiB for blocks of 1 MiB and more, 2 MiB for blocks of 4 MiB and
// more, which are also offered to the kernel as transparent huge pages
// (madvise) unless FASTTENSOR_HUGEPAGES=0.
//
// NOTE(locking): one mutex guards the free lists and the statistics; the
// system allocation itself runs outside it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ft {

constexpr size_t kSmallUnit = 512;
constexpr size_t kLargeThreshold = size_t(1) << 20;
constexpr size_t kHugeThreshold = size_t(4) << 20;

struct PoolStats {
    size_t used_bytes;       // held by live blocks (rounded sizes)
    size_t total_bytes;      // used + cached
    size_t free_bytes;       // cached, not in use
    size_t n_free_blocks;
    size_t limit;            // 0: no limit
    size_t peak_used_bytes;
    size_t peak_total_bytes;
    uint64_t n_allocs;       // requests served
    uint64_t n_cache_hits;   // ... of which from the cache
    uint64_t n_system_allocs;
    uint64_t n_ooms;         // requests refused
};

// Rounded size of a request (the size a block of that class really has).
size_t pool_round(size_t nbytes);

// Allocate at least nbytes (> 0).  Returns nullptr when the limit or the
// system refuses; the pool's cache has then already been released.
void* pool_alloc(size_t nbytes);

// Return a block; nbytes is the size passed to pool_alloc.
void pool_free(void* p, size_t nbytes);

void pool_free_all();
void pool_set_limit(size_t limit);
void pool_set_enabled(bool enabled);
bool pool_enabled();
void pool_reset_peaks();
PoolStats pool_stats();

}  // namespace ft
