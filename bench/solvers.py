"""The solvers the benchmark can run, each behind one function with the same contract.

A solver function takes the ORIGINAL `gpulp.Problem` already in memory and returns an `Outcome`:
the status in gpulp's words (see `gpulp.result.Status`), the solver's own status string, the
vectors x, y, z in HiGHS's sign convention (c + Qx - A'y - z = 0 in the problem's own sense), and
`time`, the wall-clock of the solve call alone. Anything done before that call to hand the data to
the solver (HiGHS's passModel) is reported apart as `load_time`.

Public solvers: gpulp-cpu, gpulp-gpu, highs-simplex, highs-ipm, highs-pdlp.
Test hooks, hidden from the help text and used by tests/test_bench.py to check that the harness
survives misbehaving solvers: test-crash (the process dies with exit code 3), test-raise (raises),
test-hang (sleeps forever, ignoring its time limit).

Knows: highspy's and gpulp's APIs and how to map their statuses.
Must not know: files, judging, timeouts or reports. Importing it imports neither highspy nor cupy.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import scipy.sparse as sp

__all__ = ["Outcome", "SOLVERS", "PUBLIC_SOLVERS", "TEST_SOLVERS", "problem_to_highs",
           "problem_from_highs"]


@dataclass
class Outcome:
    status: str
    solver_status: str
    time: float
    objective: float = float("nan")
    x: Optional[np.ndarray] = None
    y: Optional[np.ndarray] = None
    z: Optional[np.ndarray] = None
    ray: Optional[np.ndarray] = None
    iterations: int = 0
    load_time: float = 0.0
    device: str = "cpu"
    message: str = ""
    info: dict = field(default_factory=dict)


_HIGHS_STATUS = {
    "Optimal": "optimal",
    "Infeasible": "primal_infeasible",
    "Unbounded": "dual_infeasible",
    "Time limit reached": "time_limit",
    "Iteration limit reached": "iteration_limit",
    "Solve error": "numerical_error",
}


def _option(h, name):
    value = h.getOptionValue(name)
    return value[1] if isinstance(value, tuple) else value


def solve_with_highs(problem, **options):
    """A quiet Highs object that has run `problem` (its LP/QP relaxation) with `options`."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for name, value in options.items():
        h.setOptionValue(name, value)
    problem_to_highs(h, problem)
    h.run()
    return h


def problem_to_highs(h, problem):
    """Pass `problem` to the Highs object `h` (integrality dropped: the LP/QP relaxation)."""
    import highspy

    A = problem.A
    n, m = problem.num_cols, problem.num_rows
    sense = int(highspy.ObjSense.kMaximize if problem.sense == "max" else highspy.ObjSense.kMinimize)
    common = (problem.objective_constant, problem.c, problem.col_lower, problem.col_upper,
              problem.row_lower, problem.row_upper, A.indptr.astype(np.int32),
              A.indices.astype(np.int32), A.data)
    integrality = np.zeros(n, dtype=np.int32)
    rowwise = int(highspy.MatrixFormat.kRowwise)
    if problem.Q is None:
        status = h.passModel(n, m, A.nnz, rowwise, sense, *common, integrality)
    else:
        L = sp.tril(problem.Q).tocsc()
        status = h.passModel(n, m, A.nnz, L.nnz, rowwise, int(highspy.HessianFormat.kTriangular),
                             sense, *common, L.indptr.astype(np.int32),
                             L.indices.astype(np.int32), L.data, integrality)
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS passModel rejected the problem")


def problem_from_highs(h, name=""):
    """The model held by the Highs object `h` as a gpulp.Problem (used when gpulp.read_mps is
    not available)."""
    import highspy

    from gpulp import Problem

    model = h.getModel()
    lp = model.lp_
    a = lp.a_matrix_
    arrays = (np.asarray(a.value_, dtype=np.float64), np.asarray(a.index_, dtype=np.int64),
              np.asarray(a.start_, dtype=np.int64))
    shape = (lp.num_row_, lp.num_col_)
    if a.format_ == highspy.MatrixFormat.kRowwise:
        A = sp.csr_matrix(arrays, shape=shape)
    else:
        A = sp.csc_matrix(arrays, shape=shape).tocsr()
    Q = None
    hess = model.hessian_
    if hess.dim_ > 0:
        L = sp.csc_matrix((np.asarray(hess.value_, dtype=np.float64),
                           np.asarray(hess.index_, dtype=np.int64),
                           np.asarray(hess.start_, dtype=np.int64)), shape=(hess.dim_, hess.dim_))
        L = sp.tril(L)
        Q = L + sp.tril(L, -1).T
    integrality = np.asarray(lp.integrality_) if len(lp.integrality_) else None
    return Problem(np.asarray(lp.col_cost_), A, np.asarray(lp.row_lower_),
                   np.asarray(lp.row_upper_), np.asarray(lp.col_lower_), np.asarray(lp.col_upper_),
                   Q=Q, objective_constant=lp.offset_,
                   sense="max" if lp.sense_ == highspy.ObjSense.kMaximize else "min",
                   integrality=None if integrality is None else integrality > 0, name=name)


