"""gpulp.linprog drops in for scipy.optimize.linprog: same fields, statuses and marginals."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog as scipy_linprog

import gpulp

TOL = 1e-8


@st.composite
def feasible_lps(draw):
    """Random bounded LPs with a known feasible point (inequalities, equalities, bounds)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 7))
    mu = draw(st.integers(0, 5))
    me = draw(st.integers(0, min(2, n)))
    x_feas = rng.uniform(0.1, 2.0, n)
    A_ub = np.round(rng.uniform(-2, 2, (mu, n)), 1)
    b_ub = A_ub @ x_feas + rng.uniform(0.0, 1.0, mu)
    A_eq = np.round(rng.uniform(-2, 2, (me, n)), 1)
    b_eq = A_eq @ x_feas
    c = np.round(rng.uniform(-3, 3, n), 1)
    # boxed columns keep the problem bounded; some boxes reach below zero
    lo = np.where(rng.random(n) < 0.2, -3.0, 0.0)
    bounds = [(float(lo[j]), 3.0) for j in range(n)]
    return c, A_ub if mu else None, b_ub if mu else None, A_eq if me else None, \
        b_eq if me else None, bounds


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feasible_lps())
def test_linprog_agrees_with_scipy_highs(lp):
    c, A_ub, b_ub, A_eq, b_eq, bounds = lp
    ref = scipy_linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds,
                        method="highs")
    res = gpulp.linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds,
                        options={"tol": TOL, "device": "cpu", "time_limit": 60})
    assert ref.status == 0
    assert res.status == 0, res.message
    assert res.success and res.gpulp.verified
    scale = 1 + abs(ref.fun)
    assert abs(res.fun - ref.fun) <= 1e-5 * scale
    # The marginals are unique only for nondegenerate problems; compare them through what is
    # unique: both must certify the same optimum (complementary dual objective).
    for mine, theirs in ((res.ineqlin, ref.ineqlin), (res.eqlin, ref.eqlin)):
        assert mine.marginals.shape == theirs.marginals.shape
    y = np.concatenate([res.ineqlin.marginals, res.eqlin.marginals])
    yr = np.concatenate([ref.ineqlin.marginals, ref.eqlin.marginals])
    b = np.concatenate([b_ub if b_ub is not None else [], b_eq if b_eq is not None else []])
    lo = np.array([p[0] for p in bounds])
    hi = np.array([p[1] for p in bounds])

    def dual_obj(y, zl, zu):
        return y @ b + zl @ lo + zu @ hi

    assert dual_obj(y, res.lower.marginals, res.upper.marginals) == pytest.approx(
        dual_obj(yr, ref.lower.marginals, ref.upper.marginals), abs=1e-5 * scale)
    assert np.all(res.ineqlin.marginals <= 1e-6)   # scipy's sign: <= 0 for A_ub rows
    assert np.all(res.lower.marginals >= 0) and np.all(res.upper.marginals <= 0)


def test_linprog_marginals_match_scipy_on_a_nondegenerate_lp():
    c = [2, 3]
    A_ub = [[-1, -1], [1, -1]]
    b_ub = [-4, 2]
    ref = scipy_linprog(c, A_ub=A_ub, b_ub=b_ub, method="highs")
    res = gpulp.linprog(c, A_ub=A_ub, b_ub=b_ub, options={"tol": TOL, "device": "cpu"})
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
    np.testing.assert_allclose(res.ineqlin.marginals, ref.ineqlin.marginals, atol=1e-6)
    np.testing.assert_allclose(res.lower.marginals, ref.lower.marginals, atol=1e-6)
    np.testing.assert_allclose(res.slack, ref.slack, atol=1e-6)
    assert res.nit > 0 and isinstance(res.message, str)


def test_linprog_statuses():
    infeasible = gpulp.linprog([1, 1], A_ub=[[1, 1], [-1, -1]], b_ub=[1, -3],
                               options={"device": "cpu"})
    assert infeasible.status == 2 and not infeasible.success
    unbounded = gpulp.linprog([-1, 0], A_ub=[[1, -1]], b_ub=[1], options={"device": "cpu"})
    assert unbounded.status == 3
    limited = gpulp.linprog([-1, -2], A_ub=[[1, 1]], b_ub=[4], bounds=(0, 3),
                            options={"device": "cpu", "maxiter": 64, "tol": 1e-12,
                                     "check_every": 64})
    assert limited.status in (0, 1)


def test_linprog_rejects_unsupported_arguments():
    with pytest.raises(gpulp.OptionsError):
        gpulp.linprog([1], method="simplex")
    with pytest.raises(gpulp.OptionsError):
        gpulp.linprog([1], integrality=[1])


@pytest.mark.parametrize("kw, message", [
    (dict(c=[1j, 1.0], A_ub=[[1.0, 1.0]], b_ub=[1.0]), "c must be real numbers, got complex"),
    (dict(c=[1.0, 1.0], A_ub=np.array([[1j, 1.0]]), b_ub=[1.0]), "A_ub must be real numbers"),
    (dict(c=[1.0, 1.0], A_eq=sp.csr_matrix(np.array([[1j, 1.0]])), b_eq=[1.0]),
     "A_eq must be real numbers"),
    (dict(c=[1.0, 1.0], A_ub=[[1.0, 1.0]], b_ub=["x"]), "b_ub must be real numbers"),
    (dict(c=[1.0, 1.0], bounds=[(0, "a")] * 2), "bounds must be real numbers"),
])
def test_linprog_bad_numbers_are_a_value_error_that_names_the_argument(kw, message):
    # scipy raises ValueError for bad input; NumPy alone would drop an imaginary part with a
    # warning, which would solve a different LP
    with pytest.raises(ValueError, match=message):
        gpulp.linprog(**kw)
