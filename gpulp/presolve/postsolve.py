"""Undo records of presolve, and the postsolve that replays them in reverse.

Every record covers one batch of reductions of one kind. Its `undo(x, y, z)` takes an optimal
primal-dual point of the problem AFTER the batch and turns it, in place, into one of the problem
BEFORE it. The arrays have the original problem's sizes; everything is in minimisation form with
HiGHS's signs: c - A'y - z = 0, y_i > 0 only where row i sits at its lower bound, y_i < 0 only at
its upper bound, and z_j likewise with column j's bounds.

Knows: NumPy arrays over the original indices and what each record stored when it was made.
Must not know: how the reductions were found, the Problem class, the solver or any device.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FixedCols", "DroppedRows", "SingletonRows", "ForcingRows", "DoubletonEqs",
           "ColSingletons", "SlackSingletons", "ParallelRows", "ParallelCols", "Postsolve"]


def _segment_sum(pos, weights, size):
    return np.bincount(pos, weights, size) if size else np.zeros(0)


class FixedCols:
    """Columns removed at fixed values: x_j = value, z_j = c_j - A_j'y over the rows alive then.
    (Also fixed, empty and dominated columns: their z_j has the right sign by construction.)"""

    def __init__(self, cols, vals, costs, pos, rows, coefs):
        self.cols, self.vals, self.costs = cols, vals, costs
        self.pos, self.rows, self.coefs = pos, rows, coefs

    def undo(self, x, y, z):
        x[self.cols] = self.vals
        z[self.cols] = self.costs - _segment_sum(self.pos, self.coefs * y[self.rows],
                                                 self.cols.size)


class DroppedRows:
    """Rows removed as empty, free or redundant: y_i = 0."""

    def __init__(self, rows):
        self.rows = rows

    def undo(self, x, y, z):
        y[self.rows] = 0.0


class SingletonRows:
    """Singleton rows turned into column bounds. Per column: the row whose implied bound became the
    lower (upper) bound and its coefficient, or -1. A reduced cost at a bound that came from a row
    moves into that row's dual: y_i = z_j / a_ij, z_j = 0."""

    def __init__(self, rows, cols, lo_row, lo_coef, hi_row, hi_coef):
        self.rows, self.cols = rows, cols
        self.lo_row, self.lo_coef, self.hi_row, self.hi_coef = lo_row, lo_coef, hi_row, hi_coef

    def undo(self, x, y, z):
        y[self.rows] = 0.0
        zj = z[self.cols]
        for side, row, coef in ((zj > 0, self.lo_row, self.lo_coef),
                                (zj < 0, self.hi_row, self.hi_coef)):
            k = np.flatnonzero(side & (row >= 0))
            y[row[k]] = zj[k] / coef[k]
            z[self.cols[k]] = 0.0


class ForcingRows:
    """Forcing rows: every column was fixed at the bound that makes the row's activity reach its
    lower bound (side +1) or upper bound (side -1). The row dual is the smallest one (in absolute
    value, of the allowed sign) that gives every column's reduced cost the sign of its bound."""

    def __init__(self, rows, side, pos, cols, coefs):
        self.rows, self.side = rows, side
        self.pos, self.cols, self.coefs = pos, cols, coefs

    def undo(self, x, y, z):
        k = self.rows.size
        ratio = self.side[self.pos] * z[self.cols] / self.coefs
        need = np.zeros(k)
        np.maximum.at(need, self.pos, ratio)
        yi = self.side * need
        y[self.rows] = yi
        np.subtract.at(z, self.cols, self.coefs * yi[self.pos])


class DoubletonEqs:
    """Equations a x_j + b x_k = r with x_k = (r - a x_j) / b substituted out. `lo_from_k` /
    `hi_from_k`: x_j's new lower / upper bound came from x_k's bounds. (pos, rows, coefs): column
    k's entries in the other rows at the time."""

    def __init__(self, rows, keep, elim, a, b, r, ck, lo_from_k, hi_from_k, pos, erows, ecoefs):
        self.rows, self.keep, self.elim = rows, keep, elim
        self.a, self.b, self.r, self.ck = a, b, r, ck
        self.lo_from_k, self.hi_from_k = lo_from_k, hi_from_k
        self.pos, self.erows, self.ecoefs = pos, erows, ecoefs

    def undo(self, x, y, z):
        a, b = self.a, self.b
        x[self.elim] = (self.r - a * x[self.keep]) / b
        zj = z[self.keep]
        moved = ((zj > 0) & self.lo_from_k) | ((zj < 0) & self.hi_from_k)
        zk = np.where(moved, -(b / a) * zj, 0.0)
        z[self.keep] = np.where(moved, 0.0, zj)
        z[self.elim] = zk
        others = _segment_sum(self.pos, self.ecoefs * y[self.erows], self.rows.size)
        y[self.rows] = (self.ck - others - zk) / b


