"""The active-set step boost (cuPDLPx's "active set boost"): the restricted norm, the raise at
1e-4 and 1e-8 on an LP whose active set is small, nothing at 1e-3, and the return to the last
restart when a raised step diverges."""

import numpy as np
import pytest
import scipy.sparse as sp

import gpulp
from gpulp import pdhg
from gpulp.backend import CpuBackend
from instances.generators import by_nnz

OPTS = dict(device="cpu", crossover=False, active_set=False, time_limit=120)


class _Dev:
    def __init__(self, be, A):
        A = sp.csr_matrix(A)
        self.A, self.AT = be.matrix(A), be.matrix(A.T.tocsr())


def test_restricted_norm_is_the_largest_singular_value_of_the_masked_matrix():
    be = CpuBackend()
    rng = np.random.default_rng(0)
    A = sp.random(30, 40, density=0.3, random_state=1, format="csr")
    dev = _Dev(be, A)
    col, row = rng.random(40) < 0.5, rng.random(30) < 0.6
    exact = np.linalg.norm(A.toarray()[np.ix_(row, col)], 2)
    status, sv, k = pdhg.restricted_norm(be, dev, col, row, 2000, 1e-12, np.inf, 0)
    assert status == "ok" and k > 1
    assert sv == pytest.approx(exact, rel=1e-5)
    assert sv < 0.95 * np.linalg.norm(A.toarray(), 2)     # the masks matter
    # a lower bound above the threshold stops it early: no raise is possible
    status, low, _ = pdhg.restricted_norm(be, dev, col, row, 2000, 1e-12, 0.5 * exact, 0)
    assert status == "abort" and 0.5 * exact < low <= exact * (1 + 1e-9)
    # no free column: the restricted matrix is empty
    none = np.zeros(40, dtype=bool)
    assert pdhg.restricted_norm(be, dev, none, row, 10, 1e-6, np.inf, 0)[:2] == ("ok", 0.0)


@pytest.fixture(scope="module")
def allocation():
    return by_nnz("allocation", 2e4, seed=3)


@pytest.fixture(scope="module")
def plain_1e8(allocation):
    return gpulp.solve(allocation, tol=1e-8, step_boost=False, **OPTS)


def test_the_boost_raises_the_step_and_saves_iterations_at_1e_8(allocation, plain_1e8):
    res = gpulp.solve(allocation, tol=1e-8, **OPTS)
    assert res.success and plain_1e8.success
    assert res.step_raises >= 1 and res.step_reverts == 0
    assert plain_1e8.step_raises == 0
    # 6,784 against 10,880 iterations when written
    assert res.iterations <= 0.8 * plain_1e8.iterations
    assert res.objective == pytest.approx(plain_1e8.objective, rel=1e-7)


def test_at_1e_3_the_boost_changes_nothing_and_at_1e_4_it_helps(allocation):
    on = gpulp.solve(allocation, tol=1e-3, **OPTS)
    off = gpulp.solve(allocation, tol=1e-3, step_boost=False, **OPTS)
    assert on.success and off.success
    assert on.step_raises == 0 and on.iterations == off.iterations
    assert on.objective == off.objective
    on = gpulp.solve(allocation, tol=1e-4, **OPTS)
    off = gpulp.solve(allocation, tol=1e-4, step_boost=False, **OPTS)
    assert on.success and off.success and on.step_raises >= 1
    assert on.iterations < off.iterations          # 1,152 against 1,664 when written


def test_a_raised_step_that_diverges_returns_to_the_restart(allocation, plain_1e8, monkeypatch):
    """A norm estimate 20 times too small gives a step far past the stable one: the fixed-point
    residual grows, the solve returns to the last restart with the base step, the one before
    that first raise (twice, then the boost is off), and still ends verified at the same
    optimum."""
    real = pdhg.restricted_norm

    def too_small(be, dev, col, row, *args):
        status, sv, k = real(be, dev, col, row, *args)
        return status, (sv if col is None else sv / 20.0), k     # (None: ||A|| itself)

    monkeypatch.setattr(pdhg, "restricted_norm", too_small)
    res = gpulp.solve(allocation, tol=1e-8, **OPTS)
    assert res.success
    assert res.step_reverts >= 1
    assert res.objective == pytest.approx(plain_1e8.objective, rel=1e-7)


def test_a_second_raise_that_diverges_returns_to_the_first_raised_step(monkeypatch, caplog):
    """A right first norm estimate and a later one 20 times too small: the first raise holds, the
    second diverges, and the solve returns to its anchor with the first raised step (the one the
    iterates reached the anchor with), not with the base step; the answer is still verified.
    (This allocation LP raises twice at 1e-8 with right estimates; the module's smaller one
    once.)"""
    import logging
    import re
    real = pdhg.restricted_norm
    calls = []

    def late_too_small(be, dev, col, row, *args):
        status, sv, k = real(be, dev, col, row, *args)
        if col is not None:
            calls.append(sv)
            if len(calls) > 1:
                sv = sv / 20.0
        return status, sv, k

    monkeypatch.setattr(pdhg, "restricted_norm", late_too_small)
    with caplog.at_level(logging.INFO, logger="gpulp"):
        res = gpulp.solve(by_nnz("allocation", 5e4, seed=3), tol=1e-8, **OPTS)
    raised = [float(m) for m in re.findall(r"step [\d.e+-]+ -> ([\d.e+-]+) \(", caplog.text)]
    back = [float(m) for m in re.findall(r"back to iteration \d+ with step ([\d.e+-]+)",
                                         caplog.text)]
    assert len(raised) >= 2 and back, caplog.text
    base = float(re.search(r"step ([\d.e+-]+), window K", caplog.text).group(1))
    assert raised[0] > 1.05 * base
    assert back[0] == pytest.approx(min(raised[0], 0.7 * raised[1]), rel=1e-3)
    assert res.success and res.verified and res.step_reverts >= 1


def test_qps_and_the_adaptive_step_have_no_boost(allocation):
    rng = np.random.default_rng(4)
    n = 12
    F = rng.standard_normal((n, 3))
    Q = sp.csr_matrix(F @ F.T + 0.1 * np.eye(n))
    qp = gpulp.Problem(rng.standard_normal(n), sp.csr_matrix(np.ones((1, n))), [1.0], [1.0],
                       np.zeros(n), np.full(n, 1.0), Q=Q)
    res = gpulp.solve(qp, tol=1e-8, **OPTS)
    assert res.success and res.step_raises == 0
    res = gpulp.solve(allocation, tol=1e-8, step_size="adaptive", iteration_limit=3000, **OPTS)
    assert res.step_raises == 0
