"""The report of a benchmark directory: DIR/report.md and PNG figures from DIR/results.jsonl.

Summary per solver: solved count, SGM10 and SGM1 (shifted geometric means of time, an unsolved
pair counting as its time limit), per-instance times with the speed ratio to a baseline solver
(t_baseline / t_solver, so > 1 means faster than the baseline), a performance profile (fraction of
instances solved within a factor tau of the best solver on that instance), and time against
nonzeros for the generated scaling series. With repeated runs the median time is used and the
spread (max - min) is shown.

Knows: the row format written by bench.harness, matplotlib (Agg backend).
Must not know: how the rows were produced.
"""

from __future__ import annotations

import json
import math
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

__all__ = ["load_rows", "aggregate", "sgm", "write_report", "DEFAULT_BASELINE"]

DEFAULT_BASELINE = "highs-ipm"
SOLVER_ORDER = ("gpulp-gpu", "gpulp-cpu", "highs-simplex", "highs-ipm", "highs-pdlp")


def load_rows(out_dir) -> list:
    """Rows of DIR/results.jsonl; a later row replaces an earlier one of the same
    (solver, instance, repeat)."""
    rows = OrderedDict()
    with open(Path(out_dir) / "results.jsonl") as f:
        for line in f:
            line = line.strip()
            if line:
                row = json.loads(line)
                rows[(row["solver"], row["instance"], row.get("repeat", 0))] = row
    return list(rows.values())


@dataclass
class Pair:
    solver: str
    instance: str
    solved: bool
    time: float
    effective: float
    spread: float
    runs: int
    status: str
    reason: str
    time_limit: float
    kind: str
    nnz: object
    rows: object
    cols: object
    all_rows: list = field(repr=False, default_factory=list)


def _status_words(row):
    status, own = row.get("status"), row.get("solver_status")
    return f"{status}: {own}" if status == "other" and own else status


def aggregate(rows) -> dict:
    """{(solver, instance): Pair}: solved when every repeat is solved; time is the median."""
    groups = OrderedDict()
    for row in rows:
        groups.setdefault((row["solver"], row["instance"]), []).append(row)
    out = OrderedDict()
    for (solver, instance), rs in groups.items():
        times = [r["time"] if r.get("time") is not None else math.nan for r in rs]
        finite = [t for t in times if math.isfinite(t)]
        solved = all(r.get("solved") for r in rs)
        limit = max(float(r.get("time_limit") or 0.0) for r in rs)
        t = median(finite) if finite else math.nan
        last = rs[-1]
        nnz = next((r.get("nnz") for r in rs if r.get("nnz") is not None), last.get("target_nnz"))
        out[(solver, instance)] = Pair(
            solver=solver, instance=instance, solved=solved, time=t,
            effective=t if solved else limit, spread=(max(finite) - min(finite)) if finite else 0.0,
            runs=len(rs), status=_status_words(last), reason=last.get("reason", ""),
            time_limit=limit, kind=last.get("kind") or "file", nnz=nnz,
            rows=next((r.get("rows") for r in rs if r.get("rows") is not None), None),
            cols=next((r.get("cols") for r in rs if r.get("cols") is not None), None),
            all_rows=rs)
    return out


def sgm(times, shift) -> float:
    """Shifted geometric mean exp(mean(log(t + shift))) - shift."""
    times = list(times)
    if not times:
        return math.nan
    return math.exp(sum(math.log(t + shift) for t in times) / len(times)) - shift


def _solvers(pairs):
    names = list(OrderedDict.fromkeys(p.solver for p in pairs.values()))
    return sorted(names, key=lambda s: (SOLVER_ORDER.index(s) if s in SOLVER_ORDER
                                        else len(SOLVER_ORDER), s))


def _instances(pairs):
    return list(OrderedDict.fromkeys(p.instance for p in pairs.values()))


def _fmt_time(t):
    if t is None or not math.isfinite(t):
        return "-"
    if t >= 100:
        return f"{t:.0f}"
    if t >= 1:
        return f"{t:.2f}"
    return f"{t:.3g}"


def _fmt_int(v):
    return "-" if v is None else f"{int(v):,}"


