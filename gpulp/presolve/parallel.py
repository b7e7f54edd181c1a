"""Parallel rows and parallel columns: detection by hashing the normalised sparsity pattern and
values, exact verification, and the two merges.

Parallel rows (row r = s * row p) merge into p with the intersection of their bounds. Parallel
columns (column k = s * column j with c_k = s c_j) merge pairwise into x' = x_j + s x_k; a group of
g copies needs about log2(g) passes. Columns whose costs are not proportional are left alone.

Knows: the Work state, the undo records and the tolerances of work.py.
Must not know: the Problem class, the pass loop, the solver or any device.
"""

from __future__ import annotations

import numpy as np

from .postsolve import ParallelCols, ParallelRows
from .reductions import meet
from .work import ROUND_TOL, first_of_runs, ranges

__all__ = ["parallel_rows", "parallel_cols"]

_P1, _P2, _P3, _P4 = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F),
                      np.uint64(0x165667B19E3779F9), np.uint64(0xD6E8FEB86659FD93))


def _groups(ptr, idx, val, segs):
    """Pairs (rep, member, scale) of segments (rows of a CSR or columns of a CSC layout, among
    `segs`, each with >= 1 entry) with member = scale * rep entry by entry, to ROUND_TOL."""
    empty = np.zeros(0, dtype=np.int64)
    if segs.size < 2:
        return empty, empty, np.zeros(0)
    cnt = ptr[segs + 1] - ptr[segs]
    e = ranges(ptr[segs], cnt)
    seg_of = np.repeat(np.arange(segs.size), cnt)
    first = val[ptr[segs]]
    mant, expo = np.frexp(val[e] / first[seg_of])
    q = np.rint(mant * 2.0 ** 24).astype(np.int64).view(np.uint64)
    h = idx[e].astype(np.int64).view(np.uint64) * _P1
    h ^= q * _P2
    h ^= expo.astype(np.int64).view(np.uint64) * _P3
    h ^= h >> np.uint64(29)
    h *= _P4
    starts = np.concatenate(([0], np.cumsum(cnt)[:-1]))
    key = np.add.reduceat(h, starts)
    order = np.lexsort((key, cnt))
    co, ko = cnt[order], key[order]
    run = np.flatnonzero(np.r_[True, (co[1:] != co[:-1]) | (ko[1:] != ko[:-1])])
    group_start = np.repeat(run, np.diff(np.r_[run, order.size]))
    rep_pos = order[group_start]
    is_member = np.arange(order.size) != group_start
    mem, rep = order[is_member], rep_pos[is_member]
    if mem.size == 0:
        return empty, empty, np.zeros(0)
    L = cnt[mem]
    em = ranges(ptr[segs[mem]], L)
    er = ranges(ptr[segs[rep]], L)
    pair = np.repeat(np.arange(mem.size), L)
    sm = val[em] / first[mem][pair]
    sr = val[er] / first[rep][pair]
    wrong = (idx[em] != idx[er]) | (np.abs(sm - sr) > ROUND_TOL * np.abs(sr))
    good = np.bincount(pair, wrong, mem.size) == 0
    mem, rep = mem[good], rep[good]
    return segs[rep], segs[mem], first[mem] / first[rep]


def parallel_rows(w):
    """Rows that are multiples of another row: merged into it (bounds intersected)."""
    rows = np.flatnonzero(w.row_alive & (w.row_counts() >= 2))
    _, ci, v = w.entries()
    rep, mem, s = _groups(w.row_ptr(), ci, v, rows)
    if mem.size == 0:
        return 0
    reps = np.unique(rep)
    g = np.concatenate((reps, rep))
    row = np.concatenate((reps, mem))
    scale = np.concatenate((np.ones(reps.size), s))
    member = np.concatenate((np.zeros(reps.size, bool), np.ones(mem.size, bool)))
    pos = scale > 0
    lo = np.where(pos, w.rl[row], w.ru[row]) / scale
    hi = np.where(pos, w.ru[row], w.rl[row]) / scale
    o_lo = np.lexsort((member, -lo, g))
    o_hi = np.lexsort((member, hi, g))
    f_lo = o_lo[first_of_runs(g[o_lo])]
    f_hi = o_hi[first_of_runs(g[o_hi])]

    def what(k):
        return (f"{w.row_label(reps[k])} and its multiples (among them {w.row_label(row[f_lo[k]])} "
                f"and {w.row_label(row[f_hi[k]])}), as bounds on the same activity")

    new_lo, new_hi = meet(lo[f_lo], hi[f_hi], what)
    changed = int(np.sum(new_lo != w.rl[reps]) + np.sum(new_hi != w.ru[reps]))
    w.stack.append(ParallelRows(reps, mem, row[f_lo], scale[f_lo], row[f_hi], scale[f_hi]))
    w.set_row_bounds(reps, new_lo, new_hi)
    w.kill_rows(mem)
    return changed


def parallel_cols(w):
    """Columns that are multiples of another column with proportional cost: merged pairwise."""
    cols = np.flatnonzero(w.col_alive & (w.col_counts() >= 1))
    ri, _, v = w.entries()
    perm, ptr = w.csc()
    rep, mem, s = _groups(ptr, ri[perm], v[perm], cols)
    if mem.size == 0:
        return 0
    reps = np.unique(rep)
    g = np.concatenate((reps, rep))
    col = np.concatenate((reps, mem))
    scale = np.concatenate((np.ones(reps.size), s))
    o = np.lexsort((np.arange(g.size), g))
    g, col, scale = g[o], col[o], scale[o]
    start = first_of_runs(g)
    rank = np.arange(g.size) - np.repeat(start, np.diff(np.r_[start, g.size]))
    left = np.flatnonzero((rank % 2 == 0)[:-1] & (g[1:] == g[:-1]))
    j, k = col[left], col[left + 1]
    s = scale[left + 1] / scale[left]
    cj, ck = w.c[j], w.c[k]
    prop = np.abs(ck - s * cj) <= ROUND_TOL * np.maximum(np.abs(ck), np.abs(s * cj))
    j, k, s = j[prop], k[prop], s[prop]
    if j.size == 0:
        return 0
    lj, uj, lk, uk = w.cl[j].copy(), w.cu[j].copy(), w.cl[k].copy(), w.cu[k].copy()
    pos = s > 0
    w.stack.append(ParallelCols(j, k, s, lj, uj, lk, uk))
    w.set_col_bounds(j, lj + s * np.where(pos, lk, uk), uj + s * np.where(pos, uk, lk))
    w.kill_cols(k)
    return int(j.size)
