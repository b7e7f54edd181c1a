"""The integer layer's must-show figures, against HiGHS MIP run in the same process and session.

    python -m bench.integer [--part mip,knapsack,portfolio] [--device cpu] [--highs-time 300]

1. The shared MIPs (`$GPULP_SHARED/instances/mip`): gpulp's integer answer (status, objective,
   relaxation bound, mip gap) and its gap to HiGHS's `mip_objective` in reference.json.
2. Knapsack allocation with 200k items (instances.generators.allocation, 10k resources, 10k
   groups): HiGHS MIP (time limit --highs-time) and gpulp.apps.knapsack on the same model, best
   objectives and times.
3. Round-lot CVaR portfolios with n = 500 assets: HiGHS MIP and gpulp.apps.portfolio on the same
   model (integer lot counts; HiGHS cannot solve mixed-integer QPs, so the comparison uses the
   CVaR LP; mean-variance round lots are exercised in the tests).

Prints Markdown tables. Every gpulp answer is re-verified here with gpulp.rounding.check_integer.

Knows: gpulp's public API, highspy, the generators. Must not know: gpulp's internals.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["highs_mip", "knapsack_instance", "portfolio_instance", "main"]


def highs_mip(problem, time_limit=300.0, threads=None, mip_rel_gap=None):
    """Solve `problem` (integrality honoured, no Q) with HiGHS MIP. Returns a dict: status,
    objective (own sense, None when HiGHS has no solution), bound, gap, time, x."""
    import highspy
    import scipy.sparse as sp

    if problem.Q is not None:
        raise ValueError("HiGHS MIP cannot solve a mixed-integer QP")
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    if mip_rel_gap is not None:
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    lp = highspy.HighsLp()
    A = sp.csc_matrix(problem.A)
    lp.num_col_, lp.num_row_ = problem.num_cols, problem.num_rows
    lp.col_cost_ = problem.c
    lp.offset_ = problem.objective_constant
    lp.sense_ = highspy.ObjSense.kMaximize if problem.sense == "max" else highspy.ObjSense.kMinimize
    inf = highspy.kHighsInf
    lp.col_lower_ = np.where(np.isfinite(problem.col_lower), problem.col_lower, -inf)
    lp.col_upper_ = np.where(np.isfinite(problem.col_upper), problem.col_upper, inf)
    lp.row_lower_ = np.where(np.isfinite(problem.row_lower), problem.row_lower, -inf)
    lp.row_upper_ = np.where(np.isfinite(problem.row_upper), problem.row_upper, inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data
    lp.integrality_ = [highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous
                       for b in problem.integrality]
    h.passModel(lp)
    t = time.perf_counter()
    h.run()
    elapsed = time.perf_counter() - t
    info = h.getInfo()
    status = h.modelStatusToString(h.getModelStatus())
    has = info.primal_solution_status == 2
    x = np.asarray(h.getSolution().col_value) if has else None
    obj = float(info.objective_function_value) if has else None
    bound = float(info.mip_dual_bound)
    return {"status": status, "objective": obj, "bound": bound, "gap": float(info.mip_gap),
            "time": elapsed, "x": x}


# ============================================================================== instances
def knapsack_instance(n_items=200_000, seed=0, n_resources=None, n_groups=None):
    """instances.generators.allocation with 200k items, by default 10k resources and 10k groups
    (8 resources per item), as the keyword arguments of gpulp.apps.knapsack.solve, and the
    Problem."""
    from gpulp.apps import knapsack
    from instances.generators import allocation
    R = max(8, n_items // 20) if n_resources is None else int(n_resources)
    G = max(1, n_items // 20) if n_groups is None else int(n_groups)
    p = allocation(n_items, R, G, seed=seed)
    kw = knapsack.from_problem(p, R)
    problem, _ = knapsack.build_problem(**kw)
    return kw, problem


def portfolio_instance(n_assets=500, n_scenarios=1000, seed=0, capital=2e6, lot=100):
    """A round-lot CVaR portfolio: fat-tailed factor scenarios (instances.generators.cvar's
    model plus a market factor that every asset loads on, so a long-only book cannot hedge its
    tail away), prices in [10, 300], lots of `lot` shares (0.05% to 1.5% of capital per lot),
    weights capped at 5%, a return target
    halfway between the equal-weight and the best capped return, fully invested up to the
    leftover of whole lots. Returns the keyword arguments of gpulp.apps.portfolio.optimize."""
    rng = np.random.default_rng(seed)
    n, S, k = n_assets, n_scenarios, 5
    mu = rng.uniform(-2e-4, 1.2e-3, size=n)
    B = rng.normal(0.0, 0.01 / math.sqrt(k), size=(n, k))
    B[:, 0] = rng.uniform(0.5, 1.5, size=n) * 0.01      # the market: every asset loads on it
    sigma = rng.uniform(0.005, 0.02, size=n)
    t = lambda size: rng.standard_t(4.0, size=size) * math.sqrt(0.5)  # noqa: E731
    R = mu + t((S, n)) * sigma + t((S, k)) @ B.T
    prices = rng.uniform(10.0, 300.0, size=n)
    cap = 0.05
    order = np.sort(R.mean(axis=0))[::-1]
    full = int(1.0 / cap)
    r_max = cap * order[:full].sum()
    r_eq = float(R.mean())
    target = r_eq + 0.5 * (r_max - r_eq)
    names = [f"A{j:03d}" for j in range(n)]
    return dict(returns=R, model="cvar", beta=0.95, min_return=target, prices=prices,
                lot_sizes=lot, capital=capital, round_lots=True, max_weight=cap,
                max_cash=0.01, names=names)


# ============================================================================== parts
def _shared():
    shared = Path(os.environ.get("GPULP_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    return shared / "instances"


def part_mip(args):
    import gpulp
    from gpulp.rounding import check_integer
    inst = _shared()
    ref = json.loads((inst / "reference.json").read_text())
    files = sorted((inst / "mip").glob("*.mps*"))
    print(f"\n### Shared MIPs (`instances/mip`), device {args.device}, time limit "
          f"{args.mip_time:g} s each\n")
    print("| instance | rows | cols | int | status | gpulp objective | relaxation bound | mip gap "
          "| HiGHS mip_objective | gap to HiGHS | time (s) |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    found = total = 0
    for f in files:
        key = f"mip/{f.name}"
        r = ref.get(key, {})
        p = gpulp.read_mps(f)
        if not p.is_mip:
            print(f"| {f.name} | {p.num_rows} | {p.num_cols} | 0 | (no integer columns) | | | | "
                  f"| | |")
            continue
        total += 1
        t = time.perf_counter()
        res = gpulp.solve(p, integer=True, device=args.device, time_limit=args.mip_time)
        el = time.perf_counter() - t
        ok = res.x is not None and check_integer(p, res.x).ok
        mo = r.get("mip_objective")
        if ok:
            found += 1
        gh = (abs(res.objective - mo) / max(1.0, abs(mo))) if (ok and mo is not None) else math.nan
        fmt = lambda v: "-" if v is None or not math.isfinite(v) else f"{v:.10g}"  # noqa: E731
        print(f"| {f.name} | {p.num_rows} | {p.num_cols} | {int(p.integrality.sum())} | "
              f"{res.status} | {fmt(res.objective) if ok else '-'} | {fmt(res.bound)} | "
              f"{'-' if not math.isfinite(res.mip_gap) else f'{100 * res.mip_gap:.2f}%'} | "
              f"{fmt(mo)} | {'-' if not math.isfinite(gh) else f'{100 * gh:.2f}%'} | {el:.1f} |",
              flush=True)
    print(f"\nVerified integer solutions: {found} of {total} MIPs.")


def part_knapsack(args):
    from gpulp.apps import knapsack
    from gpulp.rounding import check_integer
    n = args.knapsack_items
    kw, problem = knapsack_instance(n, n_resources=args.knapsack_resources,
                                    n_groups=args.knapsack_groups)
    print(f"\n### Knapsack allocation, {n} items, {problem.num_rows} rows, {problem.nnz} "
          f"nonzeros (device {args.device})\n", flush=True)
    h = highs_mip(problem, time_limit=args.highs_time)
    t = time.perf_counter()
    res = knapsack.solve(**kw, time_limit=args.knapsack_time, device=args.device)
    el = time.perf_counter() - t
    ok = res.x is not None and check_integer(problem, res.x).ok
    hv = h["objective"]
    print("| solver | status | best objective | bound | time (s) |")
    print("|---|---|---:|---:|---:|")
    print(f"| HiGHS MIP (limit {args.highs_time:g} s) | {h['status']} | "
          f"{'-' if hv is None else f'{hv:.8g}'} | {h['bound']:.8g} | {h['time']:.1f} |")
    print(f"| gpulp knapsack (limit {args.knapsack_time:g} s) | {res.status} | {res.value:.8g} | "
          f"{res.bound:.8g} | {el:.1f} |")
    rel = (res.value - hv) / max(1.0, abs(hv)) if hv is not None else math.nan
    print(f"\ngpulp verified: {ok}; gpulp vs HiGHS best objective: {100 * rel:+.2f}% "
          f"(positive = gpulp better); gpulp time / HiGHS time = {el / h['time']:.3f}; "
          f"gpulp gap to its own bound {100 * res.mip_gap:.2f}%.", flush=True)


def part_portfolio(args):
    from gpulp.apps import portfolio
    from gpulp.rounding import check_integer
    print(f"\n### Round-lot CVaR portfolios, n = {args.assets} assets, "
          f"{args.scenarios} scenarios (device {args.device})\n")
    print("| seed | HiGHS status | HiGHS objective | HiGHS time (s) | gpulp status "
          "| gpulp objective | gpulp bound | gpulp time (s) | gpulp vs HiGHS |")
    print("|---:|---|---:|---:|---|---:|---:|---:|---:|")
    for seed in args.portfolio_seeds:
        kw = portfolio_instance(args.assets, args.scenarios, seed=seed)
        pm = portfolio.build_problem(**kw)
        h = highs_mip(pm.problem, time_limit=args.highs_time)
        t = time.perf_counter()
        res = portfolio.optimize(**kw, device=args.device, time_limit=args.portfolio_time)
        el = time.perf_counter() - t
        ok = res.result.x is not None and check_integer(pm.problem, res.result.x).ok
        hv = h["objective"]
        rel = (res.objective - hv) / abs(hv) if (hv is not None and ok) else math.nan
        print(f"| {seed} | {h['status']} | {'-' if hv is None else f'{hv:.8g}'} | "
              f"{h['time']:.1f} | {res.status}{'' if ok else ' (NOT verified)'} | "
              f"{res.objective:.8g} | {res.bound:.8g} | {el:.1f} | {100 * rel:+.3f}% |",
              flush=True)
    print("\nObjective: CVaR(0.95) of the daily loss (minimised); 'gpulp vs HiGHS' is "
          "(gpulp - HiGHS) / |HiGHS|, positive = gpulp worse.")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.integer", description=__doc__.split("\n")[0])
    ap.add_argument("--part", default="mip,knapsack,portfolio")
    ap.add_argument("--device", default="cpu", choices=("cpu", "gpu", "auto"))
    ap.add_argument("--highs-time", type=float, default=300.0)
    ap.add_argument("--mip-time", type=float, default=60.0)
    ap.add_argument("--knapsack-items", type=int, default=200_000)
    ap.add_argument("--knapsack-time", type=float, default=25.0)
    ap.add_argument("--knapsack-resources", type=int, default=None,
                    help="resource rows (default items / 20)")
    ap.add_argument("--knapsack-groups", type=int, default=None,
                    help="choose-at-most-one groups (default items / 20)")
    ap.add_argument("--assets", type=int, default=500)
    ap.add_argument("--scenarios", type=int, default=1000)
    ap.add_argument("--portfolio-time", type=float, default=60.0)
    ap.add_argument("--portfolio-seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args(argv)
    print(f"# gpulp integer layer vs HiGHS MIP\n\nmachine: {os.cpu_count()} cores, python "
          f"{sys.version.split()[0]}")
    parts = {"mip": part_mip, "knapsack": part_knapsack, "portfolio": part_portfolio}
    for name in args.part.split(","):
        parts[name.strip()](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
