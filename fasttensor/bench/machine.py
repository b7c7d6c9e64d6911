"""The machine a report ran on, and its ceilings measured in the same run.

Ceilings:

* FMA peak: ``fasttensor._C._fma_peak_gflops(seconds)``, a compiled loop
  of independent fused multiply-adds on one core, in float32 GFLOP/s.  The
  compute ceiling of a float32 case is that figure times the thread count
  (halved for float64).
* Copy bandwidth: ``fasttensor._C._copy_bandwidth_gbs(nbytes, seconds)``,
  a streaming copy on all threads, measured at three working-set sizes:
  half of the L2 caches the threads own, half of the L3, and a copy far
  larger than L3 (streaming stores).  A memory-bound case is compared with
  the level its own working set fits in.
"""

import os
import platform
import sys

# Fallback cache sizes when the operating system does not report them.
_DEFAULT_L2 = 512 << 10
_DEFAULT_L3 = 32 << 20


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _parse_size(text):
    if not text:
        return None
    text = text.strip().upper()
    mult = 1
    for suffix, m in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if text.endswith(suffix):
            text, mult = text[:-1], m
            break
    try:
        return int(text) * mult
    except ValueError:
        return None


def cache_sizes():
    """{"L1d": bytes, "L2": bytes, "L3": bytes} for one core (Linux sysfs)."""
    sizes = {}
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        entries = []
    for entry in entries:
        if not entry.startswith("index"):
            continue
        level = _read(f"{base}/{entry}/level")
        kind = _read(f"{base}/{entry}/type")
        size = _parse_size(_read(f"{base}/{entry}/size"))
        if level is None or size is None or kind == "Instruction":
            continue
        key = "L1d" if level == "1" else f"L{level}"
        sizes[key] = size
    return sizes


def cpu_model():
    text = _read("/proc/cpuinfo") or ""
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def isa_info():
    """fasttensor's best and active kernel ISA ("unknown" when not exposed)."""
    try:
        from fasttensor import _C
    except ImportError:
        return {"best": "unknown", "active": "unknown"}
    out = {}
    for key, fn in (("best", "_best_isa"), ("active", "_active_isa")):
        f = getattr(_C, fn, None)
        try:
            out[key] = str(f()) if f is not None else "unknown"
        except Exception:
            out[key] = "unknown"
    return out


def machine_info():
    """Everything about the host that a reader needs to judge the figures."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    try:
        load = os.getloadavg()
    except (AttributeError, OSError):
        load = None
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "cores": cores,
        "caches": cache_sizes(),
        "isa": isa_info(),
        "python": sys.version.split()[0],
        "load_average": list(load) if load else None,
        # fasttensor and PyTorch share one libgomp in a process (the second
        # to load reuses the first's), so these settings apply to both.
        "openmp_env": {k: os.environ.get(k) for k in (
            "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
            "FASTTENSOR_NUM_THREADS", "FASTTENSOR_ISA",
            "OPENBLAS_NUM_THREADS")},
    }


def blas_info():
    """NumPy's BLAS as threadpoolctl sees it (empty when not installed)."""
    try:
        import threadpoolctl
    except ImportError:
        return []
    keep = ("internal_api", "version", "architecture", "threading_layer",
            "num_threads", "prefix")
    return [{k: d.get(k) for k in keep}
            for d in threadpoolctl.threadpool_info()]


