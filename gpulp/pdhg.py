"""Reflected restarted Halpern PDHG (r2HPDHG) on the WORKING problem.

Working problem (scaled, minimisation):
    min 0.5 x'Qx + c'x  s.t.  rl <= A x <= ru,  cl <= x <= cu    (Q = 0 for an LP)

Glossary (the paper's letters):
    z = (x, y)       current iterate;  z0 = (x0, y0) the Halpern anchor of the epoch
    T(z) = (xhat, yhat)  one PDHG step:  xhat = proj_X(x - tau (c + Q x - A'y)),
                     yhat = v - sigma proj_[-ru,-rl](v / sigma),  v = y - sigma A (2 xhat - x)
    xbar = 2 xhat - x   the reflected primal point (also PDHG's extrapolation)
    Halpern update:  z <- w (gamma (2 T(z) - z) + (1 - gamma) z) + (1 - w) z0,  w = (k+1)/(k+2)
    eta = step size, omega = primal weight, sigma = eta*omega, tau = diag(1/(D + omega/eta))
    (tau = eta/omega for an LP; D >= Q a diagonal majorant of the linearised quadratic, see
    _curvature_majorant)
    r(z) = ||z - T(z)||_P,  P = [[tau^-1 - Q, A'], [A, I/sigma]]

A window is K iterations launched without looking at the host: K-1 full iterations and one
T-evaluation whose Halpern update is deferred until the host has decided whether to restart.
Then one synchronisation returns IterationStats (unscaled KKT measures, r, displacements,
infeasibility-ray candidates).

Knows: the backend contract, the working problem, restart and primal-weight policy calls.
Must not know: the original problem (sense, presolve, names) or whether arrays live on a GPU.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .log import logger
from .backend import GAMMA, K0, NSCAL, SIGMA, TAU
from .restart import pid_init, pid_update, restart_reason
from .termination import IterationStats, converged, infeasibility_candidate

__all__ = ["WorkingProblem", "Engine", "EngineEvent"]

RAY_EVERY = 4     # the infeasibility-ray candidates are evaluated at every 4th check
# a ray's value (b'y of a Farkas ray, -c'd of a primal ray) must exceed this fraction of the sum
# of its terms' absolute values: below it the value can be rounding error (a row that the column
# bounds imply exactly gives a Farkas "ray" of value 1e-16 and violation 0, i.e. rel 0 at any
# tolerance, which the check on the original then rejects again and again)
RAY_SIGNIFICANCE = 1e-12


@dataclass
class WorkingProblem:
    """The scaled LP (its matrix on the backend's device, the rest on the host) plus what the
    statistics need to report unscaled measures."""
    A: object                 # backend.MatrixPair: A~ and A~' on the device, a bound on ||A~||
    c: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_unscale: np.ndarray   # multiplies a scaled row residual into original units
    col_unscale: np.ndarray   # multiplies a scaled dual residual into original units
    x_unscale: np.ndarray     # multiplies a scaled primal vector into original units
    obj_unscale: float        # multiplies a scaled objective into original units
    objective_constant: float
    b_norm: float             # ||b||_2 of the original finite row bounds
    c_norm: float             # ||c||_2 of the original objective
    theta_b: float = 1.0      # bound scale (a primal ray's Q-image unscales with it)
    Q: object = None          # scaled quadratic term: scipy CSR, FactorQ or None


class _Device:
    """The working problem uploaded: A and A' in CSR, bounds, and derived masks."""

    def __init__(self, be, wp: WorkingProblem):
        xp = be.xp
        self.A, self.AT = wp.A.A, wp.A.AT       # uploaded by the scaling, shared by engines
        self.c = be.asarray(wp.c)
        self.rl, self.ru = be.asarray(wp.row_lower), be.asarray(wp.row_upper)
        self.cl, self.cu = be.asarray(wp.col_lower), be.asarray(wp.col_upper)
        # the derived vectors are formed where the bounds live (a 2M-column LP: no host passes)
        fin = xp.isfinite
        self.rl0, self.ru0, self.cl0, self.cu0 = (xp.where(fin(v), v, 0.0)
                                                  for v in (self.rl, self.ru, self.cl, self.cu))
        self.rl_fin, self.ru_fin, self.cl_fin, self.cu_fin = (
            fin(v).astype(xp.float64) for v in (self.rl, self.ru, self.cl, self.cu))
        # recession cones of the row and column sets, as bounds
        self.rcone_lo = xp.where(fin(self.rl), 0.0, -xp.inf)
        self.rcone_hi = xp.where(fin(self.ru), 0.0, xp.inf)
        self.ccone_lo = xp.where(fin(self.cl), 0.0, -xp.inf)
        self.ccone_hi = xp.where(fin(self.cu), 0.0, xp.inf)
        # |bound| per row and column (the larger finite side): the magnitude of a ray's value
        self.row_bound_abs = xp.maximum(xp.abs(self.rl0), xp.abs(self.ru0))
        self.col_bound_abs = xp.maximum(xp.abs(self.cl0), xp.abs(self.cu0))
        self.row_unscale = be.asarray(wp.row_unscale)
        self.col_unscale = be.asarray(wp.col_unscale)
        self.x_unscale = be.asarray(wp.x_unscale)
        self.xp = xp
        from .problem import FactorQ
        if wp.Q is None:
            self.Q = None
        elif isinstance(wp.Q, FactorQ):
            self.Q = be.factor(wp.Q)
        else:
            self.Q = be.matrix(wp.Q.tocsr())


# Active-set step boost (cuPDLPx's parameters)
BOOST_ACTIVATE = 1e-3      # every relative KKT measure below this: the boost starts
#                            (cuPDLPx: 1e-4; 1e-3 also speeds up solves to 1e-4, bench/RESULTS.md)
BOOST_WINDOW = 10_000      # a column (row) counts as free (binding) if seen so in these iterations
BOOST_SAFETY = 0.9         # step = BOOST_SAFETY / ||A restricted to the active rows and columns||
BOOST_MIN_RAISE = 1.1      # a raise smaller than this factor is not worth an anchor
BOOST_REESTIMATE = 0.01    # re-estimate the norm when this fraction of the active set changed
BOOST_TOL = 1e-8           # relative margin of "clamped" and "safely inside"
BOOST_CEILING = 0.7        # after a divergence the step stays below this fraction of it
BOOST_GROWTH = 2.0         # divergence: r grows to this multiple of its least in the epoch,
BOOST_WORSE = 100.0        # or the worst KKT measure to this multiple of the anchor's
BOOST_MAX_REVERTS = 2
BOOST_SV_TOL = 1e-4        # power iteration on the restricted matrix: relative change in sigma^2
BOOST_SV_ITERS = 1000


class _Boost:
    """State of the active-set step boost: when each column was last free and each row last
    binding (iteration numbers, on the device), the masks of the last BOOST_WINDOW iterations,
    and the anchor to return to after a divergence."""

    def __init__(self, be, m, n):
        xp = be.xp
        self.last_free = xp.full(n, -math.inf)
        self.last_binding = xp.full(m, -math.inf)
        self.col = xp.zeros(n)      # 1.0 on the columns free within the window, else 0.0
        self.row = xp.zeros(m)      # 1.0 on the rows binding within it
        self.changes = 0            # mask entries changed since the last norm estimate
        self.pending = xp.zeros(1)  # device count of the changes not yet fetched
        self.phase = "waiting"      # "waiting" -> "active" -> "off"
        self.sv = 0.0               # ||A restricted||_2 of the last estimate (0: none)
        self.no_raise = False       # the last estimate proved that no raise is possible
        self.ceiling = math.inf
        self.reverts = 0
        self.raises = 0
        self.anchor = None          # (x0, y0, pid, r_anchor, worst KKT measure, iteration)
        self.prev_eta = None        # the step before the last raise (it converged)
        self.epoch_min = math.inf   # least fixed-point residual seen in this epoch


class _State:
    def __init__(self, be, m, n, x0=None, y0=None, quadratic=False):
        z = be.zeros
        self.x = be.asarray(x0) if x0 is not None else z(n)
        self.y = be.asarray(y0) if y0 is not None else z(m)
        self.x0, self.y0 = self.x.copy(), self.y.copy()
        self.xhat, self.xbar, self.aty, self.atyhat = z(n), z(n), z(n), z(n)
        self.yhat, self.axbar, self.axhat = z(m), z(m), z(m)
        self.ray_m, self.ray_n = z(m), z(n)  # images of the ray candidates (statistics only)
        self.scal = z(NSCAL)
        if quadratic:
            self.qx, self.qxhat = z(n), z(n)   # Q x, Q xhat


@dataclass
class EngineEvent:
    """Why Engine.run returned: 'converged', 'primal_infeasible' / 'dual_infeasible' (candidate
    rays, unverified), 'time_limit', 'iteration_limit' or 'numerical_error'."""
    kind: str
    stats: IterationStats


def power_norm(be, dev, iters, tol, seed):
    """||A||_2 estimated by power iteration on A'A (a lower estimate)."""
    m, n = dev.A.shape
    if m == 0 or n == 0 or dev.A.nnz == 0:
        return 0.0
    return restricted_norm(be, dev, None, None, iters, tol, math.inf, seed)[1]


def restricted_norm(be, dev, col, row, iters, tol, abort_above, seed):
    """||A[row, col]||_2 (boolean masks on the device; None: all) by power iteration on its Gram
    matrix: ("ok", sigma) when the estimate settles, ("abort", lower bound) as soon as a lower
    bound exceeds abort_above, ("failed", last estimate) after `iters` steps. Returns the number
    of steps as a third item."""
    xp = be.xp
    cf = None if col is None else col.astype(xp.float64)
    rf = None if row is None else row.astype(xp.float64)
    m, n = dev.A.shape
    v = be.asarray(np.random.default_rng(seed).standard_normal(n))
    if cf is not None:
        v *= cf
    nv = float(be.norm(v))
    if nv == 0.0:
        return "ok", 0.0, 0
    v /= nv
    av, w = be.zeros(m), be.zeros(n)
    lam = 0.0
    for k in range(1, iters + 1):
        be.spmv(dev.A, v, av)
        if rf is not None:
            av *= rf
        be.spmv(dev.AT, av, w)
        if cf is not None:
            w *= cf
        new = float(be.norm(w))      # ||M'M v|| <= sigma_max^2 for a unit v
        if new == 0.0:
            return "ok", 0.0, k
        if math.sqrt(new) > abort_above:
            return "abort", math.sqrt(new), k
        v = w / new
        if abs(new - lam) <= tol * new:
            return "ok", math.sqrt(new), k
        lam = new
    return "failed", math.sqrt(lam), iters


def quadratic_norm(be, dev, iters, tol, seed):
    """(lambda_max(Q), v'Qv / v'v at the most negative Rayleigh quotient seen) by power iteration
    on Q and on lambda_max I - Q. A negative second value proves Q is not positive semidefinite."""
    from .errors import NonConvexError
    n = dev.Q.shape[0]
    rng = np.random.default_rng(seed + 1)

    def power(shift):
        v = be.asarray(rng.standard_normal(n))
        v /= be.norm(v)
        qv = be.zeros(n)
        lam, lowest = 0.0, math.inf
        for _ in range(iters):
            be.qmv(dev.Q, v, qv)
            rayleigh = float(be.dot(v, qv))
            lowest = min(lowest, rayleigh)
            w = shift * v - qv if shift else qv
            new = float(be.norm(w))
            if new == 0.0:
                break
            v = w / new
            if abs(new - lam) <= tol * new:
                lam = new
                break
            lam = new
        return lam, lowest

    lam_max, low1 = power(0.0)
    if lam_max == 0.0:
        return 0.0
    _, low2 = power(lam_max)
    lowest = min(low1, low2)
    if lowest < -1e-9 * lam_max:
        raise NonConvexError(f"the objective is not convex: Q has negative curvature "
                             f"(a direction v with v'Qv / v'v = {lowest:.3g}, while "
                             f"||Q|| = {lam_max:.3g}, in the scaled problem)")
    return lam_max


def _curvature_majorant(Q, lambda_q):
    """A diagonal D >= Q for the linearised primal step (column j steps by 1/(D_j + omega/eta)).
    Gershgorin's row sums of |Q| where none exceeds 2 lambda_max (diagonal and near-diagonal
    Q, as in liswet: then each column gets its own curvature), and otherwise lambda_max on the
    columns that Q touches and 0 elsewhere (Q = P Q P <= lambda_max P for the projection P onto
    its support): a QP whose quadratic term touches a few columns (the q-Netlib problems) then
    moves the others with the LP step."""
    from .problem import FactorQ
    if isinstance(Q, FactorQ):
        return np.full(Q.shape[0], lambda_q)
    absq = abs(sp.csr_matrix(Q))
    rows = np.asarray(absq.sum(axis=1)).ravel()
    if rows.size and rows.max() <= 2.0 * lambda_q:
        return rows
    return np.where(rows > 0, lambda_q, 0.0)


class Engine:
    """Runs r2HPDHG windows on a backend until an event; resumable (call run again)."""

    def __init__(self, be, wp: WorkingProblem, opts, log=None, x_start=None, y_start=None,
                 norm_a=None, t_origin=None):
        """t_origin: the time.perf_counter() value the statistics' `time` counts from (the
        solve's start; default: now)."""
        self.be, self.wp, self.opts, self.log = be, wp, opts, log
        t = time.perf_counter()          # (the kernels were compiled before the scaling)
        self.t_origin = t if t_origin is None else t_origin
        self.dev = _Device(be, wp)
        m, n = wp.A.shape
        self.quadratic = self.dev.Q is not None
        self.st = _State(be, m, n, x_start, y_start, self.quadratic)
        be.synchronize()
        self.upload_time = time.perf_counter() - t
        t = time.perf_counter()
        if norm_a is None:
            est = power_norm(be, self.dev, opts.power_iterations, opts.power_tol, opts.seed)
            # Power iteration converges from below, slowly when the top singular values cluster;
            # a step above 1/||A|| makes PDHG diverge. Pad the estimate by 1% (resolved gaps are
            # larger after `power_iterations` steps) and cap it by sqrt(||A||_1 ||A||_inf).
            norm_a = min(1.01 * est, wp.A.norm_bound)
        self.norm_a = norm_a
        self.eta = opts.step_safety / norm_a if norm_a > 0 else 1.0
        self.base_eta = self.eta
        if self.quadratic:       # the per-column curvature of the linearised step
            lambda_q = 1.01 * quadratic_norm(be, self.dev, opts.power_iterations, opts.power_tol,
                                             opts.seed)
            self.qd = be.asarray(_curvature_majorant(wp.Q, lambda_q))
        if opts.bound_objective_rescaling:
            weight = 1.0
        else:
            weight = (1.0 + wp.c_norm) / (1.0 + wp.b_norm)
        self.pid = pid_init(weight)
        self._tol = 0.0
        self.boost = (_Boost(be, m, n) if opts.step_boost and not self.quadratic and m and n
                      and opts.step_size == "constant" else None)
        self.K = opts.check_every or (64 if be.name == "cpu" else 128)
        self.iterations = 0
        self.restarts = 0
        self.epoch_start = 0
        self.r_anchor = math.nan
        self.r_prev = math.inf
        self._set_scalars(k0=0.0)
        self._attempts = 0
        self._checks = 0
        if opts.step_size == "adaptive":
            self._window = self._run_window_adaptive
        else:
            self._window = be.capture(self._run_window)
        be.synchronize()
        self.setup_time = time.perf_counter() - t
        self.last_stats = None
        self._pending = None

    @property
    def weight(self):
        return math.exp(self.pid.log_weight)

    @property
    def tau(self):
        """The primal step of a column that Q does not touch (eta / omega); column j of a QP
        steps by tau / (1 + tau * qd_j) (see _curvature_majorant)."""
        return self.eta / self.weight

    def _set_scalars(self, k0):
        self.k0 = k0
        self.be.set_scalars(self.st.scal, [self.tau, self.eta * self.weight, k0,
                                           self.opts.reflection])

    # -------------------------------------------------------------------------------- window
    def _run_window(self, K=None):
        """K iterations (default self.K); with K = 1 a single T-evaluation without update."""
        d, s = self.dev, self.st
        self.be.pdhg_window(K or self.K, d.A, d.AT, d.Q, self.qd if self.quadratic else None,
                            s.scal, s.x, s.y, s.aty, s.qx if self.quadratic else None, s.xhat,
                            s.xbar, s.axbar, s.yhat, s.x0, s.y0, d.c, d.cl, d.cu, d.rl, d.ru)

    def _run_window_adaptive(self):
        """PDLP's adaptive step: a T-evaluation is accepted when eta <= ||dz||^2_omega /
        (2 |dy' A dx|); each attempt moves eta toward that limit. One host sync per attempt."""
        be, d, s = self.be, self.dev, self.st
        last = self.K - 1
        for i in range(self.K):
            while True:
                self._run_window(1)         # T(z): xhat, xbar, yhat, A xbar; z unchanged
                be.spmv(d.A, s.xhat, s.axhat)
                dx, dy = s.xhat - s.x, s.yhat - s.y
                w = self.weight
                movement = 0.5 * (w * float(be.dot(dx, dx)) + float(be.dot(dy, dy)) / w)
                interaction = abs(float(be.dot(dy, s.axbar - s.axhat)))
                limit = movement / interaction if interaction > 0 else math.inf
                self._attempts += 1
                n = self._attempts
                accepted = self.eta <= limit
                self.eta = min((1 - (n + 1) ** -0.3) * limit, (1 + (n + 1) ** -0.6) * self.eta)
                if accepted:
                    break
                self._set_scalars(self.k0)
            if i != last:
                be.halpern(i, s.scal, s.x, s.xhat, s.x0)
                be.halpern(i, s.scal, s.y, s.yhat, s.y0)
            self._set_scalars(self.k0)

    def _farkas_terms(self, ray):
        """(value, violation, magnitude) of a Farkas-ray candidate: `ray` with the signs that its
        rows' bounds do not allow set to 0, and its own image A'ray formed here (an image taken
        as a difference of two iterates' images carries their rounding error, and one of the
        unclipped ray is not the clipped ray's). The violation is ||A'ray + z|| in original units,
        z = -A'ray with the signs its columns allow; the magnitude is the sum of the absolute
        values of the value's terms (a value that is rounding error of them proves nothing)."""
        be, xp, d, s = self.be, self.be.xp, self.dev, self.st
        dot = be.dot
        ray_c = xp.maximum(ray, 0.0) * d.rl_fin + xp.minimum(ray, 0.0) * d.ru_fin
        be.spmv(d.AT, ray_c, s.ray_n)
        zr = -s.ray_n
        zr = xp.maximum(zr, 0.0) * d.cl_fin + xp.minimum(zr, 0.0) * d.cu_fin
        value = (dot(xp.maximum(ray_c, 0.0), d.rl0) + dot(xp.minimum(ray_c, 0.0), d.ru0)
                 + dot(xp.maximum(zr, 0.0), d.cl0) + dot(xp.minimum(zr, 0.0), d.cu0))
        magnitude = dot(xp.abs(ray_c), d.row_bound_abs) + dot(xp.abs(zr), d.col_bound_abs)
        return value, be.norm((s.ray_n + zr) * d.col_unscale), magnitude

    def _primal_ray_terms(self, ray):
        """(value, violation, magnitude) of a primal-ray candidate `ray`, with its images A ray
        and Q ray formed here (see _farkas_terms): value -c'ray, the violation (original units)
        the parts of A ray and ray outside the recession cones of the row and column bounds plus
        ||Q ray||, the magnitude |c|'|ray|."""
        be, xp, d, s = self.be, self.be.xp, self.dev, self.st
        be.spmv(d.A, ray, s.ray_m)
        viol = (be.norm((s.ray_m - xp.clip(s.ray_m, d.rcone_lo, d.rcone_hi)) * d.row_unscale)
                + be.norm((ray - xp.clip(ray, d.ccone_lo, d.ccone_hi)) * d.x_unscale))
        if self.quadratic:
            be.qmv(d.Q, ray, s.ray_n)
            viol = viol + be.norm(s.ray_n * d.col_unscale) / self.wp.theta_b
        return -be.dot(d.c, ray), viol, be.dot(xp.abs(d.c), xp.abs(ray))

    def _ray_candidates(self):
        """Candidate rays, each as (kind, vector): the last step T(z) - z, the PDHG iterate
        itself (iterates grow along the ray of an infeasible problem) and the epoch's
        displacement from the anchor, for y ('dual': Farkas rays) and for x ('primal')."""
        s = self.st
        return [("dual", s.yhat - s.y), ("dual", s.yhat), ("dual", s.yhat - s.y0),
                ("primal", s.xhat - s.x), ("primal", s.xhat), ("primal", s.xhat - s.x0)]

    def _stats(self, elapsed, rays=True) -> IterationStats:
        be, d, s, wp = self.be, self.dev, self.st, self.wp
        be.spmv(d.A, s.xhat, s.axhat)
        be.spmv(d.AT, s.yhat, s.atyhat)
        if self.quadratic:
            be.qmv(d.Q, s.xhat, s.qxhat)
        q = self.quadratic
        vals = be.kkt_terms(s.xhat, s.x, s.x0, d.c, s.qxhat if q else None, s.qx if q else None,
                            self.qd if q else None, s.atyhat, d.cl_fin, d.cu_fin, d.cl0, d.cu0,
                            d.col_unscale, s.yhat, s.y, s.y0, s.axhat, s.axbar, d.rl, d.ru,
                            d.rl0, d.ru0, d.row_unscale)
        # 0 primal abs, 1 dual abs, 2 pobj and 3 dobj (scaled), 4 dx'dx, 5 dy'dy, 6 dy'A dx,
        # 7 ||xhat - x0||, 8 ||yhat - y0||, 9 dx'(D - Q)dx (backend.kkt_terms_xp)
        cands = self._ray_candidates() if rays else []
        for kind, ray in cands:
            vals.extend(self._farkas_terms(ray) if kind == "dual" else self._primal_ray_terms(ray))
        v = self.be.fetch(vals)
        best = {"dual": (math.inf, -1), "primal": (math.inf, -1)}
        for j, (kind, _) in enumerate(cands):
            value, viol, magnitude = v[10 + 3 * j], v[11 + 3 * j], v[12 + 3 * j]
            significant = value > RAY_SIGNIFICANCE * magnitude
            value *= wp.obj_unscale
            rel = viol / value if significant and value > 0 and math.isfinite(value) else math.inf
            if rel < best[kind][0]:
                best[kind] = (rel, j)
        self._best_ray = {k: j for k, (_, j) in best.items()}
        w, eta = self.weight, self.eta
        r2 = v[4] / self.tau + v[9] + v[5] / (eta * w) + 2.0 * v[6]
        k = wp.objective_constant
        pobj = v[2] * wp.obj_unscale + k
        dobj = v[3] * wp.obj_unscale + k
        return IterationStats(
            iteration=self.iterations, time=elapsed,
            primal_residual=v[0] / (1.0 + wp.b_norm), dual_residual=v[1] / (1.0 + wp.c_norm),
            gap=abs(pobj - dobj) / (1.0 + abs(pobj) + abs(dobj)),
            primal_objective=pobj, dual_objective=dobj,
            fixed_point_residual=math.sqrt(max(r2, 0.0)), dx_anchor=v[7], dy_anchor=v[8],
            primal_ray_violation=best["primal"][0], dual_ray_violation=best["dual"][0],
            step=eta, primal_weight=w, restarts=self.restarts)

    # -------------------------------------------------------------------------------- restart
    def _restart(self, stats):
        o, s = self.opts, self.st
        floor = max(math.log(o.qp_min_primal_weight), -50.0) if self.quadratic else -50.0
        self.pid = pid_update(self.pid, stats.dx_anchor, stats.dy_anchor, stats.primal_residual,
                              stats.dual_residual, o.pid_kp, o.pid_ki, o.pid_kd, o.pid_discount,
                              min_log_weight=floor,
                              max_decades=o.qp_balance_decades if self.quadratic else 8.0)
        for dst in (s.x0, s.x):
            dst[...] = s.xhat
        for dst in (s.y0, s.y):
            dst[...] = s.yhat
        r = stats.fixed_point_residual
        if self.boost is not None:
            self.boost.epoch_min = math.inf
        if self.boost is not None and self.boost.phase == "active":
            b, eta = self.boost, self.eta
            worst = max(stats.primal_residual, stats.dual_residual, stats.gap)
            # a divergence returns to the raise, or to a later restart with KKT measures as good
            if self._boost_raise(r) or (self.eta > self.base_eta and worst <= b.anchor[4]):
                b.anchor = (s.x0.copy(), s.y0.copy(), self.pid, r, worst, self.iterations)
            # near a fixed point ||z - T(z)||_P grows as sqrt(eta): the anchor's value in the
            # new step's norm is the baseline of the restart and divergence tests
            r *= math.sqrt(self.eta / eta)
        self._set_scalars(0.0)
        self.restarts += 1
        self.epoch_start = self.iterations
        self.r_anchor = r
        self.r_prev = r

    def _continue(self, stats):
        s = self.st
        self.be.halpern(self.K - 1, s.scal, s.x, s.xhat, s.x0)
        self.be.halpern(self.K - 1, s.scal, s.y, s.yhat, s.y0)
        self._set_scalars(self.k0 + self.K)
        self.r_prev = stats.fixed_point_residual

    def _decide(self, stats):
        o = self.opts
        reason = restart_reason(stats.fixed_point_residual, self.r_anchor, self.r_prev,
                                self.iterations - self.epoch_start, self.iterations,
                                o.restart_sufficient, o.restart_necessary, o.restart_artificial)
        if reason:
            self._restart(stats)
        else:
            self._continue(stats)

    # -------------------------------------------------------------------------------- boost
    def _boost_masks(self):
        """Marks the columns the last T-evaluation left off their bounds (its projection did not
        clip them by a margin) and the rows it left binding (their dual projection input is not
        safely inside), and updates the masks of the last BOOST_WINDOW iterations."""
        b, d, s = self.boost, self.dev, self.st
        self.be.boost_masks(float(self.iterations), self.tau, self.eta * self.weight,
                            BOOST_WINDOW, BOOST_TOL, s.xhat, s.x, d.c, s.aty, d.cl, d.cu,
                            d.cl_fin, d.cu_fin, s.y, s.axbar, d.rl, d.ru, d.rl0, d.ru0,
                            b.last_free, b.last_binding, b.col, b.row, b.pending)

    def _boost_check(self, stats):
        """Called at every check before the restart decision: updates the masks, starts the
        boost once every KKT measure is below BOOST_ACTIVATE, and returns to the anchor (True)
        when a raised step diverges: a statistic is not finite, the fixed-point residual has
        grown to BOOST_GROWTH times its least in the epoch, or the worst KKT measure to
        BOOST_WORSE times the anchor's."""
        b = self.boost
        if b.phase == "off" or self._tol >= BOOST_ACTIVATE:
            return False      # (at 1e-3 or looser the solve ends before the boost would start)
        self._boost_masks()
        meas = (stats.primal_residual, stats.dual_residual, stats.gap)
        finite = all(math.isfinite(v) for v in meas)
        if b.phase == "waiting":
            if not (finite and max(meas) < BOOST_ACTIVATE):
                return False
            b.phase = "active"
        r = stats.fixed_point_residual
        # r is comparable only within an epoch (the step and the primal weight set its norm)
        first = math.isinf(b.epoch_min)
        b.epoch_min = min(b.epoch_min, r) if math.isfinite(r) else b.epoch_min
        if self.eta > self.base_eta and (not finite or not math.isfinite(r) or (
                not first and r > BOOST_GROWTH * b.epoch_min) or max(meas) > BOOST_WORSE
                * b.anchor[4]):
            self._boost_revert(r, max(meas))
            return True
        return False

    def _boost_raise(self, r_restart):
        """At a restart: re-estimate the restricted norm when none is known or the masks have
        changed enough, and raise the step to BOOST_SAFETY / norm when that gains at least
        BOOST_MIN_RAISE (the restart point becomes the anchor)."""
        b, be, xp = self.boost, self.be, self.be.xp
        active = xp.count_nonzero(b.col) + xp.count_nonzero(b.row)
        changed, active = be.fetch([b.pending[0], active])
        b.changes += int(changed)
        b.pending[...] = 0.0
        due = (b.sv <= 0.0 and not b.no_raise) or (b.changes > 0 and
                                                   b.changes >= BOOST_REESTIMATE * active)
        if not due:
            return False
        b.changes = 0
        if max(self.base_eta, b.ceiling) < BOOST_MIN_RAISE * self.eta:
            b.no_raise = True
            return False
        status, sv, k = restricted_norm(be, self.dev, b.col, b.row, BOOST_SV_ITERS, BOOST_SV_TOL,
                                        BOOST_SAFETY / (BOOST_MIN_RAISE * self.eta),
                                        self.opts.seed + 2)
        if status == "failed":
            return False
        b.no_raise = status == "abort" or sv == 0.0
        if b.no_raise:
            return False
        b.sv = sv
        target = max(self.base_eta, min(BOOST_SAFETY / sv, b.ceiling))
        if target >= BOOST_MIN_RAISE * self.eta:
            logger.info(f"step boost at iteration {self.iterations}: step {self.eta:.4g} -> "
                        f"{target:.4g} (||A|| on {int(active)} active rows and columns "
                        f"{sv:.4g}, {k} power steps)")
            b.prev_eta = self.eta
            self.eta = target
            b.raises += 1
            return True
        return False

    def _boost_revert(self, r, w):
        """The raised step diverged: back to the anchor with the step before the last raise
        (the base step after the first), which the iterates reached the anchor with, and a
        ceiling on later raises."""
        b, s = self.boost, self.st
        x0, y0, pid, r_a, worst, at = b.anchor
        back = max(self.base_eta, min(b.prev_eta, BOOST_CEILING * self.eta))
        logger.info(f"step boost at iteration {self.iterations}: the raised step diverged "
                    f"(fixed-point residual {r:.3g}, least in the epoch {b.epoch_min:.3g}; worst "
                    f"KKT measure {w:.3g}, {worst:.3g} at the anchor); back to iteration {at} "
                    f"with step {back:.4g}")
        b.ceiling = BOOST_CEILING * self.eta
        for dst in (s.x, s.x0):
            dst[...] = x0
        for dst in (s.y, s.y0):
            dst[...] = y0
        self.eta = back
        self.pid = pid
        b.sv, b.no_raise = 0.0, False
        b.reverts += 1
        if b.reverts >= BOOST_MAX_REVERTS:
            b.phase = "off"
        self._set_scalars(0.0)
        self.restarts += 1
        self.epoch_start = self.iterations
        self.r_anchor = r_a
        self.r_prev = math.inf
        b.epoch_min = math.inf

    # -------------------------------------------------------------------------------- loop
    def run(self, tol, infeasibility_tol, deadline, on_stats=None, criterion="kkt") -> EngineEvent:
        """Iterate until converged at `tol` (by `criterion`, see termination.converged), a ray
        candidate within `infeasibility_tol`, the deadline (time.perf_counter() value), the
        iteration limit, or `on_stats(stats)` returning true ("interrupted"; a later run
        resumes where this one stopped)."""
        o = self.opts
        self._tol = tol
        if self._pending is not None:
            self._decide(self._pending)
            self._pending = None
        while True:
            self._window()
            self.iterations += self.K
            # ray candidates at every RAY_EVERY-th check (they cost as much as the rest of the
            # statistics on small problems; detection waits at most a few windows more)
            self._checks += 1
            rays = infeasibility_tol >= 0 and self._checks % RAY_EVERY == 0
            stats = self._stats(time.perf_counter() - self.t_origin, rays)
            self.last_stats = stats
            if self.boost is not None and self._boost_check(stats):
                continue        # a raised step diverged: back to the last restart
            interrupt = on_stats(stats) if on_stats is not None else False
            if not stats.finite():
                return EngineEvent("numerical_error", stats)
            if converged(stats, tol, criterion):
                self._pending = stats
                return EngineEvent("converged", stats)
            cand = infeasibility_candidate(stats, infeasibility_tol)
            if cand is not None:
                self._pending = stats
                return EngineEvent(cand, stats)
            # the deadline comes before an interruption: past it, a caller that interrupts
            # at every check (a crossover slice that is always due) would never get a limit
            if time.perf_counter() >= deadline:
                return EngineEvent("time_limit", stats)
            if interrupt:
                self._pending = stats
                return EngineEvent("interrupted", stats)
            self._decide(stats)
            if self.iterations >= o.iteration_limit:
                return EngineEvent("iteration_limit", stats)

    # -------------------------------------------------------------------------------- output
    def solution(self):
        """(xhat, yhat) of the last window on the host, working-problem units."""
        return self.be.to_host(self.st.xhat), self.be.to_host(self.st.yhat)

    def ray(self, kind):
        """The best candidate ray of the last window ('primal' or 'dual') on the host, in
        working-problem units."""
        j = self._best_ray[kind]
        return self.be.to_host(self._ray_candidates()[j][1])
