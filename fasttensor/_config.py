"""show_config: what this fasttensor build runs on and with."""

import os
import platform
import sys

import numpy as np

from . import _C


def _config():
    pool = _C.get_default_memory_pool()
    limit = pool.get_limit()
    return {
        "fasttensor": _version(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _C.cpu_features(),
        "isa_active": _C._active_isa(),
        "isa_available": _C._available_isas(),
        "openmp": _C._openmp_enabled(),
        "threads": _C.get_num_threads(),
        "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
        "lowp": _C.LOWP_COMPUTE_PATH,
        "bf16_engine": _C._bf16_engine(),
        "flush_denormal": _C._flush_denormal_enabled(),
        "pool": {
            "used_bytes": pool.used_bytes(),
            "total_bytes": pool.total_bytes(),
            "limit_bytes": limit,
            "hugepages": os.environ.get("FASTTENSOR_HUGEPAGES", "1") != "0",
        },
    }


def _version():
    from . import __version__
    return __version__


def show_config(file=None):
    """Print the build and runtime configuration.

    Shows the version, the kernel ISA chosen and the ones this CPU can run,
    whether OpenMP is compiled in, the thread count, the bfloat16 matrix
    engine and the memory pool's settings.  Returns the same information as
    a dict.
    """
    cfg = _config()
    out = file or sys.stdout
    cpu = cfg["cpu"]
    flags = [k for k, v in cpu.items() if v is True]
    lines = [
        f"fasttensor {cfg['fasttensor']} (Python {cfg['python']}, "
        f"NumPy {cfg['numpy']})",
        f"  platform      : {cfg['platform']}",
        f"  cpu           : {cpu['vendor']} [{', '.join(flags) or 'baseline'}]",
        f"  kernels (ISA) : {cfg['isa_active']} "
        f"(available: {', '.join(cfg['isa_available'])})",
        f"  openmp        : {'yes' if cfg['openmp'] else 'no (single-threaded build)'}",
        f"  threads       : {cfg['threads']}",
        f"  bf16/fp16     : {cfg['lowp']} (float32 accumulation)",
        f"  bf16 matmul   : {cfg['bf16_engine']} "
        f"({_C.BF16_ENGINE_DESCRIPTION[cfg['bf16_engine']]})",
        f"  flush denormal: {'on' if cfg['flush_denormal'] else 'off'}",
        f"  pool          : {cfg['pool']['used_bytes']} B used, "
        f"{cfg['pool']['total_bytes']} B held, limit "
        f"{cfg['pool']['limit_bytes'] or 'none'}, huge pages "
        f"{'on' if cfg['pool']['hugepages'] else 'off'}",
    ]
    print("\n".join(lines), file=out)
    return cfg