def measure_ceilings(threads, seconds=0.25):
    """Measure the FMA peak and the copy bandwidth on this machine.

    Parameters
    ----------
    threads : int
        Thread count the run uses (the caller has already set it); the
        compute ceiling is the per-core peak times this.
    seconds : float
        Duration of each measurement.

    Returns
    -------
    dict
        ``fma_gflops_per_core`` (None when unavailable), ``fma_gflops``
        (times `threads`), ``bf16_engine`` (the bfloat16 matrix engine's
        name), ``bf16_gflops_per_core`` and ``bf16_gflops`` (its measured
        peak; None without an AMX or AVX512-BF16 engine), ``copy_gbs`` ({"L2", "L3", "DRAM"} -> GB/s or
        None), ``copy_bytes`` (buffer size used per level) and ``notes``.
    """
    notes = []
    try:
        from fasttensor import _C
    except ImportError as exc:
        _C = None
        notes.append(f"fasttensor's compiled core did not import: {exc}")

    fma = None
    if _C is not None and hasattr(_C, "_fma_peak_gflops"):
        try:
            fma = float(_C._fma_peak_gflops(seconds))
        except Exception as exc:
            notes.append(f"FMA peak failed: {exc}")
    else:
        notes.append("FMA peak unavailable: fasttensor._C._fma_peak_gflops "
                     "does not exist in this build")

    # The bfloat16 matrix engine's peak (AMX tiles or AVX512-BF16), the
    # ceiling of the bfloat16 cases; none when products run on the
    # float32 kernels, whose ceiling is the FMA peak.
    engine = None
    bf16_peak = None
    if _C is not None and hasattr(_C, "_bf16_engine"):
        engine = _C._bf16_engine()
        if engine in ("amx", "avx512_bf16"):
            try:
                bf16_peak = float(_C._bf16_engine_peak_tflops(seconds)) * 1e3
            except Exception as exc:
                notes.append(f"bfloat16 engine peak failed: {exc}")

    caches = cache_sizes()
    l2 = caches.get("L2", _DEFAULT_L2)
    l3 = caches.get("L3", _DEFAULT_L3)
    # Two buffers of nbytes each: the working set is half the cache level.
    levels = {
        "L2": (max(4096, l2 * threads // 4), False),
        "L3": (max(l2 * threads, l3 // 4), False),
        "DRAM": (max(128 << 20, 4 * l3), True),
    }
    copy = {}
    copy_bytes = {}
    bw = getattr(_C, "_copy_bandwidth_gbs", None) if _C is not None else None
    for level, (nbytes, nontemporal) in levels.items():
        copy_bytes[level] = nbytes
        if bw is None:
            copy[level] = None
            continue
        try:
            copy[level] = float(bw(nbytes, seconds, nontemporal))
        except Exception as exc:
            copy[level] = None
            notes.append(f"copy bandwidth ({level}) failed: {exc}")
    if bw is None and _C is not None:
        notes.append("copy bandwidth unavailable: fasttensor._C."
                     "_copy_bandwidth_gbs does not exist in this build")
    return {
        "fma_gflops_per_core": fma,
        "fma_gflops": fma * threads if fma is not None else None,
        "threads": threads,
        "bf16_engine": engine,
        "bf16_gflops_per_core": bf16_peak,
        "bf16_gflops": bf16_peak * threads if bf16_peak is not None else None,
        "copy_gbs": copy,
        "copy_bytes": copy_bytes,
        "cache_bytes": {"L2_per_core": l2, "L3": l3},
        "notes": notes,
    }


def ceiling_for(case, ceilings):
    """(ceiling value, label) relevant to `case`, or (None, label)."""
    if ceilings is None:
        return None, ""
    if case.kind == "flops":
        if (getattr(case.dtype, "__name__", "") == "bfloat16"
                and ceilings.get("bf16_gflops")):
            return ceilings["bf16_gflops"], (
                f"bfloat16 peak ({ceilings.get('bf16_engine')})")
        peak = ceilings.get("fma_gflops")
        if peak is None:
            return None, "FMA peak"
        if getattr(case.dtype, "__name__", str(case.dtype)) == "float64":
            return peak / 2, "FMA peak (float64)"
        return peak, "FMA peak"
    threads = ceilings.get("threads", 1)
    cache = ceilings.get("cache_bytes", {})
    l2 = cache.get("L2_per_core", _DEFAULT_L2) * threads
    l3 = cache.get("L3", _DEFAULT_L3)
    level = "L2" if case.nbytes <= l2 else "L3" if case.nbytes <= l3 else "DRAM"
    return ceilings.get("copy_gbs", {}).get(level), f"{level} copy"
