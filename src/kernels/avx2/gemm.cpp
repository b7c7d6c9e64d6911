// GEMM kernels built for this folder's ISA: blocking table, then the body.
#include "gemm_blocking.h"
#include "../gemm.inl"