def _setup(rows):
    def values(key, fn=lambda v: v):
        return sorted({str(fn(r.get(key))) for r in rows if r.get(key) is not None})

    machines = sorted({f"{r['machine'].get('node')}: {r['machine'].get('cpu')}, "
                       f"{r['machine'].get('cores')} cores, {r['machine'].get('memory_gb')} GB"
                       + (f", GPU {r['machine']['gpu']}" if r['machine'].get('gpu') else "")
                       for r in rows if r.get("machine")})
    devices = sorted({f"{r['solver']}: {r.get('device')}" for r in rows})
    threads = sorted({f"{r['solver']}: {r['solver_info']['threads']} "
                      f"({'HiGHS default, 0 = automatic' if r['solver_info']['threads'] == 0 else 'set'})"
                      for r in rows if isinstance(r.get("solver_info"), dict)
                      and "threads" in r["solver_info"]})
    return [
        ("dates (UTC)", ", ".join(values("date", lambda d: d[:10]))),
        ("machines", "; ".join(machines)),
        ("devices", "; ".join(devices)),
        ("HiGHS threads", "; ".join(threads) or "-"),
        ("gpulp commit", ", ".join(values("gpulp_commit"))),
        ("tolerance", ", ".join(values("tol"))),
        ("time limit (s)", ", ".join(values("time_limit"))),
        ("gpulp warm-up before the timed call", ", ".join(
            values("warm_up", lambda w: "yes" if w else "no")) or "no"),
        ("pairs run side by side (--jobs; 1: one after another)",
         ", ".join(values("jobs")) or "1"),
    ]


