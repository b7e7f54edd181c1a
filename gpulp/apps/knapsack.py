"""Multi-resource knapsack allocation: choose items (0/1 or bounded integer counts) to maximise
value within resource capacities, a budget and group limits.

    maximise    values' x
    subject to  weights x <= capacity            (one row per resource)
                cost' x <= budget                (optional budget row)
                group_min_g <= sum_{i in g} x_i <= group_max_g    (optional groups)
                lower <= x <= upper,  x integer  (0/1 by default)

The continuous relaxation is solved by gpulp (PDHG, on `device`); gpulp.rounding rounds it
(nearest and randomised), repairs violated resource rows by shrinking the item with the worst
value-to-weight ratio, fills the spare capacity greedily in LP-then-ratio order, dives, and runs
1-opt and ruin-and-recreate local search. The answer is verified integral and feasible in float64.

    from gpulp.apps import knapsack
    res = knapsack.solve(values, weights, capacity, groups=group_of_item, group_max=1,
                         time_limit=30, device="auto")
    print(res)                        # status, value, bound, gap, resource use, chosen items
    res.x, res.chosen, res.value, res.bound, res.mip_gap

Knows: the model above and gpulp's public API. Must not know: devices or kernels.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..errors import ProblemError
from ..problem import Problem

__all__ = ["solve", "build_problem", "KnapsackResult", "from_problem", "random_instance"]


@dataclass
class KnapsackResult:
    """The answer of knapsack.solve.

    status: "optimal" (proven within tol of the relaxation bound), "feasible" (verified integer
    point) or "no_solution_found" (x is None). x: chosen count per item. value: values' x.
    bound: the relaxation's bound on the value; mip_gap = |value - bound| / max(1, |value|).
    resource_use / capacity: per resource row (the budget row last when given). group_use: items
    taken per group. result: the underlying gpulp.Result.
    """
    status: str
    x: np.ndarray | None
    value: float
    bound: float
    mip_gap: float
    chosen: np.ndarray
    resource_use: np.ndarray
    capacity: np.ndarray
    group_use: np.ndarray | None
    solve_time: float
    names: list | None = None
    result: object = field(default=None, repr=False)

    @property
    def verified(self) -> bool:
        return self.result is not None and bool(self.result.verified)

    def summary(self, max_items: int = 10) -> str:
        lines = [f"knapsack: {self.status}"]
        if self.x is None:
            msg = getattr(self.result, "message", "")
            lines.append(f"  no integer solution{': ' + msg if msg else ''}")
            if math.isfinite(self.bound):
                lines.append(f"  relaxation bound {self.bound:.8g}")
            return "\n".join(lines)
        lines.append(f"  value      {self.value:.8g}")
        if math.isfinite(self.bound):
            lines.append(f"  bound      {self.bound:.8g}   (gap {100 * self.mip_gap:.3f}%)")
        lines.append(f"  chosen     {self.chosen.size} of {self.x.size} items, "
                     f"{int(round(self.x.sum()))} units")
        if self.capacity.size:
            with np.errstate(divide="ignore", invalid="ignore"):
                util = np.where(self.capacity > 0, self.resource_use / self.capacity, np.nan)
            lines.append(f"  resources  {self.capacity.size}: utilisation mean "
                         f"{100 * np.nanmean(util):.1f}%, max {100 * np.nanmax(util):.1f}%, "
                         f"{int(np.sum(util >= 0.99))} at 99% or more")
        if self.group_use is not None:
            used = int(np.sum(self.group_use > 0))
            lines.append(f"  groups     {self.group_use.size}: {used} used")
        lines.append(f"  time       {self.solve_time:.2f} s, verified {self.verified}")
        if self.chosen.size:
            top = self.chosen[:max_items]
            label = (lambda i: self.names[i]) if self.names is not None else (lambda i: f"item {i}")
            shown = ", ".join(f"{label(int(i))} x{int(self.x[i])}" if self.x[i] != 1
                              else label(int(i)) for i in top)
            more = f", ... (+{self.chosen.size - top.size})" if self.chosen.size > top.size else ""
            lines.append(f"  items      {shown}{more}")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()


def _as_rows(weights, n):
    if weights is None:
        return sp.csr_matrix((0, n))
    if sp.issparse(weights):
        W = sp.csr_matrix(weights, dtype=np.float64)
    else:
        W = np.asarray(weights, dtype=np.float64)
        if W.ndim == 1:
            W = W[None, :]
        W = sp.csr_matrix(W)
    if W.shape[1] != n:
        raise ProblemError(f"weights has {W.shape[1]} columns, expected one per item ({n})")
    return W


def build_problem(values, weights=None, capacity=None, *, groups=None, group_max=1,
                  group_min=None, lower=0, upper=1, integer=True, cost=None, budget=None,
                  names=None, name="knapsack") -> tuple[Problem, dict]:
    """The Problem of the model in the module docstring, plus a layout dict (row blocks).

    values (n,); weights (R, n) dense or sparse, nonnegative resource use; capacity (R,);
    cost (n,) and budget: an extra row cost' x <= budget; groups (n,) integer labels (negative:
    no group) with group_max / group_min scalars or per-label arrays (labels 0..G-1);
    lower/upper: count bounds per item (scalars or arrays); integer: bool or (n,) mask."""
    v = np.asarray(values, dtype=np.float64).ravel()
    n = v.size
    W = _as_rows(weights, n)
    R = W.shape[0]
    cap = np.zeros(0) if capacity is None else np.asarray(capacity, dtype=np.float64).ravel()
    if cap.size != R:
        raise ProblemError(f"capacity has length {cap.size}, expected one per resource ({R})")
    blocks = [W]
    hi = [cap]
    lo = [np.full(R, -np.inf)]
    if cost is not None or budget is not None:
        if cost is None or budget is None:
            raise ProblemError("give both cost and budget (or neither)")
        blocks.append(sp.csr_matrix(np.asarray(cost, dtype=np.float64).reshape(1, n)))
        hi.append(np.array([float(budget)]))
        lo.append(np.array([-np.inf]))
    G = 0
    if groups is not None:
        g = np.asarray(groups).ravel()
        if g.size != n:
            raise ProblemError(f"groups has length {g.size}, expected one label per item ({n})")
        g = g.astype(np.int64)
        member = g >= 0
        G = int(g[member].max()) + 1 if member.any() else 0
        cols = np.flatnonzero(member)
        Gm = sp.csr_matrix((np.ones(cols.size), (g[cols], cols)), shape=(G, n))
        gmax = np.broadcast_to(np.asarray(group_max, dtype=np.float64), (G,)).copy()
        gmin = np.full(G, -np.inf) if group_min is None else \
            np.broadcast_to(np.asarray(group_min, dtype=np.float64), (G,)).copy()
        blocks.append(Gm)
        hi.append(gmax)
        lo.append(gmin)
    A = sp.vstack(blocks, format="csr")
    integ = np.broadcast_to(np.asarray(integer, dtype=bool), (n,)).copy()
    p = Problem(v, A, np.concatenate(lo), np.concatenate(hi),
                np.broadcast_to(np.asarray(lower, dtype=np.float64), (n,)),
                np.broadcast_to(np.asarray(upper, dtype=np.float64), (n,)),
                sense="max", integrality=integ, name=name, col_names=names)
    layout = {"resources": R, "budget": int(cost is not None), "groups": G}
    return p, layout


def from_problem(problem: Problem, n_resources: int):
    """Inputs of knapsack.solve from a packing Problem whose first `n_resources` rows are
    resources and whose other rows are group rows with unit coefficients (the layout of
    instances.generators.allocation). Returns a dict of keyword arguments."""
    A = problem.A.tocsr()
    R = int(n_resources)
    Gm = A[R:].tocsc()
    groups = np.full(problem.num_cols, -1, dtype=np.int64)
    lens = np.diff(Gm.indptr)
    if np.any(lens > 1):
        raise ProblemError("an item belongs to more than one group row")
    has = lens == 1
    groups[has] = Gm.indices[Gm.indptr[:-1][has]]
    return dict(values=problem.c.copy(), weights=A[:R], capacity=problem.row_upper[:R].copy(),
                groups=groups, group_max=problem.row_upper[R:].copy(),
                lower=problem.col_lower.copy(), upper=problem.col_upper.copy())


def solve(values, weights=None, capacity=None, *, groups=None, group_max=1, group_min=None,
          lower=0, upper=1, integer=True, cost=None, budget=None, names=None, tol=1e-4,
          time_limit=None, device="auto", verbose=False, relax_time=None, seeds=None,
          dive_rounds=None, **options) -> KnapsackResult:
    """Solve the knapsack allocation (see the module docstring).

    time_limit: seconds for everything (None: no limit). relax_time: seconds for the root
    relaxation (default half of time_limit); when it stops first, rounding starts from its last
    iterate and the bound is the Lagrangian bound of its dual point. seeds: randomised roundings
    (default 8, or 2 above 50k items).
    dive_rounds: fix-and-resolve rounds (default 4, or 0 above 100k items under a time limit).
    device, verbose and other keyword options go to gpulp (see gpulp.options.Options).
    """
    t0 = time.perf_counter()
    p, layout = build_problem(values, weights, capacity, groups=groups, group_max=group_max,
                              group_min=group_min, lower=lower, upper=upper, integer=integer,
                              cost=cost, budget=budget, names=names)
    return _solve_built(p, layout, t0, tol=tol, time_limit=time_limit, device=device,
                        verbose=verbose, relax_time=relax_time, seeds=seeds,
                        dive_rounds=dive_rounds, names=names, **options)


def _solve_built(p, layout, t0, *, tol, time_limit, device, verbose, relax_time, seeds,
                 dive_rounds, names, **options):
    from ..log import verbose_handler
    from ..options import make_options
    from ..rounding import solve_integer
    remaining = None if time_limit is None else max(1e-3, time_limit - (time.perf_counter() - t0))
    opts = make_options(tol=tol, time_limit=remaining, device=device, verbose=verbose, **options)
    if relax_time is None and time_limit is not None:
        relax_time = 0.5 * remaining
    if seeds is None:
        seeds = 8 if p.num_cols <= 50_000 else 2
    if dive_rounds is None:
        dive_rounds = 0 if (time_limit is not None and p.num_cols > 100_000) else 4
    with verbose_handler(opts.verbose):
        if p.is_mip:
            res = solve_integer(p, opts, relax_time_limit=relax_time, seeds=seeds,
                                dive_rounds=dive_rounds)
        else:
            import dataclasses

            from ..solver import solve as lp_solve
            res = lp_solve(p, **dataclasses.asdict(opts))
    elapsed = time.perf_counter() - t0
    R = layout["resources"] + layout["budget"]
    G = layout["groups"]
    x = res.x if (res.x is not None and res.status in ("optimal", "feasible")) else None
    if x is not None:
        act = p.A @ x
        chosen = np.flatnonzero(x > 0.5 if p.is_mip else x > 1e-9)
        chosen = chosen[np.argsort(-p.c[chosen] * x[chosen], kind="stable")]
        value = float(p.c @ x)
        use = act[:R]
        guse = act[R:R + G] if G else None
    else:
        chosen, value, use, guse = np.zeros(0, dtype=np.int64), math.nan, np.full(R, np.nan), None
    bound = res.bound if p.is_mip else res.objective
    gap = res.mip_gap if p.is_mip else 0.0
    return KnapsackResult(res.status, x, value, float(bound), float(gap), chosen, use,
                          p.row_upper[:R].copy(), guse, elapsed, names, res)


def random_instance(n_items=10_000, n_resources=None, n_groups=None, resources_per_item=8,
                    seed=0) -> dict:
    """A seeded multi-resource allocation (the model of instances/generators.allocation: each
    item uses a few resources, values correlate with resource use at random prices, capacities
    bind, at most one item per group), as keyword arguments of `solve`."""
    rng = np.random.default_rng(seed)
    n = int(n_items)
    R = max(1, n // 20) if n_resources is None else int(n_resources)
    G = max(1, n // 20) if n_groups is None else int(n_groups)
    k = min(int(resources_per_item), R)
    res = np.sort(np.argsort(rng.random((n, R)), axis=1)[:, :k], axis=1) if R <= 64 else \
        np.sort(rng.integers(0, R - k + 1, (n, k)), axis=1) + np.arange(k)
    W = rng.uniform(0.1, 1.0, (n, k))
    price = rng.uniform(0.5, 1.5, R)
    values = (W * price[res]).sum(axis=1) * rng.uniform(0.8, 1.2, n)
    weights = sp.csr_matrix((W.ravel(), (res.ravel(), np.repeat(np.arange(n), k))), shape=(R, n))
    usage = np.asarray(weights.sum(axis=1)).ravel()
    capacity = rng.uniform(0.3, 0.7, R) * usage * G / n
    return dict(values=values, weights=weights, capacity=capacity,
                groups=(np.arange(n) * G) // n, group_max=1)


def _main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(prog="python -m gpulp.apps.knapsack",
                                 description="multi-resource allocation on a random instance")
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    print(solve(**random_instance(a.items, seed=a.seed), time_limit=a.time_limit,
                device=a.device, verbose=a.verbose))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
