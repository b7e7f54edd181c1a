"""The row and column reductions of presolve, each applied to a whole batch at once.

Every function takes the Work state, finds all candidates of its kind (vectorised over CSR/CSC
arrays; Python loops only over the candidates actually reduced), applies them, pushes its undo
records on the postsolve stack, and returns the number of bounds it changed. Infeasibility or
unboundedness raises Stop with a reason that names the row or column and the numbers.

Bound tightening (the safe approach): bounds implied by a row and the other columns' bounds are
never written into the reduced problem. They only serve to recognise redundant rows (and row sides)
and implied-free column singletons, where dropping a row (y_i = 0) or a column's bounds (z_j = 0)
keeps every dual valid. An implied bound is never used for its own row, and a candidate whose
proof used a bound implied by another candidate of the same batch waits for the next pass, so no
two reductions can justify each other. Forcing rows use the columns' own bounds only.

Knows: the Work state, the undo records and the tolerances of work.py.
Must not know: the Problem class, the pass loop, the solver or any device.
"""

from __future__ import annotations

import numpy as np

from .postsolve import (ColSingletons, DoubletonEqs, DroppedRows, FixedCols, ForcingRows,
                        SingletonRows, SlackSingletons)
from .work import FEAS_TOL, ROUND_TOL, Stop, finite_abs, first_of_runs, num, ranges

__all__ = ["empty_rows", "empty_cols", "fixed_cols", "singleton_rows", "forcing_rows",
           "redundant_rows", "dominated_cols", "doubleton_eqs", "col_singletons",
           "implied_free_col_singletons", "slack_col_singletons",
           "fix_cols", "meet"]

PIVOT_TOL = 1e-3        # a column singleton's entry must be >= this times its row's largest
DOUBLETON_RATIO = 0.1   # eliminate x_k from a x_j + b x_k = r only with |b| >= this * |a|
MAX_FILL = 16           # a doubleton substitution may create at most this many new entries


def cross_tol(lo, hi):
    """Allowance for lo > hi before two bounds count as crossing."""
    return FEAS_TOL * (1.0 + np.maximum(finite_abs(lo), finite_abs(hi)))


def meet(lo, hi, what):
    """New bounds (lo, hi) for some variables: raise Stop where they cross beyond the tolerance,
    and make them equal where they cross within it. `what(k)` describes the k-th for the reason."""
    cross = lo > hi
    if not cross.any():
        return lo, hi
    bad = np.flatnonzero(cross & (lo - hi > cross_tol(lo, hi)))
    if bad.size:
        k = int(bad[0])
        raise Stop("infeasible", f"{what(k)}: lower bound {num(lo[k])} > upper bound {num(hi[k])}")
    mid = 0.5 * (lo + hi)
    return np.where(cross, mid, lo), np.where(cross, mid, hi)


def fix_cols(w, cols, vals):
    """Remove columns at the given values: objective constant and row bounds absorb them."""
    if cols.size == 0:
        return
    pos, rows, coefs = w.col_entries(cols)
    w.stack.append(FixedCols(cols, vals, w.c[cols].copy(), pos, rows, coefs))
    w.const += float(w.c[cols] @ vals)
    w.shift_rows(rows, coefs * vals[pos])
    w.kill_cols(cols)


def empty_rows(w):
    """Rows without entries (0 must lie in their bounds) and free rows: dropped, y_i = 0."""
    cnt = w.row_counts()
    free = w.row_alive & np.isneginf(w.rl) & np.isposinf(w.ru)
    empty = w.row_alive & (cnt == 0) & ~free
    tol = FEAS_TOL * w.rscale
    bad = np.flatnonzero(empty & ((w.rl > tol) | (w.ru < -tol)))
    if bad.size:
        i = int(bad[0])
        raise Stop("infeasible", f"{w.row_label(i)} has no entries left (after removing fixed "
                   f"columns) but needs {num(w.rl[i])} <= 0 <= {num(w.ru[i])}")
    rows = np.flatnonzero(empty | free)
    if rows.size:
        w.stack.append(DroppedRows(rows))
        w.kill_rows(rows)
    return 0