class ColSingletons:
    """Free or implied-free column singletons x_j, eliminated with their row i. The row's activity
    is `act` (nan: c_j = 0 and the row was an inequality; any feasible activity then), y_i = c_j /
    a_ij, z_j = 0. (pos, cols, coefs): row i's other entries at the time."""

    def __init__(self, rows, cols, a, cj, act, rl, ru, cl, cu, pos, ecols, ecoefs):
        self.rows, self.cols, self.a, self.cj, self.act = rows, cols, a, cj, act
        self.rl, self.ru, self.cl, self.cu = rl, ru, cl, cu
        self.pos, self.ecols, self.ecoefs = pos, ecols, ecoefs

    def undo(self, x, y, z):
        rest = _segment_sum(self.pos, self.ecoefs * x[self.ecols], self.rows.size)
        x0 = np.clip(0.0, self.cl, self.cu)
        act = np.where(np.isnan(self.act), np.clip(rest + self.a * x0, self.rl, self.ru), self.act)
        x[self.cols] = (act - rest) / self.a
        y[self.rows] = self.cj / self.a
        z[self.cols] = 0.0


class SlackSingletons:
    """Column singletons x_j substituted out of equations a x_j + rest = r, whose bounds became the
    row's bounds on rest: x_j = (r - rest) / a, y_i = y_i' + c_j / a, z_j = -a y_i'.
    (pos, cols, coefs): the row's other entries at the time."""

    def __init__(self, rows, cols, a, yv, r, pos, ecols, ecoefs):
        self.rows, self.cols, self.a, self.yv, self.r = rows, cols, a, yv, r
        self.pos, self.ecols, self.ecoefs = pos, ecols, ecoefs

    def undo(self, x, y, z):
        rest = _segment_sum(self.pos, self.ecoefs * x[self.ecols], self.rows.size)
        x[self.cols] = (self.r - rest) / self.a
        y_row = y[self.rows]
        y[self.rows] = y_row + self.yv
        z[self.cols] = -self.a * y_row


class ParallelRows:
    """Rows that are multiples (row = scale * rep) of a representative row, merged into it. The
    representative's new lower (upper) bound came from row lo_src (hi_src) with that row's scale;
    the merged dual goes to that row: y_src = y_rep / scale."""

    def __init__(self, reps, members, lo_src, lo_scale, hi_src, hi_scale):
        self.reps, self.members = reps, members
        self.lo_src, self.lo_scale, self.hi_src, self.hi_scale = lo_src, lo_scale, hi_src, hi_scale

    def undo(self, x, y, z):
        yr = y[self.reps].copy()
        y[self.reps] = 0.0
        y[self.members] = 0.0
        for side, src, scale in ((yr > 0, self.lo_src, self.lo_scale),
                                 (yr < 0, self.hi_src, self.hi_scale)):
            k = np.flatnonzero(side)
            y[src[k]] = yr[k] / scale[k]


class ParallelCols:
    """Column k = s * column j with c_k = s c_j, merged into x' = x_j + s x_k stored in column j
    (whose bounds were (lj, uj) before). The split puts x_k at its reference point clip(0, lk, uk)
    as far as x_j's bounds allow; z_j = z', z_k = s z'."""

    def __init__(self, keep, drop, s, lj, uj, lk, uk):
        self.keep, self.drop, self.s = keep, drop, s
        self.lj, self.uj, self.lk, self.uk = lj, uj, lk, uk

    def undo(self, x, y, z):
        xm, s = x[self.keep], self.s
        xj = np.clip(xm - s * np.clip(0.0, self.lk, self.uk), self.lj, self.uj)
        x[self.keep] = xj
        x[self.drop] = np.clip((xm - xj) / s, self.lk, self.uk)
        z[self.drop] = s * z[self.keep]


class Postsolve:
    """Maps a primal-dual point of the reduced problem (its own sense, HiGHS's signs) to one of the
    original problem by replaying the undo records in reverse."""

    def __init__(self, m, n, sign, rows, cols, stack):
        self.m, self.n, self.sign = m, n, sign
        self.rows, self.cols, self.stack = rows, cols, stack

    def __call__(self, x_red, y_red, z_red):
        def vec(v, size, what):
            v = np.zeros(0) if v is None else np.asarray(v, dtype=np.float64).ravel()
            if v.size != size:
                raise ValueError(f"postsolve: {what} has length {v.size}, expected {size} "
                                 f"(the reduced problem's size)")
            return v

        x_red = vec(x_red, self.cols.size, "x")
        y_red = vec(y_red, self.rows.size, "y")
        z_red = vec(z_red, self.cols.size, "z")
        x, y, z = np.zeros(self.n), np.zeros(self.m), np.zeros(self.n)
        x[self.cols] = x_red
        y[self.rows] = self.sign * y_red
        z[self.cols] = self.sign * z_red
        for record in reversed(self.stack):
            record.undo(x, y, z)
        return x, self.sign * y, self.sign * z
