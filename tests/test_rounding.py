"""The integer layer (gpulp.rounding): feasibility and integrality always checked, small cases
against HiGHS MIP, infeasible integer problems, the shared MIPs that are quick, the CLI path."""

import math

import numpy as np
import pytest

import gpulp
from gpulp import Problem, Status
from gpulp.options import make_options
from gpulp.rounding import _proven, check_integer, lagrangian_bound, solve_integer

highspy = pytest.importorskip("highspy")
from bench.integer import highs_mip  # noqa: E402

CPU = dict(device="cpu")


def assert_integer_answer(problem, res):
    """Every answer with a point: verified, integral, feasible, objective consistent."""
    assert res.status in (Status.OPTIMAL, Status.FEASIBLE), res.message
    assert res.x is not None and res.verified
    chk = check_integer(problem, res.x)
    assert chk.ok, chk.message
    xi = res.x[problem.integrality]
    assert np.array_equal(xi, np.round(xi))
    assert res.objective == pytest.approx(problem.objective(res.x), rel=1e-12, abs=1e-12)
    if math.isfinite(res.bound):
        assert res.mip_gap == pytest.approx(abs(res.objective - res.bound)
                                            / max(1.0, abs(res.objective)))


# ------------------------------------------------------------------------------ the check
def test_check_integer_accepts_and_rejects():
    p = Problem([1, 1], [[1, 1]], [1], [1], [0, 0], [1, 1], integrality=[True, False])
    assert check_integer(p, [1, 0]).ok
    assert check_integer(p, [1 + 1e-12, 0]).ok                    # snapped
    assert not check_integer(p, [0.5, 0.5]).ok                    # fractional integer column
    bad = check_integer(p, [1, 1e-6])                             # row violated by 1e-6
    assert not bad.ok and bad.row_violation > 1e-9
    assert not check_integer(p, [2, -1]).ok                       # column bounds
    assert not check_integer(p, [np.nan, 0]).ok


def test_lagrangian_bound_is_a_valid_bound():
    rng = np.random.default_rng(3)
    A = rng.uniform(0, 1, (5, 12))
    p = Problem(rng.uniform(1, 2, 12), A, None, A.sum(1) * 0.4, np.zeros(12), np.ones(12),
                sense="max")
    exact = gpulp.solve(p, tol=1e-8, **CPU)
    for scale in (0.0, 0.5, 1.0, 2.0):
        lb = lagrangian_bound(p, scale * exact.y)
        assert lb >= exact.objective - 1e-6          # an upper bound for a maximisation
    assert lagrangian_bound(p, exact.y) == pytest.approx(exact.objective, rel=1e-5)


def test_proven_needs_a_relative_gap_too():
    assert _proven(263.0, 262.99999, 1e-4)
    assert not _proven(0.0116, 0.01157, 1e-4)        # absolute gap small, relative 0.3%
    assert _proven(0.0, 0.0, 1e-4)


# ------------------------------------------------------------------------------ no solution
@pytest.mark.parametrize("case", ["half_sum", "even_odd", "empty_bounds"])
def test_infeasible_integer_problem_reports_no_solution(case):
    if case == "half_sum":       # x + y = 1.5, x, y in {0, 1}: the LP relaxation is feasible
        p = Problem([1, 1], [[1, 1]], [1.5], [1.5], [0, 0], [1, 1], integrality=[True, True])
    elif case == "even_odd":     # 2x - 2y = 1 with integers: LP feasible, no integer point
        p = Problem([1, 1], [[2, -2]], [1], [1], [0, 0], [5, 5], integrality=[True, True])
    else:                        # no integer inside [0.2, 0.8]
        p = Problem([1, 1], [[1, 1]], [0], [2], [0.2, 0], [0.8, 1], integrality=[True, False])
    lp = gpulp.solve(p, **CPU)
    if case != "empty_bounds":
        assert lp.status == Status.OPTIMAL          # the relaxation has solutions
    res = gpulp.solve(p, integer=True, time_limit=20, **CPU)
    assert res.status == Status.NO_SOLUTION_FOUND
    assert res.x is None and not res.verified
    assert res.message


def test_infeasible_relaxation_reports_no_solution():
    p = Problem([1, 1], [[1, 1], [1, 1]], [3, -np.inf], [np.inf, 1], [0, 0], [5, 5],
                integrality=[True, True])
    res = gpulp.solve(p, integer=True, time_limit=20, **CPU)
    assert res.status == Status.NO_SOLUTION_FOUND and res.x is None
    assert "infeasible" in res.message


def test_shared_infeasible_mip(shared_instances, reference):
    # mps-edge/infeasible.mps: its LP relaxation is optimal, HiGHS MIP says infeasible
    path = shared_instances / "mps-edge" / "infeasible.mps"
    ref = reference["mps-edge/infeasible.mps"]
    assert ref["mip_status"] == "Infeasible" and ref["status"] == "Optimal"
    res = gpulp.solve(path, integer=True, time_limit=30, **CPU)
    assert res.status == Status.NO_SOLUTION_FOUND and res.x is None


