"""Iteration statistics and the termination decision (pure functions of the statistics).

All measures are relative and in the units of the problem the loop is solving before scaling
(the caller passes unscaled norms), as in shared/BENCH.md:
    primal  = ||A x - proj(A x)|| / (1 + ||b||)
    dual    = ||c - A'y - z|| / (1 + ||c||)
    gap     = |p - d| / (1 + |p| + |d|)

Knows: IterationStats fields and the tolerances.
Must not know: arrays, devices or how the statistics were computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["IterationStats", "converged", "infeasibility_candidate"]


@dataclass
class IterationStats:
    iteration: int
    time: float
    primal_residual: float      # relative
    dual_residual: float        # relative
    gap: float                  # relative
    primal_objective: float
    dual_objective: float
    fixed_point_residual: float  # ||z - T z||_P in the working problem
    dx_anchor: float            # ||xhat - x0||_2 (working)
    dy_anchor: float            # ||yhat - y0||_2 (working)
    primal_ray_violation: float  # relative violation of the primal-ray candidate (inf if none)
    dual_ray_violation: float    # relative violation of the Farkas-ray candidate (inf if none)
    step: float = float("nan")
    primal_weight: float = float("nan")
    restarts: int = 0

    def finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.primal_residual, self.dual_residual, self.gap,
                                                self.fixed_point_residual))


def converged(stats: IterationStats, tol: float, criterion: str = "kkt") -> bool:
    """criterion "kkt": all three relative KKT measures at or below tol; "primal" / "dual": only
    that residual (the feasibility-polishing phases)."""
    if criterion == "primal":
        return stats.primal_residual <= tol
    if criterion == "dual":
        return stats.dual_residual <= tol
    return (stats.primal_residual <= tol and stats.dual_residual <= tol and stats.gap <= tol)


def infeasibility_candidate(stats: IterationStats, tol: float):
    """'primal_infeasible' when the Farkas-ray candidate is within tol, 'dual_infeasible' when the
    primal-ray candidate is, else None. The caller must still verify the certificate."""
    if stats.dual_ray_violation <= tol:
        return "primal_infeasible"
    if stats.primal_ray_violation <= tol:
        return "dual_infeasible"
    return None