def _highs(solver_option):
    def run(problem, *, tol, time_limit, threads=None, **_):
        import highspy

        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        t0 = time.perf_counter()
        problem_to_highs(h, problem)
        load_time = time.perf_counter() - t0
        h.setOptionValue("solver", solver_option)
        if time_limit is not None:
            h.setOptionValue("time_limit", float(time_limit))
        if threads:
            h.setOptionValue("threads", int(threads))
        if solver_option == "pdlp":
            h.setOptionValue("kkt_tolerance", float(tol))
            h.setOptionValue("pdlp_optimality_tolerance", float(tol))
        t0 = time.perf_counter()
        h.run()
        elapsed = time.perf_counter() - t0

        raw = h.modelStatusToString(h.getModelStatus())
        status = _HIGHS_STATUS.get(raw, "other")
        info = h.getInfo()
        sol = h.getSolution()
        out = Outcome(status=status, solver_status=raw, time=elapsed, load_time=load_time,
                      objective=float(info.objective_function_value))
        x, y, z = (np.asarray(v, dtype=np.float64) for v in
                   (sol.col_value, sol.row_dual, sol.col_dual))
        if len(x) == problem.num_cols and len(y) == problem.num_rows and len(z) == len(x):
            out.x, out.y, out.z = x, y, z
        if problem.Q is not None:
            out.message = "QP: HiGHS runs its QP solver whatever the solver option says"
        if status == "primal_infeasible":
            _, has_ray, ray = h.getDualRay()
            out.y, out.z = (np.asarray(ray, dtype=np.float64), None) if has_ray else (None, None)
            if not has_ray:
                out.message = "HiGHS gave no dual ray"
        elif status == "dual_infeasible":
            _, has_ray, ray = h.getPrimalRay()
            out.ray = np.asarray(ray, dtype=np.float64) if has_ray else None
            if not has_ray:
                out.message = "HiGHS gave no primal ray"
        counts = {"simplex": info.simplex_iteration_count, "ipm": info.ipm_iteration_count,
                  "pdlp": info.pdlp_iteration_count, "qp": info.qp_iteration_count,
                  "crossover": info.crossover_iteration_count}
        out.iterations = int(counts["qp"] if problem.Q is not None else counts[solver_option])
        out.info = {"highs_version": h.version(), "value_valid": bool(sol.value_valid),
                    "dual_valid": bool(sol.dual_valid), "threads": int(_option(h, "threads")),
                    "parallel": str(_option(h, "parallel")), "highs_run_time": h.getRunTime(),
                    "iteration_counts": {k: int(v) for k, v in counts.items()},
                    "options": {"solver": solver_option,
                                "kkt_tolerance": float(_option(h, "kkt_tolerance")),
                                "pdlp_optimality_tolerance":
                                    float(_option(h, "pdlp_optimality_tolerance"))}}
        return out
    return run


def _gpu_name():
    try:
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:
        return None


def _warm_up(device, tol):
    """Seconds of a first solve of a small generated LP in this process (its one-time costs)."""
    import gpulp
    from instances.generators import by_nnz
    t = time.perf_counter()
    try:
        gpulp.solve(by_nnz("cvar", 5000, seed=1), tol=tol, time_limit=30.0, device=device)
    except gpulp.DeviceError:
        pass                       # the timed call reports it
    return time.perf_counter() - t


def _gpulp(device):
    def run(problem, *, tol, time_limit, options=None, warm_up=False, **_):
        import gpulp

        warm = _warm_up(device, tol) if warm_up else None
        t0 = time.perf_counter()
        try:
            res = gpulp.solve(problem, tol=tol, time_limit=time_limit, device=device,
                              **(options or {}))
        except gpulp.DeviceError as exc:
            return Outcome(status="error", solver_status="DeviceError",
                           time=time.perf_counter() - t0, device="none", message=str(exc))
        elapsed = time.perf_counter() - t0
        out = Outcome(status=res.status, solver_status=res.status, time=elapsed,
                      objective=float(res.objective), iterations=int(res.iterations),
                      device=str(res.device), message=res.message)
        if res.status == "dual_infeasible":
            out.ray = res.x
        else:
            out.x, out.y, out.z = res.x, res.y, res.z
        if device == "gpu" and res.device in ("gpu", "cuda"):
            out.device = _gpu_name() or res.device
        out.info = {"solve_time": float(res.solve_time), "verified": bool(res.verified),
                    "timers": {k: float(v) for k, v in res.timers.items()},
                    "gpulp_residuals": [float(res.primal_residual), float(res.dual_residual),
                                        float(res.gap)],
                    "restarts": int(res.restarts), "options": dict(options or {}),
                    "warm_up": warm}
        return out
    return run


def _test_crash(problem, **_):
    os._exit(3)


def _test_raise(problem, **_):
    raise RuntimeError("test-raise: deliberate failure")


def _test_hang(problem, **_):
    while True:
        time.sleep(1.0)


PUBLIC_SOLVERS: dict[str, Callable[..., Outcome]] = {
    "gpulp-cpu": _gpulp("cpu"),
    "gpulp-gpu": _gpulp("gpu"),
    "highs-simplex": _highs("simplex"),
    "highs-ipm": _highs("ipm"),
    "highs-pdlp": _highs("pdlp"),
}
TEST_SOLVERS: dict[str, Callable[..., Outcome]] = {
    "test-crash": _test_crash,
    "test-raise": _test_raise,
    "test-hang": _test_hang,
}
SOLVERS = {**PUBLIC_SOLVERS, **TEST_SOLVERS}
