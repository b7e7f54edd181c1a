"""The `gpulp` command line: `gpulp solve FILE`, `gpulp info FILE`, `gpulp convert IN OUT`.

Knows: argparse, the MPS reader and writer, how to report problems to a terminal.
Must not know: the solver internals, CuPy or Numba (nothing here imports them).

Each subcommand is a parser built by an `add_<name>` function and a handler in HANDLERS; to add
one, register both. Input errors (a malformed file, a missing file, an inconsistent model) print one
line `error: FILE:LINE: message` (or `error: FILE: message`) to stderr and exit with status 2;
reader warnings print as `warning: ...` lines on stderr.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

from . import __version__
from .errors import DeviceError, MPSError, OptionsError, ProblemError

EXIT_INPUT_ERROR = 2


def add_info(sub):
    p = sub.add_parser("info", help="print the size and coefficient ranges of an MPS/QPS file")
    p.add_argument("file", help="MPS or QPS file (free or fixed, optionally .gz)")


def add_convert(sub):
    p = sub.add_parser("convert", help="rewrite an MPS/QPS file as free MPS")
    p.add_argument("input", help="MPS or QPS file to read")
    p.add_argument("output", help="free MPS file to write (gzip-compressed if it ends in .gz)")


def add_solve(sub):
    p = sub.add_parser("solve", help="solve an LP or convex QP from an MPS/QPS file")
    p.add_argument("file", nargs="?", help="MPS or QPS file (free or fixed, optionally .gz)")
    p.add_argument("--example", metavar="NAME",
                   help="solve an example shipped with gpulp instead of FILE (e.g. portfolio)")
    p.add_argument("--tol", type=float, default=1e-4,
                   help="relative KKT tolerance (default 1e-4; 1e-6 and 1e-8 work)")
    p.add_argument("--time-limit", type=float, default=None, help="seconds (default: none)")
    p.add_argument("--iteration-limit", type=int, default=None, help="PDHG iterations")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                   help="where to iterate (default auto: the GPU when CuPy finds one)")
    p.add_argument("--precision", choices=("float64", "mixed"), default="float64",
                   help="mixed: A stored in float32 on the device, vectors and sums in float64 "
                        "(less memory traffic; for tolerances of 1e-6 and looser)")
    p.add_argument("--json", metavar="OUT", help="write the solution and statistics as JSON")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    p.add_argument("--integer", action="store_true",
                   help="honour the integer columns (gpulp.rounding: relaxation, rounding, "
                        "repair, diving); reports the relaxation bound and the mip gap")


def add_demo(sub):
    p = sub.add_parser("demo", help="run an application end to end on a seeded synthetic "
                                    "market or allocation: round-lot portfolio or knapsack")
    p.add_argument("app", choices=("portfolio", "knapsack"))
    p.add_argument("--size", type=int, default=None,
                   help="assets (portfolio, default 50) or items (knapsack, default 10000)")
    p.add_argument("--model", choices=("mean_variance", "cvar"), default="mean_variance",
                   help="portfolio risk model (default mean_variance)")
    p.add_argument("--time-limit", type=float, default=None, help="seconds (knapsack)")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    p.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; its subparsers action is stored as `parser.sub`."""
    parser = argparse.ArgumentParser(prog="gpulp", description="GPU LP/QP solver tools.")
    parser.add_argument("--version", action="version", version=f"gpulp {__version__}")
    parser.sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_solve(parser.sub)
    add_info(parser.sub)
    add_convert(parser.sub)
    add_demo(parser.sub)
    return parser


def _range(values) -> str:
    mags = np.abs(np.asarray(values, dtype=float))
    mags = mags[np.isfinite(mags) & (mags > 0)]
    return f"[{mags.min():.3g}, {mags.max():.3g}]" if mags.size else "none"


def run_info(args) -> int:
    from .mps import read_mps
    p = read_mps(args.file)
    bounds = np.concatenate([p.row_lower, p.row_upper, p.col_lower, p.col_upper])
    rows = [("name", p.name or "-"),
            ("sense", p.sense),
            ("rows", p.num_rows),
            ("columns", p.num_cols),
            ("nonzeros", p.nnz),
            ("integer columns", int(p.integrality.sum())),
            ("quadratic", f"yes, {p.Q.nnz} nonzeros in Q" if p.is_qp else "no"),
            ("objective constant", repr(p.objective_constant)),
            ("|A| range", _range(p.A.data)),
            ("|c| range", _range(p.c)),
            ("|bounds| range", _range(bounds)),
            ("|Q| range", _range(p.Q.data) if p.is_qp else "none")]
    width = max(len(k) for k, _ in rows) + 1
    for key, value in rows:
        print(f"{key + ':':<{width}} {value}")
    return 0


def run_convert(args) -> int:
    from .mps import read_mps, write_mps
    write_mps(read_mps(args.input), args.output)
    return 0


def run_solve(args) -> int:
    import json

    from . import example_path
    from .mps import read_mps
    from .solver import solve
    if (args.file is None) == (args.example is None):
        raise OptionsError("give either FILE or --example NAME")
    path = example_path(args.example) if args.example else args.file
    args.file = path
    p = read_mps(path)
    if not args.quiet:
        print(f"gpulp {__version__}: {path}")
    res = solve(p, tol=args.tol, time_limit=args.time_limit,
                iteration_limit=args.iteration_limit, device=args.device,
                verbose=not args.quiet, integer=args.integer, precision=args.precision)
    print(f"status: {res.status}  objective: {res.objective:.12g}  verified: {res.verified}")
    if res.message:
        print(f"message: {res.message}")
    if np.isfinite(res.bound):
        print(f"bound: {res.bound:.12g}  mip gap: {res.mip_gap:.2e}")
    print(f"iterations: {res.iterations}  time: {res.solve_time:.3f} s  device: {res.device}  "
          f"primal residual: {res.primal_residual:.2e}  dual residual: {res.dual_residual:.2e}  "
          f"gap: {res.gap:.2e}")
    if args.json:
        out = {"file": str(path), "name": p.name, "rows": p.num_rows, "columns": p.num_cols,
               "nonzeros": p.nnz, "sense": p.sense, "tol": args.tol, **res.to_dict()}
        if p.col_names is not None and res.x is not None:
            out["col_names"] = p.col_names
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)
    return 0


def run_demo(args) -> int:
    if args.app == "portfolio":
        from .apps import portfolio
        res = portfolio.demo(args.size or 50, args.model, device=args.device, seed=args.seed)
        print(res)
        ok = res.status in ("optimal", "feasible")
    else:
        from .apps import knapsack
        kw = knapsack.random_instance(args.size or 10_000, seed=args.seed)
        res = knapsack.solve(**kw, device=args.device,
                             time_limit=args.time_limit if args.time_limit else 60.0)
        print(res)
        ok = res.status in ("optimal", "feasible")
    return 0 if ok else 1


HANDLERS = {"solve": run_solve, "info": run_info, "convert": run_convert, "demo": run_demo}


def _error_line(exc, args) -> str:
    if isinstance(exc, MPSError):
        return str(exc)
    path = getattr(args, "file", None) or getattr(args, "input", "")
    if isinstance(exc, OSError):
        return f"{exc.filename or path}: {exc.strerror or exc}"
    return f"{path}: {exc}"


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_INPUT_ERROR
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            status = HANDLERS[args.command](args)
        except (MPSError, ProblemError, OptionsError, DeviceError, OSError) as exc:
            status = exc
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if isinstance(status, Exception):
        print(f"error: {_error_line(status, args)}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    return status
