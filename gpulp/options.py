"""Solver options, one dataclass, each field documented where it is defined.

Knows: names, defaults, ranges and meanings of every option, and how to validate them.
Must not know: how any option is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .errors import OptionsError

__all__ = ["Options", "make_options"]


@dataclass
class Options:
    tol: float = 1e-4
    """Relative KKT tolerance (primal residual, dual residual and gap; L2, shared/BENCH.md).
    Range (0, 1). 1e-4 is PDLP's standard, 1e-8 the high-accuracy setting."""

    time_limit: float = math.inf
    """Wall-clock limit in seconds for the whole solve. Range (0, inf]."""

    iteration_limit: int = 2**62
    """Limit on PDHG iterations. Checked every `check_every` iterations, so it can be exceeded by
    less than one window. Range >= 1."""

    device: str = "auto"
    """"cpu" (NumPy + Numba), "gpu" (CuPy; errors if unavailable) or "auto" (GPU when CuPy and a
    CUDA device are present, else CPU, and the log says why)."""

    verbose: bool = False
    """Attach a handler to the "gpulp" logger and print the iteration table."""

    presolve: bool = True
    """Reduce an LP before iterating (gpulp.presolve) and restore the primal and dual answer
    afterwards; the restored answer is verified on the original problem. Not applied to QPs or
    warm-started solves."""

    check_every: int = 0
    """K, the window length: iterations between host synchronisations (termination, restart and
    primal-weight decisions). 0 picks the device default (64 on CPU, 128 on GPU). Range >= 0."""

    ruiz_iterations: int = 10
    """Passes of Ruiz (L-infinity) equilibration. Range 0..100."""

    pock_chambolle_alpha: float = 1.0
    """Exponent of the Pock-Chambolle rescaling after Ruiz; a negative value disables it. Range
    [0, 2] or < 0 (off)."""

    bound_objective_rescaling: bool = True
    """Scale bounds by 1/(1+||b||) and the objective by 1/(1+||c||) after the diagonal scaling."""

    precision: str = "float64"
    """"float64": everything in float64. "mixed": the scaled A and A' are stored with float32
    values on the device (the iterates, every other vector and every sum stay float64), so an
    SpMV moves 8 bytes a nonzero instead of 12 (about a third less on a memory-bound GPU). The
    working problem's matrix is then A rounded to 7 digits: answers are still verified in float64
    on the original problem, which holds at tolerances of 1e-6 and looser; tighter ones may end
    in "numerical_error" (use "float64" there)."""

    step_size: str = "constant"
    """"constant": eta = step_safety / ||A||_2 from power iteration (cuPDLPx). "adaptive": PDLP's
    adaptive rule (accept a step when eta <= ||dz||^2_omega / (2 |dy' A dx|)); slower per
    iteration, and never graph-captured."""

    step_safety: float = 0.998
    """Safety factor on 1/||A||_2 for the constant step. Range (0, 1)."""

    step_boost: bool = True
    """Active-set step boost (LPs with the constant step; cuPDLPx's "active set boost"). Once
    every relative KKT measure is below 1e-3, PDHG moves only the columns off their bounds and
    the rows at theirs, so the step may grow to 0.9 / ||A restricted to them||_2. At each
    restart the step is raised to that value (estimated by power iteration on the rows and
    columns seen active in the last 10,000 iterations); if a raised step diverges, the solve
    returns to the restart of the raise with the old step (twice at most). Saves iterations at
    1e-4 and tighter; off is cuPDLPx's older fixed step."""

    reflection: float = 1.0
    """Reflection coefficient gamma of the Halpern update: 1 is full reflection (r2HPDHG), 0.5 plain
    Halpern PDHG. Range (0, 1]."""

    restart_sufficient: float = 0.2
    """Restart when the fixed-point residual falls below this fraction of its value at the anchor.
    Range (0, 1)."""

    restart_necessary: float = 0.5
    """...or below this fraction while rising since the last check. Range (0, 1)."""

    restart_artificial: float = 0.36
    """...or when the epoch is this fraction of all iterations so far. Range (0, 1)."""

    pid_kp: float = 0.99
    """Proportional gain of the primal-weight PID controller (on log primal weight). Range >= 0."""

    pid_ki: float = 0.01
    """Integral gain. Range >= 0."""

    pid_kd: float = 0.0
    """Derivative gain. Range >= 0."""

    pid_discount: float = 0.3
    """Discount of the integral term per restart. Range [0, 1]."""

    qp_min_primal_weight: float = 1e-4
    """Smallest primal weight for a QP (its scaled b and c have norms below 1). A smaller weight
    gives the columns that Q does not touch primal steps far beyond the curvature-limited steps
    of the others, and on q-Netlib QPs (qgrow22) the controller then stalls. Range (0, inf);
    a tiny value (1e-22) switches the floor off. LPs have no floor."""

    qp_balance_decades: float = 4.0
    """QPs: when the relative primal and dual residuals at a restart are more than this many
    decades apart and the primal weight is more than 1e3 times away from the best-balanced
    weight seen, the primal-weight controller returns to that weight (always at 8 decades, as
    for LPs). On qpilotno the controller otherwise drives the weight from 1 to 4e7 while the
    dual residual grows from 0.2 to 5e3. Range (0, inf); 8 or more switches it off."""

    infeasibility_tol: float = 1e-8
    """Relative violation below which a ray found from iterate differences is offered as a
    certificate (each is then checked on the original problem). Range (0, 1)."""

    certificate_tol: float = 1e-6
    """Relative violation allowed when an infeasibility certificate is verified on the original
    problem. Range (0, 1)."""

    power_iterations: int = 1000
    """Most power-iteration steps for ||A||_2. Range >= 1."""

    power_tol: float = 1e-7
    """Relative change at which the power iteration stops. Range (0, 1)."""

    threads: int = 0
    """CPU threads for the Numba kernels. 0: threaded kernels on large problems only when the
    machine has 4 or more cores; 1: always serial; k >= 2: k threads on large problems."""

    polish: bool = False
    """Feasibility polishing: after convergence, a primal phase (zero objective, from the
    solution) and, for an LP, a dual phase (zero bounds, from the duals) bring the relative
    residuals to `polish_tol`; each phase's result is kept only when it reaches polish_tol and
    the answer still passes verification at `tol`."""

    polish_tol: float = 1e-8
    """Target relative residual of the polishing phases. Range (0, 1)."""

    active_set: bool = True
    """Active-set polishing (gpulp/active_set.py): when the iterate's relative KKT error first
    falls below 1e-3 and then each time it falls tenfold, and once more at a time or iteration
    limit, guess the active bounds from the iterate, solve the KKT system of that guess with a
    sparse LU on the host, and correct the guess a few times. The answer replaces the iterate
    only when it passes the independent check at `tol`; it usually reaches 1e-12. Used on
    problems of at most `active_set_max_dim` rows plus columns and `active_set_max_nnz`
    nonzeros."""

    active_set_max_dim: int = 200_000
    """Largest rows + columns for active-set polishing. Range >= 0 (0 switches it off)."""

    active_set_max_nnz: int = 500_000
    """Largest number of nonzeros of A for active-set polishing. Its rounds factor a KKT system
    that grows with A: on an 11,110 x 111,111 allocation LP (1M nonzeros) they took 32 s without
    an answer while PDHG converged in 9 s, and 1.5 s against 1.9 s on a 1M-nonzero CVaR LP.
    Range >= 0."""

    crossover: bool = True
    """Crossover (gpulp/crossover.py), on problems of at most `crossover_max_rows` rows and
    `crossover_max_nnz` nonzeros. For an LP, the moments at which active-set polishing would run
    instead start (or go on with) a bounded primal simplex from a basis guessed from the iterate.
    For a QP, it runs after active-set polishing fails: a reduced-gradient method (basic,
    superbasic and nonbasic variables). Its pivots are kept between moments, so the time given
    to it is never lost; its answer replaces the iterate only when it passes the independent
    check at `tol`."""

    crossover_max_rows: int = 12000
    """Largest number of rows for the crossover (each factorisation of its basis is a sparse
    LU), and of columns for a QP (its superbasic variables join one at a time). Range >= 0
    (0 switches it off)."""

    crossover_max_nnz: int = 500_000
    """Largest number of nonzeros of A for the crossover. Each of its pivots prices every
    column, and it takes turns with PDHG for as long as PDHG has run: on a 1,500 x 500,250
    transport LP (1M nonzeros) it ran 65 s without finishing, where PDHG alone solved the LP in
    36 s (at 100,000 nonzeros it finished first, in 0.15 s). Range >= 0."""

    crossover_share: float | None = None
    """Seconds of crossover per second of PDHG once the crossover has a basis: the two take
    turns, and the crossover's pivots are kept between turns. Default (None): 1 on the CPU and 2
    on a GPU, where PDHG's iterations cost a quarter of the CPU's or less while the crossover's
    host pivots cost the same. An LP that only the crossover finishes (pilot, greenbea) then
    takes about 1.5x the crossover's time instead of 2x, and one that PDHG finishes at most 3x
    PDHG's own time. Range > 0."""

    seed: int = 0
    """Seed of the power iteration's start vector."""