def empty_cols(w):
    """Columns without entries: fixed at the bound their cost prefers (at clip(0, l, u) for a zero
    cost); unbounded where that bound is infinite."""
    # the counts come with the blocking counts that dominated_cols needs, in one pass over A
    cols = np.flatnonzero(w.col_alive & (w.col_stats()[0] == 0))
    if cols.size == 0:
        return 0
    c, lo, hi = w.costs(cols), w.cl[cols], w.cu[cols]
    vals = np.where(c > 0, lo, np.where(c < 0, hi, np.clip(0.0, lo, hi)))
    bad = np.flatnonzero(~np.isfinite(vals))
    if bad.size:
        j = int(cols[bad[0]])
        raise Stop("unbounded", f"{w.col_label(j)} appears in no constraint, has cost "
                   f"{num(w.user_cost(j))} and bounds [{num(w.cl[j])}, {num(w.cu[j])}]: the "
                   f"objective improves without limit along it (if the problem is feasible)",
                   ray=(j, 1.0 if c[bad[0]] < 0 else -1.0))
    fix_cols(w, cols, vals)
    return 0


def fixed_cols(w):
    """Columns with equal bounds: substituted out."""
    cols = np.flatnonzero(w.col_alive & (w.cl == w.cu))
    fix_cols(w, cols, w.cl[cols].copy())
    return 0


def singleton_rows(w):
    """Rows with one entry become bounds of their column (the tightest per column per pass)."""
    rows = np.flatnonzero(w.row_alive & (w.row_counts() == 1))
    if rows.size == 0:
        return 0
    _, ci, v = w.entries()
    e = w.row_ptr()[rows]
    cols, a = ci[e], v[e]
    pos = a > 0
    lo = np.where(pos, w.rl[rows], w.ru[rows]) / a
    hi = np.where(pos, w.ru[rows], w.rl[rows]) / a
    o_lo = np.lexsort((-lo, cols))
    o_hi = np.lexsort((hi, cols))
    f_lo = o_lo[first_of_runs(cols[o_lo])]
    f_hi = o_hi[first_of_runs(cols[o_hi])]
    ucols = cols[f_lo]
    tight_lo = lo[f_lo] > w.cl[ucols]
    tight_hi = hi[f_hi] < w.cu[ucols]
    new_lo = np.where(tight_lo, lo[f_lo], w.cl[ucols])
    new_hi = np.where(tight_hi, hi[f_hi], w.cu[ucols])

    def what(k):
        return (f"{w.col_label(ucols[k])} gets bounds from singleton rows "
                f"{w.row_label(rows[f_lo[k]])} and {w.row_label(rows[f_hi[k]])} and its own "
                f"[{num(w.cl[ucols[k]])}, {num(w.cu[ucols[k]])}]")

    new_lo, new_hi = meet(new_lo, new_hi, what)
    w.stack.append(SingletonRows(rows, ucols, np.where(tight_lo, rows[f_lo], -1), a[f_lo],
                                 np.where(tight_hi, rows[f_hi], -1), a[f_hi]))
    w.set_col_bounds(ucols, new_lo, new_hi)
    w.kill_rows(rows)
    return int(tight_lo.sum() + tight_hi.sum())


def forcing_rows(w):
    """Rows whose activity bounds (from the columns' own bounds) meet a row bound: every column is
    fixed at the bound that attains it and the row is dropped. Also proves infeasibility where
    the activity bounds miss the row bounds."""
    ri, ci, v = w.entries()
    if ri.size == 0:
        return 0
    act = w.own_activity()
    amin, amax = act.min(), act.max()
    tol = w.row_tol(act)
    alive = w.row_alive & (w.row_counts() > 0)
    bad = np.flatnonzero(alive & ((amax < w.rl - tol) | (amin > w.ru + tol)))
    if bad.size:
        i = int(bad[0])
        raise Stop("infeasible", f"{w.row_label(i)} can reach activities in [{num(amin[i])}, "
                   f"{num(amax[i])}] within its columns' bounds, outside its bounds "
                   f"[{num(w.rl[i])}, {num(w.ru[i])}]")
    at_lo = alive & (act.nhi == 0) & np.isfinite(w.rl) & (amax <= w.rl + tol)
    at_hi = alive & (act.nlo == 0) & np.isfinite(w.ru) & (amin >= w.ru - tol) & ~at_lo
    forced = at_lo | at_hi
    if not forced.any():
        return 0
    target = np.where(at_lo[ri] == (v > 0), w.cu[ci], w.cl[ci])
    e = np.flatnonzero(forced[ri])
    tmin = np.full(w.n, np.inf)
    tmax = np.full(w.n, -np.inf)
    np.minimum.at(tmin, ci[e], target[e])
    np.maximum.at(tmax, ci[e], target[e])
    clash = np.zeros(w.m, dtype=bool)
    clash[ri[e][tmax[ci[e]] > tmin[ci[e]]]] = True
    forced &= ~clash
    rows = np.flatnonzero(forced)
    if rows.size == 0:
        return 0
    e = np.flatnonzero(forced[ri])
    w.stack.append(ForcingRows(rows, np.where(at_lo[rows], 1.0, -1.0),
                               np.searchsorted(rows, ri[e]), ci[e].copy(), v[e].copy()))
    cols, first = np.unique(ci[e], return_index=True)
    vals = target[e][first]
    w.kill_rows(rows)
    fix_cols(w, cols, vals)
    return 0


