"""The working state of presolve: the LP in minimisation form over the ORIGINAL indices.

Knows: the current costs, bounds and objective constant, the live matrix entries (row-major COO,
columns sorted within a row, with CSR and CSC views on demand), which rows and columns are still
alive, the postsolve stack, and the activity and implied-bound arithmetic on top of those;
host routines of backend.py (a Numba pass over the entries for the column counts).
Must not know: which reductions exist, how postsolve undoes them, the solver or any device.

Tolerances (all documented here, used by the reductions):
  FEAS_TOL = 1e-9   relative: a row's bounds are violated, or two bounds cross, only beyond
                    FEAS_TOL * scale (scale: 1 + the magnitudes that went into the numbers).
                    Below it, presolve treats them as met or equal (forcing rows, crossing bounds).
  ROUND_TOL = 1e-12 relative: rounding allowance of a sum of terms (activity bounds, implied
                    bounds, cancellation in substitutions, parallel rows and columns). A cost that
                    substitutions reduced below ROUND_TOL * (the magnitudes summed into it)
                    counts as zero when presolve picks a column's direction.
  Emptiness and singletons are decided on exact zeros.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from ..backend import col_stats

FEAS_TOL = 1e-9
ROUND_TOL = 1e-12


class Stop(Exception):
    """Presolve proved the problem infeasible or unbounded. `ray`, when given, is (column,
    direction): the column moved alone in that direction (+1 or -1) is a candidate primal ray of
    the original problem (unchecked: the caller checks it on the original)."""

    def __init__(self, status, reason, ray=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.ray = ray


def ranges(starts, counts):
    """The concatenation of arange(s, s + k) over (starts, counts)."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(np.asarray(starts, dtype=np.int64) - np.cumsum(counts) + counts, counts)
    return offsets + np.arange(total, dtype=np.int64)


def num(x):
    """A number for a message: 12 significant digits, inf as inf."""
    return f"{float(x):.12g}"


def finite_abs(a):
    """|a| with infinities replaced by 0."""
    return np.where(np.isfinite(a), np.abs(a), 0.0)


def first_of_runs(keys):
    """Positions where a sorted key array starts a new run."""
    keys = np.asarray(keys)
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


class Activity(NamedTuple):
    """Row activity bounds from per-entry column bounds: the finite parts, the number of infinite
    terms, and the sum of |finite terms| (for rounding allowances); plus the per-entry terms of
    the lower and upper bound (0 where infinite) and the flags of the infinite ones."""
    lo: np.ndarray
    hi: np.ndarray
    nlo: np.ndarray
    nhi: np.ndarray
    scale: np.ndarray
    tlo: np.ndarray
    thi: np.ndarray
    flo: np.ndarray
    fhi: np.ndarray

    def min(self):
        return np.where(self.nlo > 0, -np.inf, self.lo)

    def max(self):
        return np.where(self.nhi > 0, np.inf, self.hi)


class Implied(NamedTuple):
    """Per column: the tightest bounds implied by a single row and the other columns' own bounds
    (relaxed by a rounding margin so that they are valid), and the row each comes from (-1 where
    it is not strictly tighter than the column's own bound; the bound is then the column's own)."""
    lo: np.ndarray
    hi: np.ndarray
    src_lo: np.ndarray
    src_hi: np.ndarray


