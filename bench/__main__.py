"""Command line of the benchmark: `run`, `report`, and the internal `worker`.

Knows: argument parsing and defaults. Must not know: how pairs are run or judged.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_SOLVERS = "gpulp-cpu,highs-simplex,highs-ipm,highs-pdlp"
DEFAULT_KINDS = "cvar,allocation,transport,factor_qp"
DEFAULT_SIZES = "1e4,1e5,1e6"


def _floats(text):
    return [float(v) for v in text.split(",") if v.strip()]


def _options(pairs):
    out = {}
    for item in pairs or []:
        key, _, value = item.partition("=")
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                continue
        else:
            value = {"true": True, "false": False}.get(value.lower(), value)
        out[key] = value
    return out


def _cmd_run(args):
    from .harness import RunConfig, run_benchmark
    from .report import write_report
    from .sets import default_instances_root, resolve_sets
    from .solvers import PUBLIC_SOLVERS, SOLVERS

    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    unknown = [s for s in solvers if s not in SOLVERS]
    if unknown:
        sys.exit(f"unknown solver(s) {unknown}; choose from {', '.join(PUBLIC_SOLVERS)}")
    root = Path(args.instances_root) if args.instances_root else default_instances_root()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    sizes = [int(v) for v in _floats(args.sizes)]
    specs = resolve_sets(args.set, root, kinds=kinds, sizes=sizes, seed=args.seed)
    if args.only:
        keys = [k.strip() for k in args.only.split(",") if k.strip()]
        specs = [s for s in specs if any(k in s.name for k in keys)]
    if not specs:
        sys.exit("no instances selected")
    config = RunConfig(solvers=solvers, instances_root=root, tol=args.tol,
                       time_limit=args.time_limit, grace=args.grace, load_limit=args.load_limit,
                       repeat=args.repeat, reference_time_limit=args.reference_time_limit,
                       threads=args.threads, options=_options(args.gpulp_option),
                       warm_up=args.warm_up, jobs=args.jobs)
    run_benchmark(specs, config, args.out)
    report = write_report(args.out, baseline=args.baseline)
    print(report)


def _cmd_report(args):
    from .report import write_report
    print(write_report(args.dir, baseline=args.baseline))


def _cmd_fuzz(args):
    from .fuzz import run
    lo, _, hi = args.seeds.partition(":")
    seeds = range(int(lo), int(hi)) if hi else [int(lo)]
    counts = run(seeds, tol=args.tol, time_limit=args.time_limit, device=args.device)
    return 1 if any(verdict == "gpulp wrong" for _, verdict in counts) else 0


def _cmd_worker(args):
    from .worker import main
    return main([args.job, args.result] + ([args.marker] if args.marker else []))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True, metavar="{run,report,fuzz}")

    run = sub.add_parser("run", help="run solvers on instance sets and write DIR/results.jsonl")
    run.add_argument("--solvers", default=DEFAULT_SOLVERS,
                     help="comma-separated: gpulp-cpu, gpulp-gpu, highs-simplex, highs-ipm, "
                          f"highs-pdlp (default {DEFAULT_SOLVERS})")
    run.add_argument("--set", nargs="+", default=["netlib"],
                     help="'netlib', 'generated', another folder of the instances root, or "
                          "MPS/QPS files and glob patterns")
    run.add_argument("--only", help="keep instances whose name contains one of these "
                                    "comma-separated strings")
    run.add_argument("--sizes", default=DEFAULT_SIZES,
                     help=f"nonzero targets of the generated series (default {DEFAULT_SIZES})")
    run.add_argument("--kinds", default=DEFAULT_KINDS,
                     help=f"generated kinds (default {DEFAULT_KINDS})")
    run.add_argument("--seed", type=int, default=0, help="seed of the generated instances")
    run.add_argument("--tol", type=float, default=1e-4)
    run.add_argument("--time-limit", type=float, default=60.0, help="seconds per pair")
    run.add_argument("--grace", type=float, default=30.0,
                     help="seconds past the time limit before a worker is killed")
    run.add_argument("--load-limit", type=float, default=900.0,
                     help="seconds allowed to read or generate an instance")
    run.add_argument("--repeat", type=int, default=1, help="runs per pair")
    run.add_argument("--reference-time-limit", type=float, default=None,
                     help="limit of a dedicated HiGHS reference run (default 4 x time limit)")
    run.add_argument("--threads", type=int, default=None,
                     help="HiGHS threads option (default: HiGHS's own, recorded per row)")
    run.add_argument("--gpulp-option", action="append", metavar="KEY=VALUE",
                     help="option passed to gpulp.solve (repeatable)")
    run.add_argument("--warm-up", action="store_true",
                     help="gpulp solves a small LP in each worker before the timed call, so "
                          "that a process's one-time costs (Numba's cache load, CuPy's kernel "
                          "loads, the CUDA context) stay out of the time (recorded apart)")
    run.add_argument("--jobs", type=int, default=1,
                     help="pairs run at once, each in its own process, at most one on the GPU "
                          "(default 1: one after another); side by side, CPU solvers share the "
                          "host, so pair it with --threads 1 and say so with the figures")
    run.add_argument("--instances-root", default=None,
                     help="default: $GPULP_SHARED/instances, else ../shared/instances")
    run.add_argument("--baseline", default=None, help="baseline solver of the report")
    run.add_argument("--out", required=True,
                     help="output directory; rows are appended to DIR/results.jsonl and the "
                          "report keeps the latest row of each pair")
    run.set_defaults(func=_cmd_run)

    rep = sub.add_parser("report", help="write DIR/report.md and figures from DIR/results.jsonl")
    rep.add_argument("dir")
    rep.add_argument("--baseline", default=None, help="default highs-ipm when present")
    rep.set_defaults(func=_cmd_report)

    fz = sub.add_parser("fuzz", help="random small LPs/QPs of every status against HiGHS, each "
                                     "disagreement settled by a certificate (bench/fuzz.py)")
    fz.add_argument("--seeds", default="0:500", help="A:B (the seeds A..B-1) or one seed")
    fz.add_argument("--tol", type=float, default=1e-6)
    fz.add_argument("--time-limit", type=float, default=20.0, help="seconds per gpulp solve")
    fz.add_argument("--device", default="cpu", choices=("cpu", "gpu", "auto"))
    fz.set_defaults(func=_cmd_fuzz)

    work = sub.add_parser("worker")
    work.add_argument("job")
    work.add_argument("result")
    work.add_argument("marker", nargs="?")
    work.set_defaults(func=_cmd_worker)

    args = ap.parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
