"""gpulp.apps: the knapsack allocation and the portfolio, on the CPU path; integer answers are
always checked integral and feasible, and small cases are compared against HiGHS MIP."""

import math

import numpy as np
import pytest

from gpulp import Status
from gpulp.apps import knapsack, portfolio
from gpulp.rounding import check_integer

highspy = pytest.importorskip("highspy")
from bench.integer import highs_mip, portfolio_instance  # noqa: E402

CPU = dict(device="cpu")


# ============================================================================== knapsack
def _knapsack_data(seed, n=None, R=None):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 80)) if n is None else n
    R = int(rng.integers(1, 5)) if R is None else R
    v = rng.uniform(1, 10, n)
    W = rng.uniform(0, 1, (R, n)) * (rng.random((R, n)) < 0.7)
    cap = W.sum(1) * rng.uniform(0.2, 0.5, R)
    return v, W, cap, rng


def _check_knapsack(res, problem):
    assert res.status in (Status.OPTIMAL, Status.FEASIBLE)
    assert res.verified and check_integer(problem, res.x).ok
    assert np.array_equal(res.x, np.round(res.x))
    assert res.value == pytest.approx(float(problem.c @ res.x))
    assert np.all(res.resource_use <= res.capacity * (1 + 1e-9) + 1e-9)
    assert res.bound >= res.value - 1e-6 * max(1, res.value)      # the relaxation bounds it


