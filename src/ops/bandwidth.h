// Copy bandwidth: the memory ceiling that fasttensor's benchmark report
// compares memory-bound ops against.
#pragma once

#include <cstdint>

namespace ft {

// Measures how fast this machine copies one buffer of `nbytes` bytes into
// another, on all threads (core/parallel.h), and stores the best pass in
// *gbs as 1e9 bytes per second, counting the bytes read plus the bytes
// written (2 * nbytes per copy, as STREAM counts its Copy kernel).
//
// The working set is 2 * nbytes: choose nbytes to place it in the cache
// level to measure (a few hundred KiB per thread for L2, several MiB for
// L3, hundreds of MiB for DRAM).  `nontemporal` writes with streaming
// stores that bypass the caches, the right choice for a DRAM-sized copy.
// Passes repeat until `seconds` have gone by (at least three passes).
//
// Returns kOk, kErrArgument (nbytes < 1 or seconds < 0), kErrNoMemory, or
// -1 when the copied data does not match its source (a broken kernel).
int copy_bandwidth(int64_t nbytes, double seconds, bool nontemporal,
                   double* gbs);

}  // namespace ft
