"""Active-set polishing (gpulp/active_set.py): exact answers from approximate ones, never an
unverified one."""

import numpy as np
import pytest
import scipy.sparse as sp

import gpulp
from bench.solvers import solve_with_highs
from gpulp import Problem, Status
from gpulp.active_set import ActiveSetPolisher
from gpulp.problem import FactorQ
from gpulp.verify import kkt_check

highspy = pytest.importorskip("highspy")


def _random_lp(seed, m=30, n=50, sense="min"):
    rng = np.random.default_rng(seed)
    A = sp.random(m, n, density=0.3, random_state=rng, format="csr")
    x0 = rng.uniform(0, 1, n)
    act = A @ x0
    rl = np.where(rng.random(m) < 0.3, act, act - rng.uniform(0.1, 1, m))
    ru = np.where(rng.random(m) < 0.5, np.inf, act + rng.uniform(0.1, 1, m))
    eq = rng.random(m) < 0.2
    rl[eq] = ru[eq] = act[eq]
    lo = np.where(rng.random(n) < 0.2, -np.inf, 0.0)
    hi = np.where(rng.random(n) < 0.5, 2.0, np.inf)
    return Problem(rng.standard_normal(n), A, rl, ru, lo, hi, sense=sense)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("sense", ["min", "max"])
def test_polish_turns_a_rough_lp_answer_exact_and_matches_highs(seed, sense):
    p = _random_lp(seed, sense=sense)
    h = solve_with_highs(p)
    if h.modelStatusToString(h.getModelStatus()) != "Optimal":
        pytest.skip("the random LP is not bounded")
    rough = gpulp.solve(p, tol=1e-5, device="cpu", presolve=False, active_set=False,
                        crossover=False)
    assert rough.status == Status.OPTIMAL
    out = ActiveSetPolisher(p).attempt(rough.x, rough.y, rough.z, 1e-9)
    assert out is not None
    rep = kkt_check(p, out.x, out.y, out.z, 1e-9)
    assert rep.ok and max(rep.primal_residual, rep.dual_residual, rep.gap) <= 1e-9
    obj = h.getInfo().objective_function_value
    assert rep.primal_objective == pytest.approx(obj, rel=1e-8, abs=1e-8)


def test_projection_keeps_a_non_vertex_optimum_and_makes_it_exact():
    # min x1 + x2 s.t. x1 + x2 >= 1, 0 <= x <= 1: the optimal face is a segment. A square KKT
    # solve moves to a vertex; the projection stays at the nearest point of the face.
    A = sp.csr_matrix(np.array([[1.0, 1.0]]))
    p = Problem(np.array([1.0, 1.0]), A, np.array([1.0]), np.array([np.inf]), np.zeros(2),
                np.ones(2))
    x = np.array([0.3 + 1e-5, 0.7 - 3e-5])
    out = ActiveSetPolisher(p).attempt(x, np.array([1.0 + 2e-5]), np.array([1e-5, -2e-5]),
                                       1e-12, rules=("project",))
    assert out is not None
    assert out.x.sum() == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(out.x, x, atol=3e-5)   # the nearby point, not a vertex
    np.testing.assert_allclose(out.y, [1.0], atol=1e-12)
    assert out.report.gap <= 1e-15


def _degenerate_transport(seed, k=12):
    """A transport LP with integer costs in {1, 2}: many optimal solutions (dual degenerate)
    and balanced supplies (primal degenerate)."""
    rng = np.random.default_rng(seed)
    supply = rng.integers(1, 5, k).astype(float)
    demand = np.full(k, supply.sum() / k)
    rows, cols = [], []
    for i in range(k):
        for j in range(k):
            rows += [i, k + j]
            cols += [i * k + j] * 2
    A = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(2 * k, k * k))
    b = np.concatenate([supply, demand])
    return Problem(rng.integers(1, 3, k * k).astype(float), A, b, b, np.zeros(k * k),
                   np.full(k * k, np.inf))


@pytest.mark.parametrize("seed", range(3))
def test_projection_polishes_a_degenerate_lp_from_1e_4(seed):
    p = _degenerate_transport(seed)
    rough = gpulp.solve(p, tol=1e-4, device="cpu", presolve=False, active_set=False,
                        crossover=False)
    assert rough.status == Status.OPTIMAL
    out = ActiveSetPolisher(p).attempt(rough.x, rough.y, rough.z, 1e-10, rules=("project",))
    assert out is not None and out.report.ok
    obj = solve_with_highs(p).getInfo().objective_function_value
    assert out.report.primal_objective == pytest.approx(obj, rel=1e-10)