# ------------------------------------------------------------------------------ statuses
def test_integral_relaxation_is_optimal():
    # totally unimodular assignment: the relaxation's vertex is integral
    n = 4
    cost = np.arange(n * n, dtype=float).reshape(n, n) % 7 + 1
    rows = []
    for i in range(n):
        r = np.zeros((n, n)); r[i, :] = 1; rows.append(r.ravel())
    for j in range(n):
        r = np.zeros((n, n)); r[:, j] = 1; rows.append(r.ravel())
    p = Problem(cost.ravel(), np.array(rows), np.ones(2 * n), np.ones(2 * n),
                np.zeros(n * n), np.ones(n * n), integrality=np.ones(n * n, bool))
    res = gpulp.solve(p, integer=True, **CPU)
    assert_integer_answer(p, res)
    h = highs_mip(p, time_limit=30)
    assert res.objective == pytest.approx(h["objective"], rel=1e-6)
    assert res.status == Status.OPTIMAL


def test_no_integer_columns_is_a_plain_solve():
    p = Problem([1, 2], [[1, 1]], [1], [np.inf])
    res = gpulp.solve(p, integer=True, **CPU)
    assert res.status == Status.OPTIMAL and res.objective == pytest.approx(1.0, rel=1e-4)


def test_solve_integer_directly_with_options():
    p = Problem([-1, -1], [[2, 1], [1, 2]], None, [4, 4], [0, 0], [10, 10],
                integrality=[True, True])
    res = solve_integer(p, make_options(device="cpu", time_limit=20), seeds=2, dive_rounds=2)
    assert_integer_answer(p, res)
    assert res.objective == pytest.approx(-2.0)    # (1, 1); the LP optimum is -8/3
    assert res.bound == pytest.approx(-8 / 3, rel=1e-3)


# ------------------------------------------------------------------------------ against HiGHS
def _random_mip(seed):
    """Small mixed problems with covering, packing and equality rows (feasible by
    construction: a random integer point satisfies them)."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(8, 25)), int(rng.integers(3, 9))
    A = np.round(rng.uniform(-3, 5, (m, n)) * (rng.random((m, n)) < 0.6))
    ub = rng.integers(1, 6, n).astype(float)
    x0 = np.floor(rng.uniform(0, 1, n) * (ub + 1))
    integ = rng.random(n) < 0.7
    x0[~integ] = rng.uniform(0, 1, (~integ).sum()) * ub[~integ]
    act = A @ x0
    kind = rng.integers(0, 3, m)
    lo = np.where(kind == 0, -np.inf, act - np.where(kind == 2, 0, rng.uniform(0, 3, m)))
    hi = np.where(kind == 1, np.inf, act + np.where(kind == 2, 0, rng.uniform(0, 3, m)))
    c = rng.uniform(-5, 5, n)
    return Problem(c, A, lo, hi, np.zeros(n), ub, integrality=integ,
                   sense="max" if seed % 2 else "min")


@pytest.mark.parametrize("seed", range(8))
def test_small_mixed_problems_against_highs(seed):
    p = _random_mip(seed)
    h = highs_mip(p, time_limit=30)
    assert h["status"] == "Optimal"
    res = gpulp.solve(p, integer=True, time_limit=45, **CPU)
    assert_integer_answer(p, res)
    s = 1 if p.sense == "min" else -1
    # never better than the proven optimum, and within 10% of it (1 on a zero optimum)
    assert s * res.objective >= s * h["objective"] - 1e-6 * (1 + abs(h["objective"]))
    assert abs(res.objective - h["objective"]) <= 0.1 * max(1.0, abs(h["objective"]))


# ------------------------------------------------------------------------------ shared MIPs
QUICK = {"small_mip.mps.gz": 1e-6, "p01.mps.gz": 1e-6, "lseu.mps.gz": 0.25,
         "rgn.mps.gz": 1.0, "bell5.mps.gz": 0.1}


@pytest.mark.parametrize("name", sorted(QUICK))
def test_shared_mips_quick_subset(name, shared_instances, reference):
    path = shared_instances / "mip" / name
    p = gpulp.read_mps(path)
    ref = reference[f"mip/{name}"]
    res = gpulp.solve(p, integer=True, time_limit=30, **CPU)
    assert_integer_answer(p, res)
    mo = ref["mip_objective"]
    # cannot beat HiGHS's proven optimum (a check on the verification), and the gap is bounded
    assert res.objective >= mo - 1e-8 * max(1.0, abs(mo))
    assert (res.objective - mo) / max(1.0, abs(mo)) <= QUICK[name]
    assert res.bound <= mo + 1e-3 * max(1.0, abs(mo))        # the relaxation bounds the MIP


@pytest.mark.slow
def test_shared_mips_all(shared_instances, reference):
    for path in sorted((shared_instances / "mip").glob("*.mps.gz")):
        p = gpulp.read_mps(path)
        if not p.is_mip:
            continue
        res = gpulp.solve(p, integer=True, time_limit=60, **CPU)
        assert_integer_answer(p, res)
        mo = reference[f"mip/{path.name}"]["mip_objective"]
        assert res.objective >= mo - 1e-8 * max(1.0, abs(mo))


# ------------------------------------------------------------------------------ CLI
def test_cli_integer(shared_instances, capsys):
    from gpulp.cli import main
    path = shared_instances / "mip" / "small_mip.mps.gz"
    assert main(["solve", str(path), "--integer", "--quiet", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "status: optimal" in out
    assert "bound:" in out and "mip gap:" in out


def test_cli_integer_json(shared_instances, tmp_path, capsys):
    import json

    from gpulp.cli import main
    path = shared_instances / "mip" / "p01.mps.gz"
    out = tmp_path / "p01.json"
    assert main(["solve", str(path), "--integer", "--quiet", "--device", "cpu",
                 "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["status"] in ("optimal", "feasible")
    assert "bound" in data and "mip_gap" in data
    p = gpulp.read_mps(path)
    assert check_integer(p, np.array(data["x"])).ok