@pytest.mark.parametrize("seed", range(6))
def test_knapsack_against_highs(seed):
    v, W, cap, rng = _knapsack_data(seed)
    n = v.size
    groups = rng.integers(-1, n // 4, n) if seed % 2 else None
    upper = 1 if seed % 3 else rng.integers(1, 4, n)
    problem, _ = knapsack.build_problem(v, W, cap, groups=groups, group_max=2, upper=upper)
    h = highs_mip(problem, time_limit=30)
    assert h["status"] == "Optimal"
    res = knapsack.solve(v, W, cap, groups=groups, group_max=2, upper=upper, **CPU)
    _check_knapsack(res, problem)
    assert res.value <= h["objective"] * (1 + 1e-9) + 1e-9        # cannot beat the optimum
    assert res.value >= 0.97 * h["objective"]                     # within 3% of HiGHS MIP


def test_knapsack_budget_groups_and_bounded_counts():
    v, W, cap, rng = _knapsack_data(11, n=60, R=3)
    cost = rng.uniform(1, 5, 60)
    groups = np.repeat(np.arange(12), 5)
    res = knapsack.solve(v, W, cap, cost=cost, budget=0.3 * cost.sum(), groups=groups,
                         group_max=3, upper=2, names=[f"item{i}" for i in range(60)], **CPU)
    problem, layout = knapsack.build_problem(v, W, cap, cost=cost, budget=0.3 * cost.sum(),
                                             groups=groups, group_max=3, upper=2)
    assert layout == {"resources": 3, "budget": 1, "groups": 12}
    _check_knapsack(res, problem)
    assert cost @ res.x <= 0.3 * cost.sum() + 1e-9
    assert np.all(res.group_use <= 3) and res.x.max() <= 2
    text = str(res)
    assert "value" in text and "bound" in text and "item" in text


def test_knapsack_group_minimum_infeasible_reports_no_solution():
    # every group must take 2 items but capacity allows 1 in total; the LP relaxation of the
    # capacity row is infeasible too, which is proven by a certificate
    v = np.ones(6)
    res = knapsack.solve(v, np.ones((1, 6)), [1.5], groups=[0, 0, 0, 1, 1, 1],
                         group_min=2, group_max=3, **CPU)
    assert res.status == Status.NO_SOLUTION_FOUND and res.x is None
    assert "no integer solution" in str(res)


def test_knapsack_lp_relaxation_only():
    v, W, cap, _ = _knapsack_data(5, n=30, R=2)
    res = knapsack.solve(v, W, cap, integer=False, **CPU)
    assert res.status == Status.OPTIMAL
    assert res.value == pytest.approx(res.bound, rel=1e-4)


def test_knapsack_from_generator_problem():
    from instances.generators import allocation
    p = allocation(2000, 100, 100, seed=1)
    kw = knapsack.from_problem(p, 100)
    problem, _ = knapsack.build_problem(**kw)
    assert problem.num_rows == p.num_rows and problem.nnz == p.nnz
    res = knapsack.solve(**kw, time_limit=20, **CPU)
    _check_knapsack(res, problem)
    assert res.mip_gap < 0.5


# ============================================================================== portfolio
def _market(n, seed=0, k=3):
    rng = np.random.default_rng(seed)
    F = rng.normal(0, 0.02, (n, k))
    F[:, 0] = rng.uniform(0.005, 0.015, n)
    d = rng.uniform(1e-4, 4e-4, n)
    mu = rng.uniform(0.0, 0.01, n)
    prices = rng.uniform(10, 300, n)
    return mu, F, d, prices, rng


def _check_portfolio(res, pm, budget=1.0):
    assert res.status in (Status.OPTIMAL, Status.FEASIBLE), res.result.message
    assert res.verified
    x = res.result.x
    if pm.problem.is_mip:
        assert check_integer(pm.problem, x).ok
    w = res.weights
    assert w.sum() + res.cash_weight == pytest.approx(budget, abs=1e-8)
    assert res.cash >= -1e-6
    if res.lots is not None:
        assert np.array_equal(res.lots, np.round(res.lots))
        assert np.allclose(w, pm.q * res.lots, atol=1e-12)


def test_mean_variance_round_lots_factor_model():
    n = 40
    mu, F, d, prices, rng = _market(n)
    kw = dict(mu=mu, factors=(F, d), risk_aversion=20.0, prices=prices, lot_sizes=10,
              capital=1e5, round_lots=True, max_weight=0.1, names=[f"A{j}" for j in range(n)])
    res = portfolio.optimize(**kw, time_limit=60, **CPU)
    pm = portfolio.build_problem(**kw)
    _check_portfolio(res, pm)
    shares = res.shares
    assert np.allclose(shares, np.round(shares / 10) * 10)          # whole lots of 10 shares
    assert np.all(res.weights <= 0.1 + 1e-12) and np.all(res.weights >= 0)
    cont = portfolio.optimize(**{**kw, "round_lots": False}, **CPU)
    assert cont.status == Status.OPTIMAL
    # the integer answer cannot beat the continuous optimum, and is close to it
    assert res.objective >= cont.objective - 1e-6
    assert res.objective <= cont.objective + 0.05 * abs(cont.objective)
    assert res.volatility == pytest.approx(
        math.sqrt(np.sum((F.T @ res.weights) ** 2) + np.sum(d * res.weights ** 2)))
    text = str(res)
    for word in ("weight", "shares", "cash", "expected return", "volatility", "bound"):
        assert word in text


def test_mean_variance_dense_covariance_cardinality_min_position():
    n = 25
    mu, F, d, prices, rng = _market(n, seed=2)
    cov = F @ F.T + np.diag(d)
    res = portfolio.optimize(mu=mu, cov=cov, risk_aversion=10.0, cardinality=6,
                             min_position=0.05, max_weight=0.4, time_limit=60, **CPU)
    pm = portfolio.build_problem(mu=mu, cov=cov, risk_aversion=10.0, cardinality=6,
                                 min_position=0.05, max_weight=0.4)
    _check_portfolio(res, pm)
    held = res.weights[res.weights > 1e-9]
    assert held.size <= 6 and res.positions <= 6
    assert np.all(held >= 0.05 - 1e-9)


def test_cvar_round_lots_against_highs():
    kw = portfolio_instance(n_assets=30, n_scenarios=200, seed=4, capital=1e6)
    pm = portfolio.build_problem(**kw)
    h = highs_mip(pm.problem, time_limit=60)
    assert h["status"] == "Optimal"
    res = portfolio.optimize(**kw, time_limit=60, **CPU)
    _check_portfolio(res, pm)
    assert res.objective >= h["objective"] - 1e-7
    assert res.objective <= h["objective"] + 0.01 * abs(h["objective"])    # within 1%
    assert res.cvar == pytest.approx(res.objective, rel=1e-6)
    assert res.expected_return >= kw["min_return"] - 1e-12


def test_shorts_sectors_turnover():
    n = 30
    mu, F, d, prices, rng = _market(n, seed=5)
    sectors = np.array(["tech", "energy", "health"])[np.arange(n) % 3]
    holdings = np.round(rng.uniform(0, 30, n))
    capital = float(holdings @ prices)
    kw = dict(mu=mu, factors=(F, d), risk_aversion=5.0, prices=prices, capital=capital,
              max_weight=0.15, max_short=0.05, sectors=sectors,
              sector_limits={"tech": (0.2, 0.4), "energy": (None, 0.3)}, holdings=holdings,
              turnover=0.5, round_lots=True, lot_sizes=1)
    res = portfolio.optimize(**kw, time_limit=60, **CPU)
    pm = portfolio.build_problem(**kw)
    _check_portfolio(res, pm)
    w = res.weights
    assert w.min() >= -0.05 - 1e-12 and w.max() <= 0.15 + 1e-12
    tech = w[sectors == "tech"].sum()
    assert 0.2 - 1e-9 <= tech <= 0.4 + 1e-9
    assert w[sectors == "energy"].sum() <= 0.3 + 1e-9
    assert res.turnover <= 0.5 + 1e-9
    assert np.allclose(res.shares, np.round(res.shares))


def test_continuous_portfolio_is_one_solve():
    n = 20
    mu, F, d, prices, rng = _market(n, seed=7)
    R = rng.normal(0.001, 0.02, (300, n))
    res = portfolio.optimize(returns=R, model="cvar", min_return=0.001, max_weight=0.2, **CPU)
    assert res.status == Status.OPTIMAL and res.lots is None and res.shares is None
    assert res.weights.sum() == pytest.approx(1.0, abs=1e-4)
    assert res.cvar == pytest.approx(res.objective, abs=2e-4)     # the LP is solved at tol 1e-4


def test_portfolio_errors():
    from gpulp import ProblemError
    with pytest.raises(ProblemError):
        portfolio.optimize(mu=[0.1, 0.2], model="cvar")                 # cvar needs returns
    with pytest.raises(ProblemError):
        portfolio.optimize(mu=[0.1, 0.2], cov=np.eye(2), round_lots=True)   # needs prices
