"""Random small LPs and convex QPs of every status, solved by gpulp and by HiGHS, with each
disagreement settled by a certificate: `python -m bench fuzz --seeds 0:2000`.

The problems are built to hit the awkward cases: integer data, empty, singleton and parallel
rows, duplicated columns, fixed and free columns, rows that contradict the others, columns that
improve the objective without limit, badly scaled rows and columns, maximisation, and (in about
a third) a positive semidefinite Q = F F' + D of low rank, so that Q is singular along
directions where a QP can be unbounded.

A disagreement is settled by what can be checked:
- gpulp "optimal" is a KKT point verified on the problem: the problem is bounded and feasible.
  Against a HiGHS optimum the objectives must agree to 10 tol (1 + |f*|).
- gpulp "primal_infeasible" carries a checked Farkas ray; "dual_infeasible" a checked primal
  ray plus (certificate["primal_feasible"]) a verified feasible point: unbounded.
- Independently, an LP over the recession cone (min c'd with Q d = 0, d in the cones of the row
  and column bounds, |d| <= 1; solved by HiGHS's simplex, which is exact on such LPs) says
  whether an improving ray exists.
A row of the output is "gpulp wrong" only when gpulp's claim is contradicted; "HiGHS wrong"
when gpulp's certificate (and the recession LP) refute HiGHS's status; "unsettled" when gpulp
gave no certified answer (a time limit).

Knows: Problem, gpulp.solve, the certificate checks and HiGHS. Not a timing: nothing here goes
into RESULTS as a speed figure.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

INF = np.inf
_COEFS = np.array([-3.0, -2.0, -1.0, -0.5, 0.25, 1.0, 1.0, 2.0, 3.0, 7.0])


def _bounds(rng, point, kinds):
    """(lower, upper) around `point`, each entry of a kind drawn from `kinds`: "fixed" at the
    point, "lower" / "upper" / "range" up to 2 away, "free", "nonneg" ([min(0, point), inf)) or
    "contradict" (with probability 0.15, [point + 1, point + 2], which the point misses; else
    free)."""
    lo, hi = np.full(point.size, -INF), np.full(point.size, INF)
    for i, v in enumerate(point):
        kind = kinds[rng.integers(0, len(kinds))]
        below, above = v - rng.integers(0, 3), v + rng.integers(0, 3)
        if kind == "fixed":
            lo[i] = hi[i] = v
        elif kind == "lower":
            lo[i] = below
        elif kind == "upper":
            hi[i] = above
        elif kind == "range":
            lo[i], hi[i] = below, above
        elif kind == "nonneg":
            lo[i] = min(0.0, v)
        elif kind == "contradict" and rng.random() < 0.15:
            lo[i], hi[i] = v + 1, v + 2
    return lo, hi


def _multipliers(rng, lo, hi):
    """Small integer multipliers with the signs that the bounds (lo, hi) allow."""
    v = rng.integers(-2, 3, lo.size).astype(float)
    v = np.where(np.isfinite(lo), v, np.minimum(v, 0))
    return np.where(np.isfinite(hi), v, np.maximum(v, 0))


def random_problem(seed: int):
    """One random LP or QP (see the module docstring); the same seed gives the same problem."""
    from gpulp import Problem
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(0, 30)), int(rng.integers(1, 40))
    A = np.where(rng.random((m, n)) < rng.uniform(0.05, 0.6), rng.choice(_COEFS, (m, n)), 0.0)
    if rng.random() < 0.3:              # bad scaling
        A = A * np.exp(rng.uniform(-4, 4, (m, 1))) * np.exp(rng.uniform(-3, 3, (1, n)))
    for i in range(m):
        shape = rng.integers(0, 8)
        if shape == 0:
            A[i] = 0.0
        elif shape == 1 and i > 0:
            A[i] = A[rng.integers(0, i)] * rng.choice([-2.0, 0.5, 1.0])
        elif shape == 2:
            A[i] = 0.0
            A[i, rng.integers(0, n)] = rng.choice([-2.0, 1.0, 3.0])
    for j in range(n):
        if n > 1 and rng.random() < 0.08:
            A[:, j] = A[:, rng.integers(0, n)] * rng.choice([-1.0, 1.0, 2.0])
    x0 = rng.integers(-3, 4, n).astype(float)
    act = A @ x0
    rl, ru = _bounds(rng, act, ("fixed", "lower", "upper", "range", "contradict", "lower", "free"))
    cl, cu = _bounds(rng, x0, ("fixed", "range", "lower", "upper", "nonneg", "free"))
    if rng.random() < 0.6:              # dual feasible by construction: mostly bounded
        c = A.T @ _multipliers(rng, rl, ru) + _multipliers(rng, cl, cu)
    else:
        c = rng.integers(-3, 4, n).astype(float)
    Q = None
    if rng.random() < 0.3:
        k = int(rng.integers(1, n + 1))
        F = np.where(rng.random((n, k)) < 0.5, rng.integers(-2, 3, (n, k)), 0).astype(float)
        Q = F @ F.T + np.diag(np.where(rng.random(n) < 0.5, rng.integers(0, 3, n), 0))
        Q = Q if Q.any() else None
    sense = "max" if rng.random() < 0.3 else "min"
    if sense == "max":
        c, Q = -c, (None if Q is None else -Q)
    return Problem(c, A, rl, ru, cl, cu, Q=Q, sense=sense,
                   objective_constant=float(rng.integers(-2, 3)))


def has_improving_ray(problem) -> bool:
    """Whether some d with Q d = 0, A d in the recession cone of the row bounds and d in that of
    the column bounds has c'd < 0 (minimisation form): HiGHS's simplex on that LP, |d| <= 1."""
    from scipy.optimize import linprog
    s = -1.0 if problem.sense == "max" else 1.0
    A = problem.A.toarray()
    n = problem.num_cols
    rows = [-A[i] for i in range(problem.num_rows) if np.isfinite(problem.row_lower[i])]
    rows += [A[i] for i in range(problem.num_rows) if np.isfinite(problem.row_upper[i])]
    bounds = list(zip(np.where(np.isfinite(problem.col_lower), 0.0, -1.0),
                      np.where(np.isfinite(problem.col_upper), 0.0, 1.0)))
    Q = problem.Q.toarray() if problem.Q is not None else None
    r = linprog(s * problem.c, A_ub=np.array(rows) if rows else None,
                b_ub=np.zeros(len(rows)) if rows else None, A_eq=Q,
                b_eq=np.zeros(n) if Q is not None else None, bounds=bounds, method="highs-ds")
    return r.status == 0 and r.fun < -1e-9


def judge(problem, res, highs_status, highs_objective, tol):
    """(verdict, note): 'agree', 'gpulp wrong', 'HiGHS wrong' or 'unsettled'."""
    from gpulp import Status
    ours = {Status.OPTIMAL: "Optimal", Status.PRIMAL_INFEASIBLE: "Infeasible",
            Status.DUAL_INFEASIBLE: "Unbounded"}.get(res.status)
    certified = res.verified and ours is not None
    if ours == "Unbounded" and not (res.certificate or {}).get("primal_feasible"):
        certified, ours = False, None
    if not certified:
        return "unsettled", f"gpulp {res.status}: {res.message[:80]}"
    if ours == highs_status:
        if ours == "Optimal" and abs(res.objective - highs_objective) > \
                10 * tol * (1 + abs(highs_objective)):
            ray = has_improving_ray(problem)
            return ("HiGHS wrong" if not ray and problem.Q is not None else "gpulp wrong",
                    f"objectives {res.objective:.10g} / HiGHS {highs_objective:.10g}")
        return "agree", ""
    ray = has_improving_ray(problem)
    # gpulp's certificate decides; the recession LP must not contradict it
    consistent = (ours == "Optimal" and not ray) or (ours == "Unbounded" and ray) or \
        ours == "Infeasible"
    note = f"gpulp {ours}, HiGHS {highs_status} ({highs_objective:.6g}); improving ray: {ray}"
    return ("HiGHS wrong" if consistent else "gpulp wrong"), note


def run(seeds, tol=1e-6, time_limit=20.0, device="cpu", out=print):
    """Solve each seed's problem with gpulp and HiGHS; returns {("LP" or "QP", verdict): count}
    and prints one line per disagreement."""
    import gpulp
    from bench.solvers import solve_with_highs
    counts = {}
    t0 = time.perf_counter()
    for seed in seeds:
        problem = random_problem(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            h = solve_with_highs(problem)
            hs = h.modelStatusToString(h.getModelStatus())
            res = gpulp.solve(problem, tol=tol, time_limit=time_limit, device=device)
        verdict, note = judge(problem, res, hs, h.getInfo().objective_function_value, tol)
        kind = "QP" if problem.is_qp else "LP"
        counts[(kind, verdict)] = counts.get((kind, verdict), 0) + 1
        if verdict != "agree":
            out(f"seed {seed} ({kind}, {problem.num_rows} x {problem.num_cols}, "
                f"{problem.sense}): {verdict}: {note}")
    out(f"{len(seeds)} problems in {time.perf_counter() - t0:.0f} s: " +
        ", ".join(f"{k} {v}: {c}" for (k, v), c in sorted(counts.items())))
    return counts
