"""Tests of the `gpulp` command line (gpulp.cli and `python -m gpulp`)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import gpulp
from gpulp.cli import HANDLERS, build_parser, main

REPO = Path(__file__).resolve().parents[1]
BROKEN = """\
NAME          BROKEN
ROWS
 N  COST
 L  LIM1
COLUMNS
    X1        COST         1.0   LIM1         1.0
    X1        LIM1       1.2.3
RHS
ENDATA
"""


def run_module(*args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                                    os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "gpulp", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


def test_info_subprocess(shared_instances):
    done = run_module("info", str(shared_instances / "netlib" / "afiro.mps.gz"))
    assert done.returncode == 0, done.stderr
    assert "AFIRO" in done.stdout
    assert "rows:" in done.stdout and " 27" in done.stdout
    assert "columns:" in done.stdout and " 32" in done.stdout
    assert "nonzeros:" in done.stdout and " 83" in done.stdout
    assert done.stderr == ""


def test_info_in_process(shared_instances, capsys):
    assert main(["info", str(shared_instances / "maros-meszaros" / "qafiro.qps.gz")]) == 0
    out = capsys.readouterr().out
    lines = dict(line.split(":", 1) for line in out.splitlines())
    assert lines["rows"].strip() == "27" and lines["columns"].strip() == "32"
    assert lines["integer columns"].strip() == "0"
    assert lines["quadratic"].strip().startswith("yes")
    for key in ("|A| range", "|c| range", "|bounds| range", "|Q| range"):
        assert lines[key].strip().startswith("[")


def test_info_mip(shared_instances, capsys):
    assert main(["info", str(shared_instances / "mip" / "bell5.mps.gz")]) == 0
    out = capsys.readouterr().out
    assert "integer columns:" in out and "quadratic:" in out and " no" in out


def test_convert_round_trip(shared_instances, tmp_path, capsys):
    source = shared_instances / "netlib" / "boeing1.mps.gz"
    target = tmp_path / "boeing1.mps"
    assert main(["convert", str(source), str(target)]) == 0
    original, converted = gpulp.read_mps(source), gpulp.read_mps(target)
    assert converted.equals(original)
    assert converted.col_names == original.col_names and converted.name == original.name


def test_warnings_go_to_stderr(shared_instances, tmp_path, capsys):
    assert main(["convert", str(shared_instances / "qp" / "2821-duplicate.mps"),
                 str(tmp_path / "out.mps.gz")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err and all(line.startswith("warning: ") for line in err)


def test_bad_file_one_error_line(tmp_path, capsys):
    path = tmp_path / "broken.mps"
    path.write_text(BROKEN)
    assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}:7: ")
    assert "1.2.3" in lines[0]
    assert captured.out == ""


def test_bad_file_subprocess(tmp_path):
    path = tmp_path / "broken.mps"
    path.write_text(BROKEN)
    done = run_module("convert", str(path), str(tmp_path / "out.mps"))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith(f"error: {path}:7: ")
    assert not (tmp_path / "out.mps").exists()


def test_missing_file(tmp_path, capsys):
    missing = tmp_path / "missing.mps"
    assert main(["info", str(missing)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {missing}: ")


def test_missing_file_subprocess(tmp_path):
    done = run_module("info", str(tmp_path / "missing.mps"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1


def test_no_command_shows_usage(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_parser_is_extensible():
    parser = build_parser()
    assert set(HANDLERS) == {"solve", "info", "convert", "demo"}
    parser.sub.add_parser("extra")
    assert parser.parse_args(["extra"]).command == "extra"


def test_cli_does_not_import_gpu_or_jit_modules(tmp_path):
    path = tmp_path / "tiny.mps"
    gpulp.write_mps(gpulp.Problem([1.0, 2.0], [[1.0, 1.0]], [1.0], [2.0]), path)
    code = ("import sys, gpulp.cli; assert gpulp.cli.main(['info', sys.argv[1]]) == 0; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cupy', 'numba')))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert gpulp.__version__ in capsys.readouterr().out


# ------------------------------------------------------------------------------ gpulp solve
def test_solve_example_prints_log_and_summary(capsys, tmp_path):
    out = tmp_path / "sol.json"
    assert main(["solve", "--example", "portfolio", "--device", "cpu", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "rows" in text and "iter" in text and "pres" in text and "phases:" in text
    assert "status: optimal" in text and "verified: True" in text
    import json
    sol = json.loads(out.read_text())
    assert sol["status"] == "optimal" and sol["verified"] and len(sol["x"]) == sol["columns"]
    p = gpulp.read_mps(gpulp.example_path("portfolio"))
    assert abs(p.objective(sol["x"]) - sol["objective"]) <= 1e-9 * (1 + abs(sol["objective"]))


def test_solve_mixed_precision_is_verified(capsys, monkeypatch):
    import gpulp.backend as B
    seen = []
    orig = B.single_values

    def spy(be, pair):
        seen.append(pair.nnz)
        return orig(be, pair)

    monkeypatch.setattr(B, "single_values", spy)
    assert main(["solve", "--example", "portfolio", "--device", "cpu", "--quiet",
                 "--precision", "mixed"]) == 0
    assert "status: optimal" in capsys.readouterr().out and seen
    with pytest.raises(SystemExit):
        main(["solve", "--example", "portfolio", "--device", "cpu", "--precision", "half"])
    assert "invalid choice: 'half'" in capsys.readouterr().err


def test_solve_quiet_infeasible_exits_zero(shared_instances, capsys):
    path = shared_instances / "infeasible" / "woodinfe.mps.gz"
    assert main(["solve", str(path), "--quiet", "--device", "cpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("status: primal_infeasible") and len(out) == 2


def test_solve_bad_input_is_one_error_line(capsys, tmp_path):
    bad = tmp_path / "bad.mps"
    bad.write_text("NAME x\nROWS\n N obj\n L r1\nCOLUMNS\n    x1 r1 1.2.3\nENDATA\n")
    assert main(["solve", str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {bad}:6: ")
    assert main(["solve", str(bad), "--tol", "7"]) == 2


def test_solve_gpu_request_without_gpu_is_an_input_error(capsys):
    from gpulp.backend import gpu_unavailable_reason
    if gpu_unavailable_reason() is None:
        pytest.skip("a GPU is available here")
    assert main(["solve", "--example", "portfolio", "--device", "gpu"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "gpu" in err[0]


def test_solve_runs_with_cupy_blocked(tmp_path):
    """The CLI and the CPU path work when importing CuPy fails."""
    code = ("import sys; sys.modules['cupy'] = None; import gpulp.cli; "
            "sys.exit(gpulp.cli.main(['solve', '--example', 'portfolio', '--quiet']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "status: optimal" in done.stdout


def test_demo_portfolio_runs_end_to_end(capsys):
    assert main(["demo", "portfolio", "--device", "cpu", "--size", "30"]) == 0
    out = capsys.readouterr().out
    assert "portfolio (mean_variance)" in out and "verified True" in out
    assert "cash" in out and "shares" in out


def test_demo_knapsack_runs_end_to_end(capsys):
    assert main(["demo", "knapsack", "--device", "cpu", "--size", "400",
                 "--time-limit", "20"]) == 0
    out = capsys.readouterr().out
    assert "knapsack:" in out and "verified True" in out


def test_solve_prints_why_and_writes_the_certificate(capsys, tmp_path):
    """An unbounded LP: the summary says how it was settled, and --json carries the
    certificate, with the verified feasible point's flag."""
    import json
    path, out = tmp_path / "unbounded.mps", tmp_path / "sol.json"
    gpulp.write_mps(gpulp.Problem([-1.0, 0.0], [[1.0, 1.0]], [1.0], [float("inf")]), path)
    assert main(["solve", str(path), "--device", "cpu", "--quiet", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "status: dual_infeasible" in text and "message: " in text and "unbounded" in text
    sol = json.loads(out.read_text())
    assert sol["certificate"]["kind"] == "dual_infeasible"
    assert sol["certificate"]["primal_feasible"] is True