def redundant_rows(w):
    """Row sides that the activity bounds (with implied column bounds) can never violate: a row
    with both sides redundant is dropped (y_i = 0), a single redundant side becomes infinite."""
    if w.nnz == 0:
        return 0
    dep_lo, dep_hi, act = w.effective()
    tol = w.row_tol(act)
    alive = w.row_alive & (w.row_counts() > 0)
    red_lo = alive & np.isfinite(w.rl) & (act.min() >= w.rl - tol)
    red_hi = alive & np.isfinite(w.ru) & (act.max() <= w.ru + tol)
    cand = red_lo | red_hi
    if not cand.any():
        return 0
    late = w.depends_on(dep_lo, dep_hi, cand)
    red_lo &= ~late
    red_hi &= ~late
    drop = (red_lo | red_hi) & (red_lo | np.isneginf(w.rl)) & (red_hi | np.isposinf(w.ru))
    relax_lo = red_lo & ~drop
    relax_hi = red_hi & ~drop
    w.set_row_bounds(relax_lo, -np.inf, w.ru[relax_lo])
    w.set_row_bounds(relax_hi, w.rl[relax_hi], np.inf)
    rows = np.flatnonzero(drop)
    if rows.size:
        w.stack.append(DroppedRows(rows))
        w.kill_rows(rows)
    return int(relax_lo.sum() + relax_hi.sum())


def dominated_cols(w):
    """Columns that no row stops from moving toward the bound their cost prefers (cost >= 0 and
    every row lets x_j decrease, or cost <= 0 and every row lets it increase): fixed at that bound.
    Unbounded where that bound is infinite and the cost nonzero."""
    if w.nnz == 0:
        return 0
    count, down, up = w.col_stats()           # one Numba pass over A, shared with empty_cols
    # the columns some direction leaves free, first (few: the rest is a pass over n columns)
    cand = np.flatnonzero(((down == 0) | (up == 0)) & (count > 0) & w.col_alive)
    if cand.size == 0:
        return 0
    down, up, c = down[cand], up[cand], w.costs(cand)
    cl, cu = w.cl[cand], w.cu[cand]
    to_lo = (down == 0) & (c >= 0) & np.isfinite(cl)
    to_hi = (up == 0) & (c <= 0) & np.isfinite(cu) & ~to_lo
    unb = ((down == 0) & (c > 0) & np.isneginf(cl)) | ((up == 0) & (c < 0) & np.isposinf(cu))
    if unb.any():
        t = int(np.flatnonzero(unb)[0])
        j = int(cand[t])
        raise Stop("unbounded", f"{w.col_label(j)} has cost {num(w.user_cost(j))}, bounds "
                   f"[{num(w.cl[j])}, {num(w.cu[j])}] and no row limits it in the direction that "
                   f"improves the objective: unbounded (if the problem is feasible)",
                   ray=(j, 1.0 if c[t] < 0 else -1.0))
    pick = to_lo | to_hi
    fix_cols(w, cand[pick], np.where(to_lo, cl, cu)[pick])
    return 0


