"""fasttensor: NumPy-like tensors on hand-written SIMD and OpenMP kernels."""