def test_solve_at_1e_8_uses_it_and_says_so():
    # on an LP, only with the crossover (which takes its place there) off
    p = _random_lp(7)
    res = gpulp.solve(p, tol=1e-8, device="cpu", presolve=False, crossover=False)
    assert res.status == Status.OPTIMAL and res.verified
    assert res.message == "active-set polished"
    off = gpulp.solve(p, tol=1e-8, device="cpu", presolve=False, active_set=False,
                      crossover=False)
    assert off.message != "active-set polished"
    assert off.objective == pytest.approx(res.objective, rel=1e-6, abs=1e-6)


def test_garbage_points_give_none_or_a_verified_answer():
    p = _random_lp(3)
    ap = ActiveSetPolisher(p)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.normal(0, 5, p.num_cols)
        y = rng.normal(0, 5, p.num_rows)
        z = rng.normal(0, 5, p.num_cols)
        out = ap.attempt(x, y, z, 1e-9)
        if out is not None:
            assert kkt_check(p, out.x, out.y, out.z, 1e-9).ok


def test_an_infeasible_lp_never_gets_a_polished_answer():
    # x1 + x2 <= 1 and x1 + x2 >= 2
    A = sp.csr_matrix(np.array([[1.0, 1.0], [1.0, 1.0]]))
    p = Problem(np.array([1.0, 1.0]), A, np.array([-np.inf, 2.0]), np.array([1.0, np.inf]),
                np.zeros(2), np.full(2, np.inf))
    out = ActiveSetPolisher(p).attempt(np.array([0.5, 0.5]), np.array([-1.0, 1.0]),
                                       np.zeros(2), 1e-6)
    assert out is None
    res = gpulp.solve(p, device="cpu", presolve=False)
    assert res.status == Status.PRIMAL_INFEASIBLE


def test_qp_polish_matches_highs_objective_and_duals():
    rng = np.random.default_rng(5)
    n, m = 40, 15
    F = rng.standard_normal((n, 5))
    Q = sp.csr_matrix(F @ F.T + np.diag(rng.uniform(0.1, 1, n)))
    A = sp.csr_matrix(rng.standard_normal((m, n)))
    p = Problem(rng.standard_normal(n), A, np.full(m, -1.0), np.full(m, 1.0), np.full(n, -0.3),
                np.full(n, 0.3), Q=Q)
    rough = gpulp.solve(p, tol=1e-3, device="cpu", presolve=False, active_set=False)
    out = ActiveSetPolisher(p).attempt(rough.x, rough.y, rough.z, 1e-10)
    assert out is not None
    h = solve_with_highs(p)
    sol = h.getSolution()
    assert out.report.primal_objective == pytest.approx(h.getInfo().objective_function_value,
                                                        rel=1e-8)
    np.testing.assert_allclose(out.x, sol.col_value, atol=1e-6)
    np.testing.assert_allclose(out.y, sol.row_dual, atol=1e-6)


def test_factor_q_is_formed_when_small_and_skipped_when_large():
    rng = np.random.default_rng(2)
    n = 30
    Fm = rng.standard_normal((n, 3)) * 0.1
    p = Problem(-rng.uniform(0, 1, n), sp.csr_matrix(np.ones((1, n))), np.array([1.0]),
                np.array([1.0]), np.zeros(n), np.full(n, 0.2), Q=FactorQ(Fm, np.full(n, 0.01)))
    res = gpulp.solve(p, tol=1e-9, device="cpu", presolve=False)
    assert res.status == Status.OPTIMAL and res.verified
    assert ActiveSetPolisher(p).applicable
    assert not ActiveSetPolisher(p, max_nnz=100).applicable


def test_switched_off_by_option_and_by_size():
    p = _random_lp(1)
    assert gpulp.solve(p, tol=1e-8, device="cpu", presolve=False,
                       active_set_max_dim=10).message != "active-set polished"
    with pytest.raises(gpulp.errors.GpulpError):
        gpulp.solve(p, active_set_max_dim=-1)
    # and by nonzeros: at the cap it polishes, one below it leaves the LP to PDHG
    kw = dict(tol=1e-8, device="cpu", presolve=False, crossover=False)
    assert gpulp.solve(p, active_set_max_nnz=p.nnz, **kw).message == "active-set polished"
    below = gpulp.solve(p, active_set_max_nnz=p.nnz - 1, **kw)
    assert below.verified and below.message != "active-set polished"


def _convex_fit(n, seed):
    """liswet-like: the nearest convex sequence to noisy concave data, min 0.5||x||^2 - d'x
    s.t. x_i - 2 x_(i+1) + x_(i+2) >= 0. Nearly every row is active at the optimum, and the
    multipliers span five orders of magnitude."""
    rng = np.random.default_rng(seed)
    data = np.sin(3 * np.linspace(0, 1, n)) + 0.05 * rng.standard_normal(n)
    A = sp.diags([np.ones(n - 2), -2 * np.ones(n - 2), np.ones(n - 2)], [0, 1, 2],
                 shape=(n - 2, n), format="csr")
    return Problem(-data, A, np.zeros(n - 2), np.full(n - 2, np.inf), np.full(n, -np.inf),
                   np.full(n, np.inf), Q=sp.identity(n, format="csr"))


