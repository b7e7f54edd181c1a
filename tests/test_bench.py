"""Tests of bench/: a tiny run end to end, misbehaving solvers as rows, judging, the report."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest

from bench.harness import RunConfig, judge, run_benchmark
from bench.report import load_rows, sgm, write_report
from bench.sets import (InstanceSpec, default_instances_root, format_nnz, generated_specs,
                        load_instance, resolve_sets, shared_reference)
from bench.solvers import SOLVERS
from bench.worker import verify

pytest.importorskip("highspy")
pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _gpulp_solve_available():
    if importlib.util.find_spec("gpulp.solver") is None:
        return False
    try:
        import gpulp
        gpulp.solve
    except Exception:
        return False
    return True


def _config(solvers, tmp_path, **kw):
    return RunConfig(solvers=solvers, instances_root=tmp_path / "no-shared", **kw)


def test_tiny_run_end_to_end(tmp_path):
    solvers = ["highs-simplex", "highs-ipm"] + (["gpulp-cpu"] if _gpulp_solve_available() else [])
    specs = [InstanceSpec(name="generated/" + k, kind=k, nnz=600, seed=1)
             for k in ("cvar", "allocation", "transport")]
    out = tmp_path / "out"
    rows = run_benchmark(specs, _config(solvers, tmp_path, time_limit=60, grace=30), out,
                         log=lambda _: None)
    assert len(rows) == len(specs) * len(solvers)
    written = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(written) == len(rows)
    for row in written:
        assert row["solved"], (row["solver"], row["instance"], row["reason"])
        assert row["status"] == "optimal" and row["kkt_ok"]
        assert row["time"] > 0 and row["read_time"] >= 0 and row["iterations"] >= 0
        assert row["reference_objective"] is not None and row["reference_source"]
        assert row["rows"] > 0 and row["nnz"] > 0 and row["primal_residual"] <= 1e-4
        for key in ("machine", "gpulp_commit", "date", "tol", "time_limit", "device"):
            assert row[key] is not None, key
        assert row["machine"]["cores"] >= 1
    assert json.loads((out / "reference.json").read_text()).keys() == {s.name for s in specs}

    report = write_report(out)
    text = report.read_text()
    assert "SGM10" in text and "SGM1" in text
    for s in solvers:
        assert f"| {s} | 3/3 |" in text
    for name in ("perf_profile.png", "scaling.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC


def test_warm_up_leaves_a_process_first_call_out_of_the_time(tmp_path):
    if not _gpulp_solve_available():
        pytest.skip("gpulp.solve is not importable")
    specs = [InstanceSpec(name="generated/cvar", kind="cvar", nnz=600, seed=1)]
    out = tmp_path / "out"
    rows = run_benchmark(specs, _config(["gpulp-cpu"], tmp_path, time_limit=60, grace=30,
                                        warm_up=True), out, log=lambda _: None)
    row = rows[0]
    assert row["solved"] and row["warm_up"] is True
    warm = row["solver_info"]["warm_up"]
    assert warm > 0 and warm > row["time"]     # the first solve of a process paid the loads
    assert "- gpulp warm-up before the timed call: yes" in write_report(out).read_text()


def test_crash_error_and_hang_become_rows(tmp_path):
    spec = InstanceSpec(name="generated/cvar_tiny", kind="cvar", nnz=300, seed=0)
    out = tmp_path / "out"
    rows = run_benchmark([spec], _config(["test-crash", "test-raise", "test-hang"], tmp_path,
                                         time_limit=1.0, grace=1.0,
                                         reference_time_limit=30.0), out, log=lambda _: None)
    by_solver = {r["solver"]: r for r in rows}
    assert by_solver["test-crash"]["status"] == "crash"
    assert "code 3" in by_solver["test-crash"]["message"]
    assert by_solver["test-raise"]["status"] == "error"
    assert "deliberate failure" in by_solver["test-raise"]["message"]
    assert by_solver["test-hang"]["status"] == "timeout"
    assert "killed" in by_solver["test-hang"]["message"]
    # before the kill, the hung worker wrote where it was to its log
    hang_log = next((out / "logs").glob("*--test-hang.log")).read_text()
    assert "Timeout" in hang_log and "_test_hang" in hang_log, hang_log
    assert not any(r["solved"] for r in rows)
    assert all(r["nnz"] == by_solver["test-crash"]["nnz"] > 0 for r in rows)
    assert len((out / "results.jsonl").read_text().splitlines()) == 3
    assert "ipm" in rows[0]["reference_source"]
    text = write_report(out, baseline="test-raise").read_text()
    assert "timeout" in text and "crash" in text


def test_jobs_run_pairs_side_by_side_but_one_gpu_pair_at_a_time(tmp_path, monkeypatch):
    """--jobs N: up to N pairs at once, never two of a GPU solver; every pair still gives one
    row, with its instance's reference and `jobs` recorded."""
    import threading
    import time

    import bench.harness as H
    lock = threading.Lock()
    active = {"all": 0, "gpu": 0}
    peak = {"all": 0, "gpu": 0}

    def fake_run_pair(spec, solver, gpu_lock=None, **kw):
        assert (gpu_lock is not None) == (solver == "gpulp-gpu")
        with lock:
            active["all"] += 1
            active["gpu"] += solver == "gpulp-gpu"
            for k in peak:
                peak[k] = max(peak[k], active[k])
        time.sleep(0.15)
        with lock:
            active["all"] -= 1
            active["gpu"] -= solver == "gpulp-gpu"
        return {"status": "optimal", "solver_status": "optimal", "kkt_ok": True,
                "verified_objective": 1.0, "objective": 1.0, "time": 0.15, "rows": 1,
                "cols": 1, "nnz": 1}

    monkeypatch.setattr(H, "run_pair", fake_run_pair)
    specs = [InstanceSpec(name=f"generated/cvar{i}", kind="cvar", nnz=300, seed=i)
             for i in range(4)]
    solvers = ["gpulp-gpu", "highs-ipm", "highs-simplex"]
    rows = run_benchmark(specs, _config(solvers, tmp_path, jobs=4), tmp_path / "out",
                         log=lambda _: None)
    assert len(rows) == len(specs) * len(solvers)
    assert {(r["instance"], r["solver"]) for r in rows} == {
        (s.name, v) for s in specs for v in solvers}
    assert all(r["jobs"] == 4 and r["solved"] and r["reference_objective"] == 1.0 for r in rows)
    # two GPU workers at a time (one loads while the other solves; the solves take turns on
    # the worker's file lock, tested below)
    assert peak["gpu"] == 2 and peak["all"] >= 2
    assert peak["all"] <= 4
    serial = run_benchmark(specs[:1], _config(solvers, tmp_path), tmp_path / "serial",
                           log=lambda _: None)
    assert [r["solver"] for r in serial] == solvers and serial[0]["jobs"] == 1
    assert "- pairs run side by side (--jobs; 1: one after another): 4" in write_report(
        tmp_path / "out").read_text()


