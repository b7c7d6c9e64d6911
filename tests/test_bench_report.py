"""Tests of the benchmark report (fasttensor.bench) and the copy-bandwidth
kernel behind its memory ceiling.

Nothing here asserts on time: the tests check that the report is well
formed, that wrong answers are caught before timing, and that the command
line behaves.  Runs use tiny cases, one or two rounds and no rest.
"""

import json
import math
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest
from conftest import subprocess_env

import fasttensor as ft
from fasttensor import _C
from fasttensor.bench import __main__ as cli
from fasttensor.bench import cases as bc
from fasttensor.bench import quick_compare, run
from fasttensor.bench.libs import Library, load_libraries
from fasttensor.bench.timing import ERROR, OK, SKIPPED, WRONG

FAST = dict(rounds=2, rest=0.0, block_seconds=0.001, progress=False)


def numpy_backed(name="fasttensor", **overrides):
    """A stand-in library that runs NumPy's functions under `name`.

    `overrides` replace functions by name, which is how a deliberately
    wrong implementation is planted.
    """
    ns = types.SimpleNamespace(**{k: getattr(np, k) for k in (
        "add", "multiply", "matmul", "exp", "sum", "max", "dot")})
    for key, fn in overrides.items():
        setattr(ns, key, fn)
    ns.__name__ = name
    return Library(name, ns, asarray=np.asarray, to_numpy=np.asarray,
                   version="test")


def tiny_cases():
    return [
        bc.matmul_case(16, 24, 8, series="matmul"),
        bc.matmul_case(32, 32, 32, series="matmul"),
        bc.binary_case("add", 1000, series="add"),
        bc.binary_case("add", 4000, series="add"),
        bc.reduction_case("sum", (40, 30), axis=-1),
    ]


# ---------------------------------------------------------------- report
def test_quick_run_table_and_json(tmp_path):
    libs = [numpy_backed(), load_libraries(["numpy"])[0]]
    report = run(tiny_cases(), libraries=libs, threads=1,
                 ceiling_seconds=0.01, **FAST)

    # Every library answered correctly and was timed on every case.
    for res in report.results:
        for name, lr in res.libs.items():
            assert lr.status == OK, (res.case.name, name, lr.note)
            assert len(lr.times) == 2 and all(t > 0 for t in lr.times)
            assert 0 <= lr.error_ratio <= 1
            assert res.rate(name) > 0
        assert res.speedup("numpy") > 0

    table = report.table()
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["case", "fasttensor", "numpy"]
    assert "ft/np" in lines[0]
    assert set(lines[1].replace(" ", "")) == {"-"}
    body = lines[2:2 + len(report.results)]
    assert [ln.split()[0] for ln in body] == [
        c.name for c in tiny_cases()]
    header = re.split(r"\s{2,}", lines[0])
    assert header[:4] == ["case", "fasttensor", "numpy", "ft/np"]
    for ln, case in zip(body, tiny_cases()):
        cells = re.split(r"\s{2,}", ln)
        assert len(cells) == len(header)
        assert cells[3].endswith("x") and float(cells[3][:-1]) > 0
        assert cells[4] == ("GFLOP/s" if case.kind == "flops" else "GB/s")

    md = report.table(markdown=True)
    assert md.splitlines()[0].startswith("| case | fasttensor | numpy |")

    path = tmp_path / "r.json"
    report.write_json(path)
    data = json.loads(path.read_text())
    for key in ("machine", "versions", "blas", "threads", "thread_setting",
                "settings", "ceilings", "cases", "started"):
        assert key in data, key
    assert data["threads"] == 1
    assert data["machine"]["isa"]["best"] == _C._best_isa()
    assert data["machine"]["isa"]["active"] == _C._active_isa()
    assert data["versions"]["numpy"] == np.__version__
    ceil = data["ceilings"]
    for level in ("L2", "L3", "DRAM"):
        assert ceil["copy_gbs"][level] > 0
    assert len(data["cases"]) == len(tiny_cases())
    for case in data["cases"]:
        assert case["flops"] > 0 and case["bytes"] > 0
        assert case["unit"] in ("GFLOP/s", "GB/s")
        for lib in ("fasttensor", "numpy"):
            entry = case["libraries"][lib]
            assert entry["status"] == "ok"
            assert entry["median_s"] > 0 and entry["rate"] > 0
            assert entry["calls_per_block"] >= 1
            assert all(t > 0 for t in entry["times_s"])
        assert case["fasttensor_speedup"]["numpy"] > 0
        if case["kind"] == "bytes":
            assert case["ceiling"]["value"] > 0
            assert case["libraries"]["numpy"]["ceiling_fraction"] > 0


