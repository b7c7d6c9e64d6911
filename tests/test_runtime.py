"""Runtime settings: threads, the ISA override, show_config."""

import io
import os
import subprocess
import sys

import pytest
from conftest import subprocess_env

import fasttensor as ft
from fasttensor import _C


def run_python(code, **env):
    full_env, cwd = subprocess_env(**env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=120)


def test_set_and_get_num_threads(threads):
    ft.set_num_threads(1)
    assert ft.get_num_threads() == 1
    ft.set_num_threads(2)
    assert ft.get_num_threads() == 2
    with pytest.raises(ValueError, match="n must be >= 1"):
        ft.set_num_threads(0)


def test_environment_thread_count():
    r = run_python("import fasttensor as ft; print(ft.get_num_threads())",
                   FASTTENSOR_NUM_THREADS="1")
    assert r.stdout.strip() == "1", r.stderr
    r = run_python("import fasttensor as ft; print(ft.get_num_threads())",
                   OMP_NUM_THREADS="1")
    assert r.stdout.strip() == "1", r.stderr


def test_threadpoolctl_sees_and_limits_fasttensor(threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    ft.ones(1)
    info = threadpoolctl.threadpool_info()
    assert any(i["user_api"] == "openmp" for i in info)
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert ft.get_num_threads() == 1


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_isa_override(isa):
    r = run_python("import fasttensor as ft; from fasttensor import _C; "
                   "print(_C._active_isa())", FASTTENSOR_ISA=isa)
    if isa in _C._available_isas():
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == isa
    else:
        assert r.returncode != 0
        assert f"FASTTENSOR_ISA={isa}" in r.stderr
        assert "supports at most" in r.stderr


def test_unknown_isa_is_a_clear_error():
    r = run_python("import fasttensor", FASTTENSOR_ISA="sse9")
    assert r.returncode != 0 and "unknown ISA 'sse9'" in r.stderr


def test_verbose_reports_the_choice():
    r = run_python("import fasttensor", FASTTENSOR_VERBOSE="1")
    assert "fasttensor: kernels use" in r.stderr


def test_show_config():
    buf = io.StringIO()
    cfg = ft.show_config(file=buf)
    text = buf.getvalue()
    assert cfg["isa_active"] in cfg["isa_available"]
    assert "kernels (ISA)" in text and "threads" in text and "pool" in text
    assert cfg["openmp"] is True or "single-threaded" in text


def test_best_isa_is_what_the_cpu_reports():
    feats = ft.cpu_features()
    want = "avx512" if feats["avx512"] else "avx2" if feats["avx2"] else "scalar"
    assert _C._best_isa() == want


def test_get_include_holds_the_headers():
    assert os.path.isdir(ft.get_include())