def test_gpu_solver_without_gpu_is_an_error_row(tmp_path):
    if not _gpulp_solve_available():
        pytest.skip("gpulp.solve is not available yet")
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed; this checks the no-GPU path")
    except Exception:
        pass
    spec = InstanceSpec(name="generated/transport_tiny", kind="transport", nnz=300, seed=0)
    rows = run_benchmark([spec], _config(["gpulp-gpu", "highs-simplex"], tmp_path, time_limit=30),
                         tmp_path / "out", log=lambda _: None)
    gpu = rows[0]
    assert gpu["status"] == "error" and not gpu["solved"] and gpu["device"] == "none"
    assert rows[1]["solved"]


def test_highs_duals_fit_verify_on_a_max_problem():
    from instances.generators import allocation
    p = allocation(60, 6, 6, seed=2)
    assert p.sense == "max"
    for name in ("highs-simplex", "highs-ipm", "highs-pdlp"):
        out = SOLVERS[name](p, tol=1e-6, time_limit=30)
        v = verify(p, out, 1e-4)
        assert out.status == "optimal" and v["kkt_ok"], (name, v)
        assert math.isclose(v["verified_objective"], out.objective, rel_tol=1e-4)


def test_highs_farkas_ray_checks():
    import gpulp
    p = gpulp.Problem([1.0, 1.0], [[1.0, 1.0]], [3.0], [np.inf], [0, 0], [1, 1])
    out = SOLVERS["highs-simplex"](p, tol=1e-4, time_limit=10)
    assert out.status == "primal_infeasible"
    v = verify(p, out, 1e-6)
    assert v["certificate_ok"], (out.message, v)


def _raw(**kw):
    base = {"status": "optimal", "kkt_ok": True, "verified_objective": 10.0,
            "primal_residual": 1e-6, "dual_residual": 1e-6, "gap": 1e-6}
    base.update(kw)
    return base