def doubleton_eqs(w):
    """Equations a x_j + b x_k = r: x_k = (r - a x_j) / b is substituted into the cost and the
    other rows of column k, and x_k's bounds become bounds of x_j. A batch uses disjoint columns;
    substitutions that would create more than MAX_FILL new entries are skipped."""
    rows = np.flatnonzero(w.row_alive & (w.row_counts() == 2) & (w.rl == w.ru))
    if rows.size == 0:
        return 0
    ri, ci, v = w.entries()
    e1 = w.row_ptr()[rows]
    j1, j2, a1, a2 = ci[e1], ci[e1 + 1], v[e1], v[e1 + 1]
    cnt = w.col_counts()
    first_k = (cnt[j1] < cnt[j2]) | ((cnt[j1] == cnt[j2]) & (np.abs(a1) > np.abs(a2)))
    big, small = np.maximum(np.abs(a1), np.abs(a2)), np.minimum(np.abs(a1), np.abs(a2))
    k_abs = np.where(first_k, np.abs(a1), np.abs(a2))
    first_k ^= (k_abs == small) & (small < DOUBLETON_RATIO * big)
    keep, elim = np.where(first_k, j2, j1), np.where(first_k, j1, j2)
    a, b = np.where(first_k, a2, a1), np.where(first_k, a1, a2)

    perm, ptr = w.csc()
    counts = ptr[elim + 1] - ptr[elim]
    pos = np.repeat(np.arange(rows.size), counts)
    h = ri[perm[ranges(ptr[elim], counts)]]
    other = h != rows[pos]
    keys = ri * w.n + ci
    want = h * w.n + keep[pos]
    at = np.minimum(np.searchsorted(keys, want), keys.size - 1)
    fill = np.bincount(pos, other & (keys[at] != want), rows.size)

    used = np.zeros(w.n, dtype=bool)
    chosen = []
    for t, (j, k, f) in enumerate(zip(keep.tolist(), elim.tolist(), fill.tolist())):
        if f <= MAX_FILL and not used[j] and not used[k]:
            used[j] = used[k] = True
            chosen.append(t)
    if not chosen:
        return 0
    sel = np.asarray(chosen, dtype=np.int64)
    rows, keep, elim, a, b = rows[sel], keep[sel], elim[sel], a[sel], b[sel]
    r = w.rl[rows].copy()
    ck = w.c[elim].copy()

    q = -b / a
    lk, uk = w.cl[elim], w.cu[elim]
    imp_lo = r / a + np.where(q > 0, q * lk, q * uk)
    imp_hi = r / a + np.where(q > 0, q * uk, q * lk)
    lo_from_k = imp_lo > w.cl[keep]
    hi_from_k = imp_hi < w.cu[keep]
    new_lo = np.where(lo_from_k, imp_lo, w.cl[keep])
    new_hi = np.where(hi_from_k, imp_hi, w.cu[keep])

    def what(t):
        return (f"{w.col_label(keep[t])}, after substituting {w.col_label(elim[t])} out of the "
                f"equation {w.row_label(rows[t])}")

    new_lo, new_hi = meet(new_lo, new_hi, what)

    pos, h, ahk = w.col_entries(elim)
    other = h != rows[pos]
    pos, h, ahk = pos[other], h[other], ahk[other]
    w.stack.append(DoubletonEqs(rows, keep, elim, a, b, r, ck, lo_from_k, hi_from_k,
                                pos, h, ahk))
    w.const += float(ck @ (r / b))
    w.change_costs(keep, ck * a / b)
    w.set_col_bounds(keep, new_lo, new_hi)
    w.shift_rows(h, ahk * (r / b)[pos])
    w.kill_rows(rows)
    w.kill_cols(elim)
    w.add_entries(h, keep[pos], -ahk * (a / b)[pos])
    return int(lo_from_k.sum() + hi_from_k.sum())


def _singleton_entries(w, rows_mask):
    """Entries of column singletons in the rows of rows_mask whose value is at least PIVOT_TOL
    times the largest in their row."""
    ci, v = w.cols_values()          # the entries' rows only if some entry qualifies
    rows = np.flatnonzero(rows_mask)
    ptr = w.row_ptr()
    if ptr[rows + 1].sum() - ptr[rows].sum() < v.size // 2:
        # few entries in those rows (CVaR's one budget equation among 25,000 inequalities): only
        # theirs are looked at, in the same (row-major) order
        e = w.row_entries(rows)[1]
        e = e[w.col_counts()[ci[e]] == 1]
    else:
        e = np.flatnonzero((w.col_counts()[ci] == 1) & rows_mask[w.ri])
    if e.size == 0:
        return e
    ri = w.ri
    rows = np.unique(ri[e])                      # nonempty: each holds an entry of e
    starts = np.concatenate([[0], np.cumsum(ptr[rows + 1] - ptr[rows])[:-1]])
    rowmax = np.zeros(w.m)
    rowmax[rows] = np.maximum.reduceat(np.abs(v[w.row_entries(rows)[1]]), starts)
    return e[np.abs(v[e]) >= PIVOT_TOL * rowmax[ri[e]]]


def col_singletons(w):
    """Column singletons whose bounds are free or implied by their row and the other columns' own
    bounds (see _col_singletons)."""
    return _col_singletons(w, implied=False)


def implied_free_col_singletons(w):
    """Column singletons whose bounds are implied by their row and the other columns' implied
    bounds (see _col_singletons)."""
    return _col_singletons(w, implied=True)


