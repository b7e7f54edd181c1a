"""The benchmark driver: one process per (solver, instance) pair, a hard timeout, judging, rows.

Each pair runs as `python -m bench worker JOB RESULT MARKER` in its own process group. The solve
clock of the hard timeout starts when the worker reports the instance in memory (the marker
file); the worker is killed at time_limit + grace after that, or at load_limit if reading never
ends. A killed worker becomes a "timeout" row, a worker that dies without a result a "crash" row,
and a solver that raises an "error" row, each with its message; the run goes on.

Judging follows shared/BENCH.md: a row is solved when the solver claims "optimal", gpulp.verify's
KKT check passes at tol on the original problem, and the verified objective f agrees with the
reference f* to |f - f*| <= 10 tol (1 + |f*|); or when it claims infeasibility or unboundedness
with a certificate that checks and the reference agrees. The reference is shared/instances'
reference.json when it lists the instance, else the cache DIR/reference.json, else the first
KKT-verified highs-ipm or highs-simplex run of this instance in this run (whatever HiGHS's own
status), else a dedicated highs-ipm or highs-simplex run at reference_time_limit (skipped for a
solver that already stopped here for a reason other than its time limit), else a KKT-verified
highs-pdlp run of this run. If HiGHS cannot produce one (its QP solver fails on some factor
QPs), rows are judged on the KKT check alone and say so in `reference_source`.

Knows: processes, timeouts, the protocol's acceptance rule, the row format, machine facts.
Must not know: how a solver works or how reports look.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .sets import REPO_ROOT, InstanceSpec, shared_reference

__all__ = ["RunConfig", "run_benchmark", "run_pair", "judge", "machine_info", "gpulp_commit",
           "REFERENCE_SOLVERS"]

REFERENCE_SOLVERS = ("highs-ipm", "highs-simplex")


@dataclass
class RunConfig:
    """Settings shared by every pair of one benchmark run.

    solvers: names from bench.solvers.SOLVERS, run in this order on each instance.
    tol: the relative KKT tolerance of BENCH.md, handed to the solvers and used to judge.
    time_limit: seconds per pair for the solve call; an unsolved pair counts as this.
    grace: extra seconds after time_limit before the worker is killed.
    load_limit: seconds allowed for reading or generating the instance before the solve starts.
    repeat: runs of each pair (the report shows the median and the spread).
    reference_time_limit: limit of a dedicated HiGHS reference run (default 4 x time_limit).
    threads: HiGHS's `threads` option; None leaves HiGHS's default (recorded in each row).
    options: keyword options passed to gpulp.solve.
    warm_up: before the timed call, gpulp solves a small generated LP in the same worker, so that
        one-time costs of a process (Numba's cache load, CuPy's kernel loads, the CUDA context)
        are left out of `time` and recorded apart (solver_info["warm_up"]).
    jobs: pairs run at once (each in its own process), at most one of them on the GPU; a row
        records it, since pairs running side by side share the host's cores and memory
        bandwidth. 1 (the default) runs the pairs one after another.
    """

    solvers: list
    instances_root: Path
    tol: float = 1e-4
    time_limit: float = 60.0
    grace: float = 30.0
    load_limit: float = 900.0
    repeat: int = 1
    reference_time_limit: Optional[float] = None
    threads: Optional[int] = None
    options: dict = field(default_factory=dict)
    warm_up: bool = False
    jobs: int = 1


# solvers that use the GPU: at most one of their pairs runs at a time, whatever `jobs` says
GPU_SOLVERS = ("gpulp-gpu",)


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _gpu_names():
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    names = [s.strip() for s in out.stdout.splitlines() if s.strip()]
    return ", ".join(names) or None


def machine_info() -> dict:
    return {"node": platform.node(), "cpu": _cpu_model(), "cores": os.cpu_count(),
            "memory_gb": _memory_gb(), "gpu": _gpu_names(), "python": platform.python_version()}


def gpulp_commit() -> str:
    """HEAD of the repository, with '+dirty' when tracked files differ; 'unknown' without git."""
    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=20)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True, timeout=20)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _log_tail(path, lines=6):
    try:
        text = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def run_pair(spec: InstanceSpec, solver: str, *, tol, time_limit, grace, load_limit,
             log_path, threads=None, options=None, warm_up=False, poll=0.05,
             gpu_lock=None) -> dict:
    """Run one pair in a fresh worker process; always returns a raw result dict.
    gpu_lock: a file the worker locks (flock) from before its warm-up to after its solve, so
    that GPU pairs whose processes start side by side still use the GPU one at a time; the
    time limit counts from the lock, the load limit stops at the instance's load."""
    job = {"instance": spec.to_dict(), "solver": solver, "tol": tol, "time_limit": time_limit,
           "grace": grace, "threads": threads, "options": options or {}, "warm_up": warm_up,
           "gpu_lock": None if gpu_lock is None else str(gpu_lock)}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + (
        [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        job_file, result_file, marker = (os.path.join(tmp, n) for n in
                                         ("job.json", "result.json", "marker.json"))
        with open(job_file, "w") as f:
            json.dump(job, f)
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as log:
            t0 = time.monotonic()
            proc = subprocess.Popen([sys.executable, "-m", "bench", "worker", job_file,
                                     result_file, marker], cwd=str(REPO_ROOT), env=env,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            solve_start, killed = None, None
            while proc.poll() is None:
                now = time.monotonic()
                if solve_start is None and os.path.exists(marker):
                    solve_start = now
                if solve_start is not None and now - solve_start > time_limit + grace:
                    killed = (f"killed {now - solve_start:.1f} s after the solve started "
                              f"(time limit {time_limit:g} s + grace {grace:g} s)")
                elif (solve_start is None and now - t0 > load_limit
                      and not os.path.exists(marker + ".loaded")):
                    killed = f"killed: reading the instance took over {load_limit:g} s"
                if killed:
                    _kill_group(proc)
                    break
                time.sleep(poll)
            wall = time.monotonic() - t0
        result = None if killed else _read_json(result_file)
        meta = _read_json(marker) or {}
    if result is None:
        rc = proc.returncode
        if killed:
            status, message = "timeout", killed
        else:
            how = (f"killed by signal {signal.Signals(-rc).name}" if rc is not None and rc < 0
                   else f"exited with code {rc}")
            status, message = "crash", f"worker {how} without a result"
        tail = _log_tail(log_path)
        result = {**meta, "status": status, "solver_status": status,
                  "message": message + (f"; log: {tail}" if tail else "")}
    result["wall_time"] = wall
    return result


def _agrees(f, f_star, tol):
    return abs(f - f_star) <= 10.0 * tol * (1.0 + abs(f_star))


def judge(raw: dict, reference: Optional[dict], tol: float):
    """(solved, reason) of a raw result under the protocol of shared/BENCH.md."""
    status = raw.get("status")
    ref_status = (reference or {}).get("status")
    ref_obj = (reference or {}).get("objective")
    if status == "optimal":
        if not raw.get("kkt_ok"):
            what = ", ".join(f"{k} {raw[k]:.2e}" for k in ("primal_residual", "dual_residual",
                                                              "gap") if raw.get(k) is not None)
            return False, f"claimed optimal but the KKT check fails at {tol:g}" + (
                f" ({what})" if what else " (no x, y, z)")
        if ref_status not in (None, "optimal"):
            return False, f"claimed optimal but the reference says {ref_status}"
        f = raw.get("verified_objective")
        if ref_obj is None:
            return True, "KKT verified; no reference objective"
        if f is None or not _agrees(f, ref_obj, tol):
            return False, f"objective {f!r} disagrees with the reference {ref_obj!r}"
        return True, "KKT verified, objective agrees with the reference"
    if status in ("primal_infeasible", "dual_infeasible"):
        if not raw.get("certificate_ok"):
            return False, f"claimed {status} without a certificate that checks"
        if ref_status != status:
            return False, f"claimed {status} with a certificate; the reference says {ref_status}"
        return True, f"{status} certificate verified; the reference agrees"
    own = raw.get("solver_status")
    return False, f"status {status}" + (f" ({own})" if own and own != status else "") + (
        f": {raw['message']}" if raw.get("message") else "")


def _reference_from(raw, solver, time_limit):
    if raw.get("kkt_ok") and raw.get("verified_objective") is not None:
        return {"objective": raw["verified_objective"], "status": "optimal",
                "source": f"{solver} (HiGHS status {raw.get('solver_status')!r}, "
                          f"KKT verified, {time_limit:g} s limit)"}
    if raw.get("status") in ("primal_infeasible", "dual_infeasible") and raw.get("certificate_ok"):
        return {"objective": None, "status": raw["status"],
                "source": f"{solver} (certificate verified)"}
    return None


class _References:
    """The reference of each instance, cached in DIR/reference.json."""

    def __init__(self, out_dir: Path, config: RunConfig):
        self.path = out_dir / "reference.json"
        self.config = config
        self.out_dir = out_dir
        self.cache = _read_json(self.path) or {}
        self._lock = threading.Lock()

    def _from_rows(self, raws, names):
        for name in names:
            for solver, raw in raws:
                ref = _reference_from(raw, name, self.config.time_limit) if solver == name else None
                if ref is not None:
                    return ref
        return None

    def get(self, spec: InstanceSpec, raws: list, log) -> dict:
        shared = shared_reference(spec, self.config.instances_root)
        if shared is not None:
            return shared
        if spec.name in self.cache:
            return self.cache[spec.name]
        cfg = self.config
        ref_limit = cfg.reference_time_limit or 4.0 * cfg.time_limit
        ref = self._from_rows(raws, REFERENCE_SOLVERS)
        tried = []
        for name in REFERENCE_SOLVERS:
            if ref is not None:
                break
            earlier = [raw for s, raw in raws if s == name]
            if earlier and (ref_limit <= cfg.time_limit or any(
                    raw.get("status") not in ("time_limit", "timeout") for raw in earlier)):
                continue
            log(f"    reference run: {name}, {ref_limit:g} s limit")
            raw = run_pair(spec, name, tol=cfg.tol, time_limit=ref_limit, grace=cfg.grace,
                           load_limit=cfg.load_limit, threads=cfg.threads,
                           log_path=self.out_dir / "logs" / _log_name(spec, f"reference-{name}"))
            tried.append(f"{name}: {raw.get('status')}")
            ref = _reference_from(raw, name, ref_limit)
        if ref is None:
            ref = self._from_rows(raws, ("highs-pdlp",))
        if ref is None:
            ref = {"objective": None, "status": None,
                   "source": "none: no KKT-verified HiGHS run" + (
                       f" ({'; '.join(tried)})" if tried else "")}
        with self._lock:           # instances may finish side by side (RunConfig.jobs)
            self.cache[spec.name] = ref
            self.path.write_text(json.dumps(self.cache, indent=1, sort_keys=True))
        return ref


def _log_name(spec, solver, repeat=0):
    safe = spec.name.replace("/", "__")
    return f"{safe}--{solver}" + (f"--r{repeat}" if repeat else "") + ".log"


_ROW_FROM_RAW = ("rows", "cols", "nnz", "qp", "status", "solver_status", "objective",
                 "verified_objective", "verified_dual_objective", "time", "read_time", "load_time", "wall_time",
                 "iterations", "primal_residual", "dual_residual", "gap", "kkt_ok",
                 "certificate_ok", "certificate_violation", "device", "reader", "message",
                 "solver_info")


def _row(spec, solver, repeat, raw, ref, config, machine, commit, date):
    solved, reason = judge(raw, ref, config.tol)
    row = {"solver": solver, "instance": spec.name, "kind": spec.kind or "file",
           "target_nnz": spec.nnz, "seed": spec.seed if spec.generated else None}
    row.update({k: raw.get(k) for k in _ROW_FROM_RAW})
    if solver == "gpulp-gpu" and not raw.get("device"):
        row["device"] = "none"
    elif not row["device"]:
        row["device"] = "cpu"
    row.update(solved=solved, reason=reason, reference_objective=ref.get("objective"),
               reference_status=ref.get("status"), reference_source=ref.get("source"),
               tol=config.tol, time_limit=config.time_limit, repeat=repeat, machine=machine,
               gpulp_commit=commit, date=date, warm_up=config.warm_up, jobs=config.jobs)
    return row


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def run_benchmark(specs, config: RunConfig, out_dir, log=None) -> list:
    """Run every (instance, solver, repeat), append one JSON line per pair to
    out_dir/results.jsonl, and return the rows. Rows of an instance are written together once
    its reference is known. With config.jobs > 1 the pairs run side by side in that many
    threads (each waits on its own worker process), in the same order of submission; a pair of
    a GPU solver waits until no other GPU pair runs."""
    from concurrent.futures import ThreadPoolExecutor

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    machine, commit = machine_info(), gpulp_commit()
    date = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    refs = _References(out_dir, config)
    rows = []
    # (slot of the pair among its instance's pairs, instance, solver, repeat), in run order
    per_instance = [(solver, r) for solver in config.solvers for r in range(config.repeat)]
    pairs = [(k, spec, solver, r) for spec in specs
             for k, (solver, r) in enumerate(per_instance)]
    total = len(pairs)
    # GPU pairs: with --jobs > 1, two worker processes at a time, so that the next one reads
    # its instance and imports while the current one solves; the solves themselves take turns
    # on a file lock (run_pair's gpu_lock). With --jobs 1, pairs run one after another anyway.
    lock, gpu = threading.Lock(), threading.Semaphore(2 if config.jobs > 1 else 1)
    gpu_lock = out_dir / ".gpu.lock"
    done = [0]
    raws = {spec.name: [None] * len(per_instance) for spec in specs}

    with open(out_dir / "results.jsonl", "a") as results:
        def finish_instance(spec):
            got = raws[spec.name]
            ref = refs.get(spec, got, log)
            repeats = {}
            out = []
            for solver, raw in got:
                repeats[solver] = repeats.get(solver, -1) + 1
                out.append(_clean(_row(spec, solver, repeats[solver], raw, ref, config, machine,
                                       commit, date)))
            with lock:
                rows.extend(out)
                for row in out:
                    results.write(json.dumps(row) + "\n")
                results.flush()

        def one(index, spec, solver, r):
            kw = dict(tol=config.tol, time_limit=config.time_limit, grace=config.grace,
                      load_limit=config.load_limit, threads=config.threads,
                      options=config.options, warm_up=config.warm_up,
                      log_path=out_dir / "logs" / _log_name(spec, solver, r))
            if solver in GPU_SOLVERS:
                with gpu:
                    raw = run_pair(spec, solver, gpu_lock=gpu_lock, **kw)
            else:
                raw = run_pair(spec, solver, **kw)
            t = raw.get("time")
            with lock:
                done[0] += 1
                log(f"[{done[0]}/{total}] {spec.name} {solver}: {raw.get('status')}"
                    + (f" in {t:.3g} s" if t is not None else "")
                    + (f" ({raw['message'][:120]})" if raw.get("message") else ""))
                raws[spec.name][index] = (solver, raw)
                last = None not in raws[spec.name]
            if last:
                finish_instance(spec)

        if config.jobs <= 1:
            for job in pairs:
                one(*job)
        else:
            with ThreadPoolExecutor(max_workers=config.jobs) as pool:
                for f in [pool.submit(one, *job) for job in pairs]:
                    f.result()
    return rows
