// Element types known to the kernels.  The numbering is fasttensor's own;
// the Cython layer maps it to numpy.dtype.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ft {

enum DType : int {
    kBool = 0,
    kInt8,
    kInt16,
    kInt32,
    kInt64,
    kUInt8,
    kUInt16,
    kUInt32,
    kUInt64,
    kFloat16,
    kBFloat16,
    kFloat32,
    kFloat64,
    kNumDTypes
};

inline size_t dtype_size(DType dt) {
    switch (dt) {
        case kBool: case kInt8: case kUInt8: return 1;
        case kInt16: case kUInt16: case kFloat16: case kBFloat16: return 2;
        case kInt32: case kUInt32: case kFloat32: return 4;
        default: return 8;
    }
}

inline bool dtype_is_float(DType dt) {
    return dt == kFloat16 || dt == kBFloat16 || dt == kFloat32 || dt == kFloat64;
}

// Status codes returned by kernel entry points.
enum Status : int {
    kOk = 0,
    kErrDType = 1,      // op not defined for this dtype
    kErrNoMemory = 2,   // scratch allocation refused
    kErrArgument = 3,   // argument outside what the kernel accepts
};

}  // namespace ft
