# Runtime settings: threads, the kernel ISA, floating-point modes, and
# show_config.

cdef extern from "core/cpu.h" namespace "ft":
    cdef enum class Isa(int):
        scalar
        avx2
        avx512
    ctypedef struct CpuFeatures:
        bint avx2
        bint avx512
        bint avx512_bf16
        bint avx512_fp16
        bint amx_bf16
        bint amx_tile
        char vendor[13]
    const CpuFeatures& c_cpu_features "ft::cpu_features"()
    Isa best_isa()
    Isa active_isa()
    int set_active_isa(const char* name)
    const char* isa_name(Isa isa)

cdef extern from *:
    """
    #if defined(FT_HAVE_OPENMP)
    #include <omp.h>
    static int ft_openmp_enabled(void) { return 1; }
    static void ft_set_threads(int n) { omp_set_num_threads(n); }
    static int ft_get_threads(void) { return omp_get_max_threads(); }
    #else
    static int ft_openmp_enabled(void) { return 0; }
    static void ft_set_threads(int n) { (void)n; }
    static int ft_get_threads(void) { return 1; }
    #endif
    """
    int ft_openmp_enabled()
    void ft_set_threads(int n)
    int ft_get_threads()


def set_num_threads(n):
    """Use ``n`` threads for large operations (OpenMP's thread count).

    The count is also what ``threadpoolctl`` reports and limits for
    fasttensor (its OpenMP runtime).  Work too small to pay for a second
    thread always runs on the calling thread.
    """
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    ft_set_threads(n)


def get_num_threads():
    """The number of threads large operations use."""
    return ft_get_threads()


def _active_isa():
    return isa_name(active_isa()).decode()


def _best_isa():
    return isa_name(best_isa()).decode()


def _set_isa(name):
    """Force the kernel ISA (tests use this to cover every path)."""
    cdef int status = set_active_isa(name.encode())
    if status == 1:
        raise ValueError(
            f"unknown ISA {name!r}; expected 'scalar', 'avx2' or 'avx512'")
    if status == 2:
        raise RuntimeError(
            f"this CPU cannot run the {name} kernels; it supports at most "
            f"{_best_isa()}")


def _available_isas():
    order = ["scalar", "avx2", "avx512"]
    return order[: order.index(_best_isa()) + 1]


def cpu_features():
    """The CPU features fasttensor detected, as a dict."""
    cdef const CpuFeatures* f = &c_cpu_features()
    return {
        "vendor": f.vendor.decode(errors="replace"),
        "avx2": bool(f.avx2),
        "avx512": bool(f.avx512),
        "avx512_bf16": bool(f.avx512_bf16),
        "avx512_fp16": bool(f.avx512_fp16),
        "amx_bf16": bool(f.amx_bf16),
        "amx_tile": bool(f.amx_tile),
    }


def _openmp_enabled():
    return bool(ft_openmp_enabled())


def _init_runtime(isa=None, threads=None, verbose=False):
    """Apply FASTTENSOR_ISA and FASTTENSOR_NUM_THREADS (called at import)."""
    if isa:
        try:
            _set_isa(isa)
        except (ValueError, RuntimeError) as e:
            raise RuntimeError(f"FASTTENSOR_ISA={isa}: {e}") from None
    if threads:
        try:
            n = int(threads)
        except ValueError:
            raise RuntimeError(
                f"FASTTENSOR_NUM_THREADS must be an integer, got {threads!r}") from None
        set_num_threads(n)
    if verbose:
        import sys
        print(f"fasttensor: kernels use {_active_isa()} (CPU supports "
              f"{_best_isa()}); {get_num_threads()} thread(s)", file=sys.stderr)
