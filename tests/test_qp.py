"""Convex QP: the linearised step's curvature majorant, small QPs against HiGHS (objective and
multipliers), unconstrained and bound-only QPs, and LP-like QPs whose quadratic term touches a
few columns."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import gpulp
from gpulp import Problem, Status
from gpulp.backend import NSCAL, CpuBackend
from gpulp.pdhg import _curvature_majorant
from gpulp.problem import FactorQ

from bench.solvers import solve_with_highs


def _random_psd(rng, n, density, rank):
    """A sparse PSD matrix B'B with B of `rank` sparse rows, on a random subset of columns."""
    B = sp.random(rank, n, density=density, random_state=rng.integers(1 << 30), format="csr")
    return (B.T @ B).tocsr()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 40), density=st.floats(0.02, 0.6),
       rank=st.integers(1, 12), scale=st.sampled_from([1e-3, 1.0, 1e4]))
def test_curvature_majorant_dominates_q_and_vanishes_off_its_support(seed, n, density, rank,
                                                                     scale):
    rng = np.random.default_rng(seed)
    Q = scale * _random_psd(rng, n, density, rank)
    lam = 1.01 * (np.linalg.eigvalsh(Q.toarray()).max() if Q.nnz else 0.0)
    d = _curvature_majorant(Q, lam)
    assert d.shape == (n,) and np.all(d >= 0)
    # D - Q is positive semidefinite: the linearised step tau_j = 1/(D_j + omega/eta) is safe
    assert np.linalg.eigvalsh(np.diag(d) - Q.toarray()).min() >= -1e-9 * (1 + lam)
    untouched = np.asarray(abs(Q).sum(axis=1)).ravel() == 0
    assert np.all(d[untouched] == 0.0)
    assert np.all(d <= max(2.0 * lam, lam))


def test_curvature_majorant_of_a_diagonal_q_is_the_diagonal_and_of_a_factor_q_is_its_norm():
    q = np.array([1.0, 5.0, 0.0, 0.5])
    np.testing.assert_array_equal(_curvature_majorant(sp.diags(q, format="csr"), 5.05), q)
    Fq = FactorQ(np.ones((4, 2)), np.full(4, 0.1))
    np.testing.assert_array_equal(_curvature_majorant(Fq, 8.2), np.full(4, 8.2))
    # a coupling block with small eigenvalues: Gershgorin's row sums (4) stay within 2||Q||
    B = np.zeros((5, 5))
    B[:3, :3] = np.array([[2.0, -1, -1], [-1, 2, -1], [-1, -1, 2]])   # eigenvalues 0, 3, 3
    np.testing.assert_allclose(_curvature_majorant(sp.csr_matrix(B), 3.03),
                               [4.0, 4.0, 4.0, 0.0, 0.0])
    # a dense block whose entries cancel (I + 0.03 S, S symmetric +-1): row sums near 7 against
    # ||Q|| < 2, so ||Q|| on the block's columns and 0 on the one it leaves out
    rng = np.random.default_rng(0)
    S = np.sign(rng.standard_normal((200, 200)))
    S = np.triu(S, 1) + np.triu(S, 1).T
    Q = np.zeros((201, 201))
    Q[:200, :200] = np.eye(200) + 0.03 * S
    lam = 1.01 * np.linalg.eigvalsh(Q).max()
    assert lam < 2.0 and np.abs(Q).sum(axis=1).max() > 2 * lam
    np.testing.assert_array_equal(_curvature_majorant(sp.csr_matrix(Q), lam),
                                  np.r_[np.full(200, lam), 0.0])


def test_quadratic_primal_step_uses_the_lp_step_where_q_does_not_reach():
    be = CpuBackend()
    rng = np.random.default_rng(0)
    n = 7
    x, aty, qx, c, x0 = (rng.standard_normal(n) for _ in range(5))
    lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
    scal = np.zeros(NSCAL)
    scal[0], scal[3] = 0.3, 1.0
    qd = np.array([0.0, 2.0, 0.0, 10.0, 0.0, 0.0, 1.0])
    xhat, xbar = np.zeros(n), np.zeros(n)
    be.primal_step_q(0, False, scal, x.copy(), aty, qx, qd, c, lo, hi, x0, xhat, xbar)
    tau = 0.3 / (1.0 + 0.3 * qd)
    np.testing.assert_allclose(xhat, x - tau * (c + qx - aty))
    np.testing.assert_allclose(xbar, 2 * xhat - x)