def test_wrong_answer_is_reported_not_timed():
    wrong = numpy_backed(add=np.subtract)
    report = run([bc.binary_case("add", 500)],
                 libraries=[wrong, load_libraries(["numpy"])[0]],
                 threads=1, ceilings=False, **FAST)
    res = report.results[0]
    bad = res.libs["fasttensor"]
    assert bad.status == WRONG
    assert bad.times == [] and bad.median is None
    assert "exceeds the tolerance" in bad.note
    assert bad.error_ratio > 1
    assert res.libs["numpy"].status == OK
    assert res.speedup("numpy") is None
    row = report.table().splitlines()[2]
    assert "WRONG" in row
    assert "add-500, fasttensor: wrong:" in report.table()


def test_small_matmul_error_is_caught():
    # One term of the k-sum left out: an error far below 1% of the result
    # must still fail the agreement check.
    def matmul_drop_last_term(a, b):
        return a[:, :-1] @ b[:-1, :]

    lib = numpy_backed(matmul=matmul_drop_last_term)
    report = run([bc.matmul_case(64, 256, 64)], libraries=[lib], threads=1,
                 ceilings=False, **FAST)
    assert report.results[0].libs["fasttensor"].status == WRONG


def test_wrong_shape_and_raising_impl():
    def bad_shape(a, b):
        return (a @ b)[:-1]

    def raises(a, b):
        raise ValueError("matmul: inner dimensions differ")

    r1 = run([bc.matmul_case(8, 8, 8)], libraries=[numpy_backed(
        matmul=bad_shape)], threads=1, ceilings=False, **FAST)
    lr = r1.results[0].libs["fasttensor"]
    assert lr.status == WRONG and "shape" in lr.note
    r2 = run([bc.matmul_case(8, 8, 8)], libraries=[numpy_backed(
        matmul=raises)], threads=1, ceilings=False, **FAST)
    lr = r2.results[0].libs["fasttensor"]
    assert lr.status == ERROR and "inner dimensions" in lr.note
    assert lr.times == []


def test_missing_fasttensor_op_is_skipped_with_note():
    lib = numpy_backed()
    del lib.module.matmul
    report = run([bc.matmul_case(8, 8, 8), bc.binary_case("add", 100)],
                 libraries=[lib, load_libraries(["numpy"])[0]], threads=1,
                 ceilings=False, **FAST)
    mm, add = report.results
    assert mm.libs["fasttensor"].status == SKIPPED
    assert "fasttensor.matmul does not exist yet" in mm.libs["fasttensor"].note
    assert mm.libs["numpy"].status == OK  # the peers are still timed
    assert add.libs["fasttensor"].status == OK


def test_real_libraries_agree_on_small_cases():
    # fasttensor's own ops where they exist; skipped ones must name the op.
    cases = [bc.binary_case("add", 1000), bc.matmul_case(16, 16, 16),
             bc.softmax_case(8, 16)]
    report = run(cases, threads=1, ceilings=False, **FAST)
    for res in report.results:
        for name, lr in res.libs.items():
            assert lr.status in (OK, SKIPPED, "unavailable"), (
                res.case.name, name, lr.note)
            if lr.status == SKIPPED:
                assert "does not exist yet" in lr.note


# ---------------------------------------------------------------- agreement
def test_check_agreement_rules():
    case = bc.binary_case("add", 4)
    ref = np.array([1.0, 2.0, np.nan, 4.0])
    ok, ratio, _ = bc.check_agreement(case, ref.astype(np.float32), ref, None)
    assert ok and ratio == 0
    off = ref.copy()
    off[3] = 4.0 * (1 + 4 * np.finfo(np.float32).eps)
    ok, ratio, msg = bc.check_agreement(case, off, ref, None)
    assert not ok and ratio > 1 and "(3,)" in msg
    nan_moved = np.array([1.0, np.nan, 3.0, 4.0])
    ok, _, msg = bc.check_agreement(case, nan_moved, ref, None)
    assert not ok and "NaN" in msg
    ok, _, msg = bc.check_agreement(case, ref[:3], ref, None)
    assert not ok and "shape" in msg
    whole = np.array([1.0, 2.0, 3.0, 4.0])
    ok, _, msg = bc.check_agreement(case, whole.astype(np.int64), whole, None)
    assert not ok and "not a float dtype" in msg


def test_tolerance_grows_with_depth():
    shallow = bc.matmul_case(4, 16, 4)
    deep = bc.matmul_case(4, 1024, 4)
    eps = np.finfo(np.float32).eps
    assert math.isclose(shallow.tolerance(), 8 * eps * 4)
    assert math.isclose(deep.tolerance(), 8 * eps * 32)