_CHOICES = {"device": ("auto", "cpu", "gpu"), "step_size": ("constant", "adaptive"),
            "precision": ("float64", "mixed")}

_RANGES = {
    "tol": (0.0, 1.0, False, False),
    "time_limit": (0.0, math.inf, False, True),
    "step_safety": (0.0, 1.0, False, False),
    "reflection": (0.0, 1.0, False, True),
    "restart_sufficient": (0.0, 1.0, False, False),
    "restart_necessary": (0.0, 1.0, False, False),
    "restart_artificial": (0.0, 1.0, False, False),
    "pid_discount": (0.0, 1.0, True, True),
    "infeasibility_tol": (0.0, 1.0, False, False),
    "certificate_tol": (0.0, 1.0, False, False),
    "power_tol": (0.0, 1.0, False, False),
    "polish_tol": (0.0, 1.0, False, False),
    "qp_min_primal_weight": (0.0, math.inf, False, False),
    "qp_balance_decades": (0.0, math.inf, False, False),
}

_MIN_INT = {"iteration_limit": 1, "check_every": 0, "ruiz_iterations": 0, "power_iterations": 1,
            "threads": 0, "active_set_max_dim": 0, "active_set_max_nnz": 0,
            "crossover_max_rows": 0, "crossover_max_nnz": 0}