def _highs_answer(p):
    h = solve_with_highs(p)
    sol = h.getSolution()
    return (h.getInfo().objective_function_value, np.array(sol.col_value),
            np.array(sol.row_dual), np.array(sol.col_dual))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("active_set", [True, False])
def test_small_strictly_convex_qps_match_highs_objective_and_multipliers(seed, active_set):
    rng = np.random.default_rng(100 + seed)
    n, m = 25, 10
    F = rng.standard_normal((n, 4))
    Q = sp.csr_matrix(F @ F.T + np.diag(rng.uniform(0.5, 2.0, n)))
    A = sp.csr_matrix(rng.standard_normal((m, n)))
    rl = np.where(rng.random(m) < 0.3, -np.inf, -1.0)
    ru = np.where(rng.random(m) < 0.3, rl, 1.0)              # some equalities
    ru = np.where(np.isinf(rl), 1.0, ru)
    p = Problem(3 * rng.standard_normal(n), A, rl, ru, np.full(n, -0.5), np.full(n, 0.5), Q=Q)
    res = gpulp.solve(p, tol=1e-7, device="cpu", active_set=active_set)
    assert res.status == Status.OPTIMAL and res.verified
    obj, x, y, z = _highs_answer(p)
    assert res.objective == pytest.approx(obj, rel=1e-6, abs=1e-6)
    np.testing.assert_allclose(res.x, x, atol=1e-4)
    np.testing.assert_allclose(res.y, y, atol=1e-3 * (1 + np.abs(y).max()))
    np.testing.assert_allclose(res.z, z, atol=1e-3 * (1 + np.abs(z).max()))


def test_unconstrained_qp_is_the_newton_point():
    rng = np.random.default_rng(1)
    n = 12
    F = rng.standard_normal((n, n))
    Q = F @ F.T + n * np.eye(n)
    c = rng.standard_normal(n)
    p = Problem(c, sp.csr_matrix((0, n)), [], [], np.full(n, -np.inf), np.full(n, np.inf),
                Q=sp.csr_matrix(Q))
    res = gpulp.solve(p, tol=1e-9, device="cpu")
    assert res.status == Status.OPTIMAL and res.verified
    xs = -np.linalg.solve(Q, c)
    np.testing.assert_allclose(res.x, xs, atol=1e-6)
    assert res.objective == pytest.approx(0.5 * xs @ Q @ xs + c @ xs, rel=1e-9)
    np.testing.assert_allclose(res.z, 0.0, atol=1e-6)


def test_bound_constrained_qp_matches_highs():
    rng = np.random.default_rng(2)
    n = 30
    F = rng.standard_normal((n, 6))
    Q = sp.csr_matrix(F @ F.T + 0.1 * np.eye(n))
    c = 5 * rng.standard_normal(n)
    p = Problem(c, sp.csr_matrix((0, n)), [], [], np.full(n, -1.0), np.full(n, 1.0), Q=Q)
    res = gpulp.solve(p, tol=1e-8, device="cpu")
    assert res.status == Status.OPTIMAL and res.verified
    x_ref = _projected_gradient_solution(Q.toarray(), c, -1.0, 1.0)
    np.testing.assert_allclose(res.x, x_ref, atol=1e-5)
    z = c + Q @ res.x                       # reduced costs: the whole gradient (no rows)
    np.testing.assert_allclose(res.z, z, atol=1e-5)
    assert np.all(res.z[res.x > -1 + 1e-6] <= 1e-6) and np.all(res.z[res.x < 1 - 1e-6] >= -1e-6)


def _projected_gradient_solution(Q, c, lo, hi, iters=200_000):
    x = np.zeros(c.size)
    step = 1.0 / np.linalg.eigvalsh(Q).max()
    for _ in range(iters):
        nx = np.clip(x - step * (Q @ x + c), lo, hi)
        if np.max(np.abs(nx - x)) < 1e-14:
            break
        x = nx
    return x


