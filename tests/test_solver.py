"""gpulp.solve on hand-solved tiny LPs, edge cases, limits, options and the verification gate."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpulp
from bench.solvers import solve_with_highs
from gpulp import Problem, Status
from instances.tiny import cases

highspy = pytest.importorskip("highspy")

TINY = cases()


@pytest.mark.parametrize("case", TINY, ids=[c["name"] for c in TINY])
@pytest.mark.parametrize("tol", [1e-4, 1e-8])
def test_tiny_cases_match_hand_solutions(case, tol):
    res = gpulp.solve(case["problem"], tol=tol, device="cpu")
    assert res.status == case["status"]
    assert res.verified
    if case["status"] != Status.OPTIMAL:
        assert res.certificate is not None and res.certificate["violation"] <= 1e-6
        return
    atol = 100 * tol
    np.testing.assert_allclose(res.x, case["x"], atol=atol)
    np.testing.assert_allclose(res.y, case["y"], atol=atol)
    np.testing.assert_allclose(res.z, case["z"], atol=atol)
    assert abs(res.objective - case["objective"]) <= atol * (1 + abs(case["objective"]))
    assert max(res.primal_residual, res.dual_residual, res.gap) <= tol


@pytest.mark.parametrize("case", [c for c in TINY if c["status"] == "optimal"],
                         ids=lambda c: c["name"])
def test_tiny_hand_solutions_agree_with_highs(case):
    p = case["problem"]
    if p.num_rows == 0 or p.num_cols == 0:
        pytest.skip("HiGHS needs rows and columns for this comparison")
    h = solve_with_highs(p)
    sol = h.getSolution()
    np.testing.assert_allclose(sol.col_value, case["x"], atol=1e-9)
    np.testing.assert_allclose(sol.row_dual, case["y"], atol=1e-9)
    np.testing.assert_allclose(sol.col_dual, case["z"], atol=1e-9)
    assert h.getInfo().objective_function_value == pytest.approx(case["objective"], abs=1e-9)


def test_infeasible_certificates_are_checked_on_the_original_problem():
    from gpulp.verify import primal_infeasibility_check, dual_infeasibility_check
    for case in TINY:
        if case["status"] == "optimal":
            continue
        res = gpulp.solve(case["problem"], device="cpu")
        if res.status == Status.PRIMAL_INFEASIBLE:
            assert primal_infeasibility_check(case["problem"], res.y).ok
        else:
            assert dual_infeasibility_check(case["problem"], res.x).ok


def test_maximisation_equals_negated_minimisation():
    rng = np.random.default_rng(3)
    A = rng.uniform(0, 1, (6, 5))
    p_max = Problem(rng.uniform(1, 2, 5), A, np.full(6, -np.inf), np.ones(6), sense="max")
    p_min = Problem(-p_max.c, A, p_max.row_lower, p_max.row_upper)
    r1 = gpulp.solve(p_max, tol=1e-8, device="cpu")
    r2 = gpulp.solve(p_min, tol=1e-8, device="cpu")
    assert r1.status == r2.status == Status.OPTIMAL
    assert r1.objective == pytest.approx(-r2.objective, rel=1e-6)
    np.testing.assert_allclose(r1.y, -r2.y, atol=1e-6)


def test_objective_constant_is_included():
    p = Problem([1.0], [[1.0]], [2.0], [np.inf], objective_constant=-7.0)
    res = gpulp.solve(p, tol=1e-8, device="cpu")
    assert res.objective == pytest.approx(-5.0, abs=1e-6)


def test_equality_only_problem():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 8))
    x_feas = rng.uniform(0.5, 1.5, 8)
    p = Problem(rng.uniform(0.1, 1, 8), A, A @ x_feas, A @ x_feas)
    res = gpulp.solve(p, tol=1e-6, device="cpu")
    ref = solve_with_highs(p)
    assert res.status == Status.OPTIMAL
    assert res.objective == pytest.approx(ref.getInfo().objective_function_value, rel=1e-4)


def test_iteration_limit_and_time_limit_are_reported():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((40, 60))
    x0 = rng.uniform(0, 1, 60)
    p = Problem(rng.standard_normal(60), A, A @ x0 - 1, A @ x0 + 1, np.zeros(60), np.ones(60))
    # the crossover, at the limit, solves this LP exactly (a test below); here it is off
    res = gpulp.solve(p, tol=1e-10, iteration_limit=64, device="cpu", check_every=64,
                      crossover=False)
    assert res.status == Status.ITERATION_LIMIT and not res.verified
    assert res.iterations == 64
    res = gpulp.solve(p, tol=1e-12, time_limit=1e-3, device="cpu", active_set=False,
                      crossover=False)
    assert res.status == Status.TIME_LIMIT and not res.verified


def test_at_an_iteration_limit_the_crossover_may_still_finish_the_lp():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((40, 60))
    x0 = rng.uniform(0, 1, 60)
    p = Problem(rng.standard_normal(60), A, A @ x0 - 1, A @ x0 + 1, np.zeros(60), np.ones(60))
    res = gpulp.solve(p, tol=1e-10, iteration_limit=64, device="cpu", check_every=64)
    assert res.iterations == 64
    assert res.status == Status.OPTIMAL and res.verified and res.message == "crossover"


def test_optimal_requires_the_independent_check(monkeypatch):
    """If the check on the original problem fails, the status is never 'optimal'."""
    import gpulp.verify as verify
    from gpulp.verify import KKTReport

    def failing(problem, x, y, z, tol):      # every entry point of the check goes through _kkt
        return KKTReport(1.0, 1.0, 1.0, 0.0, 0.0, tol), np.zeros(problem.num_cols)

    monkeypatch.setattr(verify, "_kkt", failing)
    res = gpulp.solve(TINY[0]["problem"], device="cpu")
    assert res.status != Status.OPTIMAL and not res.verified


def test_bad_options_name_the_field():
    with pytest.raises(gpulp.OptionsError, match="tol"):
        gpulp.solve(TINY[0]["problem"], tol=2.0)
    with pytest.raises(gpulp.OptionsError, match="no_such_option"):
        gpulp.solve(TINY[0]["problem"], no_such_option=1)
    with pytest.raises(gpulp.OptionsError, match="device"):
        gpulp.solve(TINY[0]["problem"], device="tpu")
    with pytest.raises(gpulp.OptionsError, match="precision"):
        gpulp.solve(TINY[0]["problem"], precision="float32")


def test_gpu_request_without_gpu_is_a_clear_error_and_auto_falls_back():
    from gpulp.backend import gpu_unavailable_reason
    if gpu_unavailable_reason() is None:
        pytest.skip("a GPU is available here")
    with pytest.raises(gpulp.DeviceError, match="gpu"):
        gpulp.solve(TINY[0]["problem"], device="gpu")
    res = gpulp.solve(TINY[0]["problem"], device="auto")
    assert res.status == Status.OPTIMAL and res.device == "cpu"


def test_adaptive_step_option_solves():
    res = gpulp.solve(TINY[0]["problem"], tol=1e-6, device="cpu", step_size="adaptive")
    assert res.status == Status.OPTIMAL
    assert res.objective == pytest.approx(9.0, abs=1e-4)


def test_small_qp_matches_hand_solution():
    # min 0.5(a^2 + b^2) - a - b  s.t. a + b <= 1: a = b = 0.5, y = -0.5, objective -0.75
    p = Problem([-1.0, -1.0], [[1.0, 1.0]], [-np.inf], [1.0], [-np.inf] * 2, [np.inf] * 2,
                Q=np.eye(2))
    res = gpulp.solve(p, tol=1e-8, device="cpu")
    assert res.status == Status.OPTIMAL and res.verified
    np.testing.assert_allclose(res.x, [0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(res.y, [-0.5], atol=1e-6)
    assert res.objective == pytest.approx(-0.75, abs=1e-7)


def test_nonconvex_quadratic_is_a_clear_error():
    p = Problem([0.0, 0.0], [[1.0, 1.0]], [-1.0], [1.0], [-1, -1], [1, 1],
                Q=[[1.0, 0.0], [0.0, -2.0]])
    with pytest.raises(gpulp.NonConvexError, match="convex"):
        gpulp.solve(p, device="cpu")


def test_verbose_log_has_the_iteration_table(capsys):
    gpulp.solve(TINY[0]["problem"], device="cpu", verbose=True)
    out = capsys.readouterr().out
    for col in ("iter", "pres", "dres", "gap", "primal obj", "dual obj", "step", "weight", "rst"):
        assert col in out
    assert "phases:" in out and "iterate" in out and "verify" in out


def test_the_tables_time_counts_from_the_solves_start(monkeypatch):
    """The iteration table's time is the solve's elapsed time: it includes the work before the
    iterations (here a scaling made 0.3 s slower) and does not restart when the iteration
    resumes after an interruption (active-set polishing moments)."""
    import time

    import gpulp.solver as S
    rows = []

    class Table:
        def __call__(self, stats):
            rows.append(stats)

        def close(self):
            pass

    slow = S.compute_scaling

    def slow_scaling(*args, **kwargs):
        time.sleep(0.3)
        return slow(*args, **kwargs)

    monkeypatch.setattr(S, "IterationTable", Table)
    monkeypatch.setattr(S, "compute_scaling", slow_scaling)
    rng = np.random.default_rng(3)
    A = rng.uniform(0, 1, (40, 60))
    p = Problem(-rng.uniform(1, 2, 60), A, np.full(40, -np.inf), np.ones(40), np.zeros(60),
                np.ones(60))
    res = gpulp.solve(p, tol=1e-8, device="cpu", presolve=False, crossover=False,
                      check_every=16)
    assert res.status == Status.OPTIMAL
    assert len(rows) >= 2
    times = [r.time for r in rows]
    assert times[0] >= 0.3
    assert all(b >= a for a, b in zip(times, times[1:]))


def test_mixed_precision_is_verified_and_says_when_it_limits_the_accuracy(shared_instances):
    p = gpulp.read_mps(shared_instances / "netlib" / "afiro.mps.gz")
    plain = dict(device="cpu", crossover=False, active_set=False)
    ref = gpulp.solve(p, tol=1e-6, **plain)
    mixed = gpulp.solve(p, tol=1e-6, precision="mixed", **plain)
    assert mixed.status == ref.status == Status.OPTIMAL and mixed.verified
    assert mixed.objective == pytest.approx(ref.objective, rel=1e-5)
    # A rounded to float32 cannot give 1e-8 on the original: a clear status, never "optimal"
    tight = gpulp.solve(p, tol=1e-8, precision="mixed", time_limit=20, **plain)
    assert tight.status == Status.NUMERICAL_ERROR and not tight.verified
    assert "precision='float64'" in tight.message


def test_warm_start_from_a_solution_converges_at_once():
    rng = np.random.default_rng(7)
    A = rng.uniform(0, 1, (20, 30))
    p = Problem(-rng.uniform(1, 2, 30), A, np.full(20, -np.inf), np.ones(20), np.zeros(30),
                np.ones(30))
    cold = gpulp.solve(p, tol=1e-7, device="cpu")
    warm = gpulp.solve(p, tol=1e-7, device="cpu", x0=cold.x, y0=cold.y)
    assert cold.status == warm.status == Status.OPTIMAL
    assert warm.iterations < cold.iterations / 4
    assert warm.objective == pytest.approx(cold.objective, rel=1e-6)


def test_feasibility_polishing_reaches_its_tolerance_and_stays_verified(shared_instances):
    p = gpulp.read_mps(shared_instances / "netlib" / "sc105.mps.gz")
    # active-set polishing and the crossover off: they make sc105 exact on their own, leaving
    # nothing to polish
    off = dict(active_set=False, crossover=False)
    plain = gpulp.solve(p, tol=1e-4, device="cpu", presolve=False, **off)
    polished = gpulp.solve(p, tol=1e-4, device="cpu", presolve=False, polish=True,
                           polish_tol=1e-8, **off)
    assert plain.status == polished.status == Status.OPTIMAL and polished.verified
    assert polished.primal_residual <= 1e-8 < plain.primal_residual
    assert polished.dual_residual <= 1e-8 < plain.dual_residual
    assert polished.gap <= 1e-4 and "polish" in polished.timers


def _numpy_ruiz_pc(A, iterations=10, alpha=1.0):
    """The LP scaling's factors in plain NumPy (the definition compute_scaling's Numba passes
    must reproduce): Ruiz rounds on |A|, then Pock-Chambolle with `alpha`."""
    import scipy.sparse as sp
    m, n = A.shape
    B = abs(sp.csr_matrix(A)).astype(float)
    D1, D2 = np.ones(m), np.ones(n)

    def inv_sqrt(v):
        out = np.ones_like(v)
        out[v > 0] = 1 / np.sqrt(v[v > 0])
        return out
    for _ in range(iterations):
        d1 = inv_sqrt(B.max(axis=1).toarray().ravel())
        d2 = inv_sqrt(B.max(axis=0).toarray().ravel())
        B = sp.diags(d1) @ B @ sp.diags(d2)
        D1, D2 = D1 * d1, D2 * d2
    d1 = inv_sqrt(np.asarray(B.power(alpha).sum(axis=1)).ravel())
    d2 = inv_sqrt(np.asarray(B.power(2 - alpha).sum(axis=0)).ravel())
    return D1 * d1, D2 * d2


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_scaling_factors_match_their_numpy_definition(alpha):
    import scipy.sparse as sp

    from gpulp.scaling import compute_scaling
    rng = np.random.default_rng(7)
    A = sp.random(60, 45, density=0.1, random_state=3, format="csr")
    A.data = rng.standard_normal(A.nnz) * 10.0 ** rng.integers(-4, 5, A.nnz)
    A = sp.vstack([A, sp.csr_matrix((1, 45))]).tocsr()          # an empty row
    A = sp.hstack([A, sp.csr_matrix((61, 1))]).tocsr()          # an empty column
    sc, pair, *_ = compute_scaling(A, np.ones(46), -np.ones(61), np.ones(61),
                                   pock_chambolle_alpha=alpha)
    As = sp.csr_matrix((pair.A.data, pair.A.indices, pair.A.indptr), shape=pair.shape)
    D1, D2 = _numpy_ruiz_pc(A, alpha=alpha)
    np.testing.assert_allclose(sc.D1, D1, rtol=1e-12)
    np.testing.assert_allclose(sc.D2, D2, rtol=1e-12)
    np.testing.assert_allclose(As.toarray(), (sp.diags(D1) @ A @ sp.diags(D2)).toarray(),
                               rtol=1e-12, atol=0)


# ------------------------------------------------------------------ unbounded or infeasible
def _both_infeasible(quadratic=False, sense="min"):
    """x0 improves without limit (cost -1, no row limits it), while the row x1 >= 1 contradicts
    x1 <= 0.5: a checked primal ray exists, and no feasible point."""
    s = -1.0 if sense == "max" else 1.0
    Q = s * np.diag([0.0, 2.0]) if quadratic else None
    return Problem(s * np.array([-1.0, 0.0]), np.array([[0.0, 1.0]]), [1.0], [np.inf],
                   [0.0, 0.0], [np.inf, 0.5], Q=Q, sense=sense)


@pytest.mark.parametrize("sense", ["min", "max"])
@pytest.mark.parametrize("quadratic", [False, True])
@pytest.mark.parametrize("presolve", [True, False])
def test_a_problem_with_an_improving_ray_and_no_feasible_point_is_infeasible(quadratic, presolve,
                                                                              sense):
    """(With sense max the Farkas ray's signs flip: the feasibility problem keeps the sense.)"""
    from gpulp.verify import dual_infeasibility_check, primal_infeasibility_check
    p = _both_infeasible(quadratic, sense)
    assert dual_infeasibility_check(p, np.array([1.0, 0.0])).ok     # the ray is real
    res = gpulp.solve(p, device="cpu", presolve=presolve)
    assert res.status == Status.PRIMAL_INFEASIBLE and res.verified, (res.status, res.message)
    assert primal_infeasibility_check(p, res.y).ok
    if presolve and not quadratic:    # presolve finds the ray first; the settling step decides
        assert res.certificate["dual_infeasible"] is True
        assert "dual is infeasible too" in res.message
    assert gpulp.linprog([-1, 0], A_ub=[[0, -1]], b_ub=[-1], bounds=[(0, None), (0, 0.5)],
                         options={"device": "cpu"}).status == 2


@pytest.mark.parametrize("presolve", [True, False])
def test_unbounded_comes_with_a_checked_feasible_point(presolve):
    p = Problem(np.array([-1.0, 0.0]), np.array([[1.0, 1.0]]), [1.0], [np.inf])
    res = gpulp.solve(p, device="cpu", presolve=presolve)
    assert res.status == Status.DUAL_INFEASIBLE and res.verified
    assert res.certificate["primal_feasible"] is True
    assert res.certificate["feasibility_residual"] <= 1e-4
    assert "unbounded" in res.message
    assert "feasibility" in res.timers


def test_an_undecided_feasibility_problem_is_unbounded_or_infeasible(monkeypatch):
    """When the feasibility problem runs out of time, the ray still stands but the answer says
    unbounded OR infeasible (scipy's status 4, as for HiGHS's kUnboundedOrInfeasible)."""
    from gpulp import solver
    from gpulp.result import Result
    monkeypatch.setattr(solver, "_feasibility",
                        lambda feas, opts, t0: Result(Status.TIME_LIMIT, iterations=7))
    res = gpulp.solve(Problem(np.array([-1.0, 0.0]), np.array([[1.0, 1.0]]), [1.0], [np.inf]),
                      device="cpu")
    assert res.status == Status.DUAL_INFEASIBLE and res.verified
    assert res.certificate["primal_feasible"] is None
    assert "unbounded or infeasible" in res.message
    out = gpulp.linprog([-1, 0], A_ub=[[-1, -1]], b_ub=[-1], options={"device": "cpu"})
    assert out.status == 4 and "unbounded or infeasible" in out.message


@st.composite
def _random_lps(draw):
    """Small LPs of every status: integer data, some rows contradictory, some columns free."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m, n = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    A = np.where(rng.random((m, n)) < 0.5, rng.integers(-3, 4, (m, n)), 0).astype(float)
    x0 = rng.integers(-2, 3, n).astype(float)
    act = A @ x0
    kind = rng.integers(0, 4, m)
    rl = np.where(kind == 0, act, np.where(kind == 1, act - 1, -np.inf))
    ru = np.where(kind == 0, act, np.where(kind == 2, act + 1, np.inf))
    bad = rng.random(m) < 0.15                       # rows that may contradict the others
    rl, ru = np.where(bad, act + 1, rl), np.where(bad, np.inf, ru)
    ck = rng.integers(0, 4, n)
    cl = np.where(ck == 0, -np.inf, np.where(ck == 1, x0, x0 - 2))
    cu = np.where(ck == 2, x0 + 1, np.inf)
    c = rng.integers(-3, 4, n).astype(float)
    return Problem(c, A, rl, ru, cl, cu)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_random_lps())
def test_statuses_agree_with_highs_on_random_lps(p):
    """HiGHS (simplex) decides LPs exactly: gpulp's status must be the same class. Before the
    feasibility problem settled it, an infeasible LP with an improving ray came out
    'dual_infeasible', which linprog reported as unbounded."""
    h = solve_with_highs(p)
    hs = h.modelStatusToString(h.getModelStatus())
    res = gpulp.solve(p, device="cpu", tol=1e-6, time_limit=30)
    expected = {"Optimal": Status.OPTIMAL, "Infeasible": Status.PRIMAL_INFEASIBLE,
                "Unbounded": Status.DUAL_INFEASIBLE}[hs]
    assert res.status == expected and res.verified, (hs, res.status, res.message)
    if expected == Status.OPTIMAL:
        ref = h.getInfo().objective_function_value
        assert abs(res.objective - ref) <= 1e-5 * (1 + abs(ref))
    if expected == Status.DUAL_INFEASIBLE:
        assert res.certificate["primal_feasible"] is True


def test_a_ray_whose_value_is_rounding_error_does_not_block_the_real_one():
    """The row 4 <= 3 x2 - 2 x0 <= 5 is implied exactly by x0 = -1 and x2 >= 1 on one side, so
    y on it is a Farkas 'ray' of value 0 that rounding made 1e-16 with violation 0: relative 0 at
    any tolerance. The check on the original rejected it at every window, so the real primal ray
    (columns 1, 4, 5 along Q's null space) was never tried and the solve ran to its time limit
    (for ever without one). Shrunk from a fuzzed QP; HiGHS calls it optimal at -9.6e7."""
    from gpulp.verify import dual_infeasibility_check
    inf = np.inf
    Q = np.array([[5, 2, 1, 0, -4, 0, 1], [2, 6, 2, 6, -6, -2, 2], [1, 2, 8, 4, -4, 0, -2],
                  [0, 6, 4, 8, -6, -2, 0], [-4, -6, -4, -6, 9, 1, 2], [0, -2, 0, -2, 1, 1, -2],
                  [1, 2, -2, 0, 2, -2, 10]], dtype=float)
    p = Problem([-1, 3, -2, 1, -2, -2, -2], [[-2, 0, 3, 0, 0, 0, 0]], [4], [5],
                [-1, 2, 1, -3, -inf, 0, -2], [-1, inf, inf, -3, inf, inf, 1], Q=Q)
    d = np.array([0, 2, 0, 0, 1, 3, 0], dtype=float)      # Q d = 0, c'd = -2
    assert np.allclose(Q @ d, 0) and dual_infeasibility_check(p, d).ok
    res = gpulp.solve(p, device="cpu", tol=1e-6, time_limit=20)
    assert res.status == Status.DUAL_INFEASIBLE and res.verified, res.status
    assert res.certificate["primal_feasible"] is True
