"""Shared fixtures: run a test on every kernel ISA this CPU has.

``isa`` is parametrised over scalar, avx2 and avx512; the paths this CPU
cannot run are skipped with the reason, so a test suite run on an AVX2
machine says plainly that the AVX-512 kernels were not exercised.
"""

import numpy as np
import pytest

import fasttensor as ft
from fasttensor import _C

ALL_ISAS = ["scalar", "avx2", "avx512"]


@pytest.fixture(params=ALL_ISAS)
def isa(request):
    name = request.param
    if name not in _C._available_isas():
        pytest.skip(f"this CPU cannot run the {name} kernels "
                    f"(best available: {_C._best_isa()})")
    previous = _C._active_isa()
    _C._set_isa(name)
    try:
        yield name
    finally:
        _C._set_isa(previous)


@pytest.fixture
def threads():
    """Restore the thread count after a test that changes it."""
    previous = ft.get_num_threads()
    yield
    ft.set_num_threads(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def subprocess_env(**extra):
    """(env, cwd) for a child Python that must import this same fasttensor.

    The child runs outside the source tree (whose uncompiled package would
    shadow the built one) with the imported package's parent on its path.
    """
    import os
    import tempfile

    env = dict(os.environ, **extra)
    root = os.path.dirname(os.path.dirname(os.path.abspath(ft.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env, tempfile.gettempdir()