class Work:
    """The problem being reduced, with the postsolve stack of the reductions so far."""

    def __init__(self, problem):
        A = problem.A
        self.m, self.n = A.shape
        self.sign = -1.0 if problem.sense == "max" else 1.0
        self.c = self.sign * np.asarray(problem.c, dtype=np.float64)
        self.const = self.sign * problem.objective_constant
        self.cl = problem.col_lower.copy()
        self.cu = problem.col_upper.copy()
        self.rl = problem.row_lower.copy()
        self.ru = problem.row_upper.copy()
        self.rscale = 1.0 + np.maximum(finite_abs(self.rl), finite_abs(self.ru))
        self.cscale = np.abs(self.c)
        self.row_alive = np.ones(self.m, dtype=bool)
        self.col_alive = np.ones(self.n, dtype=bool)
        counts = np.diff(A.indptr).astype(np.int64)
        self._ri = None            # the entries' rows, built on first use (see `ri`)
        self._counts0 = counts
        # the columns as given (int32 from scipy: copying 10M of them to int64 took a quarter of
        # presolve's time on a large LP); every product with them has an int64 operand first
        self.ci = A.indices
        self.v = np.asarray(A.data, dtype=np.float64)    # never written in place: a view is safe
        self.row_names, self.col_names = problem.row_names, problem.col_names
        self.stack = []
        self.version = 0
        self._dirty = False
        # the row counts and pointer of the entries as given (valid until the first change)
        self._cache = {"row_counts": (0, counts),
                       "row_ptr": (0, np.asarray(A.indptr, dtype=np.int64))}

    # ------------------------------------------------------------------ changes
    # Every change goes through these methods: they bump `version`, which expires the caches.
    def kill_rows(self, rows):
        self.row_alive[rows] = False
        self._dirty = True
        self.version += 1

    def kill_cols(self, cols):
        self.col_alive[cols] = False
        self._dirty = True
        self.version += 1

    def set_row_bounds(self, rows, lo, hi, scale=0.0):
        """New row bounds; `scale` adds the magnitudes that went into them to the rows' scale."""
        self.rl[rows], self.ru[rows] = lo, hi
        self.rscale[rows] += scale
        self.version += 1

    def set_col_bounds(self, cols, lo, hi):
        self.cl[cols], self.cu[cols] = lo, hi
        self.version += 1

    def shift_rows(self, rows, delta):
        """Row bounds -= delta (rows may repeat); infinite bounds stay infinite."""
        np.subtract.at(self.rl, rows, delta)
        np.subtract.at(self.ru, rows, delta)
        np.add.at(self.rscale, rows, np.abs(delta))
        self.version += 1

    def change_costs(self, cols, delta):
        """c -= delta (cols may repeat)."""
        np.subtract.at(self.c, cols, delta)
        np.add.at(self.cscale, cols, np.abs(delta))
        self.version += 1

    def add_entries(self, ri, ci, v):
        """Add values at distinct positions (ri, ci): into the entry there if there is one (the sum
        is dropped as a cancellation where |sum| <= ROUND_TOL * (|old| + |added|)), as a new
        entry otherwise."""
        old_r, old_c, old_v = self.entries()
        keys = old_r * self.n + old_c
        new = ri * self.n + ci
        at = np.searchsorted(keys, new)
        hit = at < keys.size
        hit[hit] = keys[at[hit]] == new[hit]
        k = at[hit]
        total = old_v[k] + v[hit]
        vals = old_v.copy()
        vals[k] = total
        gone = k[np.abs(total) <= ROUND_TOL * (np.abs(old_v[k]) + np.abs(v[hit]))]
        fill = np.flatnonzero(~hit)
        fill = fill[np.argsort(new[fill], kind="stable")]
        keep = np.ones(keys.size, dtype=bool)
        keep[gone] = False
        where = np.searchsorted(np.flatnonzero(keep), at[fill])
        self.ri = np.insert(old_r[keep], where, ri[fill])
        self.ci = np.insert(old_c[keep], where, ci[fill])
        self.v = np.insert(vals[keep], where, v[fill])
        self.version += 1

    def _cached(self, key, make):
        hit = self._cache.get(key)
        if hit is None or hit[0] != self.version:
            hit = (self.version, make())
            self._cache[key] = hit
        return hit[1]

    # ------------------------------------------------------------------ structure
    @property
    def ri(self):
        """The live entries' rows, row-major. Built from the row counts on first use: on a large
        LP that nothing reduces (the generated CVaR LP: 10M entries) no pass needs them, and
        building them is a third of presolve's time there."""
        if self._ri is None:
            self._ri = np.repeat(np.arange(self.m, dtype=np.int64), self._counts0)
        return self._ri

    @ri.setter
    def ri(self, value):
        self._ri = value

    def cols_values(self):
        """(cols, values) of the live entries, row-major: `entries()` without the rows."""
        if self._dirty:
            self.entries()
        return self.ci, self.v

    def entries(self):
        """(rows, cols, values) of the live entries, row-major."""
        if self._dirty:
            keep = self.row_alive[self.ri] & self.col_alive[self.ci]
            if not keep.all():
                self.ri, self.ci, self.v = self.ri[keep], self.ci[keep], self.v[keep]
            self._dirty = False
        return self.ri, self.ci, self.v

    @property
    def nnz(self) -> int:
        return int(self.cols_values()[1].size)

    def row_counts(self):
        return self._cached("row_counts", lambda: np.bincount(self.entries()[0], minlength=self.m))

    def sizes(self):
        """(live rows, live columns, live entries), counted once per version (the driver asks
        before and after every reduction: 2M columns on the transport LP)."""
        return self._cached("sizes", lambda: (int(self.row_alive.sum()),
                                              int(self.col_alive.sum()), self.nnz))

    def col_counts(self):
        # the counts of a current col_stats() when there is one (no second pass), else bincount
        hit = self._cache.get("col_stats")
        if hit is not None and hit[0] == self.version:
            return hit[1][0]
        return self._cached("col_counts",
                            lambda: np.bincount(self.cols_values()[0], minlength=self.n))

    def col_stats(self):
        """(count, down, up) per column: its live entries, and how many of them sit in a row that
        stops the column from decreasing (down) and from increasing (up); one pass over A."""
        def make():
            ci, v = self.cols_values()
            return col_stats(self.row_ptr(), ci, v, self.rl, self.ru, self.n)
        return self._cached("col_stats", make)

    def row_ptr(self):
        return self._cached("row_ptr", lambda: np.concatenate(
            ([0], np.cumsum(self.row_counts()))).astype(np.int64))

    def row_sum(self, x):
        """Per-row sums of a per-entry array."""
        ptr = self.row_ptr()
        out = np.zeros(self.m)
        rows = np.flatnonzero(ptr[1:] > ptr[:-1])
        if rows.size:
            out[rows] = np.add.reduceat(x, ptr[rows])
        return out

    def csc(self):
        """(perm, ptr): entries perm[ptr[j]:ptr[j+1]] are column j's, in row order."""
        def make():
            ri, ci, _ = self.entries()
            ids = sp.csr_matrix((np.arange(ri.size, dtype=np.int64), ci, self.row_ptr()),
                                shape=(self.m, self.n)).tocsc()
            return ids.data, ids.indptr.astype(np.int64)
        return self._cached("csc", make)

    def col_entries(self, cols):
        """(position in `cols`, row, value) of every live entry of the given columns."""
        ri, ci, v = self.entries()
        where = np.full(self.n, -1, dtype=np.int64)
        where[cols] = np.arange(cols.size)
        e = np.flatnonzero(where[ci] >= 0)
        return where[ci[e]], ri[e], v[e]

    def row_entries(self, rows):
        """(position in `rows`, entry index) of every live entry of the given rows."""
        ptr = self.row_ptr()
        counts = ptr[rows + 1] - ptr[rows]
        return np.repeat(np.arange(rows.size), counts), ranges(ptr[rows], counts)

    def costs(self, cols=None):
        """The costs (of `cols`, default all) with cancellation noise (|c_j| <= ROUND_TOL * the
        magnitudes summed into it) read as zero; the costs as given are never changed by this."""
        c, scale = (self.c, self.cscale) if cols is None else (self.c[cols], self.cscale[cols])
        return np.where(np.abs(c) <= ROUND_TOL * scale, 0.0, c)

    # ------------------------------------------------------------------ arithmetic
    def activity(self, lo_e, hi_e) -> Activity:
        """Activity bounds of every row from per-entry column bounds lo_e, hi_e."""
        v = self.entries()[2]
        p, q = v * lo_e, v * hi_e
        tlo, thi = np.minimum(p, q), np.maximum(p, q)
        flo, fhi = np.isinf(tlo), np.isinf(thi)
        tlo[flo] = 0.0
        thi[fhi] = 0.0
        return Activity(self.row_sum(tlo), self.row_sum(thi), self.row_sum(flo.astype(float)),
                        self.row_sum(fhi.astype(float)), self.row_sum(np.abs(tlo) + np.abs(thi)),
                        tlo, thi, flo, fhi)

    def own_activity(self) -> Activity:
        """Activity bounds from the columns' own bounds."""
        def make():
            ci = self.entries()[1]
            return self.activity(self.cl[ci], self.cu[ci])
        return self._cached("own_activity", make)

    def row_tol(self, act: Activity):
        """Per-row absolute tolerance for comparing activity bounds with row bounds."""
        return FEAS_TOL * self.rscale + ROUND_TOL * act.scale

    def implied_bounds(self) -> Implied:
        """One round of bound propagation from every row with the columns' own bounds."""
        def make():
            ri, _, v = self.entries()
            act = self.own_activity()
            rest_lo = np.where(act.nlo[ri] - act.flo == 0, act.lo[ri] - act.tlo, -np.inf)
            rest_hi = np.where(act.nhi[ri] - act.fhi == 0, act.hi[ri] - act.thi, np.inf)
            num_lo = self.rl[ri] - rest_hi
            num_hi = self.ru[ri] - rest_lo
            p, q = num_lo / v, num_hi / v
            lo, hi = np.minimum(p, q), np.maximum(p, q)
            size = (act.scale[ri] + self.rscale[ri]) / np.abs(v)
            lo -= 10 * ROUND_TOL * (size + finite_abs(lo))
            hi += 10 * ROUND_TOL * (size + finite_abs(hi))
            best_lo, src_lo = self._column_best(lo, self.cl)
            neg_hi, src_hi = self._column_best(-hi, -self.cu)
            return Implied(best_lo, -neg_hi, src_lo, src_hi)
        return self._cached("implied_bounds", make)

    def _column_best(self, vals, own):
        """Per column the largest of `vals` over its entries and a row where it occurs; (own, -1)
        where that is not strictly larger than `own`."""
        ri, ci, _ = self.entries()
        top = np.full(self.n, -np.inf)
        np.maximum.at(top, ci, vals)
        wins = top > own
        best = np.where(wins, top, own)
        src = np.full(self.n, -1, dtype=np.int64)
        hit = np.flatnonzero(wins[ci] & (vals == top[ci]))
        src[ci[hit]] = ri[hit]
        return best, src

    def effective(self):
        """Per-entry column bounds for row-wise use: the implied bound where it is tighter and comes
        from another row, else the column's own; the row each entry's lower and upper bound
        depends on (-1: none); and the activity bounds from them."""
        def make():
            imp = self.implied_bounds()
            ri, ci, _ = self.entries()
            slo, shi = imp.src_lo[ci], imp.src_hi[ci]
            use_lo = (slo >= 0) & (slo != ri)
            use_hi = (shi >= 0) & (shi != ri)
            lo = np.where(use_lo, imp.lo[ci], self.cl[ci])
            hi = np.where(use_hi, imp.hi[ci], self.cu[ci])
            dep_lo = np.where(use_lo, slo, -1)
            dep_hi = np.where(use_hi, shi, -1)
            return dep_lo, dep_hi, self.activity(lo, hi)
        return self._cached("effective", make)

    def depends_on(self, dep_lo, dep_hi, rows_mask):
        """Rows with an entry whose effective bound came from a row in rows_mask."""
        ri = self.entries()[0]
        bad = (dep_lo >= 0) & rows_mask[np.maximum(dep_lo, 0)]
        bad |= (dep_hi >= 0) & rows_mask[np.maximum(dep_hi, 0)]
        out = np.zeros(self.m, dtype=bool)
        out[ri[bad]] = True
        return out

    # ------------------------------------------------------------------ labels
    def row_label(self, i):
        i = int(i)
        return f"row {i} ({self.row_names[i]!r})" if self.row_names else f"row {i}"

    def col_label(self, j):
        j = int(j)
        return f"column {j} ({self.col_names[j]!r})" if self.col_names else f"column {j}"

    def user_cost(self, j):
        """Column j's current cost in the problem's own sense."""
        return float(self.sign * self.c[j])