# ---------------------------------------------------------------- selection
def test_cases_filtering():
    all_cases = bc.default_cases()
    names = [c.name for c in all_cases]
    assert len(names) == len(set(names))
    glob = [c.name for c in bc.select(all_cases, "matmul-*")]
    assert glob and all(n.startswith("matmul-") for n in glob)
    rx = [c.name for c in bc.select(all_cases, "^add-|softmax")]
    assert rx and all(n.startswith("add-") or "softmax" in n for n in rx)
    both = [c.name for c in bc.select(all_cases, "dot-*,sum-rows-*")]
    assert set(both) == {"dot-1M", "dot-16M", "sum-rows-4096x1024"}
    quick = bc.select(all_cases, None, quick=True)
    assert 0 < len(quick) < len(all_cases) and all(c.quick for c in quick)
    assert bc.select(all_cases, "no-such-case") == []
    assert bc.get_case("matmul-512").flops == 2 * 512 ** 3
    with pytest.raises(KeyError, match="no benchmark case named"):
        bc.get_case("nope")


def test_cli_list_honours_cases(capsys):
    assert cli.main(["--list", "--cases", "softmax-*"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out and all(line.startswith("softmax-") for line in out)


# ---------------------------------------------------------------- CLI
@pytest.mark.parametrize("argv, message", [
    (["--threads", "0"], "--threads: must be at least 1"),
    (["--threads", "two"], "--threads: expected an integer"),
    (["--rest", "-1"], "--rest: must be >= 0"),
    (["--libs", "numpy,jax"], "unknown library jax"),
    (["--cases", "no-such-case"], "matches no case"),
    (["--no-such-option"], "unrecognized arguments"),
])
def test_cli_rejects_bad_options(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_plot_without_matplotlib(monkeypatch, capsys, tmp_path):
    def missing():
        raise cli.MatplotlibMissing("the plot needs matplotlib, which is "
                                    "not installed: pip install matplotlib")
    monkeypatch.setattr(cli, "require_matplotlib", missing)
    with pytest.raises(SystemExit) as exc:
        cli.main(["--cases", "add-64K", "--plot", str(tmp_path / "p.png")])
    assert exc.value.code == 2
    assert "pip install matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()


def test_cli_end_to_end(tmp_path):
    out = tmp_path / "r.json"
    md = tmp_path / "B.md"
    env, cwd = subprocess_env()
    proc = subprocess.run(
        [sys.executable, "-m", "fasttensor.bench", "--cases", "add-64K",
         "--libs", "fasttensor,numpy",
         "--rounds", "1", "--rest", "0", "--block", "0.001", "--threads",
         "1", "--no-ceilings", "--json", str(out), "--markdown", str(md)],
        check=False, capture_output=True, text=True, timeout=120,
        env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert "add-64K" in proc.stdout
    assert "[" in proc.stderr and "1/1" in proc.stderr  # progress bar
    data = json.loads(out.read_text())
    assert [c["name"] for c in data["cases"]] == ["add-64K"]
    assert data["threads"] == 1
    assert data["libraries"]["numpy"]["available"]
    text = md.read_text()
    assert "| add-64K |" in text and "python -m fasttensor.bench" in text


# ---------------------------------------------------------------- plot
def test_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    from fasttensor.bench.plot import write_plot

    report = run(tiny_cases(), libraries=[numpy_backed(), load_libraries(
        ["numpy"])[0]], threads=1, ceiling_seconds=0.01, **FAST)
    path = tmp_path / "report.png"
    drawn = write_plot(report, path)
    assert drawn == ["matmul", "add"]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


def test_quick_compare_prints_table(capsys):
    import io

    buf = io.StringIO()
    report = quick_compare(["add-64K"], file=buf, threads=1, rounds=1,
                           rest=0.0)
    text = buf.getvalue()
    assert "add-64K" in text and "numpy" in text
    assert report.results[0].libs["numpy"].median > 0
    with pytest.raises(ValueError, match="no case matches"):
        quick_compare(["no-such-case"], file=buf)


# ---------------------------------------------------------------- kernel
@pytest.mark.parametrize("nbytes", [1, 100, 4096, 128 * 1024 + 4, 3 << 20])
@pytest.mark.parametrize("nontemporal", [False, True])
def test_copy_bandwidth_every_isa(isa, nbytes, nontemporal):
    # The kernel checks the copied data itself and fails instead of
    # returning a figure when it does not match.
    gbs = _C._copy_bandwidth_gbs(nbytes, 0.0, nontemporal)
    assert math.isfinite(gbs) and gbs > 0


def test_copy_bandwidth_threads(threads):
    for n in (1, 2):
        ft.set_num_threads(n)
        assert _C._copy_bandwidth_gbs(1 << 20, 0.0) > 0


def test_copy_bandwidth_bad_arguments():
    with pytest.raises(ValueError, match="nbytes must be at least 1, got 0"):
        _C._copy_bandwidth_gbs(0)
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        _C._copy_bandwidth_gbs(1024, -1.0)
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        _C._copy_bandwidth_gbs(1024, float("nan"))
    with pytest.raises(TypeError):
        _C._copy_bandwidth_gbs("big")


@pytest.mark.skipif(os.environ.get("FASTTENSOR_SANITIZE") == "1",
                    reason="AddressSanitizer aborts on an impossible "
                           "allocation instead of returning null")
def test_copy_bandwidth_out_of_memory():
    with pytest.raises(MemoryError, match="cannot allocate"):
        _C._copy_bandwidth_gbs(1 << 62)


# ---------------------------------------------------------------- threads
def test_thread_limit_sets_and_restores(threads):
    from fasttensor.bench.libs import thread_limit

    libs = load_libraries()
    ft.set_num_threads(2)
    torch_lib = next((lib for lib in libs
                      if lib.name == "torch" and lib.available), None)
    torch = torch_lib.module if torch_lib is not None else None
    before_torch = torch.get_num_threads() if torch is not None else None
    with thread_limit(1, libs) as how:
        assert ft.get_num_threads() == 1
        assert how["fasttensor"] == "fasttensor.set_num_threads"
        if torch is not None:
            assert torch.get_num_threads() == 1
        threadpoolctl = pytest.importorskip("threadpoolctl")
        blas = [d for d in threadpoolctl.threadpool_info()
                if d["user_api"] == "blas"]
        assert all(d["num_threads"] == 1 for d in blas)
    assert ft.get_num_threads() == 2
    if torch is not None:
        assert torch.get_num_threads() == before_torch


def test_ceiling_follows_the_working_set():
    from fasttensor.bench.machine import ceiling_for

    ceilings = {"threads": 2, "fma_gflops": 100.0,
                "copy_gbs": {"L2": 200.0, "L3": 60.0, "DRAM": 15.0},
                "cache_bytes": {"L2_per_core": 512 << 10, "L3": 32 << 20}}
    assert ceiling_for(bc.binary_case("add", 1 << 16), ceilings) == (
        200.0, "L2 copy")                       # 768 KiB <= 2 x 512 KiB
    assert ceiling_for(bc.binary_case("add", 1 << 20), ceilings) == (
        60.0, "L3 copy")                        # 12 MiB
    assert ceiling_for(bc.binary_case("add", 1 << 24), ceilings) == (
        15.0, "DRAM copy")                      # 192 MiB
    assert ceiling_for(bc.matmul_case(8, 8, 8), ceilings) == (
        100.0, "FMA peak")
    assert ceiling_for(bc.matmul_case(8, 8, 8, dtype=np.float64),
                       ceilings) == (50.0, "FMA peak (float64)")
    ceilings["fma_gflops"] = None
    assert ceiling_for(bc.matmul_case(8, 8, 8), ceilings)[0] is None


def test_bfloat16_cases_use_the_engine_peak():
    from fasttensor.bench.machine import ceiling_for

    ceilings = {"threads": 2, "fma_gflops": 100.0, "bf16_engine": "amx",
                "bf16_gflops": 4000.0}
    assert ceiling_for(bc.lowp_matmul_case(8), ceilings) == (
        4000.0, "bfloat16 peak (amx)")
    assert ceiling_for(bc.matmul_case(8, 8, 8), ceilings) == (
        100.0, "FMA peak")
    # Without an engine, bfloat16 products run on the FMA units.
    ceilings.update(bf16_engine="convert", bf16_gflops=None)
    assert ceiling_for(bc.lowp_matmul_case(8, autocast=True), ceilings) == (
        100.0, "FMA peak")


def test_bfloat16_cases_agree():
    cases = [bc.lowp_matmul_case(48), bc.lowp_matmul_case(48, autocast=True)]
    report = run(cases, threads=1, ceilings=False, **FAST)
    for res in report.results:
        assert res.libs["fasttensor"].status == OK, res.libs["fasttensor"].note
        torch_status = res.libs["torch"].status
        assert torch_status in (OK, "unavailable"), res.libs["torch"].note
