"""Adaptive restarts and the PID primal-weight controller (pure functions).

Glossary: r = fixed-point residual ||z - T(z)||_P; omega = primal weight (tau = eta/omega,
sigma = eta*omega); e = log(sqrt(omega)||dx|| / (||dy||/sqrt(omega))) the imbalance at a restart.

Knows: the restart rule of cuPDLPx (sufficient, necessary-and-rising, artificial) and its PID
controller with a discounted integral and a fallback to the best weight seen.
Must not know: arrays, devices or the LP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

__all__ = ["restart_reason", "PidState", "pid_init", "pid_update"]


def restart_reason(r, r_anchor, r_prev, epoch_iters, total_iters, sufficient, necessary,
                   artificial):
    """Why to restart now ('sufficient', 'necessary', 'artificial'), or None."""
    if not math.isfinite(r_anchor) or r_anchor <= 0:
        return "artificial" if epoch_iters >= artificial * total_iters else None
    if r <= sufficient * r_anchor:
        return "sufficient"
    if r <= necessary * r_anchor and r > r_prev:
        return "necessary"
    if epoch_iters >= artificial * total_iters:
        return "artificial"
    return None


WANDER = 3.0 * math.log(10.0)   # log-weight distance from the best weight that counts as far


@dataclass(frozen=True)
class PidState:
    log_weight: float
    integral: float = 0.0
    prev_error: float = float("nan")
    best_log_weight: float = 0.0
    best_score: float = math.inf


def pid_init(weight: float) -> PidState:
    lw = math.log(weight)
    return PidState(lw, 0.0, float("nan"), lw, math.inf)


def pid_update(s: PidState, dx_norm, dy_norm, rel_primal, rel_dual, kp, ki, kd, discount,
               min_log_weight=-50.0, max_decades=8.0):
    """New controller state after a restart whose epoch moved x by dx_norm and y by dy_norm.
    The log weight stays within [min_log_weight, 50].

    Falls back to the best weight seen (the one that followed the restart with the most balanced
    relative residuals) when a displacement leaves [1e-16, 1e12] or the relative residuals are
    more than 8 decades apart, or more than max_decades apart while the weight is more than
    1e3 times away from the best one (by either factor). A residual that is exactly zero (a
    dual residual is, when every column is boxed) says nothing about balance, so the ratio test
    is skipped then."""
    score = math.inf
    if rel_primal > 0 and rel_dual > 0 and math.isfinite(rel_primal) and math.isfinite(rel_dual):
        score = abs(math.log10(rel_dual / rel_primal))
        # beyond max_decades (below 8), only a weight that has wandered away from the best one
        # counts (qpilotno: 1 -> 4e7); near it, the imbalance is the problem's (qgrow22)
        ratio_ok = score <= min(max_decades, 8.0) or (
            score <= 8.0 and abs(s.log_weight - s.best_log_weight) <= WANDER)
    else:
        ratio_ok = rel_primal == 0.0 or rel_dual == 0.0
    disp_ok = all(1e-16 <= v <= 1e12 for v in (dx_norm, dy_norm))
    if not (ratio_ok and disp_ok):
        return replace(s, log_weight=s.best_log_weight, integral=0.0, prev_error=float("nan"))
    w = math.exp(s.log_weight)
    e = math.log(math.sqrt(w) * dx_norm / (dy_norm / math.sqrt(w)))
    integral = discount * s.integral + e
    deriv = 0.0 if math.isnan(s.prev_error) else e - s.prev_error
    new_lw = s.log_weight - (kp * e + ki * integral + kd * deriv)
    new_lw = min(max(new_lw, min_log_weight), 50.0)
    best_lw, best_score = s.best_log_weight, s.best_score
    if score < best_score:
        best_lw, best_score = new_lw, score
    return PidState(new_lw, integral, e, best_lw, best_score)
