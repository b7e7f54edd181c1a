"""Integer solutions from the continuous relaxation: round, repair, improve, verify.

Reached by ``gpulp.solve(problem, integer=True)`` (and ``gpulp solve FILE --integer``), which calls
``solve_integer(problem, opts)``. The layer is a primal heuristic around the PDHG relaxation, not a
branch-and-bound: it finds good integer points fast and says how far they can be from the optimum.

1. Relax: solve the continuous relaxation with gpulp (on opts.device; integer bounds rounded
   inwards first). Bound propagation on the rows runs once at the root (it can prove that no
   integer point exists).
2. Round: nearest rounding; randomised rounding (x_j rounded up with probability equal to its
   fractional part) over several seeds; and fix-and-propagate rounding (integer columns fixed one
   by one, least fractional first, each fixing propagated through the rows' activity bounds; on
   a conflict the other neighbouring integer is tried).
3. Repair: restore feasibility greedily.
   - Knapsack-type rows (finite upper side, nonnegative coefficients on columns with
     nonnegative lower bounds) are repaired in vectorised passes: in every violated row, the
     column with the worst value-to-weight ratio (objective benefit per unit of that row's
     resource) is shrunk by just enough units, or dropped.
   - Any other violated row is repaired by bound-aware shifting with activity tracking: row
     activities r = A x are kept up to date, and each move shifts one column (by whole units for
     an integer column) towards the violated side, choosing the move that lowers the weighted
     total violation most (ties by objective); a move is limited by the column's bounds and, as
     a second candidate, by a ratio test against the satisfied rows. Rows that stay violated
     gain weight (breakout), a short tabu list stops a column from moving straight back, and the
     repair gives up when the violation stops falling.
   - Mixed problems: the continuous columns come from their own LP (integer columns fixed,
     re-solved by gpulp at a tighter tolerance, warm-started), snapped onto the face they are
     near (least-norm LSQR correction of the nearly active rows), then repaired.
4. Improve: fix-and-resolve diving, twice (a fine dive, then a coarse one), each from the root:
   every round fixes, with propagation, the integer columns within a small distance of an
   integer plus the least fractional share of the others, re-solves the smaller relaxation
   (fixed columns removed, row bounds shifted) warm-started from the previous primal and dual
   point, and rounds and repairs the new point; a round whose fixings make the relaxation
   infeasible is undone and retried with half as many. A dive stops when its bound cannot beat
   the incumbent. Every candidate ends with a 1-opt local search: single-column shifts that
   improve the objective and keep every row and bound satisfied, then, where rows have a
   continuous slack column of their own (cash in a budget row, CVaR excess losses), +-1 moves
   and a few pairs with those slacks moving to their cheapest feasible values. Pure packing
   problems also get a vectorised greedy fill in value-to-weight order and a ruin-and-recreate
   search (empty the columns around a few random rows, refill with a perturbed priority).
   All repair and improvement steps are vectorised over the rows and columns they touch (no
   work quadratic in the size).

Verification (``check_integer``), in float64 on the problem as given, with the integer columns
snapped to the nearest integer: every integer column within ``int_tol`` = 1e-9 of an integer
before snapping; every column inside its bounds; every row activity inside
[row_lower - t, row_upper + t] with ``t = feas_tol * (1 + |bound|)``, ``feas_tol`` = 1e-9 by
default (column bounds likewise). Only points that pass are ever returned.

Answer (a gpulp.Result):
- ``"optimal"``: a verified integer point proven within ``tol`` of the relaxation bound: both
  ``mip_gap`` and the plain relative gap |objective - bound| / max(|objective|, |bound|) are at
  most ``tol`` (HiGHS's ``mip_rel_gap`` is 1e-4 too), or a converged relaxation that is already
  integral and verified.
- ``"feasible"``: a verified integer point with a gap; ``bound`` and
  ``mip_gap = |objective - bound| / max(1, |objective|)`` say how far it can be from the optimum.
- ``"no_solution_found"``: no verified integer point; ``x`` is None (an infeasible point is never
  returned as a solution). The message says why (relaxation infeasible or unbounded with a
  checked certificate, propagation proved infeasibility, or the heuristics found nothing).

``bound`` is the relaxation's objective when the relaxation converged (verified at ``tol``, so
it is the LP/QP optimum to that tolerance). When the relaxation stopped at a time or iteration
limit first, the bound is the Lagrangian bound of its dual point (``lagrangian_bound``), which
is valid for any dual point of an LP; for a QP it is then unknown (nan).

Knows: the Problem (own sense), the relaxation through gpulp.solver.solve, NumPy / SciPy on the
host. Must not know: devices or kernels (the relaxations run wherever opts.device says; the
rounding itself runs on the host, where its sequential parts belong).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from .log import logger
from .presolve.work import ranges
from .problem import FactorQ, Problem
from .result import Result, Status

__all__ = ["solve_integer", "check_integer", "IntegerCheck", "FEAS_TOL", "INT_TOL",
           "lagrangian_bound"]

FEAS_TOL = 1e-9
"""Row and column feasibility tolerance of an integer point: violation <= FEAS_TOL*(1+|bound|)."""

INT_TOL = 1e-9
"""Integrality tolerance: |x_j - round(x_j)| <= INT_TOL on integer columns (then snapped)."""


# ============================================================================== verification
@dataclass
class IntegerCheck:
    """What check_integer found. `x` is the snapped point that was checked."""
    ok: bool
    objective: float            # own sense, constant included
    integrality: float          # max |x_j - round(x_j)| over integer columns before snapping
    row_violation: float        # max over rows of violation / (1 + |bound|)
    col_violation: float        # max over columns of violation / (1 + |bound|)
    x: np.ndarray
    message: str = ""


def check_integer(problem: Problem, x, *, feas_tol: float = FEAS_TOL,
                  int_tol: float = INT_TOL) -> IntegerCheck:
    """Check an integer point in float64 on the problem as given (see the module docstring)."""
    x = np.array(x, dtype=np.float64, copy=True).ravel()
    n = problem.num_cols
    if x.shape[0] != n or not np.all(np.isfinite(x)):
        return IntegerCheck(False, math.nan, math.inf, math.inf, math.inf, x,
                            "wrong length or non-finite entries")
    I = problem.integrality
    frac = float(np.max(np.abs(x[I] - np.round(x[I])))) if I.any() else 0.0
    x[I] = np.round(x[I])
    cl, cu = problem.col_lower, problem.col_upper
    with np.errstate(invalid="ignore"):
        cv = np.maximum(np.maximum(cl - x, 0.0) / (1.0 + np.abs(np.where(np.isfinite(cl), cl, 0))),
                        np.maximum(x - cu, 0.0) / (1.0 + np.abs(np.where(np.isfinite(cu), cu, 0))))
    col_v = float(cv.max()) if n else 0.0
    r = problem.A @ x
    rl, ru = problem.row_lower, problem.row_upper
    rv = np.maximum(np.maximum(rl - r, 0.0) / (1.0 + np.abs(np.where(np.isfinite(rl), rl, 0))),
                    np.maximum(r - ru, 0.0) / (1.0 + np.abs(np.where(np.isfinite(ru), ru, 0))))
    row_v = float(rv.max()) if rv.size else 0.0
    ok = frac <= int_tol and col_v <= feas_tol and row_v <= feas_tol
    msg = "" if ok else (f"integrality {frac:.2e} (tol {int_tol:.0e}), row violation "
                         f"{row_v:.2e}, column violation {col_v:.2e} (tol {feas_tol:.0e})")
    return IntegerCheck(bool(ok), problem.objective(x), frac, row_v, col_v, x, msg)


def lagrangian_bound(problem: Problem, y, x=None) -> float:
    """Valid bound on the relaxation's optimum (own sense) from any row-dual point y (HiGHS
    signs), and for a QP from any point x as well.

    min c'x over lo <= Ax <= hi, cl <= x <= cu is at least
    sum_i (lo_i y_i^+ - hi_i y_i^-) + sum_j min_{cl_j <= x_j <= cu_j} (c - A'y)_j x_j,
    after clipping y to its allowed signs; -inf (+inf for a maximisation) where a reduced cost
    points at an infinite bound. A convex QP's objective f is at least its linearisation at x,
    f(x) + g'(v - x) with g = c + Qx, so the same bound with c := g, plus f(x) - g'x, holds for
    it. Returns nan for a QP without x."""
    if problem.is_qp:
        if y is None or x is None:
            return math.nan
        x = np.asarray(x, dtype=np.float64)
        Qx = problem.Q @ x
        g = problem.c + Qx                      # gradient in the problem's own sense
        const = float(problem.c @ x + 0.5 * x @ Qx) - float(g @ x)
        lin = Problem(g, problem.A, problem.row_lower, problem.row_upper, problem.col_lower,
                      problem.col_upper, sense=problem.sense,
                      objective_constant=problem.objective_constant + const)
        return lagrangian_bound(lin, y)
    s = -1.0 if problem.sense == "max" else 1.0
    rl, ru = problem.row_lower, problem.row_upper
    y = s * np.asarray(y, dtype=np.float64)
    y = np.where(np.isfinite(rl), y, np.minimum(y, 0.0))
    y = np.where(np.isfinite(ru), y, np.maximum(y, 0.0))
    d = s * problem.c - problem.A.T @ y
    cl, cu = problem.col_lower, problem.col_upper
    with np.errstate(invalid="ignore"):
        col = np.where(d > 0, d * cl, np.where(d < 0, d * cu, 0.0))
        row = np.where(y > 0, y * np.where(np.isfinite(rl), rl, 0.0), 0.0) + \
            np.where(y < 0, y * np.where(np.isfinite(ru), ru, 0.0), 0.0)
    val = float(np.sum(col) + np.sum(row))
    if math.isnan(val):
        val = -math.inf
    return s * (val + s * problem.objective_constant)


# ============================================================================== the model
class _Model:
    """Min-form host arrays shared by the heuristics (the problem's columns, tightened bounds)."""

    def __init__(self, problem: Problem, feas_tol: float):
        self.p = problem
        self.s = -1.0 if problem.sense == "max" else 1.0
        self.n, self.m = problem.num_cols, problem.num_rows
        self.I = problem.integrality.copy()
        self.c = self.s * problem.c
        self.A = problem.A
        C = problem.A.tocsc()
        C.sort_indices()
        self.cptr = C.indptr.astype(np.int64)
        self.cind, self.cval = C.indices.astype(np.int64), C.data
        self.rptr, self.rind, self.rval = self.A.indptr, self.A.indices, self.A.data
        self.lo, self.hi = problem.row_lower, problem.row_upper
        self.cl, self.cu = problem.col_lower.copy(), problem.col_upper.copy()
        self.cl[self.I] = np.ceil(self.cl[self.I] - INT_TOL)
        self.cu[self.I] = np.floor(self.cu[self.I] + INT_TOL)
        # internal targets: half the verification tolerance
        self.tol_lo = 0.5 * feas_tol * (1.0 + np.abs(np.where(np.isfinite(self.lo), self.lo, 0)))
        self.tol_hi = 0.5 * feas_tol * (1.0 + np.abs(np.where(np.isfinite(self.hi), self.hi, 0)))
        rmax = np.zeros(self.m)
        if self.A.nnz:
            np.maximum.at(rmax, np.repeat(np.arange(self.m), np.diff(self.rptr)), np.abs(self.rval))
        self.rscale = 1.0 / np.maximum(rmax, 1e-12)
        self.Q = problem.Q
        self.qdiag = np.zeros(self.n) if self.Q is None else self.s * np.asarray(
            self.Q.diagonal(), dtype=np.float64)
        self._packing()
        self._live_rows()
        self._slacks()

    def _slacks(self):
        """slack_col[i]: a continuous column that appears only in row i and not in Q (cash in a
        budget row, a CVaR excess variable), or -1. Moves of other columns can be absorbed by
        it in the 1-opt with slacks; slack_coef[i] is its coefficient."""
        m, n = self.m, self.n
        clen = np.diff(self.cptr)
        noq = np.ones(n, dtype=bool)
        if isinstance(self.Q, FactorQ):
            noq = ~np.any(self.Q.F != 0, axis=1) & (self.Q.d == 0)
        elif self.Q is not None:
            noq = np.diff(self.Q.indptr) == 0
        single = np.flatnonzero(~self.I & (clen == 1) & noq)
        self.slack_col = np.full(m, -1, dtype=np.int64)
        self.slack_coef = np.zeros(m)
        if single.size:
            rows = self.cind[self.cptr[single]]
            self.slack_col[rows] = single
            self.slack_coef[rows] = self.cval[self.cptr[single]]
        self.has_slacks = bool(single.size)

    def _live_rows(self):
        """Rows whose activity bounds can ever propagate or conflict: a side is dead when two or
        more continuous columns make its activity bound infinite (continuous bounds never
        change during propagation)."""
        m = self.m
        rows = np.repeat(np.arange(m), np.diff(self.rptr))
        if rows.size == 0:
            self.live_lo = self.live_hi = np.zeros(m, dtype=bool)
            return
        J, a = self.rind, self.rval
        cont = ~self.I[J]
        inf_lo, inf_hi = ~np.isfinite(self.cl[J]), ~np.isfinite(self.cu[J])
        # min activity infinite from column j: a > 0 and lower -inf, or a < 0 and upper +inf
        min_inf = cont & np.where(a > 0, inf_lo, inf_hi)
        max_inf = cont & np.where(a > 0, inf_hi, inf_lo)
        nmin = np.bincount(rows, weights=min_inf, minlength=m)
        nmax = np.bincount(rows, weights=max_inf, minlength=m)
        self.live_hi = np.isfinite(self.hi) & (nmin <= 1)
        self.live_lo = np.isfinite(self.lo) & (nmax <= 1)

    def _packing(self):
        """Knapsack-type rows: finite upper side, lower side implied, coefficients >= 0 on
        columns with nonnegative lower bounds. A column is 'packing' when all its rows are."""
        m, n = self.m, self.n
        rows_of_nnz = np.repeat(np.arange(m), np.diff(self.rptr))
        neg = np.zeros(m, dtype=bool)
        if self.A.nnz:
            bad = (self.rval < 0) | (self.cl[self.rind] < 0)
            np.logical_or.at(neg, rows_of_nnz, bad)
            minact = np.bincount(rows_of_nnz, weights=self.rval * np.where(
                np.isfinite(self.cl[self.rind]), self.cl[self.rind], 0.0), minlength=m)
        else:
            minact = np.zeros(m)
        self.pack_row = np.isfinite(self.hi) & ~neg & (self.lo <= minact + 1e-12)
        col_rows = self.cind
        okc = np.ones(n, dtype=bool)
        if col_rows.size:
            notpack = ~self.pack_row[col_rows]
            bad = np.zeros(n, dtype=bool)
            np.logical_or.at(bad, np.repeat(np.arange(n), np.diff(self.cptr)), notpack)
            okc = ~bad
        self.pack_col = okc & (self.cl >= 0)
        self.all_packing = bool(self.pack_row.all() and self.pack_col.all())

    # --------------------------------------------------------------- objective (min form)
    def obj(self, x):
        v = float(self.c @ x)
        if self.Q is not None:
            v += 0.5 * self.s * float(x @ (self.Q @ x))
        return v

    def grad(self, x):
        g = self.c.copy()
        if self.Q is not None:
            g += self.s * (self.Q @ x)
        return g

    def grad_update(self, g, j, delta):
        if self.Q is None or delta == 0:
            return
        if isinstance(self.Q, FactorQ):
            g += self.s * delta * (self.Q.F @ self.Q.F[j])
            g[j] += self.s * delta * self.Q.d[j]
        else:
            lo, hi = self.Q.indptr[j], self.Q.indptr[j + 1]
            g[self.Q.indices[lo:hi]] += self.s * delta * self.Q.data[lo:hi]

    # --------------------------------------------------------------- rows
    def violation(self, r, rows=None):
        lo = self.lo if rows is None else self.lo[rows]
        hi = self.hi if rows is None else self.hi[rows]
        return np.maximum(lo - r, 0.0) + np.maximum(r - hi, 0.0)

    def violated(self, r):
        return np.flatnonzero((self.lo - r > self.tol_lo) | (r - self.hi > self.tol_hi))

    def clip(self, x):
        return np.minimum(np.maximum(x, self.cl), self.cu)


# ============================================================================== rounding
def _round_nearest(model, x):
    z = x.copy()
    z[model.I] = np.round(x[model.I])
    return model.clip(z)


def _round_random(model, x, rng):
    z = x.copy()
    xi = x[model.I]
    fl = np.floor(xi)
    z[model.I] = fl + (rng.random(xi.shape[0]) < (xi - fl))
    return model.clip(z)


# ============================================================================== repair
def _repair_packing(model, x, r, max_passes=200):
    """Vectorised repair of violated knapsack-type rows: in each, shrink (or drop) the column
    with the worst value-to-weight ratio by just enough. Returns the number of passes."""
    g = model.grad(x)
    value = -g                          # benefit per unit (min form)
    for npass in range(max_passes):
        with np.errstate(invalid="ignore"):
            V = np.flatnonzero(model.pack_row & (r - model.hi > model.tol_hi))
        if V.size == 0:
            return npass
        starts, lens = model.rptr[V], np.diff(model.rptr)[V]
        idx = ranges(starts, lens)
        cols = model.rind[idx]
        a = model.rval[idx]
        owner = np.repeat(np.arange(V.size), lens)
        can = (x[cols] > model.cl[cols]) & (a > 0)
        key = np.where(can, value[cols] / np.where(a > 0, a, 1.0), np.inf)
        order = np.lexsort((key, owner))
        seg = np.concatenate([[0], np.cumsum(lens)[:-1]])
        first = order[seg[lens > 0]]
        rows_ok = lens > 0
        pick = first[np.isfinite(key[first])]
        if pick.size == 0:
            return npass
        Vp = V[rows_ok][np.isfinite(key[first])]
        j = cols[pick]
        excess = r[Vp] - model.hi[Vp]
        units = excess / a[pick]
        units = np.where(model.I[j], np.ceil(units - 1e-12), units)
        units = np.minimum(units, x[j] - model.cl[j])
        dec = np.zeros(model.n)
        np.maximum.at(dec, j, units)
        nz = np.flatnonzero(dec > 0)
        if nz.size == 0:
            return npass
        x[nz] -= dec[nz]
        r -= model.A @ dec
    return max_passes


def _repair_general(model, x, r, rng, deadline, max_moves, allowed=None, tabu_len=7,
                    ratio=False):
    """Bound-aware shifting with activity tracking (see the module docstring). `allowed` masks
    the columns that may move (None: all). Each move removes the most weighted violation (ties
    by objective) or, with `ratio`, costs the least objective per unit of violation removed.
    Works in place; returns True when feasible. Gives up when the total violation has not
    improved for a while."""
    n = model.n
    lo_r, hi_r, tlo, thi = model.lo, model.hi, model.tol_lo, model.tol_hi
    rscale = model.rscale
    cptr, cind, cval = model.cptr, model.cind, model.cval
    clens = np.diff(cptr)
    w = np.ones(model.m)
    tabu = np.full(n, -1, dtype=np.int64)
    g = model.grad(x)
    cont = ~model.I
    movable = np.ones(n, dtype=bool) if allowed is None else allowed
    best_total = math.inf
    stall = 0
    patience = 100 + 2 * model.m
    for it in range(max_moves):
        vl = lo_r - r
        vh = r - hi_r
        bad = (vl > tlo) | (vh > thi)
        V = np.flatnonzero(bad)
        if V.size == 0:
            return True
        if (it & 31) == 0 and time.perf_counter() > deadline:
            return False
        vrow = np.maximum(vl[V], 0.0) + np.maximum(vh[V], 0.0)
        total = float(np.dot(vrow, rscale[V]))
        if total < best_total * (1 - 1e-9):
            best_total, stall = total, 0
        else:
            stall += 1
            if stall > patience:
                return False
        if rng.random() < 0.1:
            i = int(V[rng.integers(V.size)])
        else:
            i = int(V[np.argmax(vrow * rscale[V] * w[V])])
        need = vl[i] if vl[i] > tlo[i] else -vh[i]   # > 0: raise the activity
        s_, e_ = model.rptr[i], model.rptr[i + 1]
        J = model.rind[s_:e_]
        a = model.rval[s_:e_]
        keep = movable[J]
        if not keep.all():
            J, a = J[keep], a[keep]
        if J.size == 0:
            return False
        d = np.where(need * a > 0, 1.0, -1.0)
        room = np.where(d > 0, model.cu[J] - x[J], x[J] - model.cl[J])
        full = abs(need) / np.abs(a)
        cJ = cont[J]
        full = np.where(cJ, full, np.ceil(full - 1e-9))
        step1 = np.minimum(full, room)
        # ratio test against the other rows (a satisfied side stays satisfied)
        starts, lens = cptr[J], clens[J]
        idx = ranges(starts, lens)
        owner = np.repeat(np.arange(J.size), lens)
        rows = cind[idx]
        av = cval[idx] * d[owner]
        rr = r[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            lim = np.where(av > 0, (hi_r[rows] - rr) / av, (lo_r[rows] - rr) / av)
        lim = np.where(rows == i, np.inf, np.maximum(lim, 0.0))
        segs = np.concatenate(([0], np.cumsum(lens)[:-1]))
        tmax = np.minimum.reduceat(lim, segs)
        step2 = np.minimum(step1, np.where(cJ, tmax, np.floor(tmax + 1e-9)))
        two = (step2 < step1) & (step2 > 1e-12)
        cj = np.concatenate([np.arange(J.size), np.flatnonzero(two)])
        cs = np.concatenate([step1, step2[two]])
        good = (cs > 1e-12) & np.isfinite(cs)
        cj, cs = cj[good], cs[good]
        if cj.size == 0:
            w[i] += 1.0
            continue
        delta = cs * d[cj]
        # weighted violation change on every row each candidate touches
        cidx = ranges(starts[cj], lens[cj])
        cown = np.repeat(np.arange(cj.size), lens[cj])
        crow = cind[cidx]
        r0 = r[crow]
        rnew = r0 + cval[cidx] * delta[cown]
        lo_c, hi_c = lo_r[crow], hi_r[crow]
        dv = (np.maximum(lo_c - rnew, 0.0) + np.maximum(rnew - hi_c, 0.0)
              - np.maximum(lo_c - r0, 0.0) - np.maximum(r0 - hi_c, 0.0)) * rscale[crow] * w[crow]
        dsum = np.bincount(cown, weights=dv, minlength=cj.size)
        jj = J[cj]
        dobj = g[jj] * delta + 0.5 * model.qdiag[jj] * delta * delta
        is_tabu = tabu[jj] > it
        score = np.where(is_tabu, dsum + 1e30, dsum) if not is_tabu.all() else dsum
        best = score.min()
        if not np.isfinite(best):
            w[i] += 1.0
            continue
        helps = np.flatnonzero((score < -1e-12) & ~is_tabu) if ratio else ()
        if len(helps):
            # greedy set-cover rule: objective change per unit of violation removed
            k = int(helps[np.argmin(dobj[helps] / -score[helps])])
        else:
            near = np.flatnonzero(score <= best + 1e-12 * (1.0 + abs(best)))
            k = int(near[np.argmin(dobj[near])])
        if dsum[k] >= -1e-15:
            w[V] += 1.0                 # breakout: a local minimum of the weighted violation
        j, dj = int(jj[k]), float(delta[k])
        x[j] += dj
        if not cont[j]:
            x[j] = round(x[j])
        s_c, e_c = cptr[j], cptr[j + 1]
        r[cind[s_c:e_c]] += cval[s_c:e_c] * dj
        model.grad_update(g, j, dj)
        tabu[j] = it + tabu_len
    return model.violated(r).size == 0


def _snap_continuous(model, x, allowed, rounds=4):
    """Move the continuous columns `allowed` of a nearly feasible x (a PDHG solution with the
    integer columns fixed) onto the face it is near: columns at their bounds stay there, and the
    others get the least-norm correction that puts every nearly active or violated row exactly
    on its bound (sparse LSQR). Repeated a few times; returns the corrected copy."""
    from scipy.sparse.linalg import lsqr
    x = model.clip(x.copy())
    A = model.A
    for _ in range(rounds):
        r = A @ x
        if model.violated(r).size == 0:
            break
        with np.errstate(invalid="ignore"):
            near_lo = np.isfinite(model.lo) & (r - model.lo <= 1e-6 * (1 + np.abs(model.lo)))
            near_hi = np.isfinite(model.hi) & (model.hi - r <= 1e-6 * (1 + np.abs(model.hi)))
        act = np.flatnonzero(near_lo | near_hi)
        target = np.where(near_lo, model.lo, model.hi)[act]
        cl, cu = model.cl, model.cu
        with np.errstate(invalid="ignore"):
            F = allowed & (x > cl + 1e-9 * (1 + np.abs(cl))) & (x < cu - 1e-9 * (1 + np.abs(cu)))
        Fi = np.flatnonzero(F)
        if act.size == 0 or Fi.size == 0:
            break
        M = A[act][:, Fi]
        e = target - r[act]
        sol = lsqr(M, e, atol=1e-15, btol=1e-15, iter_lim=20 * (M.shape[0] + M.shape[1]))[0]
        if not np.all(np.isfinite(sol)):
            break
        x[Fi] += sol
        x = model.clip(x)
    return x


def _repair(model, x, rng, deadline, allowed=None, max_moves=None):
    """Round-trip repair; returns a feasible x (copy) or None."""
    x = model.clip(x.copy())
    r = model.A @ x
    if model.violated(r).size == 0:
        return x
    if allowed is None and model.pack_row.any():
        _repair_packing(model, x, r)
        r = model.A @ x
        if model.violated(r).size == 0:
            return x
    if max_moves is None:
        max_moves = min(4 * (model.m + model.n) + 200, 50_000)
    # at most a few seconds (and a share of what is left) per repair
    left = deadline - time.perf_counter()
    cap = time.perf_counter() + min(5.0, 0.2 * left if math.isfinite(left) else 5.0)
    x0, r0 = x.copy(), r.copy()
    ok = _repair_general(model, x, r, rng, min(deadline, cap), max_moves, allowed, ratio=True)
    if not ok:
        x, r = x0, r0
        ok = _repair_general(model, x, r, rng, min(deadline, cap), max_moves, allowed)
    if not ok:
        return None
    r = model.A @ x
    return x if model.violated(r).size == 0 else None


# ============================================================================== propagation
class _Domains:
    """Column domains [L, U] with bound propagation over the rows (min/max row activities).

    Only integer columns are tightened (to whole numbers); continuous columns keep their bounds
    and only contribute to the activity bounds, so every derived bound is sound. A trail of
    changes allows undoing a tentative fixing. Propagation work per call is capped (`budget`
    row visits); a capped propagation is still sound, only less complete.
    """

    def __init__(self, model, L=None, U=None, budget=100):
        self.mo = model
        self.L = model.cl.copy() if L is None else L.copy()
        self.U = model.cu.copy() if U is None else U.copy()
        self.trail = []
        self.budget = budget
        self.inq = np.zeros(model.m, dtype=bool)

    def copy(self):
        d = _Domains(self.mo, self.L, self.U, self.budget)
        return d

    def mark(self):
        return len(self.trail)

    def undo(self, mark):
        L, U, tr = self.L, self.U, self.trail
        while len(tr) > mark:
            j, lo, hi = tr.pop()
            L[j], U[j] = lo, hi

    def _set(self, j, lo, hi):
        self.trail.append((j, self.L[j], self.U[j]))
        self.L[j], self.U[j] = lo, hi

    def fix(self, j, v) -> bool:
        if v < self.L[j] - 1e-9 or v > self.U[j] + 1e-9:
            return False
        self._set(j, v, v)
        mo = self.mo
        return self.propagate(mo.cind[mo.cptr[j]:mo.cptr[j + 1]])

    def row_conflict(self, i) -> bool:
        return self._row(i, tighten=False) is False

    def _row(self, i, tighten=True):
        mo = self.mo
        s, e = mo.rptr[i], mo.rptr[i + 1]
        if s == e:
            return []
        J = mo.rind[s:e]
        a = mo.rval[s:e]
        Lj, Uj = self.L[J], self.U[J]
        pos = a > 0
        cmin = np.where(pos, a * Lj, a * Uj)
        cmax = np.where(pos, a * Uj, a * Lj)
        fmin, fmax = np.isfinite(cmin), np.isfinite(cmax)
        nmin, nmax = int((~fmin).sum()), int((~fmax).sum())
        smin, smax = float(cmin[fmin].sum()), float(cmax[fmax].sum())
        lo = mo.lo[i] if mo.live_lo[i] else -math.inf
        hi = mo.hi[i] if mo.live_hi[i] else math.inf
        if nmin == 0 and smin > hi + mo.tol_hi[i] * 2:
            return False
        if nmax == 0 and smax < lo - mo.tol_lo[i] * 2:
            return False
        if not tighten:
            return []
        intc = mo.I[J] & (Lj < Uj)
        if not intc.any():
            return []
        changed = []
        newU, newL = Uj.copy(), Lj.copy()
        with np.errstate(invalid="ignore", divide="ignore"):
            if math.isfinite(hi) and nmin <= 1:
                res = np.where(fmin, smin - np.where(fmin, cmin, 0.0), smin) if nmin == 0 else \
                    np.where(~fmin, smin, -np.inf)
                b = (hi - res) / a
                newU = np.where(pos & np.isfinite(res), np.minimum(newU, b), newU)
                newL = np.where(~pos & np.isfinite(res), np.maximum(newL, b), newL)
            if math.isfinite(lo) and nmax <= 1:
                res = np.where(fmax, smax - np.where(fmax, cmax, 0.0), smax) if nmax == 0 else \
                    np.where(~fmax, smax, np.inf)
                b = (lo - res) / a
                newL = np.where(pos & np.isfinite(res), np.maximum(newL, b), newL)
                newU = np.where(~pos & np.isfinite(res), np.minimum(newU, b), newU)
        newU = np.floor(newU + 1e-6)
        newL = np.ceil(newL - 1e-6)
        ch = intc & ((newU < Uj - 0.5) | (newL > Lj + 0.5))
        if not ch.any():
            return []
        for k in np.flatnonzero(ch):
            j = int(J[k])
            lo_j, hi_j = max(self.L[j], newL[k]), min(self.U[j], newU[k])
            if lo_j > hi_j:
                return False
            self._set(j, lo_j, hi_j)
            changed.append(j)
        return changed

    def propagate(self, rows) -> bool:
        mo = self.mo
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[mo.live_lo[rows] | mo.live_hi[rows]]
        queue = rows.tolist()
        inq = self.inq
        inq[queue] = True
        visits = 0
        ok = True
        while queue:
            i = queue.pop()
            inq[i] = False
            visits += 1
            res = self._row(i, tighten=visits <= self.budget)
            if res is False:
                ok = False
                break
            for j in res:
                nb = mo.cind[mo.cptr[j]:mo.cptr[j + 1]]
                nb = nb[~inq[nb] & (mo.live_lo[nb] | mo.live_hi[nb])]
                inq[nb] = True
                queue.extend(nb.tolist())
        for i in queue:
            inq[i] = False
        return ok


def _fix_and_propagate(model, target, order, dom, deadline):
    """Fix the integer columns in `order` to their nearest values in `target`, propagating after
    each fixing; on a conflict try the other neighbouring integer, else leave the column free.
    Returns the rounded point (continuous columns from target, clipped to the domains)."""
    L, U = dom.L, dom.U
    for cnt, j in enumerate(order):
        if (cnt & 127) == 0 and time.perf_counter() > deadline:
            break
        if L[j] == U[j]:
            continue
        t = target[j]
        v = min(max(round(t), L[j]), U[j])
        mk = dom.mark()
        if dom.fix(j, v):
            continue
        dom.undo(mk)
        alt = v + 1 if t > v else v - 1
        if L[j] <= alt <= U[j]:
            mk = dom.mark()
            if dom.fix(j, alt):
                continue
            dom.undo(mk)
    x = np.minimum(np.maximum(target, L), U)
    I = model.I
    x[I] = np.minimum(np.maximum(np.round(x[I]), L[I]), U[I])
    return x


# ============================================================================== improvement
def _fill_packing(model, x, priority, max_passes=100, subset=None, r=None):
    """Vectorised greedy fill for packing columns with improving objective (LP objective only):
    raise columns in priority order while every row they touch has room. Conservative batches:
    a column is accepted when its rows fit the prefix sums of all earlier candidates of the
    batch, so each batch is feasible. `subset`: only these columns are candidates. In place
    (x, and r = A x when given); returns the number of columns raised."""
    if model.Q is not None:
        return 0
    if r is None:
        r = model.A @ x
    raised = 0
    ok = model.pack_col & (model.c < 0) & (x < model.cu)
    cand = np.flatnonzero(ok) if subset is None else subset[ok[subset]]
    if cand.size == 0:
        return 0
    cand = cand[np.argsort(-priority[cand], kind="stable")]
    lens_all = np.diff(model.cptr)
    for _ in range(max_passes):
        if cand.size == 0:
            break
        slack = np.maximum(model.hi - r, 0.0)
        starts, lens = model.cptr[cand], lens_all[cand]
        idx = ranges(starts, lens)
        owner = np.repeat(np.arange(cand.size), lens)
        rows = model.cind[idx]
        a = model.cval[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            fit = np.where(a > 0, slack[rows] / a, np.inf)
        alone = np.full(cand.size, np.inf)
        np.minimum.at(alone, owner, fit)
        room = model.cu[cand] - x[cand]
        units = np.minimum(room, alone)
        units = np.where(model.I[cand], np.floor(units + 1e-9), units)
        units = np.where(np.isfinite(units), units, 0.0)
        live = units > 1e-12
        if not live.any():
            break
        cand, units = cand[live], units[live]
        keepnz = live[owner]
        rows, a, owner = rows[keepnz], a[keepnz], owner[keepnz]
        remap = np.cumsum(live) - 1
        owner = remap[owner]
        use = a * units[owner]
        # prefix sums per row in candidate order
        order = np.lexsort((owner, rows))
        ro, uo = rows[order], use[order]
        cs = np.cumsum(uo)
        segstart = np.flatnonzero(np.r_[True, ro[1:] != ro[:-1]])
        base = np.repeat(cs[segstart] - uo[segstart], np.diff(np.r_[segstart, ro.size]))
        pref = cs - base
        okn = np.empty_like(pref, dtype=bool)
        okn[order] = pref <= slack[ro] + model.tol_hi[ro]
        bad = np.zeros(cand.size, dtype=bool)
        np.logical_or.at(bad, owner, ~okn)
        acc = ~bad
        if not acc.any():
            acc[0] = True               # fits alone by construction
        j = cand[acc]
        x[j] += units[acc]
        an = acc[owner]
        r += np.bincount(rows[an], weights=use[an], minlength=model.m)
        raised += int(acc.sum())
        left = x[cand] < model.cu[cand]
        cand = cand[left]
    return raised


def _ruin_recreate(model, x, priority, rng, deadline, max_rounds=300):
    """Large-neighbourhood search for packing problems: empty the columns that touch a few
    random rows, refill the neighbourhood greedily with a perturbed priority, keep the result
    when it is better. Local work only (the rows' columns and their neighbours). In place;
    returns the number of improving rounds."""
    if model.Q is not None or model.m == 0:
        return 0
    r = model.A @ x
    best = model.obj(x)
    wins = 0
    nrow = max(1, min(8, model.m // 100))
    spread = float(np.std(priority)) or 1.0
    for _ in range(max_rounds):
        if time.perf_counter() > deadline:
            break
        rows = rng.choice(model.m, size=nrow, replace=False)
        cols = np.unique(model.rind[ranges(model.rptr[rows], np.diff(model.rptr)[rows])])
        held = cols[x[cols] > model.cl[cols]]
        if held.size == 0:
            continue
        nb_rows = np.unique(model.cind[ranges(model.cptr[held], np.diff(model.cptr)[held])])
        nb = np.unique(model.rind[ranges(model.rptr[nb_rows], np.diff(model.rptr)[nb_rows])])
        xs, rs = x[nb].copy(), r.copy()
        old = float(model.c[nb] @ x[nb])
        dec = x[held] - model.cl[held]
        x[held] = model.cl[held]
        lens = np.diff(model.cptr)[held]
        idx = ranges(model.cptr[held], lens)
        r -= np.bincount(model.cind[idx], weights=model.cval[idx] * np.repeat(dec, lens),
                         minlength=model.m)
        pr = priority + 0.3 * spread * rng.standard_normal(model.n)
        _fill_packing(model, x, pr, subset=nb, r=r)
        new = float(model.c[nb] @ x[nb])
        if new < old - 1e-12 * (1 + abs(best)):
            best += new - old
            wins += 1
        else:
            x[nb], r[:] = xs, rs
    return wins


def _eval_moves(model, x, r, g, mid, cols, deltas, nmoves):
    """Evaluate moves made of (column, delta) entries (mid: the move of each entry) with the
    rows' slack columns absorbing the change at their cheapest feasible value. Returns
    (feasible, objective change in min form, per (move, row) slack data for applying)."""
    lens = np.diff(model.cptr)[cols]
    idx = ranges(model.cptr[cols], lens)
    own = np.repeat(np.arange(cols.size), lens)
    rows = model.cind[idx]
    dact = model.cval[idx] * deltas[own]
    key = mid[own] * model.m + rows
    ukey, inv = np.unique(key, return_inverse=True)
    dsum = np.bincount(inv, weights=dact, minlength=ukey.size)
    umove, urow = ukey // model.m, ukey % model.m
    rn = r[urow] + dsum
    scol = model.slack_col[urow]
    # a slack may not absorb a row its own move touches (it is not among the moved columns:
    # slacks are continuous and moves are on integer columns)
    has = scol >= 0
    sc = np.where(has, scol, 0)
    a_s = np.where(has, model.slack_coef[urow], 1.0)
    rest = rn - a_s * x[sc] * has
    lo, hi = model.lo[urow], model.hi[urow]
    tlo, thi = model.tol_lo[urow], model.tol_hi[urow]
    with np.errstate(invalid="ignore"):
        b1, b2 = (lo - rest) / a_s, (hi - rest) / a_s
    s_lo = np.where(a_s > 0, b1, b2)
    s_hi = np.where(a_s > 0, b2, b1)
    s_lo = np.maximum(s_lo, model.cl[sc])
    s_hi = np.minimum(s_hi, model.cu[sc])
    cs = model.c[sc]
    with np.errstate(invalid="ignore"):
        star = np.where(cs > 0, s_lo, np.where(cs < 0, s_hi, np.clip(x[sc], s_lo, s_hi)))
    ok_s = (s_lo <= s_hi + 1e-12 * (1 + np.abs(s_hi))) & np.isfinite(star)
    ok_plain = (rn >= lo - tlo) & (rn <= hi + thi)
    ok = np.where(has, ok_s, ok_plain)
    dobj_s = np.where(has & ok_s, cs * (np.where(ok_s, star, 0.0) - x[sc]), 0.0)
    bad = np.bincount(umove, weights=~ok, minlength=nmoves) > 0
    dobj = np.bincount(umove, weights=dobj_s, minlength=nmoves)
    dobj += np.bincount(mid, weights=g[cols] * deltas + 0.5 * model.qdiag[cols] * deltas ** 2,
                        minlength=nmoves)
    if model.Q is not None:
        # cross term of a pair of moves: delta_i delta_j Q_ij
        for k in np.flatnonzero(np.bincount(mid, minlength=nmoves) > 1):
            e = np.flatnonzero(mid == k)
            i, j = cols[e[0]], cols[e[1]]
            dobj[k] += model.s * deltas[e[0]] * deltas[e[1]] * _q_entry(model.Q, i, j)
    return ~bad, dobj, (umove, urow, has, sc, star, dsum)


def _q_entry(Q, i, j):
    if isinstance(Q, FactorQ):
        return float(Q.F[i] @ Q.F[j]) + (Q.d[i] if i == j else 0.0)
    lo, hi = Q.indptr[i], Q.indptr[i + 1]
    k = np.searchsorted(Q.indices[lo:hi], j)
    return float(Q.data[lo + k]) if k < hi - lo and Q.indices[lo + k] == j else 0.0


def _one_opt_slack(model, x, deadline, max_passes=50, pair_k=12):
    """1-opt (and a few 2-opt pairs) on the integer columns by +-1 unit, with the rows' slack
    columns (see _Model._slacks) moving to their cheapest feasible values; for problems whose
    rows have such slacks (a budget row with cash, CVaR excess rows). In place; returns the
    objective gain (min form)."""
    ints = np.flatnonzero(model.I)
    if ints.size == 0 or not model.has_slacks:
        return 0.0
    r = model.A @ x
    g = model.grad(x)
    gain = 0.0
    thresh = 1e-12 * (1.0 + abs(model.obj(x)))

    def apply(cols, deltas):
        nonlocal g
        ok, dobj, (umove, urow, has, sc, star, dsum) = _eval_moves(
            model, x, r, g, np.zeros(cols.size, dtype=np.int64), cols, deltas, 1)
        if not ok[0] or dobj[0] >= -thresh:
            return 0.0
        for j, dj in zip(cols, deltas):
            x[j] += dj
            model.grad_update(g, int(j), float(dj))
        r[urow] += dsum
        hs = np.flatnonzero(has)
        for k in hs:
            s_, i = int(sc[k]), int(urow[k])
            r[i] += model.slack_coef[i] * (star[k] - x[s_])
            x[s_] = star[k]
        return float(-dobj[0])

    for _ in range(max_passes):
        if time.perf_counter() > deadline:
            break
        up = ints[x[ints] + 1 <= model.cu[ints]]
        dn = ints[x[ints] - 1 >= model.cl[ints]]
        cols = np.concatenate([up, dn])
        deltas = np.concatenate([np.ones(up.size), -np.ones(dn.size)])
        nm = cols.size
        if nm == 0:
            break
        ok, dobj, _ = _eval_moves(model, x, r, g, np.arange(nm), cols, deltas, nm)
        moved = 0
        cand = np.flatnonzero(ok & (dobj < -thresh))
        done = set()
        for k in cand[np.argsort(dobj[cand], kind="stable")]:
            if int(cols[k]) in done:
                continue
            got = apply(cols[k:k + 1], deltas[k:k + 1])
            if got > 0:
                gain += got
                moved += 1
                done.add(int(cols[k]))
        if moved:
            continue
        # pairs: the best few +1 moves with the best few -1 moves (ignoring feasibility of the
        # single moves: a pair can be feasible when neither half is)
        su, sd = dobj[:up.size], dobj[up.size:]
        tu = up[np.argsort(su, kind="stable")[:pair_k]]
        td = dn[np.argsort(sd, kind="stable")[:pair_k]]
        pi, pj = np.meshgrid(tu, td, indexing="ij")
        pi, pj = pi.ravel(), pj.ravel()
        keep = pi != pj
        pi, pj = pi[keep], pj[keep]
        npair = pi.size
        if npair == 0:
            break
        pcols = np.concatenate([pi, pj])
        pdel = np.concatenate([np.ones(npair), -np.ones(npair)])
        pmid = np.concatenate([np.arange(npair), np.arange(npair)])
        order = np.argsort(pmid, kind="stable")
        ok2, dobj2, _ = _eval_moves(model, x, r, g, pmid[order], pcols[order], pdel[order],
                                    npair)
        c2 = np.flatnonzero(ok2 & (dobj2 < -thresh))
        if c2.size == 0:
            break
        k = int(c2[np.argmin(dobj2[c2])])
        got = apply(np.array([pi[k], pj[k]]), np.array([1.0, -1.0]))
        if got <= 0:
            break
        gain += got
    return gain


def _one_opt(model, x, deadline, max_passes=20, cols=None):
    """1-opt local search: single-column shifts that improve the objective and keep every row
    and bound satisfied. Vectorised screening, then sequential exact moves. In place; returns
    the objective gain (min form)."""
    r = model.A @ x
    g = model.grad(x)
    gain_total = 0.0
    cont = ~model.I
    scope = np.arange(model.n) if cols is None else cols
    lens_all = np.diff(model.cptr)
    for _ in range(max_passes):
        if time.perf_counter() > deadline:
            break
        J = scope[g[scope] != 0]
        if J.size == 0:
            break
        d = -np.sign(g[J])
        room = np.where(d > 0, model.cu[J] - x[J], x[J] - model.cl[J])
        starts, lens = model.cptr[J], lens_all[J]
        idx = ranges(starts, lens)
        owner = np.repeat(np.arange(J.size), lens)
        rows = model.cind[idx]
        av = model.cval[idx] * d[owner]
        with np.errstate(divide="ignore", invalid="ignore"):
            lim = np.where(av > 0, (model.hi[rows] + model.tol_hi[rows] - r[rows]) / av,
                           np.where(av < 0, (model.lo[rows] - model.tol_lo[rows] - r[rows]) / av,
                                    np.inf))
        lim = np.maximum(lim, 0.0)
        tmax = np.full(J.size, np.inf)
        np.minimum.at(tmax, owner, lim)
        t = np.minimum(room, tmax)
        q = model.qdiag[J]
        with np.errstate(divide="ignore", invalid="ignore"):
            tq = np.where(q > 0, np.abs(g[J]) / q, np.inf)
        t = np.minimum(t, tq)
        t = np.where(cont[J], t, np.floor(t + 1e-9))
        t = np.where(np.isfinite(t), t, 0.0)
        gain = np.abs(g[J]) * t - 0.5 * q * t * t
        thresh = 1e-12 * (1.0 + abs(model.obj(x)))
        pos = np.flatnonzero((t > 0) & (gain > thresh))
        if pos.size == 0:
            break
        pos = pos[np.argsort(-gain[pos], kind="stable")]
        moved = 0
        for k in pos:
            j = int(J[k])
            gj = g[j]
            if gj == 0:
                continue
            dj = -1.0 if gj > 0 else 1.0
            lo_c, hi_c = model.cptr[j], model.cptr[j + 1]
            rr = model.cind[lo_c:hi_c]
            aa = model.cval[lo_c:hi_c] * dj
            with np.errstate(divide="ignore", invalid="ignore"):
                lm = np.where(aa > 0, (model.hi[rr] + model.tol_hi[rr] - r[rr]) / aa,
                              np.where(aa < 0, (model.lo[rr] - model.tol_lo[rr] - r[rr]) / aa,
                                       np.inf))
            tj = min(float(model.cu[j] - x[j]) if dj > 0 else float(x[j] - model.cl[j]),
                     float(np.min(lm)) if lm.size else math.inf)
            qj = model.qdiag[j]
            if qj > 0:
                tj = min(tj, abs(gj) / qj)
            if not cont[j]:
                tj = math.floor(tj + 1e-9)
                if qj > 0 and tj >= 1:
                    # best integer step near the continuous optimum
                    tc = abs(gj) / qj
                    cands = [s for s in (math.floor(tc), math.ceil(tc)) if 1 <= s <= tj] or [tj]
                    tj = max(cands, key=lambda s: abs(gj) * s - 0.5 * qj * s * s)
            if not math.isfinite(tj) or tj <= 0:
                continue
            gn = abs(gj) * tj - 0.5 * qj * tj * tj
            if gn <= thresh:
                continue
            delta = dj * tj
            x[j] += delta
            r[rr] += model.cval[lo_c:hi_c] * delta
            model.grad_update(g, j, delta)
            gain_total += gn
            moved += 1
            if (moved & 255) == 0 and time.perf_counter() > deadline:
                break
        if moved == 0:
            break
    return gain_total


# ============================================================================== sub-problems
def _restrict(problem: Problem, free, x_fixed, col_lower=None, col_upper=None):
    """The problem over the columns `free` (bool mask), the others fixed at x_fixed: row bounds
    shifted by their activity, rows left without free columns dropped, Q's cross terms moved to
    the linear objective. Returns (subproblem, kept_rows)."""
    fixed = ~free
    A = problem.A
    shift = A[:, fixed] @ x_fixed[fixed] if fixed.any() else np.zeros(problem.num_rows)
    Af = A[:, free].tocsr()
    kept = np.flatnonzero(np.diff(Af.indptr) > 0)
    Af = Af[kept]
    c = problem.c[free].copy()
    const = problem.objective_constant + float(problem.c[fixed] @ x_fixed[fixed])
    Q = None
    if problem.Q is not None:
        xf = np.where(fixed, x_fixed, 0.0)
        Qxf = problem.Q @ xf
        c += Qxf[free]
        const += 0.5 * float(xf @ Qxf)
        if isinstance(problem.Q, FactorQ):
            Q = FactorQ(problem.Q.F[free], problem.Q.d[free])
        else:
            Q = problem.Q[free][:, free]
    with np.errstate(invalid="ignore"):
        rl = problem.row_lower[kept] - shift[kept]
        ru = problem.row_upper[kept] - shift[kept]
    cl = problem.col_lower if col_lower is None else col_lower
    cu = problem.col_upper if col_upper is None else col_upper
    sub = Problem(c, Af, rl, ru, cl[free], cu[free], Q=Q,
                  objective_constant=const, sense=problem.sense,
                  integrality=problem.integrality[free], name=problem.name)
    return sub, kept


@contextlib.contextmanager
def _quiet(enabled=True):
    if not enabled:
        yield
        return
    old = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(old)


def _relax(problem, opts, time_limit, x0=None, y0=None, quiet=True, tol=None, root=False):
    """gpulp's continuous solve of `problem` (integrality ignored) with opts, on opts.device.
    Active-set polishing and the crossover only when root=True (unused): the re-solves of diving and completion
    need speed, not 1e-12, and at the root the heuristics round better from PDHG's point (near
    the centre of the optimal face) than from the polished vertex (measured on the round-lot
    CVaR portfolios of bench/integer.py: 0.38% from HiGHS's optimum against 0.58%)."""
    from .solver import solve
    kw = dataclasses.asdict(opts)
    if tol is not None:
        kw["tol"] = tol
    if not root:
        kw["active_set"] = False
        kw["crossover"] = False
    kw["time_limit"] = max(1e-3, float(time_limit)) if math.isfinite(time_limit) else None
    kw["verbose"] = False
    t = time.perf_counter()
    with _quiet(quiet):
        res = solve(problem, x0=x0, y0=y0, **kw)
    logger.debug(f"  relaxation {problem.num_rows}x{problem.num_cols}: {res.status} after "
                 f"{res.iterations} iterations, {time.perf_counter() - t:.2f}s")
    return res


# ============================================================================== driver
class _Incumbent:
    def __init__(self, model, problem, feas_tol):
        self.model, self.problem, self.feas_tol = model, problem, feas_tol
        self.x = None
        self.obj = math.inf        # min form
        self.source = ""
        self.found = 0

    def offer(self, x, source):
        if x is None:
            return False
        chk = check_integer(self.problem, x, feas_tol=self.feas_tol)
        if not chk.ok:
            return False
        self.found += 1
        val = self.model.s * chk.objective
        if val < self.obj - 1e-12 * (1.0 + abs(val)):
            self.x, self.obj, self.source = chk.x, val, source
            logger.info(f"  incumbent {chk.objective:.10g} from {source}")
            return True
        return False


def _proven(obj, bound, tol) -> bool:
    """Optimal to `tol`: mip_gap = |obj - bound| / max(1, |obj|) <= tol and also the plain
    relative gap |obj - bound| / max(|obj|, |bound|) <= tol (so that a small objective is not
    called optimal on an absolute gap)."""
    if not (math.isfinite(obj) and math.isfinite(bound)):
        return False
    diff = abs(obj - bound)
    return diff <= tol * max(1.0, abs(obj)) and diff <= tol * max(abs(obj), abs(bound), 1e-300) \
        or diff <= 1e-12


def solve_integer(problem: Problem, opts, *, x0=None, y0=None, seeds: int = 8,
                  dive_rounds: int = 20, relax_time_limit: float | None = None,
                  feas_tol: float = FEAS_TOL, local_search: bool = True,
                  priority=None, relaxation: Result | None = None) -> Result:
    """Integer solution of `problem` (its integer columns honoured) by relaxation, rounding,
    repair, diving and 1-opt. See the module docstring for the method and the statuses.

    opts: a gpulp.options.Options (tol, time_limit, device, verbose and the PDHG options are used
    by every relaxation solve). x0, y0: warm start of the root relaxation. seeds: random
    roundings per relaxation point (besides nearest rounding). dive_rounds: most fix-and-resolve
    rounds. relax_time_limit: seconds for the root relaxation (default: the whole time limit);
    when it stops early the heuristics start from its last iterate. feas_tol: row/column
    tolerance of the final check. priority: optional per-column score for the greedy fill of
    packing problems (higher first; default LP value then value-to-weight ratio). relaxation: a
    Result of the root relaxation already computed (skips step 1).
    """
    t0 = time.perf_counter()
    deadline = t0 + opts.time_limit if math.isfinite(opts.time_limit) else math.inf
    I = problem.integrality
    if not I.any():
        res = _relax(problem, opts, deadline - time.perf_counter(), x0, y0, quiet=False)
        res.message = (res.message + "; " if res.message else "") + "no integer columns"
        return res

    def finish(status, x=None, bound=math.nan, message="", iters=0, device="cpu", chk=None):
        obj = math.nan if chk is None else chk.objective
        gap = abs(obj - bound) / max(1.0, abs(obj)) if (chk is not None and math.isfinite(bound)) \
            else math.nan
        res = Result(status, objective=obj, x=x, iterations=iters, device=device,
                     verified=chk is not None and chk.ok, message=message, bound=bound,
                     mip_gap=gap,
                     primal_residual=math.nan if chk is None else max(chk.row_violation,
                                                                      chk.col_violation))
        logger.info(f"integer: {status}" + (f"  objective {obj:.10g}" if chk is not None else "")
                    + (f"  bound {bound:.10g}" if math.isfinite(bound) else "")
                    + (f"  mip gap {gap:.3e}" if math.isfinite(gap) else "")
                    + (f"  ({message})" if message else ""))
        return res

    cl = np.ceil(problem.col_lower[I] - INT_TOL)
    cu = np.floor(problem.col_upper[I] + INT_TOL)
    if np.any(cl > cu):
        j = int(np.flatnonzero(I)[np.flatnonzero(cl > cu)[0]])
        return finish(Status.NO_SOLUTION_FOUND, message=f"integer column {j} has no integer "
                      f"value inside its bounds: the problem has no integer point")
    work = problem.copy()
    work.col_lower[I], work.col_upper[I] = cl, cu
    model = _Model(work, feas_tol)
    inc = _Incumbent(model, problem, feas_tol)
    rng = np.random.default_rng(opts.seed)
    n_int = int(I.sum())
    logger.info(f"integer: {problem.name or 'problem'}: {n_int} integer columns of "
                f"{problem.num_cols}; {'pure packing' if model.all_packing else 'general'} rows")

    # ---------------------------------------------------------------- 1. relaxation
    iters = 0
    if relaxation is None:
        rt = deadline - time.perf_counter()
        if relax_time_limit is not None:
            rt = min(rt, float(relax_time_limit))
        rel = _relax(work, opts, rt, x0, y0, quiet=False)
    else:
        rel = relaxation
    iters += rel.iterations
    device = rel.device
    if rel.status == Status.PRIMAL_INFEASIBLE and rel.verified:
        return finish(Status.NO_SOLUTION_FOUND, message="the continuous relaxation is infeasible "
                      "(checked Farkas certificate): the problem has no integer point",
                      iters=iters, device=device)
    if rel.status == Status.DUAL_INFEASIBLE and rel.verified:
        return finish(Status.NO_SOLUTION_FOUND, message="the continuous relaxation has a "
                      "checked improving ray (" + (rel.message or "unbounded") + "): no finite "
                      "integer optimum can be certified",
                      iters=iters, device=device)
    if rel.x is None:
        return finish(Status.NO_SOLUTION_FOUND, message=f"relaxation ended {rel.status}",
                      iters=iters, device=device)
    converged = rel.status == Status.OPTIMAL
    # A bound must hold exactly, and the relaxation's objective is only tol-accurate (it can sit
    # above the true optimum), so the bound is the Lagrangian bound of the relaxation's point.
    bound = lagrangian_bound(work, rel.y, rel.x)
    bound_kind = f"Lagrangian bound of the relaxation's point (relaxation {rel.status})"
    if not math.isfinite(bound):
        if converged:
            bound = rel.objective
            bound_kind = "relaxation objective (its Lagrangian bound is not finite)"
        else:
            bound = math.nan
    s = model.s
    x_rel = model.clip(np.asarray(rel.x, dtype=np.float64))
    y_rel = None if rel.y is None else np.asarray(rel.y, dtype=np.float64)

    prio_cache = {}

    def prio(xr):
        if "p" in prio_cache:
            return prio_cache["p"]
        prio_cache["p"] = _prio(xr)
        return prio_cache["p"]

    def _prio(xr):
        if priority is not None:
            return np.asarray(priority, dtype=np.float64)
        # LP value first, then value per unit of dual-priced (or capacity-normalised) resource
        price = np.zeros(model.m) if y_rel is None else np.abs(y_rel)
        with np.errstate(divide="ignore", invalid="ignore"):
            capn = np.where(np.isfinite(model.hi) & (model.hi > 0), 1.0 / model.hi, 1.0)
        wgt = model.A.T @ (price + 1e-3 * capn * (price.max() if price.size and price.max() > 0
                                                  else 1.0))
        ratio = -model.c / np.maximum(wgt, 1e-12)
        rk = np.argsort(np.argsort(ratio)) / max(1, model.n)
        return np.round(xr, 2) + 1e-3 * rk

    def polish(x, source):
        """Improve a feasible integer point in place: packing fill, 1-opt; then offer it."""
        if local_search and time.perf_counter() < deadline:
            if model.all_packing and model.Q is None:
                _fill_packing(model, x, prio(x_rel))
            _one_opt(model, x, deadline)
            if model.has_slacks:
                _one_opt_slack(model, x, deadline)
        inc.offer(x, source)

    cont_cols = ~I
    has_cont = bool(cont_cols.any())
    int_idx = np.flatnonzero(I)
    use_prop = n_int <= 50_000 and problem.nnz <= 1_000_000 and not model.all_packing
    dom0 = _Domains(model, budget=max(400, 3 * model.m))
    if use_prop and not dom0.propagate(np.arange(model.m)):
        return finish(Status.NO_SOLUTION_FOUND, message="bound propagation on the rows proves "
                      "that the problem has no integer point", iters=iters, device=device)
    dom0.budget = 100
    dom0.trail = []
    y_cur = {"y": y_rel}

    def complete(xc, src):
        """Mixed problems: re-solve the continuous columns with the integer columns of xc fixed
        (tighter tolerance), snap them onto their face, repair what is left, polish. Returns
        True when a verified point came out."""
        if time.perf_counter() > deadline:
            return False
        free = cont_cols
        sub, kept = _restrict(work, free, xc)
        yk = y_cur["y"]
        r3 = _relax(sub, opts, deadline - time.perf_counter(), xc[free],
                    None if yk is None else yk[kept], tol=min(opts.tol, 1e-7))
        stats["iters"] += r3.iterations
        if r3.x is None or r3.status in (Status.PRIMAL_INFEASIBLE, Status.DUAL_INFEASIBLE):
            return False
        xn = xc.copy()
        xn[free] = r3.x
        xn = _snap_continuous(model, xn, free)
        xr = _repair(model, xn, rng, deadline, allowed=free, max_moves=2000)
        if xr is None:
            return False
        polish(xr, src + "+continuous")
        return True

    def try_point(xp, tag, seeds_here, dom, completions=2):
        cands = []
        fr = np.abs(xp[int_idx] - np.round(xp[int_idx]))
        if use_prop:
            order = int_idx[np.argsort(fr, kind="stable")]
            cands.append((_fix_and_propagate(model, xp, order, dom.copy(), deadline),
                          f"{tag}/propagate"))
            for k in range(max(1, seeds_here // 4)):
                noisy = int_idx[np.argsort(fr + 0.05 * rng.random(fr.size), kind="stable")]
                cands.append((_fix_and_propagate(model, _round_random(model, xp, rng), noisy,
                                                 dom.copy(), deadline), f"{tag}/propagate{k}"))
        cands.append((_round_nearest(model, xp), f"{tag}/nearest"))
        for k in range(seeds_here):
            cands.append((_round_random(model, xp, rng), f"{tag}/random{k}"))
        for idx, (xc, src) in enumerate(cands):
            if time.perf_counter() > deadline and inc.x is not None:
                break
            if has_cont:
                # the continuous columns come from their own LP, not from the repair
                if idx < completions and complete(xc, src):
                    continue
                xr = _repair(model, xc, rng, deadline)
                if xr is not None and not (idx < completions and complete(xr, src + "/repaired")):
                    polish(xr, src)
            else:
                xr = _repair(model, xc, rng, deadline)
                if xr is not None:
                    polish(xr, src)

    stats = {"iters": 0}
    # already integral?
    chk0 = check_integer(problem, x_rel, feas_tol=feas_tol)
    if chk0.ok:
        inc.offer(x_rel, "relaxation")
        if converged:
            return finish(Status.OPTIMAL, chk0.x, bound, "the relaxation solution is integral",
                          iters, device, chk0)

    # ---------------------------------------------------------------- 2-3. round, repair, 1-opt
    try_point(x_rel, "root", seeds, dom0)

    # ---------------------------------------------------------------- 4. diving
    def dive(tag, share, near_tol, rounds):
        """One fix-and-resolve dive from the root: each round fixes (with propagation) the
        integer columns within near_tol of an integer and the least fractional `share` of the
        others, re-solves the rest warm-started, and rounds the new point."""
        nonlocal iters
        xd = x_rel.copy()
        dom = dom0.copy()
        y_cur["y"] = y_rel
        dive_bound = s * bound if math.isfinite(bound) else -math.inf
        for rnd in range(rounds):
            if time.perf_counter() > deadline:
                break
            if inc.x is not None and dive_bound >= inc.obj - 1e-6 * (1 + abs(inc.obj)):
                logger.info(f"  {tag} {rnd}: bound {s * dive_bound:.8g} cannot beat the "
                            f"incumbent")
                break
            free_int = int_idx[dom.L[int_idx] < dom.U[int_idx]]
            if free_int.size == 0:
                break
            fr = np.abs(xd[free_int] - np.round(xd[free_int]))
            order = free_int[np.argsort(fr, kind="stable")]
            # when none is fractional, fix them all (the re-solve is the continuous completion)
            near_cnt = int((fr <= near_tol).sum())
            nfrac = free_int.size - near_cnt
            k = free_int.size if nfrac == 0 else near_cnt + max(1, int(math.ceil(share * nfrac)))
            r2 = None
            for attempt in range(4):
                mk = dom.mark()
                if use_prop:
                    xf = _fix_and_propagate(model, xd, order[:k], dom, deadline)
                else:
                    for j in order[:k]:
                        v = min(max(round(xd[j]), dom.L[j]), dom.U[j])
                        dom._set(j, v, v)
                    xf = np.minimum(np.maximum(xd, dom.L), dom.U)
                free = dom.L < dom.U
                if not free.any():
                    try_point(xf, f"{tag}{rnd}", 0, dom, completions=0)
                    r2 = "done"
                    break
                sub, kept = _restrict(work, free, xf, dom.L, dom.U)
                yk = y_cur["y"]
                r2 = _relax(sub, opts, (deadline - time.perf_counter()) / 3, xf[free],
                            None if yk is None else yk[kept])
                iters += r2.iterations
                if r2.x is not None and r2.status not in (Status.PRIMAL_INFEASIBLE,
                                                          Status.DUAL_INFEASIBLE):
                    break
                logger.info(f"  {tag} {rnd}: fixing {k} columns made the relaxation "
                            f"{r2.status}; backtracking")
                dom.undo(mk)
                r2 = None
                k //= 2
                if k == 0 or time.perf_counter() > deadline:
                    break
            if r2 is None or r2 == "done":
                break
            xn = xf.copy()
            xn[free] = r2.x
            xd = np.minimum(np.maximum(xn, dom.L), dom.U)
            if r2.y is not None:
                yfull = np.zeros(model.m) if y_cur["y"] is None else y_cur["y"].copy()
                yfull[kept] = r2.y
                y_cur["y"] = yfull
            if r2.status == Status.OPTIMAL:
                dive_bound = s * r2.objective
            nfix = int((dom.L[int_idx] == dom.U[int_idx]).sum())
            logger.info(f"  {tag} {rnd}: {nfix}/{n_int} integer columns fixed, relaxation "
                        f"{r2.status} {r2.objective:.8g}")
            try_point(xd, f"{tag}{rnd}", max(1, seeds // 4) if rnd % 4 == 3 else 0, dom,
                      completions=1)

    # a fine dive (a fifth of the fractional columns per round), then a coarse one
    for tag, share, near_tol in (("dive", 0.2, 0.02), ("coarse dive", 0.5, 0.1)):
        if dive_rounds <= 0 or time.perf_counter() > deadline:
            break
        dive(tag, share, near_tol, dive_rounds)
    y_cur["y"] = y_rel

    # ---------------------------------------------------------------- packing: ruin and recreate
    if inc.x is not None and local_search and model.all_packing and model.Q is None:
        now = time.perf_counter()
        # all the time that is left under a time limit, else half the time spent so far
        lns_deadline = deadline - 0.05 * (deadline - t0) if math.isfinite(deadline) else \
            now + max(1.0, 0.5 * (now - t0))
        xb = inc.x.copy()
        wins = _ruin_recreate(model, xb, prio(x_rel), rng, lns_deadline,
                              max_rounds=100_000 if math.isfinite(deadline) else 300)
        if wins:
            inc.offer(xb, f"ruin-and-recreate ({wins} improving rounds)")

    # ---------------------------------------------------------------- mixed: finish the incumbent
    if inc.x is not None and has_cont and time.perf_counter() < deadline:
        complete(inc.x.copy(), "incumbent")
    iters += stats["iters"]

    if inc.x is None:
        return finish(Status.NO_SOLUTION_FOUND, message="no integer-feasible point found by "
                      "rounding, repair and diving (none is returned)", bound=bound,
                      iters=iters, device=device)
    chk = check_integer(problem, inc.x, feas_tol=feas_tol)
    assert chk.ok
    gap = abs(chk.objective - bound) / max(1.0, abs(chk.objective)) if math.isfinite(bound) \
        else math.nan
    status = Status.OPTIMAL if _proven(chk.objective, bound, opts.tol) else Status.FEASIBLE
    msg = f"best of {inc.found} verified integer points, from {inc.source}; bound: {bound_kind}"
    return finish(status, chk.x, bound, msg, iters, device, chk)
