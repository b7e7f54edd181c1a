"""Every GPU check of the GPU-engine issue, in one script, so that one device call reruns them.

    python -m bench.gpu_check --part floor,small,memory,profile,large --out DIR   # device call 1
    python -m bench.gpu_check --part agree,apps --out DIR                          # device call 2
    python -m bench.gpu_check --part floor,small --dry-run  # here, on the CPU, tiny sizes
    (tests/test_gpu_emulated.py also runs the dry run with --device gpu on the CUDA emulator)

Parts (each prints a table row block and appends JSON lines to DIR/gpu_check.jsonl):
  floor    measured copy bandwidth; time per iteration on a ~10M-nonzero generated LP against
           (2 nnz 12 B + 10 (m + n) 8 B) / bandwidth; achieved GB/s; with precision="mixed"
           (float32 values of A) too; the same on the 1.8M-nonzero allocation LP
  small    per-iteration wall time on netlib afiro (graph replay), first-call compile time and
           graph-capture time reported apart
  large    CVaR 25k x 25k (10.1M), allocation 20k x 200k (1.8M), transport 3k x 2M (4.0M): time
           to 1e-4 (float64 and mixed precision) and 1e-8 on the GPU, beside HiGHS IPM (and
           simplex) on the same instance; the first 1e-4 solve of each LP is timed apart
           (`_first`: it grows CuPy's memory pool), and the timers split the scaling into
           scale.upload, scale.transpose, scale.passes and scale.finish
  memory   peak live device memory (an allocator hook on CuPy's pool) on the 10M and 100M CVaR
           LPs against backend.memory_needed, and the largest CVaR LP that fits by the measure
  profile  cupyx.profiler.benchmark of the hot kernels on the 10M LP and the allocation LP
  host     the host passes over all of A that every GPU solve of a large LP makes (presolve's
           column counts, the check's two products on the original problem): one pass against
           row blocks on the host's threads (backend.HOST_BLOCKS), on the three large LPs;
           no GPU needed (run it with the host otherwise idle)
  apps     the integer layer on the GPU: the 200k-item knapsack allocation and a round-lot CVaR
           portfolio (n = 500) of bench/integer.py, each verified integral and feasible, with
           the objective, bound, gap and time (HiGHS MIP figures come from bench/integer.py)
  agree    all tiny hand-solved LPs and the shared netlib / infeasible sets: GPU and CPU statuses
           and objectives agree (CPU limited to --cpu-limit seconds per instance)
A device call is cut at 600 s and `all` may take longer (agree alone solves 75 instances on
both paths), hence the two calls above; every row is appended as soon as it is measured, so a
cut call still returns what it finished.
The harness (`python -m bench run --solvers gpulp-gpu,gpulp-cpu,highs-ipm ...`) gives the full
side-by-side tables; this script measures what the harness cannot see (bandwidth, per-iteration
time, memory, kernel profiles).

Knows: the measurement protocol of shared/BENCH.md for these figures.
Must not know: the engine's internals beyond the public options and result timers.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gpulp  # noqa: E402
from gpulp import backend  # noqa: E402
from instances import generators  # noqa: E402

LARGE = [("cvar", 10_100_000), ("allocation", 1_800_000), ("transport", 4_000_000)]


def _emit(out, part, **row):
    row = {"part": part, "date": time.strftime("%Y-%m-%d"), **row}
    print(json.dumps(row), flush=True)
    if out:
        with open(Path(out) / "gpu_check.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")


def _device(args):
    """--device, else the CPU for a dry run and the GPU otherwise."""
    return args.device or ("cpu" if args.dry_run else "gpu")


def _nnz(args):
    """Nonzeros of the CVaR LP of the floor, memory and profile parts."""
    return args.nnz or (20_000 if args.dry_run else 10_000_000)


def copy_bandwidth(args):
    """Bytes read plus written per second by a large device-to-device copy."""
    if _device(args) == "cpu":
        a = np.random.default_rng(0).random(2**24)
        b = np.empty_like(a)
        t = time.perf_counter()
        for _ in range(10):
            np.copyto(b, a)
        return 2 * a.nbytes * 10 / (time.perf_counter() - t)
    import cupy as cp
    a = cp.random.random(2**16 if args.dry_run else 2**27)
    b = cp.empty_like(a)
    start, end = cp.cuda.Event(), cp.cuda.Event()
    cp.copyto(b, a)
    start.record()
    for _ in range(20):
        cp.copyto(b, a)
    end.record()
    end.synchronize()
    return 2 * a.nbytes * 20 / (cp.cuda.get_elapsed_time(start, end) / 1e3)


def per_iteration(problem, device, iterations, check_every, precision="float64"):
    """Seconds per iteration of the iterate phase (windows plus their syncs), and the timers.
    Plain windows: no active-set polishing or crossover, whose time-scheduled attempts could end
    the run early (an exact vertex passes even at 1e-15) and make the count depend on timing.
    The same solve runs twice and the second is timed: on a fresh machine CuPy compiles each of
    its own kernels on first use (an empty kernel cache), and a first run that reaches a code
    path nothing ran before (the step boost's masks, say) pays that inside its iterate timer
    (2026-11-25, H100: 1,737 us an iteration on the first 10M-nonzero solve, about 117 us in
    later ones)."""
    kw = dict(tol=1e-15, iteration_limit=iterations, device=device, check_every=check_every,
              active_set=False, crossover=False, precision=precision)
    first = gpulp.solve(problem, **kw)
    res = gpulp.solve(problem, **kw)
    res.timers["first_iterate"] = first.timers["iterate"]
    return res.timers["iterate"] / max(res.iterations, 1), res


def _floor_lps(args):
    """The issue's 10M-nonzero CVaR LP, and the allocation LP of the 2.1-s target at 1e-8, whose
    iterations ran at 2.7x their floor on the first GPU call (short rows in A', 200k columns)."""
    yield "cvar", generators.by_nnz("cvar", _nnz(args), seed=1)
    yield "allocation", generators.by_nnz("allocation", 20_000 if args.dry_run else 1_800_000,
                                          seed=3)


def part_floor(args):
    bw = copy_bandwidth(args)
    for kind, p in _floor_lps(args):
        m, n = p.num_rows, p.num_cols
        floor_bytes = 2 * p.nnz * 12 + 10 * 8 * (m + n)
        runs = [("float64", 8, True, True), ("mixed", 4, True, True)]
        if _device(args) != "cpu":     # the CPU's window has no fused or 16-bit index forms
            runs += [("float64", 8, False, True), ("float64", 8, True, False)]
        for precision, value_bytes, fused, index16 in runs:
            # the floor counts 12 bytes a nonzero (float64 value, int32 index); mixed
            # moves 4 fewer, and 16-bit indices (a matrix of at most 2^16 columns) 2 fewer.
            # fused=False: the window's SpMVs and steps as separate kernels (the layout before
            # the fused halves); index16=False: int32 indices; each for the comparison
            narrow = index16 and _device(args) != "cpu"
            index_bytes = sum(2 if narrow and cols <= backend.INDEX16_MAX else 4
                              for cols in (n, m))
            moved = p.nnz * (2 * value_bytes + index_bytes) + 10 * 8 * (m + n)
            backend.FUSED_WINDOW, backend.INDEX16 = fused, index16
            try:
                t_iter, res = per_iteration(p, _device(args), 2000 if not args.dry_run else 256,
                                            200, precision)
            finally:
                backend.FUSED_WINDOW, backend.INDEX16 = True, True
            _emit(args.out, "floor", kind=kind, precision=precision, fused=fused,
                  index16=index16, index_bytes=index_bytes, rows=m,
                  cols=n, nnz=p.nnz, copy_GBps=bw / 1e9, floor_us=floor_bytes / bw * 1e6,
                  iter_us=t_iter * 1e6, ratio=t_iter / (floor_bytes / bw),
                  achieved_GBps=moved / t_iter / 1e9, timers=res.timers)


def part_small(args):
    root = Path(os.environ.get("GPULP_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    p = gpulp.read_mps(root / "instances" / "netlib" / "afiro.mps.gz")
    for k in (64, 128, 256):
        t_iter, res = per_iteration(p, _device(args), (4 if args.dry_run else 20) * k, k)
        _emit(args.out, "small", instance="afiro", check_every=k, iterations=res.iterations,
              iter_us=t_iter * 1e6,
              compile_s=res.timers.get("compile"), capture_s=res.timers.get("capture"),
              timers=res.timers)


def _highs_time(problem, solver, time_limit):
    import highspy
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench.solvers import problem_to_highs
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("solver", solver)
    h.setOptionValue("time_limit", float(time_limit))
    problem_to_highs(h, problem)
    t = time.perf_counter()
    h.run()
    return time.perf_counter() - t, h.modelStatusToString(h.getModelStatus()), \
        h.getInfo().objective_function_value


def part_large(args):
    # a process's first solve pays its one-time loads (Numba, CuPy kernels); recorded apart
    if args.highs != "only":
        t = time.perf_counter()
        gpulp.solve(generators.by_nnz("cvar", 5000, seed=1), tol=1e-4, device=_device(args))
        _emit(args.out, "large", warm_up_s=time.perf_counter() - t)
    for kind, nnz in LARGE:
        p = generators.by_nnz(kind, 20_000 if args.dry_run else nnz, seed=3)
        row = dict(kind=kind, rows=p.num_rows, cols=p.num_cols, nnz=p.nnz)
        # the first solve of a size also grows CuPy's memory pool (the scaling took 0.15 s in
        # it, 0.06 s in later solves of the same LP): recorded apart as "_first"
        for tol, precision, first in ((1e-4, "float64", True), (1e-4, "float64", False),
                                      (1e-4, "mixed", False), (1e-8, "float64", False)):
            if args.highs == "only":
                break
            res = gpulp.solve(p, tol=tol, time_limit=args.time_limit, device=_device(args),
                              precision=precision)
            key = (f"gpu_{tol:g}" + ("_mixed" if precision == "mixed" else "")
                   + ("_first" if first else ""))
            row[key] = dict(status=res.status, time=res.solve_time, iterations=res.iterations,
                            objective=res.objective, verified=res.verified, timers=res.timers,
                            step_raises=res.step_raises, step_reverts=res.step_reverts)
        for solver in ("ipm", "simplex") if args.highs != "skip" else ():
            t, status, obj = _highs_time(p, solver, args.highs_limit)
            row[f"highs_{solver}"] = dict(status=status, time=t, objective=obj)
        _emit(args.out, "large", **row)


def part_host(args):
    import numba
    from gpulp.verify import reduced_costs_and_check

    def best(f, k=7):
        f()
        ts = []
        for _ in range(k):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
        return 1e3 * min(ts)

    keep = backend.BLOCK_NNZ
    for kind, nnz in LARGE:
        p = generators.by_nnz(kind, 20_000 if args.dry_run else nnz, seed=3)
        A = p.A.tocsr()
        rng = np.random.default_rng(0)
        x, y = rng.random(p.num_cols), rng.random(p.num_rows)
        row = dict(kind=kind, nnz=p.nnz, cores=os.cpu_count(), threads=numba.get_num_threads())
        try:
            for label, block_nnz in (("one_pass", math.inf), ("blocks", keep)):
                backend.BLOCK_NNZ = block_nnz
                row[f"blocked_{label}"] = backend.row_blocks(A.indptr, p.num_cols) is not None
                row[f"col_stats_ms_{label}"] = best(lambda: backend.col_stats(
                    A.indptr, A.indices, A.data, p.row_lower, p.row_upper, p.num_cols))
                row[f"check_ms_{label}"] = best(lambda: reduced_costs_and_check(p, x, y, 1e-4))
        finally:
            backend.BLOCK_NNZ = keep
        _emit(args.out, "host", **row)


def part_memory(args):
    if _device(args) == "cpu":
        _emit(args.out, "memory", skipped="on the CPU: no device memory to measure")
        return
    import cupy as cp
    from gpulp.backend import CupyBackend
    pool = cp.get_default_memory_pool()
    peak = [0]

    def tracked(size):             # the pool's live bytes after each allocation: the true peak
        mem = pool.malloc(size)
        peak[0] = max(peak[0], pool.used_bytes())
        return mem

    free, total = cp.cuda.runtime.memGetInfo()
    be = CupyBackend()
    sizes = [_nnz(args)] + ([] if args.dry_run else [10 * _nnz(args)])
    cp.cuda.set_allocator(tracked)
    try:
        for nnz in sizes:
            p = generators.by_nnz("cvar", nnz, seed=1)
            pool.free_all_blocks()
            base, peak[0] = pool.used_bytes(), 0
            gpulp.solve(p, tol=1e-4, iteration_limit=512, device="gpu")
            live = peak[0] - base
            model = be.memory_needed(p.num_rows, p.num_cols, p.nnz)
            # the largest CVaR LP by the measured bytes a nonzero, with 10% of the card spare
            _emit(args.out, "memory", nnz=p.nnz, rows=p.num_rows, cols=p.num_cols,
                  peak_live_GiB=live / 2**30, pool_held_GiB=pool.total_bytes() / 2**30,
                  measured_bytes_per_nnz=live / p.nnz, model_bytes_per_nnz=model / p.nnz,
                  total_GiB=total / 2**30,
                  largest_cvar_nnz_measured=int(0.9 * total / (live / p.nnz)))
            del p
    finally:
        cp.cuda.set_allocator(pool.malloc)


def part_profile(args):
    if _device(args) == "cpu":
        _emit(args.out, "profile", skipped="on the CPU: no kernels to profile")
        return
    for kind, p in _floor_lps(args):
        _profile(args, kind, p)


def _profile(args, kind, p):
    import cupy as cp
    from cupyx.profiler import benchmark
    from gpulp.backend import CupyBackend
    be = CupyBackend()
    with be.activate():         # every allocation and kernel on one stream
        A = be.matrix(p.A)
        AT = be.matrix(p.A.T.tocsr())
        m, n = p.num_rows, p.num_cols
        x, y = cp.random.random(n), cp.random.random(m)
        ax, aty = cp.empty(m), cp.empty(n)
        scal = cp.asarray([0.5, 0.5, 3.0, 1.0])
        c, lo, hi = cp.random.random(n), cp.zeros(n), cp.ones(n)
        x0, xhat, xbar, yhat = cp.zeros(n), cp.empty(n), cp.empty(n), cp.empty(m)
        rl, ru, y0 = cp.zeros(m) - 1, cp.ones(m), cp.zeros(m)
        # entries and indices (16-bit where the matrix has them), one pass over x and out
        spmv_bytes = p.nnz * 12 + 8 * (m + n)
        sb = {id(M): p.nnz * (8 + (2 if M.idx16 is not None else 4)) + 8 * (m + n)
              for M in (A, AT)}
        cases = {
            "spmv A x": (lambda: be.spmv(A, x, ax), sb[id(A)]),
            "spmv A'y": (lambda: be.spmv(AT, y, aty), sb[id(AT)]),
            "primal_step": (lambda: be.primal_step(0, 1, scal, x, aty, c, lo, hi, x0, xhat, xbar),
                            9 * 8 * n),
            "dual_step": (lambda: be.dual_step(0, 1, scal, y, ax, rl, ru, y0, yhat), 7 * 8 * m),
        }
        # cuSPARSE's CSR SpMV (what cuPDLPx uses) on the same matrices, which the issue lets
        # replace ours if it measures faster; the CUDA emulator has no cuSPARSE
        if not getattr(cp, "__emulated__", False):
            import cupyx.scipy.sparse as csp
            from cupyx import cusparse
            Acs, ATcs = csp.csr_matrix(p.A), csp.csr_matrix(p.A.T.tocsr())
            cases["spmv A x, cuSPARSE"] = (lambda: cusparse.spmv(Acs, x, y=ax), spmv_bytes)
            cases["spmv A'y, cuSPARSE"] = (lambda: cusparse.spmv(ATcs, y, y=aty), spmv_bytes)
        # each SpMV fused with its step (the window's default) against the two separate
        # kernels above: bytes of the SpMV plus the step's vectors, less the product's round trip
        cases["primal half, fused (A'y + primal_step)"] = (
            lambda: be.primal_half(0, 1, scal, AT, y, aty, x, None, None, c, lo, hi, x0, xhat,
                                   xbar), sb[id(AT)] + 8 * 8 * n)
        cases["dual half, fused (A x + dual_step)"] = (
            lambda: be.dual_half(0, 1, scal, A, x, ax, y, rl, ru, y0, yhat),
            sb[id(A)] + 6 * 8 * m)
        # the SpMVs with int32 indices, where the default reads 16-bit ones
        for side, M, v, out in (("A x", A, x, ax), ("A'y", AT, y, aty)):
            if M.idx16 is not None:
                M32 = copy.copy(M)
                M32.idx16 = None
                cases[f"spmv {side}, int32 indices"] = (
                    lambda M32=M32, v=v, out=out: be.spmv(M32, v, out), spmv_bytes)
        # the vector SpMV at other lane counts than backend.vector_lanes chose, where it chose
        # the vector layout: to tune the rule on the device
        for side, M, v, out in (("A x", A, x, ax), ("A'y", AT, y, aty)):
            if M.row_kernel != "vector":
                continue
            chosen = M.lanes
            for lg in sorted({0, 2, 3, 4, 5} - {chosen}):
                M2 = be.matrix(p.A if side == "A x" else p.A.T.tocsr())
                M2.row_kernel, M2.lanes = "vector", lg
                cases[f"spmv {side}, vector {1 << lg} lanes"] = (
                    lambda M2=M2, v=v, out=out: be.spmv(M2, v, out), sb[id(M)])
            cases[f"spmv {side}, vector {1 << chosen} lanes (chosen)"] = cases[f"spmv {side}"]
        # the row-split SpMV's chunk size, to tune backend.SPMV_CHUNK on the device
        for chunk in (256, 4096):
            alt = CupyBackend(chunk=chunk)
            alt.stream = be.stream       # the benchmark times the current stream
            A2, AT2 = alt.matrix(p.A), alt.matrix(p.A.T.tocsr())
            cases[f"spmv A x, chunk {chunk} ({A2.row_kernel})"] = (
                lambda alt=alt, A2=A2: alt.spmv(A2, x, ax), sb[id(A)])
            cases[f"spmv A'y, chunk {chunk} ({AT2.row_kernel})"] = (
                lambda alt=alt, AT2=AT2: alt.spmv(AT2, y, aty), sb[id(AT)])
        for name, (fn, nbytes) in cases.items():
            r = benchmark(fn, n_repeat=5 if args.dry_run else 50,
                          n_warmup=1 if args.dry_run else 5)
            gpu_s = float(np.median(r.gpu_times))
            _emit(args.out, "profile", kind=kind, kernel=name, gpu_us=gpu_s * 1e6,
                  cpu_us=float(np.median(r.cpu_times) * 1e6), GBps=nbytes / gpu_s / 1e9)


def part_agree(args):
    from instances.tiny import cases
    dev = _device(args)
    for case in cases():
        a = gpulp.solve(case["problem"], tol=1e-8, device="cpu")
        b = gpulp.solve(case["problem"], tol=1e-8, device=dev)
        _emit(args.out, "agree", instance=case["name"], cpu=a.status, gpu=b.status,
              same=a.status == b.status and (a.status != "optimal" or math.isclose(
                  a.objective, b.objective, rel_tol=1e-6, abs_tol=1e-6)))
    root = Path(os.environ.get("GPULP_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    files = sorted((root / "instances" / "netlib").glob("*.mps.gz"))
    files += sorted((root / "instances" / "infeasible").glob("*.mps.gz"))
    if args.dry_run:
        files = files[:3]
    for f in files:
        b = gpulp.solve(f, tol=1e-4, time_limit=10, device=dev)
        a = gpulp.solve(f, tol=1e-4, time_limit=args.cpu_limit, device="cpu")
        same = a.status == b.status and (a.status != "optimal" or abs(
            a.objective - b.objective) <= 20e-4 * (1 + abs(a.objective)))
        _emit(args.out, "agree", instance=f.name, cpu=a.status, gpu=b.status,
              cpu_time=a.solve_time, gpu_time=b.solve_time, gpu_verified=b.verified, same=same)


def part_apps(args):
    from bench.integer import knapsack_instance, portfolio_instance
    from gpulp.apps import knapsack, portfolio
    from gpulp.rounding import check_integer
    dev = _device(args)
    n = 2_000 if args.dry_run else 200_000
    kw, problem = knapsack_instance(n)
    t = time.perf_counter()
    res = knapsack.solve(**kw, device=dev, time_limit=args.time_limit)
    _emit(args.out, "apps", app="knapsack", items=n, device=dev, status=res.status,
          value=res.value, bound=res.bound, gap=res.mip_gap, time=time.perf_counter() - t,
          verified=bool(res.x is not None and check_integer(problem, res.x).ok))
    na = 50 if args.dry_run else 500
    kw = portfolio_instance(na, 200 if args.dry_run else 1000, seed=0)
    pm = portfolio.build_problem(**kw)
    t = time.perf_counter()
    res = portfolio.optimize(**kw, device=dev, time_limit=args.time_limit)
    _emit(args.out, "apps", app="portfolio-cvar-round-lots", assets=na, device=dev,
          status=res.status, objective=res.objective, bound=res.bound,
          time=time.perf_counter() - t,
          verified=bool(res.result.x is not None and check_integer(pm.problem, res.result.x).ok))


def summary(paths):
    """One line a row of gpu_check.jsonl files: what a device call prints last."""
    lines, agree = [], []
    for path in paths:
        if not Path(path).exists():
            lines.append(f"{path}: missing")
            continue
        for r in map(json.loads, Path(path).read_text().splitlines()):
            try:
                _summarise(r, lines, agree)
            except (KeyError, TypeError, ValueError):   # a row of another version: as it is
                lines.append(json.dumps(r)[:300])
    if agree:
        bad = [r["instance"] for r in agree if not r["same"]]
        lines.append(f"agree: {len(agree) - len(bad)}/{len(agree)} same"
                     + (f"; differ: {', '.join(bad)}" if bad else ""))
    return "\n".join(lines)


def _summarise(r, lines, agree):
    part = r["part"]
    if "error" in r:
        lines.append(f"ERROR {part}: {r['error']}")
    elif part == "floor":
        lines.append(f"floor {r.get('kind', 'cvar')} {r['precision']}"
                     f"{'' if r.get('fused', True) else ' unfused'}"
                     f"{'' if r.get('index16', True) else ' int32'}: "
                     f"{r['iter_us']:.1f} us/iter = "
                     f"{r['ratio']:.2f} x {r['floor_us']:.1f} us, "
                     f"{r['achieved_GBps']:.0f} GB/s (copy {r['copy_GBps']:.0f})")
    elif part == "small":
        lines.append(f"{r['instance']} K={r['check_every']}: {r['iter_us']:.1f} us/iter")
    elif part == "memory" and "nnz" in r:
        lines.append(f"memory {r['nnz']:.3g} nnz: {r['measured_bytes_per_nnz']:.0f} "
                     f"B/nnz live (model {r['model_bytes_per_nnz']:.0f}); fits about "
                     f"{r['largest_cvar_nnz_measured']:.3g} nnz")
    elif part == "profile" and "kernel" in r:
        lines.append(f"{r.get('kind', 'cvar')} {r['kernel']}: {r['gpu_us']:.1f} us, "
                     f"{r['GBps']:.0f} GB/s")
    elif part == "large" and "kind" in r:
        cells = [f"{k} {v.get('status')} {v.get('time', 0):.3g} s"
                 + (f" ({v['iterations']} it)" if "iterations" in v else "")
                 for k, v in r.items() if isinstance(v, dict)]
        lines.append(f"{r['kind']} {r['nnz']:.3g}: " + "; ".join(cells))
    elif part == "host":
        lines.append(f"host {r['kind']} ({r['threads']} threads): col_stats "
                     f"{r['col_stats_ms_one_pass']:.1f} -> {r['col_stats_ms_blocks']:.1f} ms, "
                     f"check {r['check_ms_one_pass']:.1f} -> {r['check_ms_blocks']:.1f} ms"
                     + ("" if r["blocked_blocks"] else " (below the blocks' sizes)"))
    elif part == "agree":
        agree.append(r)
    elif part == "apps":
        lines.append(f"{r['app']}: {r['status']} in {r['time']:.2f} s, verified "
                     f"{r['verified']}")


PARTS = {"floor": part_floor, "small": part_small, "large": part_large, "memory": part_memory,
         "profile": part_profile, "apps": part_apps, "agree": part_agree, "host": part_host}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.gpu_check", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", default="all", help="comma-separated parts, or all")
    ap.add_argument("--out", default=os.environ.get("OUT"), help="folder for gpu_check.jsonl")
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes, on the CPU unless --device")
    ap.add_argument("--device", choices=("cpu", "gpu"), default=None,
                    help="where gpulp runs (default: cpu for a dry run, else gpu)")
    ap.add_argument("--nnz", type=int, default=0,
                    help="nonzeros of the floor/memory/profile LP (default 10M, 20k dry)")
    ap.add_argument("--time-limit", type=float, default=40.0, help="gpulp limit per solve (s)")
    ap.add_argument("--highs-limit", type=float, default=40.0, help="HiGHS limit per solve (s)")
    ap.add_argument("--highs", choices=("inline", "skip", "only"), default="inline",
                    help="the large part's HiGHS solves: after gpulp's (inline), not at all "
                         "(skip), or alone (only: run it as a second process on the device's "
                         "CPU cores beside a --highs skip run, to halve the call)")
    ap.add_argument("--cpu-limit", type=float, default=20.0, help="CPU-path limit in 'agree'")
    ap.add_argument("--summary", nargs="+", metavar="JSONL",
                    help="print one line a row of these gpu_check.jsonl files, and stop")
    args = ap.parse_args(argv)
    if args.summary:
        print(summary(args.summary))
        return 0
    if not args.out:
        ap.error("say where gpu_check.jsonl goes: --out DIR (or $OUT)")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    parts = list(PARTS) if args.part == "all" else args.part.split(",")
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        ap.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)} or all")
    for name in parts:
        t = time.perf_counter()
        try:
            PARTS[name](args)
        except Exception as exc:  # noqa: BLE001 - one failing part must not hide the others
            # the last frames too: a device session is short, and the row is all that comes back
            _emit(args.out, name, error=f"{type(exc).__name__}: {exc}",
                  where=traceback.format_exc(limit=-6).splitlines()[-14:])
        print(f"# part {name}: {time.perf_counter() - t:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
