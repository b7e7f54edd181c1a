"""Portfolio construction: mean-variance (a QP, factor or dense covariance) or CVaR (an LP), with
real-world constraints, and whole shares through round lots.

Weights w (fractions of `capital`) and a cash weight c >= 0:

    mean_variance:  minimise  0.5 * risk_aversion * w' Sigma w - mu' w - cash_return * c
    cvar:           minimise  CVaR_beta(-R w - cash_return * c) - return_weight * (mu' w + ...)
                    (Rockafellar-Uryasev: alpha + sum_s u_s / ((1 - beta) S), u_s >= -R_s w - alpha)
    subject to      sum_j w_j + c = budget,  0 <= c <= max_cash
                    -max_short_j <= w_j <= max_weight_j            (max_short = 0: long-only)
                    sector_lo <= sum_{j in sector} w_j <= sector_hi (two-sided rows)
                    sum_j |w_j - w0_j| <= turnover                 (w0: current holdings)
                    mu' w + cash_return * c >= min_return
                    w_j = 0 or min_position <= |w_j|               (binaries z_j)
                    at most `cardinality` names held               (sum_j z_j <= K)
                    round lots: w_j = q_j * n_j with n_j integer,  q_j = lot_j * price_j / capital

With round lots (or a minimum position, or cardinality) the problem is a mixed-integer program:
gpulp solves its continuous relaxation (QP or LP, on `device`) and gpulp.rounding rounds,
repairs, dives and polishes it into a verified integer answer, reporting the relaxation bound
and the gap. Without integers it is one gpulp solve.

    from gpulp.apps import portfolio
    res = portfolio.optimize(mu=mu, factors=(F, d), risk_aversion=4.0, prices=prices,
                             lot_sizes=100, capital=1e6, round_lots=True, max_weight=0.1,
                             sectors=sector_of, sector_limits={"tech": (0.0, 0.3)}, device="auto")
    print(res)              # holdings table, cash left, return, risk, bound and gap
    res.weights, res.shares, res.lots, res.cash, res.expected_return, res.volatility, res.cvar

Knows: the model above and gpulp's public API. Must not know: devices or kernels.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..errors import ProblemError
from ..problem import FactorQ, Problem

__all__ = ["optimize", "build_problem", "PortfolioResult", "PortfolioModel", "synthetic_market",
           "demo"]


# ============================================================================== result
@dataclass
class PortfolioResult:
    """The answer of portfolio.optimize. Weights are fractions of `capital`.

    status: "optimal", "feasible" (a verified integer answer with a gap) or "no_solution_found"
    (and, without integers, any gpulp status). weights, shares (whole shares with round lots),
    lots (lot counts, None without round lots), value (currency per asset), cash (currency left
    over) and cash_weight; expected_return = mu' w (+ cash); volatility = sqrt(w' Sigma w) when a
    covariance or factor model is known; cvar = CVaR_beta of the scenario losses when scenarios
    are known; risk is the model's own measure (volatility or CVaR). objective, bound and
    mip_gap as in gpulp.Result; turnover = sum |w - w0|; positions = names held.
    """
    status: str
    model: str
    weights: np.ndarray | None
    shares: np.ndarray | None
    lots: np.ndarray | None
    value: np.ndarray | None
    cash: float
    cash_weight: float
    capital: float
    expected_return: float
    volatility: float
    cvar: float
    beta: float
    objective: float
    bound: float
    mip_gap: float
    turnover: float
    positions: int
    solve_time: float
    names: list | None = None
    prices: np.ndarray | None = None
    result: object = field(default=None, repr=False)

    @property
    def risk(self) -> float:
        return self.cvar if self.model == "cvar" else self.volatility

    @property
    def verified(self) -> bool:
        return self.result is not None and bool(self.result.verified)

    def holdings(self, tol: float = 1e-9) -> list:
        """(name, weight, shares, value) of every position, largest |weight| first."""
        if self.weights is None:
            return []
        idx = np.flatnonzero(np.abs(self.weights) > tol)
        idx = idx[np.argsort(-np.abs(self.weights[idx]), kind="stable")]
        name = (lambda j: self.names[j]) if self.names is not None else (lambda j: f"asset {j}")
        return [(name(int(j)), float(self.weights[j]),
                 float(self.shares[j]) if self.shares is not None else math.nan,
                 float(self.value[j]) if self.value is not None else math.nan) for j in idx]

    def summary(self, max_rows: int = 15) -> str:
        head = f"portfolio ({self.model}): {self.status}"
        if self.weights is None:
            msg = getattr(self.result, "message", "")
            out = [head, f"  no portfolio: {msg}" if msg else "  no portfolio"]
            if math.isfinite(self.bound):
                out.append(f"  relaxation bound {self.bound:.6g}")
            return "\n".join(out)
        rows = self.holdings()
        priced = self.shares is not None
        lines = [head, f"  {'asset':<14}{'weight':>9}" + (f"{'shares':>12}{'value':>16}"
                                                          if priced else "")]
        for nm, w, sh, val in rows[:max_rows]:
            line = f"  {str(nm)[:13]:<14}{100 * w:>8.2f}%"
            if priced:
                shs = f"{sh:,.0f}" if float(sh).is_integer() else f"{sh:,.2f}"
                line += f"{shs:>12}{val:>16,.2f}"
            lines.append(line)
        if len(rows) > max_rows:
            rest = sum(r[1] for r in rows[max_rows:])
            lines.append(f"  {'(+' + str(len(rows) - max_rows) + ' more)':<14}{100 * rest:>8.2f}%")
        lines.append(f"  {'cash':<14}{100 * self.cash_weight:>8.2f}%" +
                     (f"{'':>12}{self.cash:>16,.2f}" if priced else ""))
        lines.append(f"  positions {self.positions}, invested {self.capital - self.cash:,.2f} "
                     f"of {self.capital:,.2f}")
        ret = f"  expected return {100 * self.expected_return:.4f}%"
        if math.isfinite(self.volatility):
            ret += f", volatility {100 * self.volatility:.4f}%"
        if math.isfinite(self.cvar):
            ret += f", CVaR({self.beta:g}) {100 * self.cvar:.4f}%"
        lines.append(ret)
        if math.isfinite(self.turnover):
            lines.append(f"  turnover {100 * self.turnover:.2f}%")
        obj = f"  objective {self.objective:.8g}"
        if self.result is not None and math.isfinite(getattr(self.result, "bound", math.nan)):
            rel = abs(self.objective - self.bound) / max(abs(self.bound), 1e-300)
            obj += f", relaxation bound {self.bound:.8g} ({100 * rel:.3f}% from it)"
        lines.append(obj + f"; {self.solve_time:.2f} s, verified {self.verified}")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()


# ============================================================================== model
@dataclass
class PortfolioModel:
    """The built Problem and where things are in it (column blocks)."""
    problem: Problem
    n: int
    q: np.ndarray                 # weight per unit of a position column (1 without round lots)
    pos: slice                    # position columns (weights or lot counts)
    cash: int                     # cash column
    extra: dict                   # other blocks: "alpha", "u", "t", "zl", "zs" -> slice/index
    mu: np.ndarray
    w0: np.ndarray | None
    kind: str


def _vec(name, v, n, default=None):
    if v is None:
        return None if default is None else np.full(n, float(default))
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0:
        return np.full(n, float(a))
    a = a.ravel()
    if a.size != n:
        raise ProblemError(f"{name} has length {a.size}, expected one per asset ({n})")
    return a.copy()


def build_problem(*, mu=None, cov=None, factors=None, returns=None, model="mean_variance",
                  risk_aversion=1.0, beta=0.95, return_weight=0.0, min_return=None,
                  cash_return=0.0, prices=None, lot_sizes=1.0, capital=1.0, round_lots=False,
                  budget=1.0, max_cash=None, max_weight=1.0, max_short=0.0, sectors=None,
                  sector_limits=None, holdings=None, turnover=None, min_position=None,
                  cardinality=None, names=None) -> PortfolioModel:
    """The Problem of the model in the module docstring (arguments as in `optimize`)."""
    if model not in ("mean_variance", "cvar"):
        raise ProblemError(f"model must be 'mean_variance' or 'cvar', got {model!r}")
    R = None if returns is None else np.asarray(returns, dtype=np.float64)
    if R is not None and R.ndim != 2:
        raise ProblemError("returns must be a (scenarios, assets) matrix")
    if mu is not None:
        n = np.asarray(mu).size
    elif R is not None:
        n = R.shape[1]
    elif factors is not None:
        n = np.asarray(factors[0]).shape[0]
    elif cov is not None:
        n = np.asarray(cov).shape[0]
    else:
        raise ProblemError("give mu, returns, a covariance or a factor model")
    mu = R.mean(axis=0) if (mu is None and R is not None) else _vec("mu", mu, n, 0.0)
    if R is not None and R.shape[1] != n:
        raise ProblemError(f"returns has {R.shape[1]} columns, expected {n} assets")
    if model == "cvar" and R is None:
        raise ProblemError("the cvar model needs a returns matrix (scenarios x assets)")
    capital = float(capital)
    if not capital > 0:
        raise ProblemError("capital must be positive")

    # risk model of the mean-variance objective: FactorQ (F, d) in weight space
    F = d = None
    if model == "mean_variance":
        if factors is not None:
            F = np.asarray(factors[0], dtype=np.float64)
            d = _vec("factor idiosyncratic variances", factors[1], n, 0.0) \
                if len(factors) > 1 and factors[1] is not None else np.zeros(n)
            if F.shape[0] != n:
                raise ProblemError(f"factor loadings have {F.shape[0]} rows, expected {n}")
        elif cov is not None:
            C = cov.toarray() if sp.issparse(cov) else np.asarray(cov, dtype=np.float64)
            if C.shape != (n, n):
                raise ProblemError(f"cov has shape {C.shape}, expected {(n, n)}")
        elif R is not None:
            Rc = R - R.mean(axis=0)
            F = Rc.T / math.sqrt(max(1, R.shape[0] - 1))
            d = np.zeros(n)
        else:
            raise ProblemError("mean_variance needs cov, factors or returns")

    integer_lots = bool(round_lots)
    if integer_lots:
        if prices is None:
            raise ProblemError("round lots need prices")
        price = _vec("prices", prices, n)
        lot = _vec("lot_sizes", lot_sizes, n)
        if np.any(price <= 0) or np.any(lot <= 0):
            raise ProblemError("prices and lot sizes must be positive")
        q = lot * price / capital
    else:
        q = np.ones(n)
    wmax = _vec("max_weight", max_weight, n)
    smax = _vec("max_short", max_short, n)
    if np.any(smax < 0) or np.any(wmax < -smax):
        raise ProblemError("need max_short >= 0 and max_weight >= -max_short")
    shorting = bool(np.any(smax > 0))
    mpos = _vec("min_position", min_position, n) if min_position is not None else None
    need_bin = mpos is not None or cardinality is not None
    w0 = None
    if holdings is not None:
        if prices is None:
            raise ProblemError("current holdings (in shares) need prices")
        w0 = _vec("holdings", holdings, n) * _vec("prices", prices, n) / capital

    # ---------------------------------------------------------------- columns
    cols = {}
    ncol = 0

    def block(name, size):
        nonlocal ncol
        cols[name] = slice(ncol, ncol + size)
        ncol += size

    block("pos", n)
    block("cash", 1)
    S = 0
    if model == "cvar":
        S = R.shape[0]
        block("alpha", 1)
        block("u", S)
    if turnover is not None:
        block("t", n)
    if need_bin:
        block("zl", n)
        if shorting:
            block("zs", n)
    N = ncol
    c = np.zeros(N)
    lo = np.zeros(N)
    hi = np.full(N, np.inf)
    integ = np.zeros(N, dtype=bool)
    P = cols["pos"]
    if integer_lots:
        lo[P] = np.ceil(-smax / q - 1e-9)
        hi[P] = np.floor(wmax / q + 1e-9)
        integ[P] = True
    else:
        lo[P], hi[P] = -smax, wmax
    ci = cols["cash"].start
    hi[ci] = (math.inf if integer_lots else 0.0) if max_cash is None else float(max_cash)
    if model == "mean_variance":
        c[P] = -mu * q
        c[ci] = -cash_return
    else:
        a = cols["alpha"].start
        lo[a] = -np.inf
        c[a] = 1.0
        c[cols["u"]] = 1.0 / ((1.0 - beta) * S)
        c[P] = -return_weight * mu * q
        c[ci] = -return_weight * cash_return
    if "t" in cols:
        hi[cols["t"]] = np.inf
    if need_bin:
        for key in ("zl", "zs"):
            if key in cols:
                hi[cols[key]] = 1.0
                integ[cols[key]] = True

    # ---------------------------------------------------------------- rows
    rows, rlo, rhi = [], [], []

    def add(mat, l, h):
        mat = sp.csr_matrix(mat)
        k = mat.shape[0]
        rows.append(mat)
        rlo.append(np.broadcast_to(np.asarray(l, dtype=np.float64), (k,)).copy())
        rhi.append(np.broadcast_to(np.asarray(h, dtype=np.float64), (k,)).copy())

    def coo(r, cidx, v, m):
        return sp.coo_matrix((v, (r, cidx)), shape=(m, N))

    ar = np.arange(n)
    pos_idx = ar + P.start
    # budget: sum q n + cash = budget
    add(coo(np.zeros(n + 1, dtype=int), np.r_[pos_idx, ci], np.r_[q, 1.0], 1), budget, budget)
    if min_return is not None:
        add(coo(np.zeros(n + 1, dtype=int), np.r_[pos_idx, ci], np.r_[mu * q, cash_return], 1),
            min_return, np.inf)
    if sectors is not None:
        sec = np.asarray(sectors).ravel()
        if sec.size != n:
            raise ProblemError(f"sectors has length {sec.size}, expected one label per asset")
        labels = list(dict.fromkeys(sec.tolist()))
        limits = sector_limits if sector_limits is not None else {}
        for lab in labels:
            if isinstance(limits, dict):
                if lab not in limits:
                    continue
                l_, h_ = limits[lab]
            else:
                l_, h_ = limits
            members = np.flatnonzero(sec == lab)
            add(coo(np.zeros(members.size, dtype=int), members + P.start, q[members],
                    1), -np.inf if l_ is None else l_, np.inf if h_ is None else h_)
    if model == "cvar":
        # u_s + R_s (q n) + cash_return c + alpha >= 0
        u0, a = cols["u"].start, cols["alpha"].start
        Rq = R * q
        blockR = sp.hstack([sp.csr_matrix(Rq), sp.csr_matrix(np.full((S, 1), cash_return)),
                            sp.csr_matrix(np.ones((S, 1))), sp.identity(S, format="csr"),
                            sp.csr_matrix((S, N - (n + 2 + S)))], format="csr")
        rows.append(blockR)
        rlo.append(np.zeros(S))
        rhi.append(np.full(S, np.inf))
    if turnover is not None:
        t0c = cols["t"].start
        # t_j - q_j n_j >= -w0_j ; t_j + q_j n_j >= w0_j
        w0v = np.zeros(n) if w0 is None else w0
        add(coo(np.r_[ar, ar], np.r_[ar + t0c, pos_idx], np.r_[np.ones(n), -q], n), -w0v, np.inf)
        add(coo(np.r_[ar, ar], np.r_[ar + t0c, pos_idx], np.r_[np.ones(n), q], n), w0v, np.inf)
        add(coo(np.zeros(n, dtype=int), ar + t0c, np.ones(n), 1), -np.inf, turnover)
    if need_bin:
        zl = cols["zl"].start + ar
        m_ = np.zeros(n) if mpos is None else mpos
        if shorting:
            zs = cols["zs"].start + ar
            # w <= U zl - m zs ;  w >= m zl - S zs ;  zl + zs <= 1
            add(coo(np.r_[ar, ar, ar], np.r_[pos_idx, zl, zs], np.r_[q, -wmax, m_], n),
                -np.inf, 0.0)
            add(coo(np.r_[ar, ar, ar], np.r_[pos_idx, zl, zs], np.r_[q, -m_, smax], n),
                0.0, np.inf)
            add(coo(np.r_[ar, ar], np.r_[zl, zs], np.ones(2 * n), n), -np.inf, 1.0)
            held = np.r_[zl, zs]
        else:
            # w <= U zl ;  w >= m zl
            add(coo(np.r_[ar, ar], np.r_[pos_idx, zl], np.r_[q, -wmax], n), -np.inf, 0.0)
            if mpos is not None:
                add(coo(np.r_[ar, ar], np.r_[pos_idx, zl], np.r_[q, -m_], n), 0.0, np.inf)
            held = zl
        if cardinality is not None:
            add(coo(np.zeros(held.size, dtype=int), held, np.ones(held.size), 1), -np.inf,
                float(cardinality))
    A = sp.vstack(rows, format="csr")

    # ---------------------------------------------------------------- quadratic term
    Q = None
    if model == "mean_variance":
        g = float(risk_aversion)
        if g < 0:
            raise ProblemError("risk_aversion must be >= 0")
        if g > 0:
            if F is not None:
                Ff = np.zeros((N, F.shape[1]))
                Ff[P] = math.sqrt(g) * q[:, None] * F
                df = np.zeros(N)
                df[P] = g * q * q * d
                Q = FactorQ(Ff, df)
            else:
                Cq = g * (q[:, None] * C * q[None, :])
                Cq = 0.5 * (Cq + Cq.T)
                Qs = sp.coo_matrix(Cq)
                Q = sp.csr_matrix((Qs.data, (Qs.row + P.start, Qs.col + P.start)), shape=(N, N))
    cn = None
    if names is not None:
        base = [str(s) for s in names]
        if len(base) != n:
            raise ProblemError(f"names has length {len(base)}, expected {n}")
        cn = [f"{'lots' if integer_lots else 'w'}[{s}]" for s in base] + ["cash"]
        if model == "cvar":
            cn += ["alpha"] + [f"u[{s}]" for s in range(S)]
        if "t" in cols:
            cn += [f"t[{s}]" for s in base]
        if need_bin:
            cn += [f"long[{s}]" for s in base]
            if "zs" in cols:
                cn += [f"short[{s}]" for s in base]
    prob = Problem(c, A, np.concatenate(rlo), np.concatenate(rhi), lo, hi, Q=Q,
                   sense="min", integrality=integ, name=f"portfolio_{model}_n{n}",
                   col_names=cn)
    extra = {k: v for k, v in cols.items() if k not in ("pos", "cash")}
    return PortfolioModel(prob, n, q, P, ci, extra, mu, w0, model)


# ============================================================================== solve
def _cvar(losses, beta):
    """CVaR_beta of equally likely losses (Rockafellar-Uryasev, exact)."""
    L = np.sort(np.asarray(losses, dtype=np.float64))[::-1]
    S = L.size
    tail = (1.0 - beta) * S
    k = int(math.floor(tail))
    val = L[:k].sum() + (tail - k) * (L[k] if k < S else 0.0)
    return float(val / tail)


def optimize(*, mu=None, cov=None, factors=None, returns=None, model="mean_variance",
             risk_aversion=1.0, beta=0.95, return_weight=0.0, min_return=None, cash_return=0.0,
             prices=None, lot_sizes=1.0, capital=1.0, round_lots=False, budget=1.0,
             max_cash=None, max_weight=1.0, max_short=0.0, sectors=None, sector_limits=None,
             holdings=None, turnover=None, min_position=None, cardinality=None, names=None,
             tol=1e-4, time_limit=None, device="auto", verbose=False, seeds=8,
             dive_rounds=20, **options) -> PortfolioResult:
    """Build and solve a portfolio (see the module docstring); returns a PortfolioResult.

    Inputs: mu (n,) expected returns (default: the mean of `returns`); cov (n, n) or factors
    (F (n, k), d (n,)) with Sigma = F F' + diag(d), or returns (S, n) scenarios (their sample
    covariance for mean_variance; the CVaR scenarios for cvar). prices (n,), lot_sizes (scalar or
    (n,)) and capital (currency) turn weights into shares; round_lots=True makes the number of
    lots an integer. budget: the fraction of capital to allocate (weights + cash = budget);
    max_cash: cap on the cash weight (default 0 without round lots, no cap with them).
    max_weight / max_short: per-asset bounds (max_short > 0 allows shorts down to -max_short).
    sectors (n,) labels and sector_limits {label: (lo, hi)} (or one (lo, hi) for all) give
    two-sided sector rows. holdings (shares held now, needs prices) and turnover bound
    sum |w - w0|. min_position (weight) and cardinality (at most K names) add binaries.
    tol, time_limit, device, verbose and other options go to gpulp; seeds and dive_rounds to
    gpulp.rounding.
    """
    from ..log import verbose_handler
    from ..options import make_options
    t0 = time.perf_counter()
    pm = build_problem(mu=mu, cov=cov, factors=factors, returns=returns, model=model,
                       risk_aversion=risk_aversion, beta=beta, return_weight=return_weight,
                       min_return=min_return, cash_return=cash_return, prices=prices,
                       lot_sizes=lot_sizes, capital=capital, round_lots=round_lots,
                       budget=budget, max_cash=max_cash, max_weight=max_weight,
                       max_short=max_short, sectors=sectors, sector_limits=sector_limits,
                       holdings=holdings, turnover=turnover, min_position=min_position,
                       cardinality=cardinality, names=names)
    p = pm.problem
    remaining = None if time_limit is None else max(1e-3, time_limit - (time.perf_counter() - t0))
    opts = make_options(tol=tol, time_limit=remaining, device=device, verbose=verbose, **options)
    with verbose_handler(opts.verbose):
        if p.is_mip:
            from ..rounding import solve_integer
            res = solve_integer(p, opts, seeds=seeds, dive_rounds=dive_rounds)
        else:
            from ..solver import solve as _solve
            res = _solve(p, **dataclasses.asdict(opts))
    return _package(pm, res, time.perf_counter() - t0, prices, capital, names, beta,
                    returns, cov, factors, cash_return)


def _package(pm, res, elapsed, prices, capital, names, beta, returns, cov, factors, cash_return):
    p = pm.problem
    ok = res.x is not None and (res.status in ("optimal", "feasible"))
    nan = math.nan
    if not ok:
        return PortfolioResult(res.status, pm.kind, None, None, None, None, nan, nan,
                               float(capital), nan, nan, nan, beta, nan,
                               float(res.bound) if p.is_mip else nan, nan, nan, 0, elapsed,
                               names, None, res)
    x = res.x
    units = x[pm.pos]
    w = pm.q * units
    cash_w = float(x[pm.cash])
    price = None if prices is None else np.broadcast_to(
        np.asarray(prices, dtype=np.float64), (pm.n,)).copy()
    value = w * capital
    if price is not None:
        shares = value / price
        if p.integrality[pm.pos].any():
            shares = np.round(shares, 6)
    else:
        shares = None
    lots = np.round(units).astype(np.int64) if p.integrality[pm.pos].any() else None
    exp_ret = float(pm.mu @ w + cash_return * cash_w)
    vol = nan
    if factors is not None:
        F = np.asarray(factors[0], dtype=np.float64)
        d = np.zeros(pm.n) if len(factors) < 2 or factors[1] is None else \
            np.broadcast_to(np.asarray(factors[1], dtype=np.float64), (pm.n,))
        vol = math.sqrt(max(0.0, float(np.sum((F.T @ w) ** 2) + np.sum(d * w * w))))
    elif cov is not None:
        C = cov.toarray() if sp.issparse(cov) else np.asarray(cov, dtype=np.float64)
        vol = math.sqrt(max(0.0, float(w @ C @ w)))
    elif returns is not None:
        R = np.asarray(returns, dtype=np.float64)
        vol = float(np.std(R @ w, ddof=1)) if R.shape[0] > 1 else nan
    cvar = nan
    if returns is not None:
        R = np.asarray(returns, dtype=np.float64)
        cvar = _cvar(-(R @ w + cash_return * cash_w), beta)
    turnover = float(np.abs(w - pm.w0).sum()) if pm.w0 is not None else nan
    positions = int(np.sum(np.abs(w) > 1e-12))
    bound = float(res.bound) if p.is_mip else float(res.objective)
    gap = float(res.mip_gap) if p.is_mip else 0.0
    return PortfolioResult(res.status, pm.kind, w, shares, lots, value, cash_w * capital, cash_w,
                           float(capital), exp_ret, vol, cvar, beta, float(res.objective), bound,
                           gap, turnover, positions, elapsed, names, price, res)


# ============================================================================== demo
SECTORS = ("tech", "energy", "health", "finance", "consumer", "industrial")


def synthetic_market(n_assets=50, n_factors=4, n_scenarios=500, seed=0) -> dict:
    """A seeded synthetic market: tickers, sectors, prices, a factor model (market factor plus
    sector-ish factors), expected daily returns and fat-tailed return scenarios drawn from it.
    Returns a dict with names, sectors, prices, mu, factors (F, d) and returns."""
    rng = np.random.default_rng(seed)
    n, k = int(n_assets), max(1, int(n_factors))
    F = rng.normal(0.0, 0.006, (n, k))
    F[:, 0] = rng.uniform(0.5, 1.5, n) * 0.01             # every asset loads on the market
    d = rng.uniform(0.005, 0.02, n) ** 2
    mu = 0.0002 + 0.03 * F[:, 0] * rng.uniform(0.5, 1.5, n) + rng.normal(0, 2e-4, n)
    t = lambda size: rng.standard_t(4.0, size=size) * math.sqrt(0.5)  # noqa: E731
    R = mu + t((n_scenarios, k)) @ F.T + t((n_scenarios, n)) * np.sqrt(d)
    return {"names": [f"A{j:03d}" for j in range(n)],
            "sectors": np.array(SECTORS)[rng.integers(0, len(SECTORS), n)],
            "prices": np.round(rng.uniform(5, 400, n), 2), "mu": mu, "factors": (F, d),
            "returns": R}


def demo(n_assets=50, model="mean_variance", capital=1_000_000, device="auto", verbose=False,
         seed=0) -> PortfolioResult:
    """Round-lot portfolio on a synthetic market (synthetic_market): lots of 100 shares, at most
    10% per name and 35% per sector, at most 2% in cash, at most 25 names."""
    mk = synthetic_market(n_assets, seed=seed)
    common = dict(prices=mk["prices"], lot_sizes=100, capital=capital, round_lots=True,
                  max_weight=0.10, max_cash=0.02, sectors=mk["sectors"],
                  sector_limits=(0.0, 0.35), cardinality=min(25, n_assets), names=mk["names"],
                  device=device, verbose=verbose)
    if model == "cvar":
        return optimize(returns=mk["returns"], model="cvar", beta=0.95,
                        min_return=float(np.median(mk["mu"])), **common)
    return optimize(mu=mk["mu"], factors=mk["factors"], risk_aversion=50.0, **common)


def _main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(prog="python -m gpulp.apps.portfolio",
                                 description="round-lot portfolio on a synthetic market")
    ap.add_argument("--assets", type=int, default=50)
    ap.add_argument("--model", choices=("mean_variance", "cvar"), default="mean_variance")
    ap.add_argument("--capital", type=float, default=1_000_000)
    ap.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    print(demo(a.assets, a.model, a.capital, a.device, a.verbose, a.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
