"""`python -m instances KIND --size NNZ --seed S --out FILE.mps[.gz]`: write one generated instance.

Knows: the generator registry and gpulp.write_mps. Must not know: solvers.
"""

from __future__ import annotations

import argparse
import sys
import time

from .generators import KINDS, by_nnz, params_for_nnz


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m instances",
                                 description="Write a seeded generated LP/QP as MPS.")
    ap.add_argument("kind", choices=sorted(KINDS))
    ap.add_argument("--size", type=float, required=True,
                    help="target number of nonzeros in A (e.g. 1e6)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="output file, .mps or .mps.gz")
    args = ap.parse_args(argv)

    import gpulp

    params = params_for_nnz(args.kind, int(args.size))
    t0 = time.perf_counter()
    problem = by_nnz(args.kind, int(args.size), seed=args.seed)
    t1 = time.perf_counter()
    gpulp.write_mps(problem, args.out)
    t2 = time.perf_counter()
    print(f"{problem.name}: {problem.num_rows} rows, {problem.num_cols} columns, "
          f"{problem.nnz} nonzeros; parameters {params}; generated in {t1 - t0:.2f} s, "
          f"written to {args.out} in {t2 - t1:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
