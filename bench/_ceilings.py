"""The machine's ceilings measured in the benchmark's own run: FMA peak
(a small compiled loop) and copy bandwidth (np.copyto of a large array).

Both are measured in the same process as the benchmarks, so that the
fraction of peak a kernel reaches is read at the clock and the load the
machine had at that time (PERF_NOTES section 2).
"""

import ctypes
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np

_FMA_SOURCE = r"""
#include <immintrin.h>
/* 10 independent FMA chains of 8 floats: enough to cover FMA latency x
   2 pipes on AVX2 cores.  Returns a value so nothing is optimised away. */
float fma_loop(long n) {
    __m256 a0 = _mm256_set1_ps(0.1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0,
           a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
    const __m256 b = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
    for (long i = 0; i < n; ++i) {
#define F(x) x = _mm256_fmadd_ps(x, b, c); __asm__ volatile("" : "+x"(x));
        F(a0) F(a1) F(a2) F(a3) F(a4) F(a5) F(a6) F(a7) F(a8) F(a9)
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a4, a5),
                                       _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(a8, a9));
    return _mm256_cvtss_f32(s);
}
"""

_lib = None


def _fma_lib():
    global _lib
    if _lib is not None:
        return _lib
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    tmp = tempfile.mkdtemp()
    src = os.path.join(tmp, "fma.c")
    so = os.path.join(tmp, "fma.so")
    with open(src, "w") as f:
        f.write(_FMA_SOURCE)
    try:
        subprocess.run([cc, "-O2", "-mavx2", "-mfma", "-shared", "-fPIC", src,
                        "-o", so], check=True, capture_output=True)
        lib = ctypes.CDLL(so)
        lib.fma_loop.restype = ctypes.c_float
        lib.fma_loop.argtypes = [ctypes.c_long]
        _lib = lib
    except Exception:
        return None
    return _lib


def fma_peak_gflops_1thread(seconds=0.3):
    """Single-thread FP32 FMA throughput (GFLOP/s) measured now, or None
    without a C compiler.  The best of a few runs of ``seconds`` each."""
    lib = _fma_lib()
    if lib is None:
        return None
    n = 2_000_000
    lib.fma_loop(n // 10)
    best = 0.0
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t = time.perf_counter()
        lib.fma_loop(n)
        dt = time.perf_counter() - t
        best = max(best, n * 10 * 16 / dt * 1e-9)
    return best


def fma_peak_gflops(threads, seconds=0.3):
    """Aggregate FP32 FMA throughput (GFLOP/s) of ``threads`` copies of the
    loop running at once (ctypes releases the GIL), or None without a C
    compiler: the peak the machine gives that many threads right now,
    under whatever else is running."""
    import threading

    lib = _fma_lib()
    if lib is None:
        return None
    n = 2_000_000
    lib.fma_loop(n // 10)
    best = 0.0
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        ts = [threading.Thread(target=lib.fma_loop, args=(n,))
              for _ in range(threads)]
        t = time.perf_counter()
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        dt = time.perf_counter() - t
        best = max(best, threads * n * 10 * 16 / dt * 1e-9)
    return best


def copy_bandwidth_gbs(nbytes=256 << 20, rounds=5):
    """np.copyto of ``nbytes``: bytes read + written per second (GB/s)."""
    src = np.ones(nbytes // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = 1e9
    for _ in range(rounds):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * nbytes / best * 1e-9