@pytest.mark.parametrize("seed", range(2))
def test_growing_corrections_finish_where_full_swaps_cycle(seed):
    # from a 1e-2 point, full primal-dual active-set swaps cycle on this family; the growing
    # mode (add violated rows only, release only the worst multipliers) reaches the optimum
    p = _convex_fit(2000, seed)
    rough = gpulp.solve(p, tol=1e-2, device="cpu", active_set=False)
    out = ActiveSetPolisher(p, max_rounds=30).attempt(rough.x, rough.y, rough.z, 1e-6,
                                                      rules=("compare",))
    assert out is not None and out.report.ok
    h = solve_with_highs(p)
    assert out.report.primal_objective == pytest.approx(h.getInfo().objective_function_value,
                                                        rel=1e-6)


def test_a_later_attempt_resumes_the_corrections_of_an_earlier_one():
    p = _convex_fit(2000, 0)
    # the controller's LP balance bound keeps the rough point this test was built on
    rough = gpulp.solve(p, tol=1e-2, device="cpu", active_set=False, qp_balance_decades=8.0)
    ap = ActiveSetPolisher(p, max_rounds=6)
    outs = [ap.attempt(rough.x, rough.y, rough.z, 1e-6, rules=("compare",)) for _ in range(6)]
    assert outs[0] is None                      # six rounds are not enough from this point
    assert any(o is not None and o.report.ok for o in outs[1:])


def test_saddle_point_systems_get_the_symmetric_factorisation():
    """A quasi-definite KKT matrix is factorised in SuperLU's symmetric mode (row and column
    orders equal), which keeps its fill low, and the factor solves it stably."""
    from gpulp.active_set import _factor
    nf, nr = 600, 300
    Q = sp.diags([np.full(nf - 1, -1.0), np.full(nf, 2.5), np.full(nf - 1, -1.0)], [-1, 0, 1])
    A = sp.random(nr, nf, density=0.005, random_state=2)
    K = sp.bmat([[Q, A.T], [A, -1e-9 * sp.eye(nr)]], format="csc")
    lu = _factor(K)
    assert np.array_equal(lu.perm_r, lu.perm_c)
    b = np.sin(np.arange(nf + nr))
    v = lu.solve(b)       # rows of A that are empty make K nearly singular: a backward error
    bound = 1e-10 * (np.max(abs(K).sum(axis=1)) * np.max(np.abs(v)) + np.max(np.abs(b)))
    assert np.max(np.abs(K @ v - b)) <= bound


def test_an_unstable_symmetric_order_falls_back_to_pivoting():
    """Blocks [[1e-12, 1], [1, -1e-12]] with the tiny entry taken first as a pivot grow by
    1e12: the backward-error check must catch it and the partial-pivoting factor solve it."""
    import scipy.sparse.linalg as spla

    from gpulp.active_set import _factor, _stable
    block = sp.csr_matrix(np.array([[1e-12, 1.0], [1.0, -1e-12]]))
    K = sp.block_diag([block] * 400, format="csc")
    sym = spla.splu(K, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                    options=dict(SymmetricMode=True))
    assert not _stable(K, sym)
    lu = _factor(K)
    b = np.arange(800.0)
    assert np.max(np.abs(K @ lu.solve(b) - b)) <= 1e-9 * np.max(b)


def test_progressing_is_set_when_time_runs_out_while_corrections_shrink(monkeypatch, caplog):
    """`progressing` (the solver then gives the polisher its next attempt at once) is True only
    when an attempt ran out of time and its last correction changed fewer states than the one
    before. A fake clock, one second per reading, makes the cut-off deterministic."""
    import logging
    import re
    import types

    import gpulp.active_set as as_mod
    p = _convex_fit(2000, 0)
    rough = gpulp.solve(p, tol=1e-2, device="cpu", active_set=False, qp_balance_decades=8.0)
    clock = iter(range(10**6))
    monkeypatch.setattr(as_mod, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    ap = ActiveSetPolisher(p, max_rounds=30)
    with caplog.at_level(logging.DEBUG, logger="gpulp"):
        out = ap.attempt(rough.x, rough.y, rough.z, 1e-6, deadline=12, rules=("compare",))
    assert out is None
    changes = [int(c) for c in re.findall(r"; (\d+) changes", caplog.text)]
    assert len(changes) >= 2
    assert ap.progressing == (changes[-1] < changes[-2])
    assert ap.progressing            # from this point the corrections shrink
    # no time at all: no rounds, nothing learned
    ap.attempt(rough.x, rough.y, rough.z, 1e-6, deadline=-1, rules=("compare",))
    assert not ap.progressing