def _col_singletons(w, implied):
    """Columns with one entry whose bounds are free or implied by their row (one per row per
    call): the row defines x_j, so column and row are eliminated with y_i = c_j / a_ij. An
    inequality row is first pinned to the side its dual sign picks (skipped where that side is
    infinite); a zero-cost column in an inequality row makes the row free."""
    ri, ci, v = w.entries()
    e = _singleton_entries(w, w.row_alive)
    if e.size == 0:
        return 0

    if implied:
        dep_lo, dep_hi, act = w.effective()
    else:
        act = w.own_activity()
    rows, cols, a = ri[e], ci[e], v[e]
    rest_lo = np.where(act.nlo[rows] - act.flo[e] == 0, act.lo[rows] - act.tlo[e], -np.inf)
    rest_hi = np.where(act.nhi[rows] - act.fhi[e] == 0, act.hi[rows] - act.thi[e], np.inf)
    num_lo = w.rl[rows] - rest_hi
    num_hi = w.ru[rows] - rest_lo
    imp_lo = np.where(a > 0, num_lo, num_hi) / a
    imp_hi = np.where(a > 0, num_hi, num_lo) / a
    cl, cu = w.cl[cols], w.cu[cols]
    slack = FEAS_TOL * (1.0 + finite_abs(cl)) + ROUND_TOL * act.scale[rows] / np.abs(a)
    free_lo = np.isneginf(cl) | (imp_lo >= cl - slack)
    slack = FEAS_TOL * (1.0 + finite_abs(cu)) + ROUND_TOL * act.scale[rows] / np.abs(a)
    free_hi = np.isposinf(cu) | (imp_hi <= cu + slack)
    yv = w.costs()[cols] / a
    rl, ru = w.rl[rows], w.ru[rows]
    side_ok = np.where(yv > 0, np.isfinite(rl), np.where(yv < 0, np.isfinite(ru), True))
    ok = free_lo & free_hi & side_ok
    if implied:
        cand = np.zeros(w.m, dtype=bool)
        cand[rows[ok]] = True
        ok &= ~w.depends_on(dep_lo, dep_hi, cand)[rows]
    ok = np.flatnonzero(ok)
    ok = ok[first_of_runs(rows[ok])]
    rows, cols, a, yv = rows[ok], cols[ok], a[ok], yv[ok]
    if rows.size == 0:
        return 0

    rl, ru = w.rl[rows].copy(), w.ru[rows].copy()
    act_val = np.where(yv > 0, rl, np.where(yv < 0, ru, np.where(rl == ru, rl, np.nan)))
    pos, ent = w.row_entries(rows)
    other = ci[ent] != cols[pos]
    pos, ecols, ecoefs = pos[other], ci[ent][other], v[ent][other]
    w.stack.append(ColSingletons(rows, cols, a, yv * a, act_val, rl, ru,
                                 w.cl[cols].copy(), w.cu[cols].copy(), pos, ecols, ecoefs))
    pinned = yv != 0
    w.const += float(yv[pinned] @ act_val[pinned])
    w.change_costs(ecols, yv[pos] * ecoefs)
    w.kill_rows(rows)
    w.kill_cols(cols)
    return 0


def slack_col_singletons(w):
    """Column singletons in equations a x_j + rest = r (one per row per call): x_j = (r - rest) / a
    is substituted into the cost, and its bounds become the row's bounds on rest. Postsolve:
    y_i = y_i' + c_j / a, z_j = -a y_i' (y_i' the dual of the row without x_j)."""
    e = _singleton_entries(w, w.row_alive & (w.rl == w.ru))
    if e.size == 0:
        return 0
    ri, ci, v = w.entries()
    e = e[first_of_runs(ri[e])]
    rows, cols, a = ri[e], ci[e], v[e]
    r = w.rl[rows].copy()
    yv = w.costs()[cols] / a
    p, q = r - a * w.cl[cols], r - a * w.cu[cols]
    pos, ent = w.row_entries(rows)
    other = ci[ent] != cols[pos]
    pos, ecols, ecoefs = pos[other], ci[ent][other], v[ent][other]
    w.stack.append(SlackSingletons(rows, cols, a, yv, r, pos, ecols, ecoefs))
    w.const += float(yv @ r)
    w.change_costs(ecols, yv[pos] * ecoefs)
    w.set_row_bounds(rows, np.minimum(p, q), np.maximum(p, q),
                     scale=finite_abs(p - r) + finite_abs(q - r))
    w.kill_cols(cols)
    return int(np.isfinite(p).sum() + np.isfinite(q).sum())
