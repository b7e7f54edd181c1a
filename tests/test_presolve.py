"""gpulp.presolve: every reduction on a small LP that triggers it, random LPs (hypothesis), Netlib,
infeasible and unbounded detection, maximisation.

The reference is HiGHS: it solves the original and the reduced problem; the postsolved answer must
pass gpulp.verify.kkt_check on the original and match HiGHS's objective on the original.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpulp
from bench.solvers import solve_with_highs
from gpulp import Problem
from gpulp.presolve import PresolveResult, presolve
from gpulp.verify import kkt_check

highspy = pytest.importorskip("highspy")

INF = np.inf


def _highs(problem, solver="choose"):
    """(status, x, y, z, objective) from HiGHS, in the problem's own sense (HiGHS's signs)."""
    if problem.num_cols == 0:
        ok = bool(np.all(problem.row_lower <= 0) and np.all(problem.row_upper >= 0))
        return ("Optimal" if ok else "Infeasible"), np.zeros(0), np.zeros(problem.num_rows), \
            np.zeros(0), problem.objective_constant
    h = solve_with_highs(problem, solver=solver)
    sol = h.getSolution()
    return (h.modelStatusToString(h.getModelStatus()), np.array(sol.col_value),
            np.array(sol.row_dual), np.array(sol.col_dual),
            h.getInfo().objective_function_value)


def _roundtrip(problem, tol=1e-7):
    """Presolve, solve the reduced problem with HiGHS, postsolve; check on the original."""
    status, _, _, _, objective = _highs(problem)
    assert status == "Optimal", status
    pre = presolve(problem)
    assert pre.status in ("reduced", "solved"), (pre.status, pre.reason)
    red = pre.problem
    assert red.sense == problem.sense
    rstatus, x, y, z, _ = _highs(red)
    assert rstatus == "Optimal", rstatus
    X, Y, Z = pre.postsolve(x, y, z)
    report = kkt_check(problem, X, Y, Z, tol)
    assert report.ok, (report, pre.log)
    assert abs(problem.objective(X) - objective) <= tol * (1 + abs(objective)), \
        (problem.objective(X), objective)
    return pre


def _fired(pre):
    return {e["reduction"] for e in pre.log}


def _flip(problem):
    """The same LP as a maximisation of -c."""
    return Problem(-problem.c, problem.A, problem.row_lower, problem.row_upper, problem.col_lower,
                   problem.col_upper, objective_constant=-problem.objective_constant, sense="max")


# ---------------------------------------------------------------------------- one LP per reduction
# Each builder returns (problem, reduction that must fire). The LPs are chosen so that the bound or
# row the reduction moves is active at the optimum, which exercises the dual postsolve.
def _empty_rows():
    return Problem([1, 1], [[1, 1], [0, 0]], [1, -1], [INF, 2]), "empty_rows"


def _empty_cols():
    return Problem([1, 2, 3], [[1, 1, 0], [1, -1, 0]], [1, -1], [INF, 1],
                   [0, 0, -1], [INF, INF, 4]), "empty_cols"


def _fixed_cols():
    return Problem([1, 2, -1], [[1, 1, 1], [1, -1, 2]], [2, -INF], [INF, 3],
                   [0, 0, 1.5], [INF, INF, 1.5], objective_constant=2.0), "fixed_cols"


def _singleton_rows():
    # min 2a + b  s.t.  a >= 2 (a row), a + b >= 3: a = 2 (the row is active, y = 1), b = 1.
    return Problem([2, 1], [[1, 0], [1, 1]], [2, 3], [INF, INF]), "singleton_rows"


def _forcing_rows():
    # a + b <= 0 with a, b >= 0 forces a = b = 0; c is negative on both, so the row dual is not 0.
    return Problem([-1, -2, 1], [[1, 1, 0], [1, 0, 1], [0, 1, 1]], [-INF, 1, 1], [0, INF, INF],
                   [0, 0, 0], [INF, INF, 5]), "forcing_rows"


def _redundant_rows():
    # a + b <= 10 cannot bind with a, b in [0, 2]; the other rows keep it from being a singleton.
    return Problem([-1, -1, 1], [[1, 1, 0], [1, 0, 1], [0, 1, -1]], [-INF, 1, -INF], [10, INF, 1],
                   [0, 0, 0], [2, 2, INF]), "redundant_rows"


def _dominated_cols():
    # Raising x2 (cost 2) only lowers row 0 (no upper bound) and raises row 1 (no lower bound):
    # nothing is gained by it, so it is fixed at its lower bound 1.
    return Problem([1, 1, 2], [[1, 1, -1], [1, -1, 2]], [2, -INF], [INF, 6],
                   [0, 0, 1], [INF, INF, 4]), "dominated_cols"


def _doubleton_eqs():
    # a - 2b = 1 with b <= 1.5 active at the optimum: the bound moves to a and back.
    return Problem([-1, 0, 1], [[1, -2, 0], [1, 1, 1], [1, 0, -1]], [1, -INF, -INF],
                   [1, 10, 2], [0, 0, 0], [INF, 1.5, INF]), "doubleton_eqs"


def _col_singletons():
    # s is free and appears only in row 0 (an equation): it defines s, with y_0 = c_s / 1.
    return Problem([1, 1, 0.5], [[1, 2, 1], [1, -1, 0]], [4, -1], [4, INF],
                   [0, 0, -INF], [INF, INF, INF]), "col_singletons"


def _implied_free_col_singletons():
    # x0 (cost 1, >= 0) is a singleton of row 0: x0 >= x1 + x2. Rows 1 and 2 imply x1 in [1, 5]
    # (x1 is free), so row 0 implies x0 >= 1 and x0's own bound 0 can never bind.
    A = [[1, -1, -1, 0], [0, 1, 0, 1], [0, 1, 0, -1], [0, 1, 1, 1]]
    return Problem([1, 0, -1, 0.5], A, [0, -INF, 1, 2], [INF, 5, INF, 8],
                   [0, -INF, 0, 0], [INF, INF, 1, 1]), "implied_free_col_singletons"


def _slack_col_singletons():
    # s in [0, 3] with cost 2 only in the equation a + b + s = 5: the row becomes 2 <= a + b <= 5.
    return Problem([1, 3, 2], [[1, 1, 1], [1, -1, 0]], [5, -INF], [5, 1],
                   [0, 0, 0], [INF, INF, 3]), "slack_col_singletons"


def _parallel_rows():
    # Row 1 is -2 times row 0; their bounds intersect to 1 <= a + 2b <= 3 and the upper binds.
    return Problem([-1, -1, 1], [[1, 2, 0], [-2, -4, 0], [1, 0, 1]], [-INF, -6, 1], [4, -2, INF],
                   [0, 0, 0], [INF, INF, INF]), "parallel_rows"


def _parallel_cols():
    # Column 1 = 2 * column 0 with c_1 = 2 c_0: merged into x' = x_0 + 2 x_1 and split back.
    return Problem([1, 2, 3], [[1, 2, 1], [2, 4, -1]], [3, 1], [INF, 8],
                   [0, 0, 0], [1, 1, INF]), "parallel_cols"


BUILDERS = [_empty_rows, _empty_cols, _fixed_cols, _singleton_rows, _forcing_rows,
            _redundant_rows, _dominated_cols, _doubleton_eqs, _col_singletons,
            _implied_free_col_singletons, _slack_col_singletons, _parallel_rows, _parallel_cols]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__[1:])
@pytest.mark.parametrize("sense", ["min", "max"])
def test_each_reduction_fires_and_postsolves(build, sense):
    problem, reduction = build()
    if sense == "max":
        problem = _flip(problem)
    pre = _roundtrip(problem, tol=1e-7)
    assert reduction in _fired(pre), pre.log


def test_every_reduction_has_a_test():
    from gpulp.presolve.driver import CHEAP, EXPENSIVE
    tested = {build()[1] for build in BUILDERS}
    assert tested == {name for name, _ in CHEAP + EXPENSIVE}


def test_result_fields_and_log_shape():
    problem, _ = _doubleton_eqs()
    pre = presolve(problem)
    assert isinstance(pre, PresolveResult) and pre.reason == ""
    for key in ("rows_before", "cols_before", "nnz_before", "rows_after", "cols_after",
                "nnz_after", "passes", "time"):
        assert key in pre.stats
    assert pre.stats["rows_after"] == pre.problem.num_rows
    for entry in pre.log:
        assert set(entry) == {"pass", "reduction", "rows_removed", "cols_removed",
                              "nnz_removed", "bounds_tightened"}
        assert 1 <= entry["pass"] <= pre.stats["passes"]


def test_presolve_does_not_modify_its_input():
    for build in BUILDERS:
        problem, _ = build()
        before = problem.copy()
        presolve(problem)
        assert problem.equals(before)


def test_everything_removed_gives_solved():
    problem, _ = _forcing_rows()
    pre = presolve(problem)
    assert pre.status == "solved"
    assert pre.problem.num_rows == 0 and pre.problem.num_cols == 0
    x, y, z = pre.postsolve(np.zeros(0), np.zeros(0), np.zeros(0))
    assert kkt_check(problem, x, y, z, 1e-12).ok
    np.testing.assert_allclose(x, [0, 0, 1])
    assert problem.objective(x) == pytest.approx(pre.problem.objective_constant)
    assert problem.objective(x) == pytest.approx(_highs(problem)[4])


def test_postsolve_rejects_wrong_sizes():
    problem, _ = _doubleton_eqs()
    pre = presolve(problem)
    with pytest.raises(ValueError):
        pre.postsolve(np.zeros(pre.problem.num_cols + 1), np.zeros(pre.problem.num_rows),
                      np.zeros(pre.problem.num_cols))


def test_qp_is_returned_unchanged():
    problem = Problem([1, 1], [[1, 1]], [1], [INF], Q=np.eye(2))
    pre = presolve(problem)
    assert pre.status == "reduced" and pre.problem is problem and pre.log == []
    x, y, _ = pre.postsolve([0.5, 0.5], [1.5], [0, 0])
    np.testing.assert_allclose(x, [0.5, 0.5])
    np.testing.assert_allclose(y, [1.5])


def test_names_follow_the_surviving_rows_and_columns():
    problem, _ = _doubleton_eqs()
    problem = Problem(problem.c, problem.A, problem.row_lower, problem.row_upper,
                      problem.col_lower, problem.col_upper, row_names=["r0", "r1", "r2"],
                      col_names=["a", "b", "c"])
    pre = presolve(problem, max_passes=1)
    assert set(pre.problem.row_names) <= {"r0", "r1", "r2"}
    assert set(pre.problem.col_names) <= {"a", "b", "c"}


def test_tiny_hand_solved_cases():
    from instances.tiny import cases
    for case in cases():
        problem = case["problem"]
        if case["status"] == "optimal":
            pre = _roundtrip(problem, tol=1e-9)
            _, x, y, z, _ = _highs(pre.problem)
            X, _, _ = pre.postsolve(x, y, z)
            assert problem.objective(X) == pytest.approx(case["objective"], abs=1e-9)
        else:
            pre = presolve(problem)
            expected = "infeasible" if case["status"] == "primal_infeasible" else "unbounded"
            assert pre.status in (expected, "reduced"), (case["name"], pre.status)
            if pre.status == "reduced":
                assert _highs(pre.problem)[0] != "Optimal", case["name"]


# ---------------------------------------------------------------------------- infeasible, unbounded
@pytest.mark.parametrize("problem, where", [
    (Problem([1, 0], [[1, 1], [0, 0]], [0, 1], [4, INF]), "row 1"),
    (Problem([1, 1], [[1, 0], [1, 0], [1, 1]], [3, -INF, 0], [INF, 2, INF]), "column 0"),
    (Problem([1, 1], [[1, 1], [1, -1]], [5, -1], [INF, 1], [0, 0], [2, 2]), "row 0"),
    (Problem([1, 1, 1], [[1, 1, 1], [2, 2, 2]], [1, -INF], [INF, 1]), "row 0"),
    (Problem([1, 1], [[1, 1], [1, 0]], [2, 1], [2, 1], [0, 0], [INF, 0.5]), "row 0"),
], ids=["empty_row", "singleton_rows_cross", "activity", "parallel_rows", "fixed_then_row"])
def test_infeasible_is_detected_with_a_reason(problem, where):
    assert _highs(problem)[0] == "Infeasible"
    pre = presolve(problem)
    assert pre.status == "infeasible"
    assert where in pre.reason, pre.reason
    assert pre.problem is None
    with pytest.raises(ValueError):
        pre.postsolve([], [], [])


@pytest.mark.parametrize("problem", [
    Problem([1, -1], [[1, 0]], [0], [1], [0, 0], [INF, INF]),
    Problem([-1, 1], [[1, 1], [-1, 1]], [-INF, -INF], [INF, 2], [-INF, 0], [INF, INF]),
], ids=["empty_column", "dominated_column"])
def test_unbounded_is_detected_with_a_reason(problem):
    assert _highs(problem)[0] == "Unbounded"
    pre = presolve(problem)
    assert pre.status == "unbounded"
    assert "column" in pre.reason and "cost" in pre.reason
    assert pre.ray is not None and np.count_nonzero(pre.ray) == 1


@pytest.mark.parametrize("sense", ["min", "max"])
@pytest.mark.parametrize("problem", [
    Problem([1, -1], [[1, 0]], [0], [1], [0, 0], [INF, INF]),
    Problem([-1, 1], [[1, 1], [-1, 1]], [-INF, -INF], [INF, 2], [-INF, 0], [INF, INF]),
], ids=["empty_column", "dominated_column"])
def test_presolve_ray_is_the_certificate_without_iterations(problem, sense):
    """The column presolve names is moved alone: checked on the original, it is the answer (no
    PDHG run); a maximisation flips the cost, and so the direction."""
    if sense == "max":
        problem = Problem(-problem.c, problem.A, problem.row_lower, problem.row_upper,
                          problem.col_lower, problem.col_upper, sense="max")
    res = gpulp.solve(problem, device="cpu")
    assert res.status == "dual_infeasible" and res.verified
    assert res.iterations == 0 and "presolve" in res.message
    assert res.certificate["violation"] <= 1e-12 and res.certificate["value"] > 0
    A = problem.A.toarray()
    d = res.x
    assert np.count_nonzero(d) == 1
    c_min = problem.c if sense == "min" else -problem.c
    assert c_min @ d < 0
    assert np.all(np.where(np.isfinite(problem.row_upper), A @ d <= 0, True))
    assert np.all(np.where(np.isfinite(problem.row_lower), A @ d >= 0, True))


def test_a_presolve_ray_that_fails_the_check_falls_back_to_pdhg(monkeypatch):
    """The ray is only a candidate: one that does not hold on the original is not reported."""
    from gpulp.presolve import driver
    problem = Problem([1, -1], [[1, 0]], [0], [1], [0, 0], [INF, INF])
    real = driver.presolve

    def wrong_ray(p, *args, **kwargs):
        pre = real(p, *args, **kwargs)
        if pre.ray is not None:              # (the feasibility problem's presolve has none)
            pre.ray = -pre.ray               # the direction that worsens the objective
        return pre
    monkeypatch.setattr("gpulp.presolve.presolve", wrong_ray)
    res = gpulp.solve(problem, device="cpu")
    assert res.status == "dual_infeasible" and res.verified
    assert res.iterations > 0 and "presolve" not in res.message


def test_infeasible_set_never_becomes_optimal(shared_instances):
    for path in sorted((shared_instances / "infeasible").glob("*.mps.gz")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            problem = gpulp.read_mps(path)
        pre = presolve(problem)
        if pre.status == "reduced":
            assert _highs(pre.problem)[0] != "Optimal", path.name
        else:
            assert pre.status in ("infeasible", "unbounded"), (path.name, pre.status)


# ---------------------------------------------------------------------------- random LPs
@st.composite
def small_lps(draw):
    """Small LPs with integer data and the structures presolve looks for."""
    m = draw(st.integers(0, 7))
    n = draw(st.integers(1, 7))
    coef = st.sampled_from([-3.0, -2.0, -1.0, -0.5, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 3.0])
    A = np.array([[draw(coef) for _ in range(n)] for _ in range(m)]).reshape(m, n)
    for i in range(m):
        kind = draw(st.sampled_from(["plain", "plain", "singleton", "doubleton", "empty",
                                     "parallel"]))
        if kind == "singleton":
            A[i] = 0
            A[i, draw(st.integers(0, n - 1))] = draw(st.sampled_from([-2.0, 1.0, 3.0]))
        elif kind == "doubleton" and n >= 2:
            j, k = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
            A[i] = 0
            A[i, j], A[i, k] = draw(st.sampled_from([1.0, -2.0])), draw(st.sampled_from([1.0, 3.0]))
        elif kind == "empty":
            A[i] = 0
        elif kind == "parallel" and i > 0:
            A[i] = A[draw(st.integers(0, i - 1))] * draw(st.sampled_from([-2.0, 0.5, 1.0]))
    if n >= 2 and draw(st.booleans()):
        j, k = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
        A[:, k] = A[:, j] * draw(st.sampled_from([-2.0, 1.0, 0.5]))
    x0 = np.array([draw(st.integers(-3, 3)) for _ in range(n)], dtype=float)
    act = A @ x0
    rl, ru = np.full(m, -INF), np.full(m, INF)
    for i in range(m):
        kind = draw(st.sampled_from(["eq", "ge", "le", "ranged", "free", "maybe_infeasible"]))
        lo, hi = act[i] - draw(st.integers(0, 2)), act[i] + draw(st.integers(0, 2))
        if kind == "eq":
            rl[i] = ru[i] = act[i]
        elif kind == "ge":
            rl[i] = lo
        elif kind == "le":
            ru[i] = hi
        elif kind == "ranged":
            rl[i], ru[i] = lo, hi
        elif kind == "maybe_infeasible":
            rl[i], ru[i] = act[i] + 1, act[i] + 2
    cl, cu = np.full(n, -INF), np.full(n, INF)
    for j in range(n):
        kind = draw(st.sampled_from(["fixed", "boxed", "lower", "upper", "free", "nonneg"]))
        lo, hi = x0[j] - draw(st.integers(0, 2)), x0[j] + draw(st.integers(0, 2))
        if kind == "fixed":
            cl[j] = cu[j] = x0[j]
        elif kind == "boxed":
            cl[j], cu[j] = lo, hi
        elif kind == "lower":
            cl[j] = lo
        elif kind == "upper":
            cu[j] = hi
        elif kind == "nonneg":
            cl[j], cu[j] = min(0.0, x0[j]), max(0.0, x0[j]) + 4
    if draw(st.booleans()):
        # Dual feasible by construction (c = A'y + z with allowed signs): mostly optimal LPs.
        y0 = np.array([draw(st.integers(-2, 2)) for _ in range(m)], dtype=float)
        y0 = np.where(np.isfinite(rl), y0, np.minimum(y0, 0))
        y0 = np.where(np.isfinite(ru), y0, np.maximum(y0, 0))
        z0 = np.array([draw(st.integers(-2, 2)) for _ in range(n)], dtype=float)
        z0 = np.where(np.isfinite(cl), z0, np.minimum(z0, 0))
        z0 = np.where(np.isfinite(cu), z0, np.maximum(z0, 0))
        c = A.T @ y0 + z0
    else:
        c = np.array([draw(st.integers(-3, 3)) for _ in range(n)], dtype=float)
    problem = Problem(c, A, rl, ru, cl, cu, objective_constant=float(draw(st.integers(-2, 2))))
    return _flip(problem) if draw(st.booleans()) else problem


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_lps())
def test_random_lps_agree_with_highs(problem):
    status = _highs(problem)[0]
    pre = presolve(problem)
    if status == "Optimal":
        _roundtrip(problem, tol=1e-6)
    elif status in ("Infeasible", "Unbounded", "Primal infeasible or unbounded"):
        assert pre.status in ("infeasible", "unbounded", "reduced"), pre.status
        if pre.status == "reduced":
            assert _highs(pre.problem)[0] != "Optimal"


def test_postsolve_tolerates_an_inexact_reduced_answer():
    """A perturbed optimum of the reduced problem maps to an equally good answer on the original
    (errors grow by about the ratio of the norms that presolve reports, not more)."""
    rng = np.random.default_rng(0)
    for build in BUILDERS:
        problem, _ = build()
        pre = presolve(problem)
        _, x, y, z, _ = _highs(pre.problem)
        eps = 1e-7
        x, y, z = (v + eps * rng.standard_normal(v.size) for v in (x, y, z))
        X, Y, Z = pre.postsolve(x, y, z)
        st_ = pre.stats
        growth = max((1 + st_["b_norm_after"]) / (1 + st_["b_norm_before"]),
                     (1 + st_["c_norm_after"]) / (1 + st_["c_norm_before"]), 1.0)
        assert kkt_check(problem, X, Y, Z, 1e3 * eps * growth).ok, build.__name__


# ---------------------------------------------------------------------------- Netlib
NETLIB = ['25fv47', '80bau3b', 'adlittle', 'afiro', 'agg', 'agg2', 'bandm', 'beaconfd', 'blend',
          'bnl1', 'boeing1', 'boeing2', 'bore3d', 'brandy', 'cycle', 'd6cube', 'degen2', 'degen3',
          'etamacro', 'fffff800', 'finnis', 'fit1d', 'fit1p', 'forplan', 'gfrd-pnc', 'greenbea',
          'grow15', 'grow7', 'israel', 'kb2', 'lotfi', 'modszk1', 'pilot', 'pilot.ja', 'pilot4',
          'pilotnov', 'qap12', 'recipe', 'sc105', 'sc205', 'sc50a', 'sc50b', 'scagr25', 'scagr7',
          'scfxm1', 'scfxm2', 'scorpion', 'scrs8', 'scsd1', 'scsd6', 'sctap1', 'sctap2', 'seba',
          'share1b', 'share2b', 'shell', 'ship04l', 'ship04s', 'ship08l', 'ship08s', 'ship12s',
          'sierra', 'stair', 'standata', 'standgub', 'stocfor1', 'stocfor2', 'truss', 'vtp.base',
          'wood1p']

FAST = ['afiro', 'adlittle', 'blend', 'sc50a', 'sc105', 'kb2', 'bore3d', 'boeing2', 'scagr7',
        'vtp.base', 'recipe', 'share2b', 'stocfor1', 'lotfi', 'gfrd-pnc', 'ship04s']


def _netlib(shared_instances, reference, name):
    """The reduced problem by HiGHS's interior point method with crossover (simplex takes minutes
    on qap12), postsolve, the check on the original, and the reference objective."""
    key = f"netlib/{name}.mps.gz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        problem = gpulp.read_mps(shared_instances / key)
    pre = presolve(problem)
    assert pre.status in ("reduced", "solved"), (pre.status, pre.reason)
    status, x, y, z, _ = _highs(pre.problem, solver="ipm")
    assert status == "Optimal", status
    X, Y, Z = pre.postsolve(x, y, z)
    report = kkt_check(problem, X, Y, Z, 1e-6)
    assert report.ok, report
    f = reference[key]["objective"]
    assert abs(problem.objective(X) - f) <= 1e-6 * (1 + abs(f)), (problem.objective(X), f)


@pytest.mark.parametrize("name", FAST)
def test_netlib_fast_subset(shared_instances, reference, name):
    _netlib(shared_instances, reference, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", NETLIB)
def test_netlib_all(shared_instances, reference, name):
    _netlib(shared_instances, reference, name)


def test_large_lp_presolves_in_vectorised_time():
    """300k nonzeros (copies of a small LP that presolve removes completely) in a few seconds:
    a Python loop per row or per nonzero would take minutes."""
    import time
    base, _ = _forcing_rows()
    reps = 50000
    problem = Problem(np.tile(base.c, reps), sp.kron(sp.eye(reps), base.A, format="csr"),
                      np.tile(base.row_lower, reps), np.tile(base.row_upper, reps),
                      np.tile(base.col_lower, reps), np.tile(base.col_upper, reps))
    t = time.perf_counter()
    pre = presolve(problem)
    elapsed = time.perf_counter() - t
    assert pre.status == "solved"
    assert elapsed < 20, elapsed


def test_bench_presolve_stats_table(shared_instances, tmp_path, capsys):
    from bench.presolve_stats import main
    out = tmp_path / "presolve.md"
    files = [str(shared_instances / f"netlib/{name}.mps.gz") for name in ("afiro", "sc50a")]
    assert main(["--set", files[0], "--out", str(out)]) == 0
    text = out.read_text()
    assert "| afiro | 27 -> " in text and "**total (1)**" in text
    assert "afiro" in capsys.readouterr().out
    from bench.presolve_stats import collect, table
    rows = collect(files[1], root=shared_instances)
    assert rows[0]["name"] == "sc50a" and rows[0]["status"] in ("reduced", "solved")
    assert table(rows).count("\n") == 4


# ---------------------------------------------------------------------------- light presolve
@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__[1:])
def test_light_presolve_skips_the_costly_reductions_and_still_postsolves(build):
    """Light presolve (large problems) runs none of LIGHT_SKIP; what it does still postsolves to
    a verified optimum of the original."""
    from gpulp.presolve.driver import LIGHT_SKIP
    problem, reduction = build()
    status, _, _, _, objective = _highs(problem)
    pre = presolve(problem, light=True)
    assert pre.stats["light"] and not _fired(pre) & set(LIGHT_SKIP), pre.log
    if reduction not in LIGHT_SKIP:
        assert reduction in _fired(pre), pre.log
    if pre.status == "solved":
        X, Y, Z = pre.postsolve(np.zeros(0), np.zeros(0), np.zeros(0))
    else:
        rstatus, x, y, z, _ = _highs(pre.problem)
        assert rstatus == "Optimal", rstatus
        X, Y, Z = pre.postsolve(x, y, z)
    assert kkt_check(problem, X, Y, Z, 1e-7).ok
    assert problem.objective(X) == pytest.approx(objective, rel=1e-7, abs=1e-7)


def test_presolve_is_light_above_the_size_threshold(monkeypatch):
    from gpulp.presolve import driver
    problem, _ = _forcing_rows()
    assert not presolve(problem).stats["light"]
    monkeypatch.setattr(driver, "LIGHT_NNZ", problem.nnz - 1)
    pre = presolve(problem)
    assert pre.stats["light"] and "forcing_rows" not in _fired(pre)


@pytest.mark.parametrize("light", [False, True])
@pytest.mark.parametrize("sense", ["min", "max"])
def test_nothing_to_reduce_returns_the_problem_itself(light, sense):
    """No reduction applies: the original comes back (no copy) with an identity postsolve."""
    c = np.array([1.0, 2, 3]) * (1 if sense == "min" else -1)    # the same min form
    problem = Problem(c, [[1, 1, 1], [1, -1, 2]], [1, -INF], [INF, 4], [0, 0, 0], [5, 5, 5],
                      sense=sense)
    pre = presolve(problem, light=light)
    assert pre.status == "reduced" and pre.problem is problem and not pre.log
    x, y, z = np.array([1.0, 0, 0]), np.array([0.5, -0.25]), np.array([0.25, 0, 0])
    X, Y, Z = pre.postsolve(x, y, z)
    np.testing.assert_array_equal(X, x)
    np.testing.assert_array_equal(Y, y)
    np.testing.assert_array_equal(Z, z)
    res = gpulp.solve(problem, tol=1e-8, device="cpu")
    assert res.status == "optimal" and res.verified
    assert res.objective == pytest.approx(_highs(problem)[4], rel=1e-7, abs=1e-7)


def test_light_presolve_of_a_large_lp_nothing_reduces_never_builds_the_entry_rows(monkeypatch):
    """The light passes find nothing on the generated CVaR LP (as at 10M nonzeros) without the
    per-entry row array, a third of presolve's time there; its values still come back right
    whenever a pass asks for them. Empty and dominated columns share one pass over A."""
    from gpulp.presolve import driver
    from instances import generators
    made = []

    class Spy(driver.Work):
        def __init__(self, problem):
            super().__init__(problem)
            made.append(self)

    monkeypatch.setattr(driver, "Work", Spy)
    problem = generators.by_nnz("cvar", 20_000, seed=3)
    pre = presolve(problem, light=True)
    assert pre.status == "reduced" and pre.problem is problem and not pre.log
    assert made and made[0]._ri is None
    # nor a copy of the column indices, nor more than one pass for the column counts
    assert np.shares_memory(made[0].ci, problem.A.indices)
    assert "col_counts" not in made[0]._cache and "col_stats" in made[0]._cache
    A = problem.A.tocoo()
    np.testing.assert_array_equal(made[0].ri, A.row)       # built on demand, row-major
    np.testing.assert_array_equal(made[0].entries()[1], A.col)


@pytest.mark.parametrize("kind", ["infeasible", "optimal"])
def test_nothing_reduced_means_one_solve_on_the_original(kind, monkeypatch):
    """When presolve reduces nothing, the original itself is solved once: its answer or
    certificate is already on the original, so neither a second check nor a second solve (for
    a certificate) follows."""
    import gpulp.solver as solver
    rows = [[1.0, 1.0], [1.0, 2.0]]
    lo, hi = ([-np.inf, 5.0], [1.0, np.inf]) if kind == "infeasible" else ([-np.inf, 1.0],
                                                                          [4.0, np.inf])
    p = Problem([1.0, 1.0], rows, lo, hi, [0.0, 0.0], [10.0, 10.0])
    assert presolve(p).problem is p           # the premise: nothing to reduce
    calls = []
    real = solver._solve

    def counted(problem, *args, **kwargs):
        calls.append((problem, kwargs.get("reduced", False)))
        return real(problem, *args, **kwargs)

    monkeypatch.setattr(solver, "_solve", counted)
    res = gpulp.solve(p, device="cpu")
    assert calls == [(p, False)]
    want = gpulp.Status.PRIMAL_INFEASIBLE if kind == "infeasible" else gpulp.Status.OPTIMAL
    assert res.status == want and res.verified


@pytest.mark.parametrize("share", [0.1, 0.3, 1.0])
def test_singleton_entries_match_their_definition(share):
    """The column-singleton entries of the masked rows whose value is at least PIVOT_TOL times
    their row's largest, in entry order, whether the pass looks at the masked rows only (few
    entries there) or at every entry."""
    from gpulp.presolve.reductions import PIVOT_TOL, _singleton_entries
    from gpulp.presolve.work import Work
    rng = np.random.default_rng(11)
    m, n = 60, 200
    A = sp.random(m, n, density=0.03, random_state=3, format="csr")
    A.data = rng.choice([-1.0, 1.0], A.nnz) * np.where(rng.random(A.nnz) < 0.2, 1e-9, 1.0 +
                                                          rng.random(A.nnz))
    p = Problem(np.zeros(n), A, np.full(m, -1.0), np.full(m, 1.0), np.zeros(n), np.ones(n))
    w = Work(p)
    mask = rng.random(m) < share
    ri, ci, v = w.entries()
    rowmax = np.zeros(m)
    np.maximum.at(rowmax, ri, np.abs(v))
    want = np.flatnonzero((np.bincount(ci, minlength=n)[ci] == 1) & mask[ri]
                          & (np.abs(v) >= PIVOT_TOL * rowmax[ri]))
    got = _singleton_entries(w, mask)
    assert want.size > 0
    np.testing.assert_array_equal(got, want)