def _profile_figure(pairs, solvers, instances, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios = {s: [] for s in solvers}
    for inst in instances:
        solved = [pairs[(s, inst)].time for s in solvers
                  if (s, inst) in pairs and pairs[(s, inst)].solved]
        best = min(solved) if solved else None
        for s in solvers:
            p = pairs.get((s, inst))
            if best is not None and p is not None and p.solved:
                ratios[s].append(max(p.time, 1e-9) / max(best, 1e-9))
            else:
                ratios[s].append(math.inf)
    finite = [r for rs in ratios.values() for r in rs if math.isfinite(r)]
    tau_max = max(2.0, 2.0 * max(finite)) if finite else 2.0
    n = len(instances)
    fig, ax = plt.subplots(figsize=(9.5, 4.8), dpi=120)
    for s in solvers:
        rs = sorted(r for r in ratios[s] if math.isfinite(r))
        xs = [1.0] + rs + [tau_max]
        ys = [0.0] + [(i + 1) / n for i in range(len(rs))] + [len(rs) / n]
        ax.step(xs, ys, where="post", linewidth=2, label=f"{s} ({len(rs)}/{n} solved)")
    ax.set_xscale("log", base=2)
    ax.set_xlim(1.0, tau_max)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("tau: time within a factor tau of the best solver (log2 scale)")
    ax.set_ylabel("fraction of instances solved")
    ax.set_title(f"Performance profile ({n} instances)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _scaling_figure(pairs, solvers, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(OrderedDict.fromkeys(p.kind for p in pairs.values() if p.kind != "file"))
    if not kinds:
        return False
    cols = 2 if len(kinds) > 1 else 1
    nrows = math.ceil(len(kinds) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(6.0 * cols, 4.3 * nrows), dpi=120,
                             squeeze=False)
    colours = {s: f"C{i}" for i, s in enumerate(solvers)}
    for ax, kind in zip(axes.ravel(), kinds):
        limits = set()
        for s in solvers:
            pts = sorted(((p.nnz, p) for (sv, _), p in pairs.items()
                          if sv == s and p.kind == kind and p.nnz), key=lambda t: t[0])
            if not pts:
                continue
            limits.update(p.time_limit for _, p in pts)
            ax.plot([x for x, p in pts if p.solved], [p.time for _, p in pts if p.solved], "o-",
                    color=colours[s])
            ax.plot([x * 1.05 ** solvers.index(s) for x, p in pts if not p.solved],
                    [p.time_limit for _, p in pts if not p.solved], "o", mfc="none", ms=9,
                    color=colours[s])
        for lim in limits:
            ax.axhline(lim, color="grey", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(kind)
        ax.set_xlabel("nonzeros in A")
        ax.set_ylabel("solve time (s)")
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes.ravel()[len(kinds):]:
        ax.set_visible(False)
    handles = [plt.Line2D([], [], color=colours[s], marker="o", label=s) for s in solvers]
    handles.append(plt.Line2D([], [], color="grey", marker="o", mfc="none", linestyle="--",
                              label="unsolved (drawn at the time limit, nudged right)"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 3), fontsize=9)
    fig.suptitle("Solve time vs nonzeros, generated instances")
    fig.tight_layout(rect=(0, 0.06 + 0.03 * (len(handles) // 4), 1, 1))
    fig.savefig(path)
    plt.close(fig)
    return True


def write_report(out_dir, baseline=None) -> Path:
    """Write DIR/report.md, DIR/perf_profile.png and (for generated instances) DIR/scaling.png."""
    out_dir = Path(out_dir)
    rows = load_rows(out_dir)
    pairs = aggregate(rows)
    solvers = _solvers(pairs)
    instances = _instances(pairs)
    if baseline is None:
        baseline = DEFAULT_BASELINE if DEFAULT_BASELINE in solvers else solvers[0]
    if baseline not in solvers:
        raise ValueError(f"baseline {baseline!r} has no rows; solvers here: {solvers}")
    repeated = any(p.runs > 1 for p in pairs.values())

    lines = ["# Benchmark report", ""]
    lines += [f"- {k}: {v}" for k, v in _setup(rows)]
    lines += [f"- instances: {len(instances)}; speed ratios are t({baseline}) / t(solver), "
              "> 1 is faster than the baseline, on instances both solved",
              "- solved: the solver claims optimal, gpulp.verify's KKT check passes at the "
              "tolerance and the objective agrees with the reference (shared/BENCH.md)", ""]

    lines += ["## Summary", "",
              "| solver | solved | SGM10 (s) | SGM1 (s) | geo. mean speed ratio vs "
              f"{baseline} | statuses |", "|---|---|---|---|---|---|"]
    for s in solvers:
        ps = [pairs[(s, i)] for i in instances if (s, i) in pairs]
        ratios = [pairs[(baseline, p.instance)].time / p.time for p in ps
                  if p.solved and (baseline, p.instance) in pairs
                  and pairs[(baseline, p.instance)].solved and p.time > 0]
        geo = (math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else None)
        statuses = Counter(p.status for p in ps)
        lines.append(f"| {s} | {sum(p.solved for p in ps)}/{len(ps)} | "
                     f"{_fmt_time(sgm((p.effective for p in ps), 10))} | "
                     f"{_fmt_time(sgm((p.effective for p in ps), 1))} | "
                     f"{'-' if geo is None else f'{geo:.3g} ({len(ratios)} inst.)'} | "
                     + ", ".join(f"{k} {v}" for k, v in statuses.most_common()) + " |")
    lines.append("")

    profile = out_dir / "perf_profile.png"
    _profile_figure(pairs, solvers, instances, profile)
    lines += ["## Figures", "", f"![performance profile]({profile.name})", ""]
    scaling = out_dir / "scaling.png"
    if _scaling_figure(pairs, solvers, scaling):
        lines += [f"![time vs nonzeros]({scaling.name})", ""]

    lines += ["## Per instance", "",
              "Time in seconds" + (" (median; ± is max - min over repeats)" if repeated else "")
              + f", with the speed ratio to {baseline} in brackets; an unsolved pair shows its "
              "status.", "",
              "| instance | rows | cols | nnz | " + " | ".join(solvers) + " |",
              "|---|---|---|---|" + "---|" * len(solvers)]
    for inst in instances:
        some = next(pairs[(s, inst)] for s in solvers if (s, inst) in pairs)
        base = pairs.get((baseline, inst))
        cells = []
        for s in solvers:
            p = pairs.get((s, inst))
            if p is None:
                cells.append("")
            elif not p.solved:
                cells.append(f"unsolved ({p.status})")
            else:
                cell = _fmt_time(p.time) + (f" ± {_fmt_time(p.spread)}" if p.runs > 1 else "")
                if s != baseline and base is not None and base.solved and p.time > 0:
                    cell += f" ({base.time / p.time:.3g}x)"
                cells.append(cell)
        lines.append(f"| {inst} | {_fmt_int(some.rows)} | {_fmt_int(some.cols)} | "
                     f"{_fmt_int(some.nnz)} | " + " | ".join(cells) + " |")
    lines.append("")

    unsolved = [p for p in pairs.values() if not p.solved]
    if unsolved:
        lines += ["## Unsolved pairs", "", "| solver | instance | status | reason |",
                  "|---|---|---|---|"]
        for p in unsolved:
            reason = (p.reason or "").replace("|", "/").replace("\n", " ")
            lines.append(f"| {p.solver} | {p.instance} | {p.status} | {reason[:200]} |")
        lines.append("")
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