def test_judge_rules():
    ref = {"objective": 10.0, "status": "optimal"}
    assert judge(_raw(), ref, 1e-4)[0]
    assert judge(_raw(verified_objective=10.0 + 0.9e-3 * 11), ref, 1e-4)[0]
    ok, why = judge(_raw(verified_objective=10.1), ref, 1e-4)
    assert not ok and "disagrees" in why
    ok, why = judge(_raw(kkt_ok=False, primal_residual=1e-2), ref, 1e-4)
    assert not ok and "KKT" in why
    ok, why = judge(_raw(), {"objective": None, "status": None}, 1e-4)
    assert ok and "no reference" in why
    ok, why = judge(_raw(), {"objective": None, "status": "primal_infeasible"}, 1e-4)
    assert not ok
    inf = {"status": "primal_infeasible", "certificate_ok": True}
    assert judge(inf, {"objective": None, "status": "primal_infeasible"}, 1e-4)[0]
    assert not judge(inf, {"objective": 1.0, "status": "optimal"}, 1e-4)[0]
    assert not judge({**inf, "certificate_ok": False},
                     {"objective": None, "status": "primal_infeasible"}, 1e-4)[0]
    assert not judge({"status": "time_limit"}, ref, 1e-4)[0]
    assert not judge({"status": "timeout", "message": "killed"}, ref, 1e-4)[0]


def test_sgm():
    assert sgm([0.0, 0.0], 10) == pytest.approx(0.0)
    assert sgm([3.0], 10) == pytest.approx(3.0)
    assert sgm([1.0, 100.0], 10) == pytest.approx(math.sqrt(11 * 110) - 10)


def test_report_uses_the_time_limit_for_unsolved_and_the_median_of_repeats(tmp_path):
    def row(solver, inst, t, solved, repeat=0):
        return {"solver": solver, "instance": inst, "repeat": repeat, "time": t,
                "solved": solved, "status": "optimal" if solved else "time_limit",
                "time_limit": 20.0, "kind": "file", "nnz": 10, "rows": 2, "cols": 3,
                "reason": "", "tol": 1e-4, "date": "2026-01-01T00:00:00", "device": "cpu",
                "gpulp_commit": "abc", "machine": {"node": "n", "cpu": "c", "cores": 2}}
    rows = [row("highs-ipm", "a", 1.0, True), row("highs-ipm", "b", 3.0, True),
            row("x", "a", 0.5, True, 0), row("x", "a", 0.7, True, 1), row("x", "a", 0.6, True, 2),
            row("x", "b", 25.0, False)]
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    assert len(load_rows(tmp_path)) == 6
    text = write_report(tmp_path).read_text()
    expected_x = sgm([0.6, 20.0], 10)
    assert f"| x | 1/2 | {expected_x:.2f} |" in text
    assert "0.6 ± 0.2 (1.67x)" in text


def test_sets_and_names(tmp_path):
    assert format_nnz(100_000) == "1e5" and format_nnz(2_500_000) == "2.5e6"
    assert format_nnz(123) == "123"
    specs = generated_specs(["cvar", "transport"], [1000, 10_000], seed=3)
    assert [s.name for s in specs][:2] == ["generated/cvar_nnz1e3_seed3",
                                           "generated/cvar_nnz1e4_seed3"]
    problem, read_time, reader = load_instance(specs[0])
    assert reader == "generator" and read_time >= 0 and abs(problem.nnz - 1000) < 50
    f = tmp_path / "x.mps"
    f.write_text("NAME x\nROWS\n N obj\n G r\nCOLUMNS\n x obj 1 r 1\nRHS\n rhs r 1\nENDATA\n")
    [spec] = resolve_sets([str(f)], tmp_path)
    assert spec.name == "x.mps" and shared_reference(spec, tmp_path) is None
    problem, _, _ = load_instance(spec)
    assert problem.num_rows == 1 and problem.num_cols == 1
    with pytest.raises(FileNotFoundError):
        resolve_sets(["no-such-set"], tmp_path)


def test_shared_netlib_set_and_references(shared_instances):
    root = default_instances_root()
    assert root.resolve() == shared_instances.resolve()
    specs = resolve_sets(["netlib"], root)
    assert len(specs) >= 60 and all(s.name.startswith("netlib/") for s in specs)
    afiro = next(s for s in specs if s.name == "netlib/afiro.mps.gz")
    ref = shared_reference(afiro, root)
    assert ref["status"] == "optimal" and ref["objective"] == pytest.approx(-464.753, rel=1e-5)


