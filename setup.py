"""Build script for fasttensor's compiled core.

One extension module, ``fasttensor._C``, holds the Cython tensor layer and
every C++ kernel.  The sources under ``src/kernels/<isa>/`` are compiled
with that ISA's ``-m`` flags and nothing else is: the rest of the build uses
the baseline flags of the target, so one build runs on any x86-64 CPU and
picks its kernels at import.

Environment switches:

``FASTTENSOR_SANITIZE=1``
    Build with AddressSanitizer and UndefinedBehaviorSanitizer.  Run the
    result with ``LD_PRELOAD=$(gcc -print-file-name=libasan.so)``.
``FASTTENSOR_NO_OPENMP=1``
    Skip OpenMP even where the compiler supports it.
"""

import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
IS_X86_64 = platform.machine().lower() in ("x86_64", "amd64")

# The only places where ISA flags are allowed.
ISA_FLAGS = {
    "avx2": ["-mavx2", "-mfma", "-mf16c"],
    "avx512": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq",
               "-mavx2", "-mfma", "-mf16c"],
    # The bfloat16 tile kernel; built only where the compiler accepts the
    # flags (AMX_PROBE), otherwise the folder is left out and the "amx"
    # engine reports that this build lacks it.
    "amx": ["-mamx-tile", "-mamx-bf16", "-mavx512f", "-mavx512bw",
            "-mavx512vl", "-mavx512dq", "-mavx512bf16", "-mavx2", "-mfma",
            "-mf16c"],
    # The bfloat16 vector kernel (VDPBF16PS), likewise optional.
    "avx512bf16": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq",
                   "-mavx512bf16", "-mavx2", "-mfma", "-mf16c"],
}


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _compiler_accepts(compiler, flags, source):
    """Compile and link ``source`` with ``flags``; True when it works."""
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "probe.cpp")
        with open(path, "w") as f:
            f.write(source)
        try:
            objs = compiler.compile([path], output_dir=tmp, extra_postargs=flags)
            compiler.link_executable(objs, "probe", output_dir=tmp,
                                     extra_postargs=flags)
            subprocess.run([os.path.join(tmp, "probe")], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except Exception:
            return False
        return True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


OPENMP_PROBE = r"""
#include <omp.h>
int main() {
    int n = 0;
    #pragma omp parallel reduction(+ : n)
    n += 1;
    return n == omp_get_max_threads() ? 0 : 1;
}
"""


# Compiled and linked, never run (this machine may have no AMX): the
# compiler and assembler must know the tile instructions.
AMX_PROBE = r"""
#include <immintrin.h>
void ft_probe_tiles(const void* cfg, const void* p, float* c) {
    _tile_loadconfig(cfg);
    _tile_loadd(4, p, 64);
    _tile_loadd(6, p, 64);
    _tile_zero(0);
    _tile_dpbf16ps(0, 4, 6);
    _tile_stored(0, c, 64);
    _tile_release();
}
int main() { return 0; }
"""

AVX512BF16_PROBE = r"""
#include <immintrin.h>
__m512 ft_probe_dot(__m512 c, __m512i a, __m512i b) {
    return _mm512_dpbf16_ps(c, (__m512bh)a, (__m512bh)b);
}
int main() { return 0; }
"""

# Kernel folders built only where the compiler accepts their flags: folder
# -> (probe source, macro defined when the folder is built).
OPTIONAL_ISAS = {
    "amx": (AMX_PROBE, "FT_HAVE_AMX_KERNEL"),
    "avx512bf16": (AVX512BF16_PROBE, "FT_HAVE_AVX512BF16_KERNEL"),
}


class BuildExt(build_ext):
    """build_ext with per-directory ISA flags and an OpenMP probe."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        compiler = self.compiler
        openmp = []
        if not _env_flag("FASTTENSOR_NO_OPENMP"):
            if _compiler_accepts(compiler, ["-fopenmp"], OPENMP_PROBE):
                openmp = ["-fopenmp"]
            else:
                print("fasttensor: the compiler has no working OpenMP; "
                      "building single-threaded", file=sys.stderr)
        for isa, (probe, macro) in OPTIONAL_ISAS.items():
            ok = IS_X86_64 and _compiler_accepts(compiler, ISA_FLAGS[isa],
                                                 probe)
            if IS_X86_64 and not ok:
                print(f"fasttensor: the compiler does not accept the {isa} "
                      f"flags; building without src/kernels/{isa}",
                      file=sys.stderr)
            for ext in self.extensions:
                if ok:
                    ext.define_macros.append((macro, "1"))
                else:
                    ext.sources = [
                        s for s in ext.sources
                        if os.sep + isa + os.sep
                        not in os.sep + os.path.normpath(s)]
        for ext in self.extensions:
            ext.extra_compile_args += openmp
            ext.extra_link_args += openmp
            if openmp:
                ext.define_macros.append(("FT_HAVE_OPENMP", "1"))

        original_compile = compiler._compile

        def compile_with_isa_flags(obj, src, ext, cc_args, extra_postargs,
                                   pp_opts):
            parts = os.path.normpath(src).split(os.sep)
            extra = list(extra_postargs)
            if "kernels" in parts:
                isa = parts[parts.index("kernels") + 1]
                extra += ISA_FLAGS.get(isa, [])
            return original_compile(obj, src, ext, cc_args, extra, pp_opts)

        compiler._compile = compile_with_isa_flags
        super().build_extensions()


def kernel_sources():
    sources = sorted(glob.glob("src/core/*.cpp") + glob.glob("src/ops/*.cpp"))
    isas = ["scalar"] + (["avx2", "avx512", "amx", "avx512bf16"]
                         if IS_X86_64 else [])
    for isa in isas:
        sources += sorted(glob.glob(f"src/kernels/{isa}/*.cpp"))
    return sources


def make_extension():
    compile_args = ["-std=c++17", "-O3", "-fno-math-errno",
                    "-Wall", "-Wno-unused-function", "-Wno-unknown-pragmas"]
    link_args = []
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    if IS_X86_64:
        macros.append(("FT_X86_64", "1"))
    if _env_flag("FASTTENSOR_SANITIZE"):
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
               "-fno-sanitize-recover=undefined"]
        compile_args = [a for a in compile_args if a != "-O3"] + ["-O1", "-g"]
        compile_args += san
        link_args += san
        macros.append(("FT_SANITIZE", "1"))
    return Extension(
        "fasttensor._C",
        sources=["fasttensor/_C.pyx"] + kernel_sources(),
        include_dirs=["src", "fasttensor/include", np.get_include()],
        define_macros=macros,
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        depends=(glob.glob("src/**/*.h", recursive=True)
                 + glob.glob("src/kernels/*.inl")
                 + glob.glob("fasttensor/*.pxi")
                 + glob.glob("fasttensor/include/fasttensor/*.h")),
        language="c++",
    )


setup(
    ext_modules=cythonize(
        [make_extension()],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
