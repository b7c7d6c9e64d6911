// The floating-point environment of fasttensor's threads: flush-to-zero
// and denormals-are-zero.
#pragma once

namespace ft {

// Sets (on = true) or clears MXCSR's FTZ (bit 15) and DAZ (bit 6) on the
// calling thread and on every thread of its OpenMP team.  Returns false,
// changing nothing, where the CPU has no MXCSR (not x86-64).
bool set_flush_denormal(bool on);

// Whether FTZ and DAZ are both set on the calling thread.
bool flush_denormal_enabled();

}  // namespace ft
