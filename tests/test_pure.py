"""Pure functions on synthetic inputs: restart rule, PID primal weight, termination, scaling."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from gpulp.restart import pid_init, pid_update, restart_reason
from gpulp.scaling import compute_scaling, finite_norm
from gpulp.termination import IterationStats, converged, infeasibility_candidate

RULE = dict(sufficient=0.2, necessary=0.5, artificial=0.36)


def test_restart_sufficient_necessary_artificial_and_none():
    assert restart_reason(0.19, 1.0, 0.5, 64, 1000, **RULE) == "sufficient"
    assert restart_reason(0.45, 1.0, 0.40, 64, 1000, **RULE) == "necessary"   # rising
    assert restart_reason(0.45, 1.0, 0.50, 64, 1000, **RULE) is None          # still falling
    assert restart_reason(0.9, 1.0, 0.8, 400, 1000, **RULE) == "artificial"
    assert restart_reason(0.9, 1.0, 0.8, 100, 1000, **RULE) is None
    assert restart_reason(0.1, math.nan, math.inf, 64, 64, **RULE) == "artificial"


def test_pid_moves_weight_toward_balance_and_falls_back():
    s = pid_init(1.0)
    # x moved 100x farther than y: the weight falls (omega ~ ||dy|| / ||dx|| balances them)
    s1 = pid_update(s, 100.0, 1.0, 1e-3, 1e-3, 0.99, 0.01, 0.0, 0.3)
    assert math.exp(s1.log_weight) == pytest.approx(1 / 100, rel=1e-9)   # (Kp + Ki) e = log 100
    s2 = pid_update(s1, 1.0, 100.0, 1e-3, 1e-3, 0.99, 0.01, 0.0, 0.3)
    assert s2.log_weight > s1.log_weight
    # a displacement outside [1e-16, 1e12] resets to the best weight seen and clears the state
    s3 = pid_update(s2, 0.0, 1.0, 1e-3, 1e-3, 0.99, 0.01, 0.0, 0.3)
    assert s3.log_weight == s2.best_log_weight and s3.integral == 0.0
    # a residual ratio outside [1e-8, 1e8] does too
    s4 = pid_update(s2, 1.0, 2.0, 1e-12, 1.0, 0.99, 0.01, 0.0, 0.3)
    assert s4.log_weight == s2.best_log_weight
    # an exactly zero residual (every column boxed) does not stop the controller
    s5 = pid_update(s, 100.0, 1.0, 1e-3, 0.0, 0.99, 0.01, 0.0, 0.3)
    assert math.exp(s5.log_weight) == pytest.approx(1 / 100, rel=1e-9)


def test_pid_weight_floor():
    # the QP floor: the weight stops at exp(min_log_weight) however far x moves
    s = pid_init(1.0)
    for _ in range(5):
        s = pid_update(s, 1e12, 1.0, 1e-3, 1e-3, 0.99, 0.01, 0.0, 0.3,
                       min_log_weight=math.log(1e-4))
        assert s.log_weight >= math.log(1e-4) - 1e-12
    assert math.exp(s.log_weight) == pytest.approx(1e-4)
    # without it the same moves take the weight far below
    u = pid_init(1.0)
    for _ in range(5):
        u = pid_update(u, 1e12, 1.0, 1e-3, 1e-3, 0.99, 0.01, 0.0, 0.3)
    assert u.log_weight < math.log(1e-10)


def _stats(**kw):
    base = dict(iteration=64, time=0.1, primal_residual=1.0, dual_residual=1.0, gap=1.0,
                primal_objective=0.0, dual_objective=0.0, fixed_point_residual=1.0,
                dx_anchor=1.0, dy_anchor=1.0, primal_ray_violation=math.inf,
                dual_ray_violation=math.inf)
    base.update(kw)
    return IterationStats(**base)


def test_termination_needs_all_three_measures():
    assert converged(_stats(primal_residual=1e-5, dual_residual=1e-5, gap=1e-5), 1e-4)
    assert not converged(_stats(primal_residual=1e-5, dual_residual=1e-3, gap=1e-5), 1e-4)
    assert not converged(_stats(primal_residual=1e-5, dual_residual=1e-5, gap=2e-4), 1e-4)
    assert not _stats(gap=math.nan).finite()


def test_infeasibility_candidates():
    assert infeasibility_candidate(_stats(dual_ray_violation=1e-9), 1e-8) == "primal_infeasible"
    assert infeasibility_candidate(_stats(primal_ray_violation=1e-9), 1e-8) == "dual_infeasible"
    assert infeasibility_candidate(_stats(primal_ray_violation=1e-3), 1e-8) is None


def test_scaling_equilibrates_and_unscales_exactly():
    rng = np.random.default_rng(0)
    A = sp.random(30, 40, density=0.2, random_state=1, format="csr")
    A.data = A.data * 10.0 ** rng.uniform(-4, 4, A.nnz)
    A = sp.vstack([A, sp.csr_matrix((1, 40))]).tocsr()        # an empty row
    c = rng.standard_normal(40)
    rl = np.where(rng.random(31) < 0.5, -np.inf, rng.standard_normal(31))
    ru = rl + 1.0
    sc, pair, cs, rls, rus, _ = compute_scaling(A, c, rl, ru)
    As = sp.csr_matrix((pair.A.data, pair.A.indices, pair.A.indptr), shape=pair.shape)
    dense = A.toarray()
    np.testing.assert_allclose(As.toarray(), sc.D1[:, None] * dense * sc.D2[None, :])
    # Pock-Chambolle with alpha = 1 guarantees ||A~||_2 <= 1; Ruiz flattens the spread
    assert np.linalg.norm(As.toarray(), 2) <= 1 + 1e-12
    mags = np.abs(As.data)
    assert mags.max() / mags.min() < np.abs(A.data).max() / np.abs(A.data).min()
    assert sc.D1[-1] == 1.0                                    # empty rows keep factor 1
    np.testing.assert_allclose(cs, sc.theta_c * sc.D2 * c)
    np.testing.assert_allclose(rls, sc.theta_b * sc.D1 * rl)
    x = rng.standard_normal(40)
    np.testing.assert_allclose(sc.unscale_x(sc.theta_b * x / sc.D2), x)
    assert sc.theta_b == pytest.approx(1 / (1 + finite_norm(sc.D1 * rl, sc.D1 * ru)))


def test_finite_norm_counts_equalities_once():
    lo = np.array([1.0, -np.inf, 2.0])
    hi = np.array([1.0, 3.0, np.inf])
    assert finite_norm(lo, hi) == pytest.approx(math.sqrt(1 + 9 + 4))


def test_pid_balance_bound_is_a_parameter():
    """Residuals 5 decades apart: within the LP bound (8), the controller moves on; with the QP
    bound (4), it returns to the best-balanced weight seen once the weight has wandered more
    than 1e3 times away from it, and not before."""
    s = pid_init(1.0)
    s = pid_update(s, 1.0, 1.0, 1e-3, 1e-3, 0.99, 0.01, 0.0, 0.3)        # best: balanced, w = 1
    near = pid_update(s, 1.0, 100.0, 1e-6, 1e-1, 0.99, 0.01, 0.0, 0.3, max_decades=4.0)
    assert near.log_weight > s.log_weight            # 100x away: the controller moves on
    far = s
    for _ in range(3):                              # dy 1e4 x dx: the weight grows past 1e3
        far = pid_update(far, 1.0, 1e4, 1e-3, 1e-3, 0.99, 0.01, 0.0, 0.3)
    assert far.log_weight - far.best_log_weight > math.log(1e3)
    lp = pid_update(far, 1.0, 100.0, 1e-6, 1e-1, 0.99, 0.01, 0.0, 0.3)
    assert lp.log_weight != far.best_log_weight and lp.integral != 0.0   # a PID step
    qp = pid_update(far, 1.0, 100.0, 1e-6, 1e-1, 0.99, 0.01, 0.0, 0.3, max_decades=4.0)
    assert qp.log_weight == far.best_log_weight and qp.integral == 0.0
    # 8 decades or more: the old rule whatever max_decades says
    assert pid_update(far, 1.0, 100.0, 1e-12, 1.0, 0.99, 0.01, 0.0, 0.3,
                      max_decades=20.0).log_weight == far.best_log_weight


def test_qp_balance_bound_reaches_the_controller(monkeypatch):
    """The engine passes qp_balance_decades to the controller for a QP and 8 for an LP."""
    import gpulp
    import gpulp.pdhg as pdhg_mod
    from gpulp import Problem
    seen = []
    real = pdhg_mod.pid_update

    def spy(*args, **kw):
        seen.append(kw.get("max_decades"))
        return real(*args, **kw)

    monkeypatch.setattr(pdhg_mod, "pid_update", spy)
    A = sp.csr_matrix(np.array([[1.0, 1.0, 1.0]]))
    lp = Problem(np.array([1.0, 2.0, 3.0]), A, [1.0], [1.0], np.zeros(3), np.full(3, np.inf))
    qp = Problem(np.array([1.0, 2.0, 3.0]), A, [1.0], [1.0], np.zeros(3), np.full(3, np.inf),
                 Q=sp.identity(3, format="csr"))
    for p, want in ((lp, 8.0), (qp, 2.5)):
        seen.clear()
        gpulp.solve(p, tol=1e-10, device="cpu", presolve=False, active_set=False,
                    crossover=False, iteration_limit=20000, qp_balance_decades=2.5)
        assert seen and set(seen) == {want}