def test_a_shared_reference_erratum_applies_only_to_the_value_it_corrects(tmp_path):
    import json

    from bench.sets import InstanceSpec
    root = tmp_path
    (root / "maros-meszaros").mkdir()
    ref_file = root / "maros-meszaros" / "reference.json"
    spec = InstanceSpec("maros-meszaros/liswet8.qps.gz", path=str(root / "x"))
    ref_file.write_text(json.dumps({"liswet8.qps.gz": {"objective": 7144.7006,
                                                       "status": "Optimal"}}))
    ref = shared_reference(spec, root)
    assert ref["objective"] == pytest.approx(714.47006)
    assert "reference_errata.json" in ref["source"]
    # once the shared value is fixed (or differs), it is used as it is
    ref_file.write_text(json.dumps({"liswet8.qps.gz": {"objective": 714.47006,
                                                       "status": "Optimal"}}))
    ref = shared_reference(spec, root)
    assert ref["objective"] == 714.47006 and "errata" not in ref["source"]


# ------------------------------------------------------------------------------- bench fuzz
def test_fuzz_problems_are_reproducible_and_cover_every_status():
    from bench.fuzz import random_problem
    a, b = random_problem(11), random_problem(11)
    assert np.array_equal(a.c, b.c) and (a.A != b.A).nnz == 0
    from bench.solvers import solve_with_highs
    seen = set()
    for seed in range(60):
        h = solve_with_highs(random_problem(seed))
        seen.add(h.modelStatusToString(h.getModelStatus()))
    assert {"Optimal", "Infeasible", "Unbounded"} <= seen


def test_fuzz_judge_settles_disagreements_by_certificate():
    """gpulp's certificate decides against HiGHS only when the recession LP agrees with it;
    a claim the recession LP contradicts is 'gpulp wrong'; an uncertified answer is unsettled."""
    from bench.fuzz import has_improving_ray, judge
    from gpulp import Problem, Result
    # min -x0 over x0 >= 0 with no rows limiting it: an improving ray exists
    unb = Problem([-1.0, 0.0], [[0.0, 1.0]], [0.0], [1.0])
    assert has_improving_ray(unb)
    bounded = Problem([1.0, 0.0], [[0.0, 1.0]], [0.0], [1.0])
    assert not has_improving_ray(bounded)
    unbounded_res = Result("dual_infeasible", verified=True,
                           certificate={"primal_feasible": True})
    optimal_res = Result("optimal", objective=0.0, verified=True)
    assert judge(unb, unbounded_res, "Optimal", -4e7, 1e-6)[0] == "HiGHS wrong"
    assert judge(unb, optimal_res, "Unbounded", 0.0, 1e-6)[0] == "gpulp wrong"
    assert judge(bounded, optimal_res, "Optimal", 0.0, 1e-6)[0] == "agree"
    assert judge(bounded, optimal_res, "Optimal", 1.0, 1e-6)[0] == "gpulp wrong"
    undecided = Result("dual_infeasible", verified=True, certificate={"primal_feasible": None})
    assert judge(unb, undecided, "Unbounded", 0.0, 1e-6)[0] == "unsettled"
    assert judge(bounded, Result("time_limit"), "Optimal", 0.0, 1e-6)[0] == "unsettled"


def test_fuzz_run_finds_no_wrong_gpulp_answer():
    from bench.fuzz import run
    lines = []
    counts = run(range(40), time_limit=10.0, out=lines.append)
    assert not any(verdict == "gpulp wrong" for _, verdict in counts), lines
    assert sum(counts.values()) == 40


def test_a_gpu_pair_waits_for_the_lock_without_losing_time_or_its_load_limit(tmp_path):
    """The worker takes run_pair's gpu_lock after its load and holds it through the solve: a
    held lock delays the solve, the load limit does not fire while it waits, and the time
    limit counts from the lock."""
    import fcntl
    import threading

    from bench.harness import run_pair
    spec = InstanceSpec(name="generated/cvar0", kind="cvar", nnz=300, seed=0)
    lock_file = tmp_path / "gpu.lock"
    holder = open(lock_file, "a")
    fcntl.flock(holder, fcntl.LOCK_EX)
    threading.Timer(7.0, holder.close).start()       # released after 7 s
    raw = run_pair(spec, "gpulp-cpu", tol=1e-4, time_limit=2.0, grace=1.0, load_limit=5.0,
                   log_path=tmp_path / "log.txt", gpu_lock=lock_file)
    assert raw["status"] == "optimal", raw
    assert raw["lock_wait"] > 5.0, raw               # waited past both limits, still solved
