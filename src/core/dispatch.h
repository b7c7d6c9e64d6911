// Per-ISA declarations and run-time selection.
//
// A kernel family exposes one entry point per ISA namespace, for example
// `const UnaryKernels& unary_kernels()` in ft::scalar, ft::avx2 and
// ft::avx512.  The ISA-free drivers declare it with FT_DECLARE_PER_ISA and
// call the active one through FT_DISPATCH.  Off x86-64 only the scalar
// namespace exists.
#pragma once

#include "core/cpu.h"

#if defined(FT_X86_64)
#define FT_DECLARE_PER_ISA(decl) \
    namespace scalar {           \
    decl;                        \
    }                            \
    namespace avx2 {             \
    decl;                        \
    }                            \
    namespace avx512 {           \
    decl;                        \
    }
#define FT_DISPATCH(fn)                                  \
    (::ft::active_isa() == ::ft::Isa::avx512 ? ::ft::avx512::fn \
     : ::ft::active_isa() == ::ft::Isa::avx2 ? ::ft::avx2::fn   \
                                             : ::ft::scalar::fn)
#else
#define FT_DECLARE_PER_ISA(decl) \
    namespace scalar {           \
    decl;                        \
    }
#define FT_DISPATCH(fn) (::ft::scalar::fn)
#endif
