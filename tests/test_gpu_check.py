"""bench/gpu_check.py runs end to end in its CPU dry-run (the device call uses the same code)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _dry_run(out, *args):
    """`python -m bench.gpu_check --dry-run ARGS --out OUT` in a fresh process; its JSON rows."""
    proc = subprocess.run([sys.executable, "-m", "bench.gpu_check", "--dry-run", *args, "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in (out / "gpu_check.jsonl").read_text().splitlines()]


def test_gpu_check_dry_run(tmp_path, shared_instances):
    rows = _dry_run(tmp_path, "--part", "floor,small,memory")
    assert {r["part"] for r in rows} == {"floor", "small", "memory"}
    assert not any("error" in r for r in rows), rows
    floors = [r for r in rows if r["part"] == "floor"]
    assert [(r["kind"], r["precision"]) for r in floors] == [
        ("cvar", "float64"), ("cvar", "mixed"), ("allocation", "float64"), ("allocation", "mixed")]
    assert all(r["iter_us"] > 0 and r["copy_GBps"] > 0 and r["fused"] for r in floors)


def test_gpu_check_apps_dry_run(tmp_path):
    rows = _dry_run(tmp_path, "--part", "apps", "--time-limit", "15")
    assert [r["app"] for r in rows] == ["knapsack", "portfolio-cvar-round-lots"], rows
    assert all(r["verified"] and r["status"] in ("optimal", "feasible") for r in rows), rows


def test_gpu_check_large_dry_run(tmp_path):
    rows = _dry_run(tmp_path, "--part", "large", "--time-limit", "30")
    assert rows[0]["warm_up_s"] > 0                 # the first solve of the process, apart
    kinds = rows[1:]
    assert [r["kind"] for r in kinds] == ["cvar", "allocation", "transport"], rows
    for r in kinds:
        for key in ("gpu_0.0001_first", "gpu_0.0001", "gpu_0.0001_mixed", "gpu_1e-08"):
            got = r[key]
            assert got["status"] == "optimal" and got["verified"], r
            assert got["step_raises"] >= 0 and got["step_reverts"] >= 0
            # the scaling's parts, each within the scaling's time
            parts = [got["timers"][f"scale.{k}"] for k in ("passes", "finish")]
            assert all(0 <= t <= got["timers"]["scale"] for t in parts), got["timers"]
        assert r["highs_ipm"]["time"] > 0


def test_gpu_check_makes_its_out_folder_and_refuses_unknown_parts(tmp_path):
    import pytest
    from bench import gpu_check
    with pytest.raises(SystemExit):
        gpu_check.main(["--part", "floor,nope", "--dry-run", "--out", str(tmp_path / "a")])
    out = tmp_path / "b" / "c"
    gpu_check.main(["--part", "profile", "--dry-run", "--out", str(out)])   # a CPU skip row
    assert "skipped" in (out / "gpu_check.jsonl").read_text()


def test_a_failing_part_leaves_its_error_and_last_frames_and_the_others_run(tmp_path,
                                                                             monkeypatch):
    import json as _json

    from bench import gpu_check

    def broken(args):
        raise RuntimeError("kernel launch failed")

    def fine(args):
        gpu_check._emit(args.out, "fine", ok=True)

    monkeypatch.setitem(gpu_check.PARTS, "floor", broken)
    monkeypatch.setitem(gpu_check.PARTS, "small", fine)
    assert gpu_check.main(["--part", "floor,small", "--dry-run", "--out", str(tmp_path)]) == 0
    rows = [_json.loads(s) for s in (tmp_path / "gpu_check.jsonl").read_text().splitlines()]
    assert rows[0]["error"] == "RuntimeError: kernel launch failed"
    assert any("in broken" in line for line in rows[0]["where"]), rows[0]
    assert rows[1] == {**rows[1], "part": "fine", "ok": True}


def test_gpu_check_large_splits_highs_from_gpulp(tmp_path):
    """--highs only / skip: the two halves that one device call runs side by side."""
    only = _dry_run(tmp_path / "h", "--part", "large", "--highs", "only")
    assert [r["kind"] for r in only] == ["cvar", "allocation", "transport"], only
    assert all("highs_ipm" in r and "gpu_0.0001" not in r for r in only), only
    skip = _dry_run(tmp_path / "g", "--part", "large", "--highs", "skip", "--time-limit", "30")
    assert all("highs_ipm" not in r for r in skip[1:]) and "gpu_1e-08" in skip[-1], skip


def test_gpu_check_summary_has_a_line_per_row(tmp_path, shared_instances, capsys):
    """--summary: the short table a device call prints last, one line a row, errors named,
    and rows of another version shown as they are rather than failing."""
    from bench import gpu_check
    out = tmp_path / "o"
    gpu_check.main(["--part", "floor,small", "--dry-run", "--out", str(out)])
    rows = (out / "gpu_check.jsonl").read_text().splitlines()
    with open(out / "gpu_check.jsonl", "a") as fh:
        fh.write(json.dumps({"part": "large", "error": "RuntimeError: boom"}) + "\n")
        fh.write(json.dumps({"part": "memory", "nnz": 5, "old_key": 1}) + "\n")
    capsys.readouterr()                 # the dry run's own rows
    assert gpu_check.main(["--summary", str(out / "gpu_check.jsonl")]) == 0
    text = capsys.readouterr().out.splitlines()
    assert len(text) == len(rows) + 2
    assert any(t.startswith("floor cvar float64:") and "us/iter" in t for t in text)
    assert any(t.startswith("floor allocation mixed:") and "us/iter" in t for t in text)
    assert "ERROR large: RuntimeError: boom" in text and '"old_key": 1' in text[-1]


def test_gpu_session_script_parses_and_names_real_parts():
    """bench/gpu_session.sh (one device call a stage) is valid bash, and every gpu_check part
    it asks for exists."""
    import re

    from bench import gpu_check
    script = os.path.join(ROOT, "bench", "gpu_session.sh")
    assert subprocess.run(["bash", "-n", script]).returncode == 0
    parts = {p for arg in re.findall(r"--part (\S+)", open(script).read())
             for p in arg.split(",")}
    assert parts and parts <= set(gpu_check.PARTS), parts
    assert subprocess.run(["bash", script, "9", str(ROOT)], capture_output=True).returncode == 2


def test_gpu_check_host_dry_run(tmp_path):
    """The host part times presolve's column counts and the check in one pass and in row blocks
    on each large LP, and the summary prints a line for each."""
    rows = _dry_run(tmp_path, "--part", "host")
    assert [r["kind"] for r in rows] == ["cvar", "allocation", "transport"], rows
    for r in rows:
        assert not r["blocked_one_pass"], r             # the one-pass side is never blocked
        assert all(r[f"{k}_ms_{s}"] > 0 for k in ("col_stats", "check")
                   for s in ("one_pass", "blocks")), r
    from bench.gpu_check import summary
    lines = summary([tmp_path / "gpu_check.jsonl"]).splitlines()
    assert len(lines) == 3 and all(line.startswith("host ") for line in lines), lines
