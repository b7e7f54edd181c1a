"""One (solver, instance) pair, run inside its own process: load, solve, verify, write JSON.

The job file names the instance, the solver, the tolerance and the time limit. The worker writes
the marker file once the instance is in memory (with its size and read time, so that a later kill
still knows them; the harness starts the solve clock there) and the result file when done. An
exception becomes a result with status "error"; a hard crash or a hang leaves no result file and
the harness writes the row.

Verification is gpulp.verify on the ORIGINAL problem, independent of the solver: kkt_check when
x, y and z are present, primal_infeasibility_check for a Farkas ray, dual_infeasibility_check for a
primal ray, each at the job's tolerance.

Knows: the solver registry, instance loading and gpulp.verify.
Must not know: timeouts, references or reports.
"""

from __future__ import annotations

import faulthandler
import fcntl
import json
import math
import os
import sys
import time
import traceback

from .sets import InstanceSpec, load_instance
from .solvers import SOLVERS

__all__ = ["run_job", "main"]


def _num(v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _one_line(exc):
    return "".join(traceback.format_exception_only(exc)).strip().replace("\n", " ")


def _write_json(path, data):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def verify(problem, out, tol) -> dict:
    """Independent measures of an Outcome on the original problem."""
    from gpulp.verify import dual_infeasibility_check, kkt_check, primal_infeasibility_check

    v = {"kkt_ok": False, "certificate_ok": False}
    n, m = problem.num_cols, problem.num_rows
    if out.x is not None and out.y is not None and out.z is not None \
            and len(out.x) == n and len(out.y) == m and len(out.z) == n:
        rep = kkt_check(problem, out.x, out.y, out.z, tol)
        v.update(kkt_ok=bool(rep.ok), primal_residual=_num(rep.primal_residual),
                 dual_residual=_num(rep.dual_residual), gap=_num(rep.gap),
                 verified_objective=_num(rep.primal_objective),
                 verified_dual_objective=_num(rep.dual_objective))
    if out.status == "primal_infeasible" and out.y is not None and len(out.y) == m:
        z = out.z if out.z is not None and len(out.z) == n else None
        cert = primal_infeasibility_check(problem, out.y, z, tol=tol)
        v.update(certificate_ok=bool(cert.ok), certificate_violation=_num(cert.violation))
    if out.status == "dual_infeasible" and out.ray is not None and len(out.ray) == n:
        cert = dual_infeasibility_check(problem, out.ray, tol=tol)
        v.update(certificate_ok=bool(cert.ok), certificate_violation=_num(cert.violation))
    return v


def run_job(job: dict, marker_path=None) -> dict:
    spec = InstanceSpec.from_dict(job["instance"])
    solve = SOLVERS[job["solver"]]
    try:
        problem, read_time, reader = load_instance(spec)
    except Exception as exc:
        traceback.print_exc()
        return {"status": "error", "solver_status": type(exc).__name__,
                "message": "reading the instance failed: " + _one_line(exc)}
    meta = {"rows": problem.num_rows, "cols": problem.num_cols, "nnz": problem.nnz,
            "qp": problem.is_qp, "read_time": read_time, "reader": reader}
    gpu_lock = None
    if job.get("gpu_lock"):
        # one GPU solve at a time across workers: wait for the lock after the load (the
        # harness's load limit stops here), and start the time limit's clock once it is held
        if marker_path:
            _write_json(marker_path + ".loaded", meta)
        t = time.perf_counter()
        gpu_lock = open(job["gpu_lock"], "a")
        fcntl.flock(gpu_lock, fcntl.LOCK_EX)
        meta["lock_wait"] = time.perf_counter() - t
    if marker_path:
        _write_json(marker_path, meta)
    # a worker still solving shortly before the harness kills it writes every thread's stack to
    # its log (the log of a killed pair then says where the solver was)
    grace = float(job.get("grace") or 0.0)
    limit = float(job["time_limit"]) + grace - min(0.5 * grace, 5.0)
    if grace > 0 and math.isfinite(limit):
        faulthandler.dump_traceback_later(limit, exit=False)
    try:
        out = solve(problem, tol=job["tol"], time_limit=job["time_limit"],
                    threads=job.get("threads"), options=job.get("options") or {},
                    warm_up=bool(job.get("warm_up")))
    except Exception as exc:
        traceback.print_exc()
        return {**meta, "status": "error", "solver_status": type(exc).__name__,
                "message": _one_line(exc)}
    finally:
        faulthandler.cancel_dump_traceback_later()
        if gpu_lock is not None:
            gpu_lock.close()           # releases the lock: verification needs no GPU
    result = {**meta, "status": out.status, "solver_status": out.solver_status,
              "time": out.time, "load_time": out.load_time, "objective": _num(out.objective),
              "iterations": int(out.iterations), "device": out.device, "message": out.message,
              "solver_info": out.info}
    result.update(verify(problem, out, job["tol"]))
    return result


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # gpulp's progress lines go to the pair's log (bench/<out>/logs/), with the seconds since start
    import logging
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(relativeCreated)9.0f ms %(name)s: %(message)s")
    logging.getLogger("gpulp").setLevel(logging.INFO)
    job_path, result_path = argv[0], argv[1]
    marker = argv[2] if len(argv) > 2 else None
    with open(job_path) as f:
        job = json.load(f)
    result = run_job(job, marker)
    _write_json(result_path, result)
    return 0
