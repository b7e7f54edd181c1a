"""What presolve removes: a Markdown table per instance set.

    python -m bench.presolve_stats [--set netlib] [--root DIR] [--max-passes 20] [--out FILE.md]

One row per instance: rows, columns and nonzeros before and after, passes, presolve time, the
status, and the reductions that fired (with the rows + columns each removed, summed over passes).
A totals row ends the table. Instances are read with bench.sets (gpulp's MPS reader).

Knows: bench.sets (instance sets and loading) and gpulp.presolve.
Must not know: solvers or timing policy of the benchmark proper.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter

from gpulp.presolve import presolve

from .sets import default_instances_root, load_instance, resolve_sets

__all__ = ["collect", "table", "main"]


def collect(set_name="netlib", root=None, max_passes=20):
    """One dict per instance of the set: sizes before and after, passes, time, status, fired."""
    root = default_instances_root() if root is None else root
    rows = []
    for spec in resolve_sets([set_name], root):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            problem = load_instance(spec)[0]
        pre = presolve(problem, max_passes=max_passes)
        fired = Counter()
        for entry in pre.log:
            fired[entry["reduction"]] += entry["rows_removed"] + entry["cols_removed"]
        s = pre.stats
        rows.append({"name": spec.name.split("/")[-1].removesuffix(".gz").removesuffix(".mps"),
                     "rows": (s["rows_before"], s["rows_after"]),
                     "cols": (s["cols_before"], s["cols_after"]),
                     "nnz": (s["nnz_before"], s["nnz_after"]),
                     "passes": s["passes"], "time": s["time"], "status": pre.status,
                     "fired": fired})
    return rows


def _pair(before, after):
    if after is None:
        return f"{before} -> -"
    pct = 100.0 * (before - after) / before if before else 0.0
    return f"{before} -> {after} (-{pct:.0f}%)"


def table(rows):
    """The Markdown table of `collect`'s rows, with a totals row."""
    out = ["| instance | rows | cols | nnz | passes | time (s) | status | "
           "reductions (rows+cols removed) |", "|---|---|---|---|---|---|---|---|"]
    total = {"rows": [0, 0], "cols": [0, 0], "nnz": [0, 0]}
    fired_total = Counter()
    time_total = 0.0
    for r in rows:
        fired = ", ".join(f"{k} {v}" for k, v in r["fired"].most_common())
        out.append(f"| {r['name']} | {_pair(*r['rows'])} | {_pair(*r['cols'])} | "
                   f"{_pair(*r['nnz'])} | {r['passes']} | {r['time']:.3f} | {r['status']} | "
                   f"{fired} |")
        for key in total:
            before, after = r[key]
            total[key][0] += before
            total[key][1] += before if after is None else after
        fired_total.update(r["fired"])
        time_total += r["time"]
    fired = ", ".join(f"{k} {v}" for k, v in fired_total.most_common())
    out.append(f"| **total ({len(rows)})** | {_pair(*total['rows'])} | {_pair(*total['cols'])} | "
               f"{_pair(*total['nnz'])} | | {time_total:.2f} | | {fired} |")
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.presolve_stats", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default="netlib", help="instance set (a folder of the instances root)")
    ap.add_argument("--root", default=None, help="instances root (default: shared/instances)")
    ap.add_argument("--max-passes", type=int, default=20)
    ap.add_argument("--out", default=None, help="also write the table to this Markdown file")
    args = ap.parse_args(argv)
    text = table(collect(args.set, args.root, args.max_passes))
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(f"# Presolve on the {args.set} set\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
