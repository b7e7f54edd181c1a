"""Independent float64 checks of answers on the ORIGINAL problem.

Knows: the Problem as the user gave it (sense, constant, bounds, Q) and the measures of
`shared/BENCH.md`: relative primal residual, relative dual residual and relative gap, all in the
L2 norm; and the checks of primal (Farkas) and dual (ray) infeasibility certificates.
Must not know: scaling, presolve, the iteration loop or any device. It shares no code with them on
purpose, so that a bug there cannot hide here. (On large problems its two products are one
compiled host pass, `backend.check_products`, which exists for this check alone: scipy's bits,
or on a very large A a fixed block order that gives the same bits on every machine.)

Sign convention (HiGHS's, in the problem's own sense): c + Qx - A'y - z = 0. For a minimisation
y_i may be positive only where row_lower_i is finite and negative only where row_upper_i is finite,
and likewise z_j with the column bounds. For a maximisation every sign flips. Duals with a
disallowed sign are clipped before measuring, so a wrong sign shows up as residual, never as a
better objective.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["KKTReport", "CertificateReport", "kkt_check", "reduced_costs_and_check",
           "primal_infeasibility_check", "dual_infeasibility_check", "finite_bound_norm",
           "norm2"]


@dataclass
class KKTReport:
    primal_residual: float   # relative: ||.||_2 / (1 + ||b||_2)
    dual_residual: float     # relative: ||.||_2 / (1 + ||c||_2)
    gap: float               # relative: |p - d| / (1 + |p| + |d|), objectives with the constant
    primal_objective: float  # in the problem's own sense, constant included
    dual_objective: float
    tol: float

    @property
    def ok(self) -> bool:
        vals = (self.primal_residual, self.dual_residual, self.gap)
        return all(np.isfinite(v) and v <= self.tol for v in vals)


@dataclass
class CertificateReport:
    kind: str          # "primal_infeasible" or "dual_infeasible"
    value: float       # the ray's objective improvement (must be > 0)
    violation: float   # how far the ray is from the cone it must lie in, relative to `value`
    tol: float

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.value) and self.value > 0 and np.isfinite(self.violation)
                    and self.violation <= self.tol)


def norm2(v) -> float:
    """||v||_2 without overflow: NumPy's norm squares the entries, so entries from about 1e154
    on give inf for a finite norm, and a denominator of inf would pass any residual. Recomputed
    scaled by max |v| only then (a vector with a non-finite entry keeps its inf or nan)."""
    v = np.asarray(v, dtype=np.float64)
    with np.errstate(over="ignore"):
        n = float(np.linalg.norm(v))
    if math.isinf(n) and v.size:
        big = float(np.max(np.abs(v)))
        if math.isfinite(big):
            n = big * float(np.linalg.norm(v / big))
    return n


def finite_bound_norm(lo, hi) -> float:
    """||b||_2 over the finite row bounds, an equality row counted once."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    eq = lo == hi
    parts = [lo[np.isfinite(lo)], hi[np.isfinite(hi) & ~eq]]
    return norm2(np.concatenate(parts)) if lo.size else 0.0


def _min_form(problem):
    s = -1.0 if problem.sense == "max" else 1.0
    return s, s * np.asarray(problem.c, dtype=np.float64), problem.Q


def _clip_sign(v, lo, hi):
    """Keep v_i > 0 only where lo_i is finite and v_i < 0 only where hi_i is finite."""
    out = np.array(v, dtype=np.float64)
    np.minimum(out, 0.0, out=out, where=~np.isfinite(lo))
    np.maximum(out, 0.0, out=out, where=~np.isfinite(hi))
    return out


def _support(v, lo, hi):
    """sum_i lo_i v_i^+ - hi_i v_i^-, with v already sign-clipped (0 * inf treated as 0)."""
    pos = np.where(v > 0, v * np.where(np.isfinite(lo), lo, 0.0), 0.0)
    neg = np.where(v < 0, v * np.where(np.isfinite(hi), hi, 0.0), 0.0)
    return float(np.sum(pos) + np.sum(neg))


# Above this many nonzeros the two products of a check run as one compiled pass over A (a third
# of the time of scipy's two on a 10M-nonzero LP: 14 against 40 ms on the 2-core VM), with the
# same sums in the same order, so the same bits; from backend.BLOCK_NNZ on, in row blocks (see
# backend.check_products).
FUSED_NNZ = 100_000


def _products(A, x, y):
    """(A x, A' y) for a CSR A, summed in scipy's order (A x row by row; A' y by scattering each
    row's entries in turn, as scipy does for a transposed CSR product)."""
    if A.nnz < FUSED_NNZ:
        return A @ x, A.T @ y
    from .backend import check_products     # a host routine kept for this check alone
    return check_products(A.indptr, A.indices, A.data, x, y, A.shape[1])


