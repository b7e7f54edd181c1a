"""gpulp.solve on hand-solved tiny LPs, edge cases, limits, options and the verification gate."""

import numpy as np
import pytest

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
