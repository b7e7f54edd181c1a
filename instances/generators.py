"""Seeded generators of large LPs and QPs, feasible and bounded by construction.

Each generator returns a `gpulp.Problem` and is a pure function of its arguments: the same seed
gives the same instance bit for bit. The CSR arrays are built directly with NumPy from per-row (or
per-column) blocks, so time and memory grow linearly with the number of nonzeros; nothing dense
is ever larger than the nonzeros it holds, and there is no Python loop per row or per nonzero.

`params_for_nnz(kind, nnz)` picks a generator's size parameters so that the instance has about
`nnz` nonzeros in A, keeping the shapes of the instances in `shared/BENCH.md` (for example, CVaR
with 10.1M nonzeros is 25k x 25k); `by_nnz(kind, nnz, seed)` builds it.

Knows: gpulp.Problem and the four models below.
Must not know: files, solvers or devices.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from gpulp import Problem

__all__ = ["cvar", "allocation", "transport", "factor_qp", "KINDS", "params_for_nnz", "by_nnz"]


def _student_t(rng, dof, size):
    """Student-t draws scaled to unit variance (dof > 2)."""
    out = rng.standard_t(dof, size=size)
    out *= math.sqrt((dof - 2.0) / dof)
    return out


def _sorted_distinct(rng, n_rows, k, high):
    """An (n_rows, k) array; each row holds k distinct integers of [0, high), increasing."""
    draws = rng.integers(0, high - k + 1, size=(n_rows, k))
    draws.sort(axis=1)
    draws += np.arange(k)
    return draws


def _csr(data, indices, indptr, shape):
    return sp.csr_matrix((data, indices, indptr), shape=shape)


def cvar(n_assets, n_scenarios, *, beta=0.95, n_factors=5, dof=4.0, cap=0.1,
         target_fraction=0.5, seed=0) -> Problem:
    """Rockafellar-Uryasev CVaR portfolio LP on fat-tailed factor-model scenarios.

    Scenario returns R (S x n) come from a factor model with Student-t factors and noise,
    R_s = mu + B f_s + e_s. With weights w (n), the VaR level alpha and scenario excess losses u
    (S):

        minimise    alpha + 1 / ((1 - beta) S) * sum_s u_s
        subject to  R_s w + alpha + u_s >= 0        s = 1..S   (u_s >= -R_s w - alpha)
                    sum_j w_j = 1
                    mu' w >= r_target
                    0 <= w_j <= cap',  alpha free,  u_s >= 0

    cap' = max(cap, 2/n). r_target = r_eq + target_fraction * (r_max - r_eq), where r_eq is the
    equal-weight return and r_max the best return under the caps, so the feasible set has an
    interior point for 0 <= target_fraction < 1. Bounded: for any alpha the objective is at least
    the mean scenario loss -mean_s(R_s w), which is bounded because w is. Columns are [w, alpha, u]; rows are the S scenario rows, then the
    budget row, then the return row. Size: (S + 2) x (n + 1 + S), S (n + 2) + 2 n nonzeros.
    """
    n, S = int(n_assets), int(n_scenarios)
    if n < 1 or S < 1:
        raise ValueError("cvar needs n_assets >= 1 and n_scenarios >= 1")
    rng = np.random.default_rng(seed)
    k = max(1, int(n_factors))
    mu = rng.uniform(-2e-4, 1.2e-3, size=n)
    B = rng.normal(0.0, 0.01 / math.sqrt(k), size=(n, k))
    sigma = rng.uniform(0.005, 0.02, size=n)
    width = n + 2
    data = np.empty((S, width))
    R = data[:, :n]
    R[...] = _student_t(rng, dof, (S, n))
    R *= sigma
    R += _student_t(rng, dof, (S, k)) @ B.T
    R += mu
    data[:, n:] = 1.0
    idx = np.empty((S, width), dtype=np.int64)
    idx[:, :n] = np.arange(n)
    idx[:, n] = n
    idx[:, n + 1] = n + 1 + np.arange(S)

    cap = max(float(cap), 2.0 / n) if n > 1 else 1.0
    order = np.sort(mu)[::-1]
    full = min(n, int(math.floor(1.0 / cap)))
    r_max = cap * order[:full].sum() + (1.0 - cap * full) * (order[full] if full < n else 0.0)
    r_eq = float(mu.mean())
    r_target = r_eq + float(target_fraction) * (r_max - r_eq)

    all_data = np.concatenate([data.ravel(), np.ones(n), mu])
    all_idx = np.concatenate([idx.ravel(), np.arange(n), np.arange(n)])
    indptr = np.concatenate([np.arange(S + 1, dtype=np.int64) * width,
                             [S * width + n, S * width + 2 * n]])
    ncols = n + 1 + S
    A = _csr(all_data, all_idx, indptr, (S + 2, ncols))
    c = np.zeros(ncols)
    c[n] = 1.0
    c[n + 1:] = 1.0 / ((1.0 - beta) * S)
    col_lower = np.concatenate([np.zeros(n), [-np.inf], np.zeros(S)])
    col_upper = np.concatenate([np.full(n, cap), [np.inf], np.full(S, np.inf)])
    row_lower = np.concatenate([np.zeros(S), [1.0, r_target]])
    row_upper = np.concatenate([np.full(S, np.inf), [1.0, np.inf]])
    return Problem(c, A, row_lower, row_upper, col_lower, col_upper,
                   name=f"cvar_n{n}_s{S}_seed{seed}")


def allocation(n_items, n_resources, n_groups, *, resources_per_item=8, seed=0) -> Problem:
    """Multi-resource knapsack-style allocation LP with group (choose at most one) rows.

    Item i uses k = resources_per_item distinct resources with weights W_ri in [0.1, 1]; items
    are split into n_groups contiguous groups of nearly equal size. Values v correlate with the
    weighted resource use at random resource prices.

        maximise    v' x
        subject to  W x <= capacity                       (n_resources rows)
                    sum_{i in g} x_i <= 1                  (n_groups rows)
                    0 <= x <= 1

    capacity_r = t_r * (sum_i W_ri) / (items per group) with t_r uniform in [0.3, 0.7], so the
    resource rows bind. Feasible (x = 0) and bounded (0 <= x <= 1). Rows are the resource rows,
    then the group rows. Size: (n_resources + n_groups) x n_items, n_items (k + 1) nonzeros.
    """
    n, R, G = int(n_items), int(n_resources), int(n_groups)
    if n < 1 or R < 1 or G < 1 or G > n:
        raise ValueError("allocation needs n_items >= n_groups >= 1 and n_resources >= 1")
    k = min(int(resources_per_item), R)
    rng = np.random.default_rng(seed)
    res = _sorted_distinct(rng, n, k, R)
    W = rng.uniform(0.1, 1.0, size=(n, k))
    price = rng.uniform(0.5, 1.5, size=R)
    v = (W * price[res]).sum(axis=1) * rng.uniform(0.8, 1.2, size=n)
    group = (np.arange(n, dtype=np.int64) * G) // n

    idx = np.empty((n, k + 1), dtype=np.int64)
    idx[:, :k] = res
    idx[:, k] = R + group
    data = np.empty((n, k + 1))
    data[:, :k] = W
    data[:, k] = 1.0
    indptr = np.arange(n + 1, dtype=np.int64) * (k + 1)
    A = sp.csc_matrix((data.ravel(), idx.ravel(), indptr), shape=(R + G, n)).tocsr()
    del idx, data

    usage = np.bincount(res.ravel(), weights=W.ravel(), minlength=R)
    capacity = rng.uniform(0.3, 0.7, size=R) * usage * G / n
    row_upper = np.concatenate([capacity, np.ones(G)])
    return Problem(v, A, np.full(R + G, -np.inf), row_upper, np.zeros(n), np.ones(n),
                   sense="max", name=f"allocation_n{n}_r{R}_g{G}_seed{seed}")


def transport(n_sources, n_sinks, *, arcs_per_sink=None, supply_slack=0.2, seed=0) -> Problem:
    """Transportation LP on random points in the plane, over a sparse subset of arcs.

    Sources i and sinks j are uniform points in [0, 100]^2; sink j is joined to d = arcs_per_sink
    distinct sources (all of them when None), and the arc cost is the Euclidean distance plus 1.
    Each sink has a home source among its arcs, and every source's supply covers (1 + slack)
    times the demand of the sinks that call it home, plus slack times the mean demand:

        minimise    sum_(i,j) cost_ij x_ij
        subject to  sum_j x_ij <= supply_i                 (sources)
                    sum_i x_ij >= demand_j                 (sinks)
                    x >= 0

    Shipping each sink's demand from its home source is feasible; costs are positive and x >= 0,
    so it is bounded. Columns are the arcs grouped by sink; rows are the sources, then the sinks.
    Size: (n_sources + n_sinks) x (n_sinks d), 2 n_sinks d nonzeros.
    """
    S, T = int(n_sources), int(n_sinks)
    if S < 1 or T < 1:
        raise ValueError("transport needs n_sources >= 1 and n_sinks >= 1")
    d = S if arcs_per_sink is None else max(1, min(int(arcs_per_sink), S))
    rng = np.random.default_rng(seed)
    src_xy = rng.uniform(0.0, 100.0, size=(S, 2))
    snk_xy = rng.uniform(0.0, 100.0, size=(T, 2))
    src = _sorted_distinct(rng, T, d, S)
    home = src[np.arange(T), rng.integers(0, d, size=T)]
    demand = rng.uniform(1.0, 10.0, size=T)
    slack = float(supply_slack)
    supply = (1.0 + slack) * np.bincount(home, weights=demand, minlength=S)
    supply += slack * demand.mean()

    cost = src_xy[src.ravel()]
    cost -= np.repeat(snk_xy, d, axis=0)
    cost = np.sqrt(np.einsum("ij,ij->i", cost, cost))
    cost += 1.0
    arcs = T * d
    idx = np.empty((arcs, 2), dtype=np.int64)
    idx[:, 0] = src.ravel()
    del src
    idx[:, 1] = S + np.repeat(np.arange(T, dtype=np.int64), d)
    indptr = np.arange(arcs + 1, dtype=np.int64) * 2
    A = sp.csc_matrix((np.ones(2 * arcs), idx.ravel(), indptr), shape=(S + T, arcs)).tocsr()
    del idx
    row_lower = np.concatenate([np.full(S, -np.inf), demand])
    row_upper = np.concatenate([supply, np.full(T, np.inf)])
    return Problem(cost, A, row_lower, row_upper, np.zeros(arcs), np.full(arcs, np.inf),
                   name=f"transport_s{S}_t{T}_d{d}_seed{seed}")


def factor_qp(n_assets, n_factors=50, *, gamma=2.0, cap=0.05, seed=0) -> Problem:
    """Factor-model mean-variance (Markowitz) QP with the factor exposures lifted, so Q is diagonal.

    Covariance Sigma = F F' + D with exposures F (n x k) and idiosyncratic variances D. With
    weights x (n) and factor exposures y = F' x (k):

        minimise    0.5 * gamma * (y'y + x' D x) - mu' x
        subject to  y - F' x = 0                           (k rows)
                    sum_i x_i = 1
                    0 <= x_i <= cap',  y free

    cap' = max(cap, 2/n), so the budget row has interior points; gamma > 0 and D > 0 make it
    strictly convex in x, and y is fixed by x, so it is bounded. Columns are [x, y]; Q is the
    diagonal gamma * [D, 1] in CSR. Size: (k + 1) x (n + k), k (n + 1) + n nonzeros.
    """
    n, k = int(n_assets), int(n_factors)
    if n < 1 or k < 1:
        raise ValueError("factor_qp needs n_assets >= 1 and n_factors >= 1")
    rng = np.random.default_rng(seed)
    width = n + 1
    data = np.empty((k, width))
    Ft = data[:, :n]
    Ft[...] = rng.normal(0.0, 0.15 / math.sqrt(k), size=(k, n))
    mu = 0.02 + Ft.T @ rng.uniform(0.0, 0.4, size=k) + rng.normal(0.03, 0.02, size=n)
    Ft *= -1.0
    data[:, n] = 1.0
    D = rng.uniform(0.01, 0.04, size=n)
    idx = np.empty((k, width), dtype=np.int64)
    idx[:, :n] = np.arange(n)
    idx[:, n] = n + np.arange(k)
    A = _csr(np.concatenate([data.ravel(), np.ones(n)]),
             np.concatenate([idx.ravel(), np.arange(n)]),
             np.concatenate([np.arange(k + 1, dtype=np.int64) * width, [k * width + n]]),
             (k + 1, n + k))
    del data, idx
    cap = max(float(cap), 2.0 / n) if n > 1 else 1.0
    diag = float(gamma) * np.concatenate([D, np.ones(k)])
    Q = sp.diags(diag, format="csr")
    c = np.concatenate([-mu, np.zeros(k)])
    row = np.concatenate([np.zeros(k), [1.0]])
    return Problem(c, A, row, row, np.concatenate([np.zeros(n), np.full(k, -np.inf)]),
                   np.concatenate([np.full(n, cap), np.full(k, np.inf)]), Q=Q,
                   name=f"factor_qp_n{n}_k{k}_seed{seed}")


def _cvar_params(nnz):
    n = max(5, int(round(0.127 * math.sqrt(nnz))))
    return {"n_assets": n, "n_scenarios": max(10, int(round((nnz - 2 * n) / (n + 2))))}


def _allocation_params(nnz, k=8):
    n = max(20, int(round(nnz / (k + 1))))
    return {"n_items": n, "n_resources": max(k, n // 20), "n_groups": max(1, n // 20),
            "resources_per_item": k}


def _transport_params(nnz):
    arcs = max(1, nnz // 2)
    side = max(2, int(math.ceil(1.06 * math.sqrt(arcs))))
    return {"n_sources": side, "n_sinks": side,
            "arcs_per_sink": max(1, min(side, int(round(arcs / side))))}


def _factor_qp_params(nnz):
    k = min(50, max(2, int(round(math.sqrt(nnz) / 2))))
    return {"n_assets": max(2, int(round((nnz - k) / (k + 1)))), "n_factors": k}


KINDS = {
    "cvar": (cvar, _cvar_params),
    "allocation": (allocation, _allocation_params),
    "transport": (transport, _transport_params),
    "factor_qp": (factor_qp, _factor_qp_params),
}


def params_for_nnz(kind, nnz) -> dict:
    """Size parameters of generator `kind` that give about `nnz` nonzeros in A."""
    if kind not in KINDS:
        raise ValueError(f"unknown instance kind {kind!r}; choose from {sorted(KINDS)}")
    return KINDS[kind][1](int(nnz))


def by_nnz(kind, nnz, seed=0, **overrides) -> Problem:
    """Instance of `kind` with about `nnz` nonzeros; `overrides` replace any generator argument."""
    params = params_for_nnz(kind, nnz)
    params.update(overrides)
    return KINDS[kind][0](seed=seed, **params)