def _check(opts: Options):
    for name, (lo, hi, lo_in, hi_in) in _RANGES.items():
        v = getattr(opts, name)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or math.isnan(v):
            raise OptionsError(f"option {name!r} must be a number, got {v!r}")
        ok_lo = v >= lo if lo_in else v > lo
        ok_hi = v <= hi if hi_in else v < hi
        if not (ok_lo and ok_hi):
            raise OptionsError(f"option {name!r} = {v!r} is out of range "
                               f"{'[' if lo_in else '('}{lo}, {hi}{']' if hi_in else ')'}")
    for name, lo in _MIN_INT.items():
        v = getattr(opts, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise OptionsError(f"option {name!r} must be an integer >= {lo}, got {v!r}")
    if opts.ruiz_iterations > 100:
        raise OptionsError(f"option 'ruiz_iterations' = {opts.ruiz_iterations} is out of range 0..100")
    if opts.pock_chambolle_alpha > 2:
        raise OptionsError("option 'pock_chambolle_alpha' must be <= 2 (or negative to disable)")
    for name in ("pid_kp", "pid_ki", "pid_kd"):
        v = getattr(opts, name)
        if not isinstance(v, (int, float)) or v < 0:
            raise OptionsError(f"option {name!r} must be >= 0, got {v!r}")
    v = opts.crossover_share
    if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                          or not (0.0 < v < math.inf)):
        raise OptionsError(f"option 'crossover_share' must be a number > 0 (or None), got {v!r}")
    for name, choices in _CHOICES.items():
        if getattr(opts, name) not in choices:
            raise OptionsError(f"option {name!r} must be one of {choices}, got {getattr(opts, name)!r}")


def make_options(**kwargs) -> Options:
    """Options from keyword arguments; None means the default. Unknown names raise OptionsError."""
    known = {f.name for f in fields(Options)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise OptionsError(f"unknown option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    opts = Options(**{k: v for k, v in kwargs.items() if v is not None})
    if isinstance(opts.iteration_limit, float) and opts.iteration_limit.is_integer():
        opts.iteration_limit = int(opts.iteration_limit)
    _check(opts)
    return opts
