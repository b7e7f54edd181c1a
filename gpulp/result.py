"""Solver statuses and the Result object, and the map to scipy's OptimizeResult.

Knows: what a finished solve reports to the user.
Must not know: how the numbers were obtained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

__all__ = ["Status", "Result", "STATUSES"]


class Status:
    OPTIMAL = "optimal"
    PRIMAL_INFEASIBLE = "primal_infeasible"
    DUAL_INFEASIBLE = "dual_infeasible"
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    NUMERICAL_ERROR = "numerical_error"
    # integer layer (rounding.py)
    FEASIBLE = "feasible"
    NO_SOLUTION_FOUND = "no_solution_found"


STATUSES = (Status.OPTIMAL, Status.PRIMAL_INFEASIBLE, Status.DUAL_INFEASIBLE, Status.TIME_LIMIT,
            Status.ITERATION_LIMIT, Status.NUMERICAL_ERROR, Status.FEASIBLE,
            Status.NO_SOLUTION_FOUND)

# scipy.optimize.linprog status codes: 0 success, 1 iteration/time limit, 2 infeasible,
# 3 unbounded, 4 numerical difficulties.
SCIPY_STATUS = {
    Status.OPTIMAL: 0,
    Status.ITERATION_LIMIT: 1,
    Status.TIME_LIMIT: 1,
    Status.PRIMAL_INFEASIBLE: 2,
    Status.DUAL_INFEASIBLE: 3,
    Status.NUMERICAL_ERROR: 4,
    Status.FEASIBLE: 1,
    Status.NO_SOLUTION_FOUND: 4,
}

SCIPY_MESSAGE = {
    0: "Optimization terminated successfully (verified KKT point).",
    1: "Iteration or time limit reached.",
    2: "The problem is infeasible (verified certificate).",
    3: "The problem is unbounded (verified certificate).",
    4: "Numerical difficulties encountered.",
}
UNDECIDED_MESSAGE = "The problem is unbounded or infeasible (verified ray, feasibility undecided)."


def scipy_status(res) -> tuple:
    """(scipy status code, message) of a Result. "dual_infeasible" is scipy's 3 (unbounded) only
    when a feasible point was verified too (certificate["primal_feasible"]); otherwise 4, as scipy
    reports HiGHS's "unbounded or infeasible"."""
    code = SCIPY_STATUS[res.status]
    if res.status == Status.DUAL_INFEASIBLE and not (res.certificate or {}).get("primal_feasible"):
        return 4, UNDECIDED_MESSAGE
    return code, SCIPY_MESSAGE[code]


@dataclass
class Result:
    """What gpulp.solve returns.

    Duals follow HiGHS's convention in the problem's own sense: c + Qx - A'y - z = 0, where y are the
    row duals and z the reduced costs. For a minimisation, y_i >= 0 on a row at its lower side and
    z_j >= 0 on a column at its lower bound; for a maximisation the signs flip.

    For "primal_infeasible", `y` and `z` hold the checked Farkas ray and `x` the last iterate;
    for "dual_infeasible", `x` holds the checked primal ray, and certificate["primal_feasible"] is
    True when a feasible point was verified too (the problem is unbounded) or None when the time
    ran out first (unbounded or infeasible). A problem with neither a feasible point nor a finite
    dual is reported "primal_infeasible", with certificate["dual_infeasible"] = True.
    """

    status: str
    objective: float = float("nan")
    x: Optional[np.ndarray] = None
    y: Optional[np.ndarray] = None
    z: Optional[np.ndarray] = None
    iterations: int = 0
    solve_time: float = 0.0
    primal_residual: float = float("nan")
    dual_residual: float = float("nan")
    gap: float = float("nan")
    verified: bool = False
    dual_objective: float = float("nan")
    restarts: int = 0
    step_raises: int = 0             # active-set step boost: raises of the step (LP, tol < 1e-3)
    step_reverts: int = 0            # ...and returns to a restart after a raise diverged
    device: str = "cpu"
    message: str = ""
    timers: dict = field(default_factory=dict)
    certificate: Optional[dict] = None
    bound: float = float("nan")      # integer layer: the relaxation's bound on the objective
    mip_gap: float = float("nan")    # integer layer: |objective - bound| / max(1, |objective|)

    @property
    def success(self) -> bool:
        return self.status == Status.OPTIMAL and self.verified

    def to_dict(self, with_vectors: bool = True) -> dict:
        def vec(v):
            return None if v is None else [float(t) for t in np.asarray(v)]

        def num(v):
            v = float(v)
            return v if np.isfinite(v) else None

        d = {
            "status": self.status,
            "objective": num(self.objective),
            "dual_objective": num(self.dual_objective),
            "iterations": int(self.iterations),
            "restarts": int(self.restarts),
            "step_raises": int(self.step_raises),
            "step_reverts": int(self.step_reverts),
            "solve_time": float(self.solve_time),
            "primal_residual": num(self.primal_residual),
            "dual_residual": num(self.dual_residual),
            "gap": num(self.gap),
            "verified": bool(self.verified),
            "device": self.device,
            "message": self.message,
            "timers": {k: float(v) for k, v in self.timers.items()},
        }
        if self.certificate is not None:     # numbers, flags and None: JSON as they are
            d["certificate"] = {k: (num(v) if isinstance(v, float) else v)
                                for k, v in self.certificate.items()}
        if np.isfinite(self.bound):
            d.update(bound=float(self.bound), mip_gap=num(self.mip_gap))
        if with_vectors:
            d.update(x=vec(self.x), y=vec(self.y), z=vec(self.z))
        return d

    def __repr__(self):
        return (f"Result(status={self.status!r}, objective={self.objective:.10g}, "
                f"iterations={self.iterations}, solve_time={self.solve_time:.3g}s, "
                f"verified={self.verified})")