def kkt_check(problem, x, y, z, tol) -> KKTReport:
    """Relative KKT measures of (x, y, z) on the original problem, as in shared/BENCH.md."""
    return _kkt(problem, x, y, z, tol)[0]


def reduced_costs_and_check(problem, x, y, tol):
    """(z, report): the reduced costs c + Qx - A'y with the signs the column bounds allow
    (HiGHS's signs, the problem's own sense), and kkt_check of (x, y, z), sharing its products."""
    rep, z = _kkt(problem, x, y, None, tol)
    return z, rep


def _kkt(problem, x, y, z, tol):
    A = problem.A.tocsr()
    x = np.asarray(x, dtype=np.float64)
    s, c, Q = _min_form(problem)
    y = s * np.asarray(y, dtype=np.float64)
    rl, ru = problem.row_lower, problem.row_upper
    cl, cu = problem.col_lower, problem.col_upper
    yc = _clip_sign(y, rl, ru)
    Ax, ATy = _products(A, x, yc)
    Qx = Q @ (s * x) if Q is not None else 0.0   # Q in min form is s*Q
    grad = c + Qx
    if z is None:        # from the dual as given (the same as yc unless a sign is wrong)
        ATy0 = ATy if np.array_equal(yc, y) else A.T @ y
        z = _clip_sign(grad - ATy0, cl, cu)
    else:
        z = _clip_sign(s * np.asarray(z, dtype=np.float64), cl, cu)
    r_row = Ax - np.clip(Ax, rl, ru)
    r_col = x - np.clip(x, cl, cu)
    primal_abs = norm2(r_row) + norm2(r_col)
    primal_rel = primal_abs / (1.0 + finite_bound_norm(rl, ru))

    y = yc
    dual_abs = norm2(grad - ATy - z)
    dual_rel = dual_abs / (1.0 + norm2(c))

    quad = 0.5 * float(x @ Qx) if Q is not None else 0.0
    k = s * problem.objective_constant
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow fails the check below
        pobj = float(c @ x) + quad + k
    dobj = _support(y, rl, ru) + _support(z, cl, cu) - quad + k
    gap = abs(pobj - dobj) / (1.0 + abs(pobj) + abs(dobj))
    return KKTReport(primal_rel, dual_rel, gap, s * pobj, s * dobj, tol), s * z


def primal_infeasibility_check(problem, y, z=None, tol=1e-6) -> CertificateReport:
    """Farkas ray y (HiGHS signs, problem's own sense): A'y + z = 0 with y, z sign-feasible and
    sum(row bounds . y) + sum(col bounds . z) > 0. The reported violation is
    ||A'y + z|| / value after scaling y so that value is 1; z defaults to -A'y clipped to its
    allowed signs."""
    A = problem.A.tocsr()
    s = -1.0 if problem.sense == "max" else 1.0
    y = _clip_sign(s * np.asarray(y, dtype=np.float64), problem.row_lower, problem.row_upper)
    ATy = A.T @ y
    z = -ATy if z is None else s * np.asarray(z, dtype=np.float64)
    z = _clip_sign(z, problem.col_lower, problem.col_upper)
    value = _support(y, problem.row_lower, problem.row_upper) + _support(
        z, problem.col_lower, problem.col_upper)
    viol = norm2(ATy + z)
    rel = viol / value if value > 0 else float("inf")
    return CertificateReport("primal_infeasible", value, rel, tol)


def dual_infeasibility_check(problem, d, tol=1e-6) -> CertificateReport:
    """Primal ray d: c'd < 0 (min form), Qd = 0, A d in the recession cone of the row bounds and d
    in that of the column bounds. The violation is the norm of the parts outside those cones plus
    ||Qd||, over -c'd."""
    A = problem.A.tocsr()
    _, c, Q = _min_form(problem)
    d = np.asarray(d, dtype=np.float64)
    value = -float(c @ d)

    def cone_violation(v, lo, hi):
        rl = np.where(np.isfinite(lo), 0.0, -np.inf)
        ru = np.where(np.isfinite(hi), 0.0, np.inf)
        return norm2(v - np.clip(v, rl, ru))

    viol = cone_violation(A @ d, problem.row_lower, problem.row_upper)
    viol += cone_violation(d, problem.col_lower, problem.col_upper)
    if Q is not None:
        viol += norm2(Q @ d)
    rel = viol / value if value > 0 else float("inf")
    return CertificateReport("dual_infeasible", value, rel, tol)
