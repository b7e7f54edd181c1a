"""The presolve pass loop and its result.

Runs the reductions in a fixed order, pass after pass, until a pass changes nothing or max_passes
is reached; logs what each reduction did in each pass; builds the reduced Problem (same sense as
the original) and the PresolveResult whose postsolve maps answers back.

Knows: the Problem class, the order of the reductions, the Work state, Postsolve, and the norms
of gpulp.verify (reported in the stats).
Must not know: the solver, scaling or any device.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..problem import Problem
from ..verify import finite_bound_norm, norm2
from .parallel import parallel_cols, parallel_rows
from .postsolve import Postsolve
from .reductions import (col_singletons, dominated_cols, doubleton_eqs, empty_cols, empty_rows,
                         fixed_cols, forcing_rows, implied_free_col_singletons,
                         redundant_rows, singleton_rows, slack_col_singletons)
from .work import Stop, Work

__all__ = ["presolve", "PresolveResult", "CHEAP", "EXPENSIVE"]

# Cheap reductions run to a fixed point (at most CHEAP_ROUNDS rounds) in every pass; the ones that
# need implied bounds or hashing run once per pass after them.
CHEAP = (
    ("empty_rows", empty_rows),
    ("empty_cols", empty_cols),
    ("fixed_cols", fixed_cols),
    ("singleton_rows", singleton_rows),
    ("forcing_rows", forcing_rows),
    ("dominated_cols", dominated_cols),
    ("doubleton_eqs", doubleton_eqs),
    ("col_singletons", col_singletons),
    ("slack_col_singletons", slack_col_singletons),
)
EXPENSIVE = (
    ("redundant_rows", redundant_rows),
    ("implied_free_col_singletons", implied_free_col_singletons),
    ("parallel_rows", parallel_rows),
    ("parallel_cols", parallel_cols),
)
CHEAP_ROUNDS = 8
# Above this many nonzeros presolve is light: the reductions that need activity bounds or
# hashing (forcing and redundant rows, column singletons, parallel rows and columns) are
# skipped. Vectorised NumPy, they cost 0.1-0.3 us per nonzero each (6.3 s on a 10M-nonzero CVaR
# LP on a 2-core VM, where they removed nothing), far more than the GPU needs for the solve.
LIGHT_NNZ = 1_000_000
LIGHT_SKIP = ("forcing_rows", "redundant_rows", "col_singletons", "implied_free_col_singletons",
              "parallel_rows", "parallel_cols")


@dataclass
class PresolveResult:
    """What presolve found.

    status: "reduced" (solve `problem`, then call postsolve), "solved" (nothing is left: `problem`
    has 0 rows and 0 columns; postsolve of empty arrays gives the answer), "infeasible" or
    "unbounded" (`problem` is None, `reason` says which row or column and which numbers; unbounded
    means that the dual is infeasible, i.e. unbounded if the problem is feasible; `ray` may then
    hold a candidate primal ray of the original problem, not yet checked).
    log: one dict per reduction kind that changed something in a pass: {"pass", "reduction",
    "rows_removed", "cols_removed", "nnz_removed", "bounds_tightened"} (bounds changed: tightened,
    or a redundant row side removed).
    stats: rows/cols/nnz before and after, passes, time (seconds); for "reduced" and "solved" also
    b_norm_before/after and c_norm_before/after (||row bounds||, ||c|| as gpulp.verify measures
    them). Presolve can move column bounds into row bounds and costs onto other columns, so an
    answer that meets a relative tolerance on the reduced problem may miss it on the original by
    up to max((1 + b_norm_after) / (1 + b_norm_before), (1 + c_norm_after) / (1 + c_norm_before)).
    """
    status: str
    reason: str
    problem: Problem | None
    log: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    _postsolve: Postsolve | None = field(default=None, repr=False)
    ray: np.ndarray | None = field(default=None, repr=False)

    def postsolve(self, x, y, z):
        """Optimal (x, y, z) of the reduced problem (its own sense, HiGHS's signs) -> the same for
        the original problem."""
        if self._postsolve is None:
            raise ValueError(f"postsolve: presolve ended with status {self.status!r}")
        return self._postsolve(x, y, z)


def presolve(problem: Problem, max_passes: int = 20, light: bool | None = None) -> PresolveResult:
    """Reduce an LP; a QP comes back unchanged with an empty postsolve. Never modifies `problem`.
    `light` (default: more than LIGHT_NNZ nonzeros) skips the reductions in LIGHT_SKIP. When
    nothing changes, the problem itself comes back, with an identity postsolve."""
    t0 = time.perf_counter()
    stats = {"rows_before": problem.num_rows, "cols_before": problem.num_cols,
             "nnz_before": problem.nnz}
    if problem.Q is not None:
        ident = Postsolve(problem.num_rows, problem.num_cols, 1.0, np.arange(problem.num_rows),
                          np.arange(problem.num_cols), [])
        stats.update(rows_after=problem.num_rows, cols_after=problem.num_cols,
                     nnz_after=problem.nnz, passes=0, time=time.perf_counter() - t0,
                     **_norms(problem, problem))
        return PresolveResult("reduced", "", problem, [], stats, ident)

    if light is None:
        light = problem.nnz > LIGHT_NNZ
    cheap = [(k, f) for k, f in CHEAP if not (light and k in LIGHT_SKIP)]
    expensive = [(k, f) for k, f in EXPENSIVE if not (light and k in LIGHT_SKIP)]
    stats["light"] = bool(light)
    w = Work(problem)
    version0 = w.version
    log = []
    passes = 0
    tally = {}
    try:
        for k in range(1, max_passes + 1):
            passes = k
            start = w.version
            tally = {}
            for _ in range(CHEAP_ROUNDS):
                before = w.version
                for name, reduce in cheap:
                    _run(w, k, name, reduce, tally)
                if w.version == before:
                    break
            for name, reduce in expensive:
                _run(w, k, name, reduce, tally)
            _flush(log, tally)
            if w.version == start:
                break
    except Stop as stop:
        _flush(log, tally)
        stats.update(rows_after=None, cols_after=None, nnz_after=None, passes=passes,
                     time=time.perf_counter() - t0)
        ray = None
        if stop.ray is not None:
            ray = np.zeros(problem.num_cols)
            ray[stop.ray[0]] = stop.ray[1]
        return PresolveResult(stop.status, stop.reason, None, log, stats, ray=ray)

    if w.version == version0 and problem.num_rows and problem.num_cols:
        stats.update(rows_after=problem.num_rows, cols_after=problem.num_cols,
                     nnz_after=problem.nnz, passes=passes, time=time.perf_counter() - t0,
                     **_norms(problem, problem))
        ident = Postsolve(problem.num_rows, problem.num_cols, w.sign,
                          np.arange(problem.num_rows), np.arange(problem.num_cols), [])
        return PresolveResult("reduced", "", problem, log, stats, ident)
    reduced = _reduced_problem(problem, w)
    rows, cols = np.flatnonzero(w.row_alive), np.flatnonzero(w.col_alive)
    stats.update(rows_after=reduced.num_rows, cols_after=reduced.num_cols, nnz_after=reduced.nnz,
                 passes=passes, time=time.perf_counter() - t0, **_norms(problem, reduced))
    status = "solved" if rows.size == 0 and cols.size == 0 else "reduced"
    post = Postsolve(w.m, w.n, w.sign, rows, cols, w.stack)
    return PresolveResult(status, "", reduced, log, stats, post)


def _flush(log, tally):
    """Append the pass's entries that removed or changed something."""
    log.extend(e for e in tally.values() if any(
        e[key] for key in ("rows_removed", "cols_removed", "bounds_tightened")))
    tally.clear()


def _run(w, k, name, reduce, tally):
    """Apply one reduction and add what it removed to tally[name]."""
    v0 = w.version
    rows0, cols0, nnz0 = w.sizes()
    tightened = int(reduce(w))
    entry = tally.setdefault(name, {"pass": k, "reduction": name, "rows_removed": 0,
                                    "cols_removed": 0, "nnz_removed": 0, "bounds_tightened": 0})
    if w.version != v0:             # (an unchanged version removed nothing)
        rows1, cols1, nnz1 = w.sizes()
        entry["rows_removed"] += rows0 - rows1
        entry["cols_removed"] += cols0 - cols1
        entry["nnz_removed"] += nnz0 - nnz1
    entry["bounds_tightened"] += tightened


def _norms(problem, reduced):
    """||b|| and ||c|| (as gpulp.verify measures them) before and after: the relative KKT measures
    of the original are those of the reduced problem times up to (1 + after) / (1 + before)."""
    return {"b_norm_before": finite_bound_norm(problem.row_lower, problem.row_upper),
            "b_norm_after": finite_bound_norm(reduced.row_lower, reduced.row_upper),
            "c_norm_before": norm2(problem.c),
            "c_norm_after": norm2(reduced.c)}


def _reduced_problem(problem, w):
    rows, cols = np.flatnonzero(w.row_alive), np.flatnonzero(w.col_alive)
    new_row = np.full(w.m, -1, dtype=np.int64)
    new_col = np.full(w.n, -1, dtype=np.int64)
    new_row[rows] = np.arange(rows.size)
    new_col[cols] = np.arange(cols.size)
    ri, ci, v = w.entries()
    A = sp.csr_matrix((v, (new_row[ri], new_col[ci])), shape=(rows.size, cols.size))
    return Problem(w.sign * w.c[cols], A, w.rl[rows], w.ru[rows], w.cl[cols], w.cu[cols],
                   objective_constant=w.sign * w.const, sense=problem.sense,
                   integrality=problem.integrality[cols], name=problem.name,
                   row_names=_pick(problem.row_names, rows),
                   col_names=_pick(problem.col_names, cols))


def _pick(names, idx):
    return None if names is None else [names[i] for i in idx]