@pytest.mark.parametrize("seed", range(3))
def test_lp_like_qp_with_a_few_quadratic_columns_matches_highs(seed):
    # the q-Netlib shape: an LP whose objective has a small quadratic term on a few columns
    rng = np.random.default_rng(200 + seed)
    m, n, k = 30, 60, 4
    A = sp.random(m, n, density=0.15, random_state=seed, format="csr") + \
        sp.csr_matrix((np.ones(m), (np.arange(m), rng.integers(0, n, m))), shape=(m, n))
    x_feas = rng.uniform(0, 1, n)
    ax = A @ x_feas
    cols = rng.choice(n, k, replace=False)
    G = rng.standard_normal((k, k))
    Q = sp.csr_matrix(_embed(G @ G.T, cols, n))
    p = Problem(rng.uniform(-1, 1, n), A, ax - rng.uniform(0, 1, m), ax + 10 * (rng.random(m) < 0.5),
                np.zeros(n), np.full(n, 2.0), Q=Q)
    obj, *_ = _highs_answer(p)
    for active_set in (True, False):
        res = gpulp.solve(p, tol=1e-6, device="cpu", active_set=active_set)
        assert res.status == Status.OPTIMAL and res.verified
        assert res.objective == pytest.approx(obj, rel=1e-5, abs=1e-5)


def _embed(B, cols, n):
    M = np.zeros((n, n))
    M[np.ix_(cols, cols)] = B
    return M


def _mm(shared_instances, name):
    import json
    folder = shared_instances / "maros-meszaros"
    ref = json.loads((folder / "reference.json").read_text())[name]["objective"]
    return gpulp.read_mps(folder / name), ref


@pytest.mark.parametrize("name", ["qshare2b.qps.gz", "qgrow22.qps.gz"])
def test_q_netlib_qps_solve_at_1e_6(shared_instances, name):
    # qshare2b: Q touches 10 of 79 columns; the curvature majorant lets the other 69 take the LP
    # step, and its degenerate optimal face needs the projected duals in polishing. qgrow22: the
    # primal weight collapses to 1e-8 without the QP floor and the primal residual stalls at 9.
    p, ref = _mm(shared_instances, name)
    res = gpulp.solve(p, tol=1e-6, time_limit=120, device="cpu")
    assert res.status == Status.OPTIMAL and res.verified
    assert res.objective == pytest.approx(ref, rel=1e-5)


def test_qgrow22_without_the_weight_floor_stalls(shared_instances):
    p, _ = _mm(shared_instances, "qgrow22.qps.gz")
    res = gpulp.solve(p, tol=1e-6, iteration_limit=60_000, device="cpu", active_set=False,
                      qp_min_primal_weight=1e-22)
    assert res.status == Status.ITERATION_LIMIT and res.primal_residual > 1.0
    res = gpulp.solve(p, tol=1e-6, iteration_limit=60_000, device="cpu", active_set=False)
    assert res.status == Status.OPTIMAL


@pytest.mark.parametrize("shape", [(3, 40), (40, 3)])
def test_lopsided_projection_is_the_weighted_least_change(shape):
    from gpulp.active_set import _lopsided_projection
    rng = np.random.default_rng(7)
    nr, nf = shape
    M = sp.csr_matrix(rng.standard_normal(shape))
    w = rng.uniform(0.5, 2.0, nr)
    if nr <= nf:
        # more equations than unknowns: the least-squares solution of M'd = s
        s = M.T @ rng.standard_normal(nr) + 0.01 * rng.standard_normal(nf)
        d = _lopsided_projection(M, s, w)
        ref = np.linalg.lstsq(M.T.toarray(), s, rcond=None)[0]
        np.testing.assert_allclose(d, ref, rtol=1e-8, atol=1e-10)
    else:
        # fewer: the solution of M'd = s nearest 0 in the weights w
        s = rng.standard_normal(nf)
        d = _lopsided_projection(M, s, w)
        np.testing.assert_allclose(M.T @ d, s, atol=1e-9)
        Winv = np.diag(1 / w)
        Md = M.toarray()
        ref = Winv @ Md @ np.linalg.solve(Md.T @ Winv @ Md, s)
        np.testing.assert_allclose(d, ref, rtol=1e-8, atol=1e-10)
