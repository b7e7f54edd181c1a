"""The original-problem layer: read, scale, upload, iterate, unscale, verify, answer.

Knows: the ORIGINAL problem (sense, constant, bounds as given), the min-form conversion
(c -> s c with s = -1 for a maximisation, duals flipped back on the way out), scaling, the
choice of backend, and the independent verification that gates every status.
Must not know: kernels or how the iteration is run on a device.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from .errors import GpulpError
from .log import IterationTable, Timers, logger, verbose_handler
from .options import make_options
from .problem import Problem
from .result import Result, Status
from .scaling import compute_scaling, finite_norm
from .verify import (dual_infeasibility_check, kkt_check, norm2, primal_infeasibility_check,
                     reduced_costs_and_check)

__all__ = ["solve"]


def solve(problem_or_path, *, tol=1e-4, time_limit=None, iteration_limit=None, device="auto",
          verbose=False, x0=None, y0=None, integer=False, **options) -> Result:
    """Solve an LP or convex QP given as a Problem or a path (.mps, .mps.gz, .qps, .qps.gz).

    Returns a Result whose status is "optimal" only when an independent float64 KKT check on the
    original problem passes at `tol`, and "primal_infeasible" / "dual_infeasible" only with a
    checked certificate. `x0` and `y0` warm-start the iteration from a primal and a row-dual
    point of the original problem (HiGHS's signs). `integer=True` honours the integer columns
    with the rounding layer (gpulp.rounding): the status is then "optimal" (proven), "feasible"
    (a verified integer point, with `bound` and `mip_gap`) or "no_solution_found". Other options:
    see gpulp.options.Options.
    """
    timers = Timers()
    opts = make_options(tol=tol, time_limit=time_limit, iteration_limit=iteration_limit,
                        device=device, verbose=verbose, **options)
    with verbose_handler(opts.verbose):
        if isinstance(problem_or_path, (str, os.PathLike)):
            from .mps import read_mps
            with timers.phase("read"):
                problem = read_mps(problem_or_path)
        elif isinstance(problem_or_path, Problem):
            problem = problem_or_path
        else:
            raise TypeError("solve() takes a gpulp.Problem or a path to an MPS/QPS file, "
                            f"not {type(problem_or_path).__name__}")
        t0 = time.perf_counter()
        if integer:
            from .rounding import solve_integer
            result = solve_integer(problem, opts)
        elif opts.presolve and not problem.is_qp and x0 is None and y0 is None:
            result = _solve_presolved(problem, opts, timers, t0)
        else:
            result = _solve(problem, opts, timers, t0, x0, y0)
        if result.status == Status.DUAL_INFEASIBLE and result.verified:
            result = _settle_dual_infeasible(problem, result, opts, timers, t0)
        result.solve_time = time.perf_counter() - t0
        result.timers = dict(timers)
        if opts.verbose:
            logger.info(f"status {result.status}  objective {result.objective:.10g}  "
                        f"iterations {result.iterations}  time {result.solve_time:.3f}s  "
                        f"verified {result.verified}")
            logger.info("phases: " + timers.summary())
        return result


def _settle_dual_infeasible(problem: Problem, result: Result, opts, timers, t0) -> Result:
    """A checked primal ray proves the dual infeasible, and the problem unbounded only when it also
    has a feasible point: a problem with no feasible point can have an improving ray too (min -x1 -
    x2 with x1 - x2 >= 1, x2 - x1 >= 1, x >= 0). Settle it with the feasibility LP (zero objective,
    the same rows and bounds) in the time left:
    - a verified feasible point keeps "dual_infeasible", now meaning unbounded
      (certificate["primal_feasible"] = True, with the point's relative primal residual);
    - a checked Farkas ray makes the answer "primal_infeasible" with that certificate (the model
      has no feasible point, which is what the user has to fix; the message names the ray too);
    - anything else keeps "dual_infeasible" with certificate["primal_feasible"] = None: unbounded
      or infeasible, undecided."""
    import dataclasses
    feas = Problem(np.zeros(problem.num_cols), problem.A, problem.row_lower, problem.row_upper,
                   problem.col_lower, problem.col_upper, sense=problem.sense,
                   name=problem.name)     # (the same sense: its duals' signs are the original's)
    logger.info("dual infeasible (a checked primal ray); solving the feasibility problem (zero "
                "objective) to tell unbounded from infeasible")
    with timers.phase("feasibility"):      # (its own phases are not added to the solve's)
        r = _feasibility(feas, opts, t0)
    cert = dict(result.certificate or {})
    iterations = result.iterations + r.iterations
    if r.status == Status.OPTIMAL and r.verified:
        cert.update(primal_feasible=True, feasibility_residual=float(r.primal_residual))
        logger.info(f"unbounded: a feasible point (relative primal residual "
                    f"{r.primal_residual:.2e}) and the checked ray")
        return dataclasses.replace(result, certificate=cert, iterations=iterations,
                                   message=_join(result.message, "unbounded: a feasible point "
                                                 "and an improving ray, both checked"))
    if r.status == Status.PRIMAL_INFEASIBLE and r.verified and r.y is not None:
        rep = primal_infeasibility_check(problem, r.y, tol=opts.certificate_tol)
        if rep.ok:
            logger.info("infeasible: the feasibility problem has a checked Farkas ray (the dual "
                        "is infeasible too)")
            return Result(Status.PRIMAL_INFEASIBLE, x=r.x, y=r.y, z=r.z, verified=True,
                          iterations=iterations, restarts=result.restarts + r.restarts,
                          device=r.device,
                          certificate=_certificate(rep, dual_infeasible=True),
                          message="infeasible (checked Farkas ray); the objective also has a "
                                  "checked improving ray, so the dual is infeasible too")
    cert.update(primal_feasible=None)
    logger.info(f"the feasibility problem ended {r.status}: unbounded or infeasible")
    return dataclasses.replace(result, certificate=cert, iterations=iterations,
                               message=_join(result.message, "the dual is infeasible (checked "
                                             f"ray); the feasibility problem ended {r.status}, "
                                             "so the problem is unbounded or infeasible"))


def _feasibility(feas: Problem, opts, t0) -> Result:
    """The feasibility LP's own solve, within the time limit counted from t0."""
    if opts.presolve:
        return _solve_presolved(feas, opts, Timers(), t0)
    return _solve(feas, opts, Timers(), t0)


def _join(*parts):
    return "; ".join(p for p in parts if p)


XOVER_SHARE = 1.0   # seconds of crossover per second of PDHG once the crossover has a basis
XOVER_SHARE_GPU = 2.0   # ...on a GPU (Options.crossover_share says why)
# without a time limit, the crossover's rough starts (see polish_moment) come at this many
# seconds and at each doubling of it; with a limit, at half and at 85% of it
ROUGH_MARK = 10.0
# seconds of polishing per second of PDHG, in all, while the polisher's corrections shrink
# (otherwise half a second)
PROGRESS_SHARE = 1.0
# on an LP, a ray candidate this close to a certificate (relative violation) starts the crossover
# once from whatever iterate PDHG has: its phase 1 (or phase 2's unbounded step) gives the exact
# ray, where PDHG's candidate took 300k iterations to reach 1e-8 on klein1 (1e-3 after 2,300).
# Feasible LPs meet it too (greenbea after 512 iterations), where the early start saves time
# (Netlib SGM10 0.84 -> 0.79 s). Not on QPs: a QP crossover from a rough iterate can take
# thousands of steps, and on Maros-Meszaros liswet3/5/6/8/11 took 2-3x longer, stadat3 failed
RAY_SUSPECT = 1e-3


def _solve_presolved(problem: Problem, opts, timers, t0) -> Result:
    """Presolve, solve the reduced LP, postsolve, and verify on the original. Anything short of a
    verified optimum after postsolve (an infeasibility found in presolve, a certificate of the
    reduced problem, a failed check) is settled by solving the original problem itself, so every
    status keeps its check on the original."""
    from .presolve import presolve
    with timers.phase("presolve"):
        pre = presolve(problem)
    st = pre.stats
    logger.info(f"presolve: {pre.status}; rows {st['rows_before']} -> {st['rows_after']}, "
                f"columns {st['cols_before']} -> {st['cols_after']}, nonzeros "
                f"{st['nnz_before']} -> {st['nnz_after']} in {st['passes']} passes")
    if pre.status in ("infeasible", "unbounded"):
        if pre.ray is not None:      # one column's direction: the certificate, when it checks
            with timers.phase("verify"):
                rep = dual_infeasibility_check(problem, pre.ray, tol=opts.certificate_tol)
            if rep.ok:
                logger.info(f"presolve found the problem unbounded ({pre.reason}); its ray is "
                            f"verified on the original (violation {rep.violation:.2e})")
                return Result(Status.DUAL_INFEASIBLE, x=pre.ray, verified=True, device="cpu",
                              certificate=_certificate(rep),
                              message="presolve: " + pre.reason)
        logger.info(f"presolve found the problem {pre.status} ({pre.reason}); solving the original "
                    f"for a certificate")
        return _solve(problem, opts, timers, t0)
    if pre.problem is problem:       # nothing reduced: the solve below is on the original itself
        return _solve(problem, opts, timers, t0)
    # Reductions can raise ||b|| and ||c|| (bounds move into rows, costs onto other columns), so a
    # relative tolerance met on the reduced problem is looser on the original by this factor.
    factor = max(1.0, (1 + st["b_norm_after"]) / (1 + st["b_norm_before"]),
                 (1 + st["c_norm_after"]) / (1 + st["c_norm_before"]))
    import dataclasses
    res = _solve(pre.problem, dataclasses.replace(opts, tol=opts.tol / factor), timers, t0,
                 reduced=True)
    if res.status != Status.OPTIMAL:
        if res.status in (Status.PRIMAL_INFEASIBLE, Status.DUAL_INFEASIBLE):
            logger.info(f"the reduced problem is {res.status}; solving the original for a "
                        f"certificate on it")
            return _solve(problem, opts, timers, t0)
        x, y, z = pre.postsolve(res.x, res.y, res.z) if res.x is not None else (None,) * 3
        return _with_report(res, problem, x, y, z, opts, res.status)
    with timers.phase("postsolve"):
        x, y, z = pre.postsolve(res.x, res.y, res.z)
    with timers.phase("verify"):
        rep = kkt_check(problem, x, y, z, opts.tol)
    if rep.ok:
        return _with_report(res, problem, x, y, z, opts, Status.OPTIMAL, rep)
    logger.info(f"the postsolved answer fails the check on the original (primal "
                f"{rep.primal_residual:.2e}, dual {rep.dual_residual:.2e}, gap {rep.gap:.2e}); "
                f"solving the original from it")
    return _solve(problem, opts, timers, t0, x, y)


def _with_report(res, problem, x, y, z, opts, status, rep=None):
    """`res` carried over to the original problem's vectors and their independent check."""
    import dataclasses
    rep = rep if rep is not None or x is None else kkt_check(problem, x, y, z, opts.tol)
    if rep is None:
        return dataclasses.replace(res, status=status, x=None, y=None, z=None, verified=False)
    return dataclasses.replace(res, status=status, x=x, y=y, z=z,
                               objective=rep.primal_objective, dual_objective=rep.dual_objective,
                               primal_residual=rep.primal_residual,
                               dual_residual=rep.dual_residual, gap=rep.gap,
                               verified=status == Status.OPTIMAL and rep.ok)


def _solve(problem: Problem, opts, timers, t0, x0=None, y0=None, reduced=False) -> Result:
    """reduced: `problem` is a presolved one, whose answer is checked again on the original."""
    s = -1.0 if problem.sense == "max" else 1.0
    c = s * problem.c
    logger.info(f"{problem.name or 'problem'}: {problem.num_rows} rows, {problem.num_cols} "
                f"columns, {problem.nnz} nonzeros, {'QP' if problem.is_qp else 'LP'}, sense "
                f"{problem.sense}" + (f", {int(problem.integrality.sum())} integer columns "
                                      f"relaxed" if problem.is_mip else ""))
    if problem.nnz == 0 and not problem.is_qp:
        return _solve_separable(problem, c, s, opts)

    from .backend import get_backend
    be, note = get_backend(opts.device, opts.threads)
    if note:
        logger.info(note)
    try:
        with be.activate():
            t = time.perf_counter()
            be.warmup()                      # the kernels' first-call compile, timed apart
            timers["compile"] = timers.get("compile", 0.0) + time.perf_counter() - t
            with timers.phase("scale"):     # A goes to the device here, and A' is formed there
                sc, As, cs, rls, rus, Qs = compute_scaling(
                    problem.A, c, problem.row_lower, problem.row_upper, opts.ruiz_iterations,
                    opts.pock_chambolle_alpha, opts.bound_objective_rescaling,
                    None if problem.Q is None else _signed(problem.Q, s), be=be)
                for k, v in sc.times.items():     # its parts (scale.upload, ...)
                    timers[f"scale.{k}"] = timers.get(f"scale.{k}", 0.0) + v
                if opts.precision == "mixed":     # A's values in float32 from here on
                    from .backend import single_values
                    As = single_values(be, As)
                cls = sc.theta_b * problem.col_lower / sc.D2
                cus = sc.theta_b * problem.col_upper / sc.D2
                from .pdhg import WorkingProblem
                wp = WorkingProblem(As, cs, rls, rus, cls, cus,
                                    row_unscale=1.0 / (sc.theta_b * sc.D1),
                                    col_unscale=1.0 / (sc.theta_c * sc.D2),
                                    x_unscale=sc.D2 / sc.theta_b,
                                    obj_unscale=1.0 / (sc.theta_b * sc.theta_c),
                                    objective_constant=s * problem.objective_constant,
                                    b_norm=finite_norm(problem.row_lower, problem.row_upper),
                                    c_norm=norm2(c), theta_b=sc.theta_b, Q=Qs)
            x_start = None if x0 is None else sc.theta_b * np.asarray(x0, dtype=np.float64) / sc.D2
            y_start = (None if y0 is None
                       else sc.theta_c * s * np.asarray(y0, dtype=np.float64) / sc.D1)
            return _iterate(problem, opts, timers, t0, be, wp, sc, s, c, x_start, y_start,
                            reduced)
    except Exception as exc:
        oom = be.out_of_memory(exc)
        if oom is not None:
            raise oom from exc
        raise


def _iterate(problem, opts, timers, t0, be, wp, sc, s, c, x_start=None, y_start=None,
             reduced=False):
    from .pdhg import Engine
    engine = Engine(be, wp, opts, x_start=x_start, y_start=y_start, t_origin=t0)
    timers["upload"] = timers.get("upload", 0.0) + engine.upload_time
    timers["setup"] = timers.get("setup", 0.0) + engine.setup_time
    logger.info(f"device {be.description}; ||A||_2 = {engine.norm_a:.4g}, step {engine.eta:.4g}, "
                f"window K = {engine.K}" + ("; precision mixed: A's values in float32, vectors "
                                            "and sums in float64" if opts.precision == "mixed"
                                            else ""))

    # the limit itself (`hard`) ends the last attempt after it; the iterations and every earlier
    # attempt stop a twentieth (+0.2 s, at most a quarter) before it, so that the last attempt
    # (polishing and the crossover, sharing that time) still ends by the limit
    hard = t0 + opts.time_limit if math.isfinite(opts.time_limit) else math.inf
    deadline = (hard - min(0.05 * opts.time_limit + 0.2, 0.25 * opts.time_limit)
                if math.isfinite(hard) else math.inf)
    table = IterationTable()
    tol_loop = opts.tol
    inf_tol = opts.infeasibility_tol
    xover = _crossover(problem, opts)
    # LPs the crossover takes have no active-set polishing: the simplex never cycles
    polisher = (_active_set_polisher(problem, opts)
                if xover is None or problem.Q is not None else None)
    # on a presolved problem the tolerance is tightened by the growth of ||b|| and ||c|| (up to
    # 1e-12 on greenbea at 1e-8), below the rounding error of an exact vertex; the crossover's
    # vertex is checked at 1e-11 there at most, since the check on the original decides
    gate_tol = max(opts.tol, 1e-11) if reduced else opts.tol
    next_polish = [1e-3]
    # with a time limit, also try at half and at 85% of it (without one, at ROUGH_MARK seconds
    # and each doubling: qpilotno took 74 s to reach an error of 0.1); and each time the elapsed
    # time grows by half from 0.25 s, since the KKT error can sit above the next decade for long
    # while the guess is already right (hs268: a gap of 1e-2 for 2 million iterations, then one
    # 10-ms solve)
    time_marks = ([t0 + f * opts.time_limit for f in (0.5, 0.85)] if math.isfinite(deadline)
                  else [t0 + ROUGH_MARK])
    next_time = [t0 + 0.25]
    scheduled = [False]      # the pending attempt comes from that time schedule
    # once the crossover has a basis, it and PDHG take turns: slices of a tenth of the elapsed
    # time, `xover_share` of crossover per unit of PDHG
    xover_share = _crossover_share(opts, be.name)
    xover_next = [math.inf]
    polish_due = [False]     # the last on_stats() was a polishing moment
    xover_err = [math.inf]   # the KKT error of the iterate the crossover started from
    rough = [False]          # a time mark with an error above 0.1: the crossover only
    progressing = [False]    # the pending attempt is due only to the polisher's progress
    suspected = [False]      # a ray candidate has come within RAY_SUSPECT (acted on once)

    def on_stats(stats):
        table(stats)
        if polisher is None and xover is None:
            return False
        err = max(stats.primal_residual, stats.dual_residual, stats.gap)
        now = time.perf_counter()
        slice_due = xover is not None and xover.basis_kept and now >= xover_next[0]
        ray = min(stats.primal_ray_violation, stats.dual_ray_violation)
        if (xover is not None and problem.Q is None and not xover.basis_kept
                and not suspected[0] and ray <= RAY_SUSPECT):
            suspected[0] = rough[0] = True      # the crossover only, from this iterate
            polish_due[0] = progressing[0] = False
            return True
        if xover is not None and xover.basis_kept and polisher is None:
            return slice_due
        # a QP's polisher keeps its own moments while the crossover takes its turns, and is
        # due again at once while its corrections shrink (cvxqp1l: 6,300 free columns, 0.5 s a
        # round, where the crossover's reduced-gradient steps take seconds each)
        polish_due[0] = polish_moment(err, now)
        if not polish_due[0] and polisher is not None and polisher.progressing:
            polish_due[0] = progressing[0] = polish_share_left(PROGRESS_SHARE)
        return slice_due or polish_due[0]

    def polish_share_left(share):
        return polisher.seconds <= share * timers.get("iterate", 0.0) + 0.2

    def polish_moment(err, now):
        progressing[0] = False
        if time_marks and now >= time_marks[0]:
            mark = time_marks.pop(0)
            if not math.isfinite(deadline):     # no limit: the next mark at twice the time
                time_marks.append(t0 + 2.0 * (mark - t0))
            # the crossover needs no close point: at the marks it starts from any iterate
            # (qpilotno: PDHG's error stays above 1 after 2 s)
            rough[0] = err > 0.1
            return err <= 0.1 or (xover is not None and not xover.basis_kept)
        scheduled[0] = False
        rough[0] = False
        if now >= next_time[0]:
            next_time[0] = t0 + 1.5 * (now - t0)
            scheduled[0] = err <= 0.1 and err > tol_loop
            if scheduled[0]:
                return True
        return err <= next_polish[0] and err > tol_loop

    def try_active_set(ev_stats, last=False, converged=False):
        """A verified finish() from active-set polishing, or from the crossover, of the current
        iterate, or None. LPs the crossover takes use it alone; QPs try the polisher first and
        the crossover after it (the crossover keeps its basis between attempts)."""
        if polisher is None and xover is None:
            return None
        err = max(ev_stats.primal_residual, ev_stats.dual_residual, ev_stats.gap)
        next_polish[0] = min(next_polish[0], err * 0.1)
        resuming = xover is not None and xover.basis_kept
        if resuming and problem.Q is not None and err < 0.1 * xover_err[0]:
            # a QP's crossover starts again from an iterate 10x better than its own start:
            # the superbasic set guessed from a rough point can take thousands of steps
            # (liswet5 from an error of 1e-1)
            resuming = False
        if last and err > 0.1 and not resuming:
            return None
        x, y, z, _ = unscale_primal_dual()
        out, how = None, None
        with timers.phase("active_set"):
            # a wrong guess costs at most a fifth of the time used so far (a twentieth after a
            # limit)
            now = time.perf_counter()
            budget = (0.05 if last else 0.2) * (now - t0) + 0.2
            budget = min(budget, (hard if last else deadline) - now)
            if budget <= 0.0:
                return None
            if polisher is not None and (not resuming or polish_due[0] or last) and not rough[0]:
                out = polish_attempt(x, y, z, budget, last)
                how = "active-set polishing"
            # no crossover while the polisher's corrections shrink (its next attempt is due at
            # once), nor at a moment due only to them (not the crossover's slice)
            if out is None and not last and (
                    (polisher is not None and polisher.progressing
                     and polish_share_left(PROGRESS_SHARE))
                    or (progressing[0] and resuming)):
                return None
            # a QP whose iterate already passes does not wait for the crossover
            if out is None and xover is not None and not (converged and problem.Q is not None
                                                           and not resuming):
                t_pol = time.perf_counter() - now
                now = time.perf_counter()
                if last:        # after the iterations, polisher and crossover share the budget
                    budget = budget - t_pol
                out = xover_attempt(x, y, z, budget, last, converged, resuming, now, err)
                how = "the crossover"
                if out is None and (xover.ray is not None or xover.farkas is not None):
                    res = _crossover_certificate(problem, xover, x, opts, finish)
                    if res is not None:
                        return res
        if out is None:
            return None
        rep = kkt_check(problem, out.x, out.y, out.z,      # the solver's own gate
                        opts.tol if how != "the crossover" else gate_tol)
        if not rep.ok:
            return None
        logger.info(f"{how} verified the answer: primal {rep.primal_residual:.2e}"
                    f", dual {rep.dual_residual:.2e}, gap {rep.gap:.2e}")
        return finish(Status.OPTIMAL, out.x, out.y, out.z, rep,
                      message="crossover" if how == "the crossover" else "active-set polished")

    def polish_attempt(x, y, z, budget, last):
        if not last:
            # polishing in all takes at most a third of the time (half the iterating), at most
            # 3% of the iterating for an attempt on the time schedule (a tenth lost bnl1 at 60 s
            # on Netlib)
            share = PROGRESS_SHARE if polisher.progressing else 0.03 if scheduled[0] else 0.5
            if not polish_share_left(share):
                return None
        if polisher.attempts and polisher.slowest_round > budget:
            logger.info("active-set polish skipped: one of its solves took longer than the time "
                        "it may use now")
            return None
        return polisher.attempt(x, y, z, opts.tol, time.perf_counter() + budget)

    def xover_attempt(x, y, z, budget, last, converged, resuming, now, err):
        if converged:
            # the iterate already passes; an exact vertex is worth a quarter more time
            # (etamacro at 1e-4: the iterate's objective is 1.3e-3 off)
            budget = 0.25 * (now - t0) + 0.5
        elif resuming and not last:
            budget = max(0.1, 0.1 * (now - t0))       # a crossover slice
        budget = min(budget, (hard if last else deadline) - now)
        if budget <= 0.0:
            xover_next[0] = math.inf if last else now + 0.1 * (now - t0)
            return None
        # the pivots are kept, so the crossover may take up to `xover_share` times the iterating
        # time
        if not last and xover.seconds > xover_share * timers.get("iterate", 0.0) + 0.2:
            xover_next[0] = now + 0.1 * (now - t0)
            return None
        if not resuming and xover.build_estimate > budget:
            # its first start would spend the whole budget building its scaled LP (a large
            # LP: the GPU's transport instances); it waits until the solve has run longer
            return None
        if not resuming:
            xover_err[0] = err
            logger.info(f"crossover: starts from an iterate with KKT error {err:.1e} (share "
                        f"{xover_share:g} of the iterating time)")
            if not xover.start(x, y, z):
                return None
        out = xover.run(gate_tol, now + budget)
        end = time.perf_counter()
        xover_next[0] = end + (end - now) / xover_share
        return out

    def unscale_primal_dual():
        """(x, y, z, the check of them on `problem`): z is derived from x and y with the signs
        the column bounds allow, in the same pass over A as the check's products."""
        xs, ys = engine.solution()
        x = sc.unscale_x(xs)
        y = s * sc.unscale_y(ys)
        z, rep = reduced_costs_and_check(problem, x, y, opts.tol)
        return x, y, z, rep

    def finish(status, x, y, z, report=None, certificate=None, message=""):
        table.close()
        if getattr(be, "capture_time", 0.0):
            timers["capture"] = be.capture_time
        b = engine.boost
        common = dict(x=x, y=y, z=z, iterations=engine.iterations, restarts=engine.restarts,
                      step_raises=b.raises if b else 0, step_reverts=b.reverts if b else 0,
                      device=be.name, message=message)
        if certificate is not None:
            return Result(status, verified=True, certificate=certificate, **common)
        rep = report or kkt_check(problem, x, y, z, opts.tol)
        return Result(status, objective=rep.primal_objective, dual_objective=rep.dual_objective,
                      primal_residual=rep.primal_residual, dual_residual=rep.dual_residual,
                      gap=rep.gap, verified=status == Status.OPTIMAL and rep.ok, **common)

    while True:
        with timers.phase("iterate"):
            ev = engine.run(tol_loop, inf_tol, deadline, on_stats=on_stats)
        if ev.kind == "interrupted":
            res = try_active_set(ev.stats)
            if res is not None:
                return res
            continue
        with timers.phase("verify"):
            if ev.kind == "converged":
                x, y, z, rep = unscale_primal_dual()
                if rep.ok:
                    # the active-set point, when it passes too, is usually exact: prefer it
                    res = try_active_set(ev.stats, last=True, converged=True)
                    if res is not None and max(res.primal_residual, res.dual_residual, res.gap) \
                            < max(rep.primal_residual, rep.dual_residual, rep.gap):
                        return res
                    if opts.polish:
                        with timers.phase("polish"):
                            x, y, z, rep = _polish(problem, engine, be, wp, sc, s, c, opts,
                                                   deadline, (x, y, z, rep))
                    return finish(Status.OPTIMAL, x, y, z, rep)
                tol_loop *= 0.5
                logger.info(f"verification on the original problem failed (primal "
                            f"{rep.primal_residual:.2e}, dual {rep.dual_residual:.2e}, gap "
                            f"{rep.gap:.2e}); continuing to {tol_loop:.2e}")
                if tol_loop < opts.tol * 1e-4:
                    res = try_active_set(ev.stats, last=True)
                    if res is not None:
                        return res
                    return finish(Status.NUMERICAL_ERROR, x, y, z, rep,
                                  message="converged on the working problem but failed the "
                                          "check on the original problem" + (
                                              " (precision='mixed' rounds A to float32, "
                                              "which limits the accuracy to about 1e-7: use "
                                              "precision='float64')"
                                              if opts.precision == "mixed" else ""))
                continue
            if ev.kind in ("primal_infeasible", "dual_infeasible"):
                res = _check_ray(problem, engine, sc, s, ev.kind, opts, finish)
                if res is not None:
                    return res
                # a rejected candidate tightens the test; after ten, ray detection stops (a
                # candidate that the check keeps rejecting must not spin the loop)
                inf_tol = inf_tol * 1e-2 if inf_tol > 1e-18 else -1.0
                continue
        if ev.kind in ("time_limit", "iteration_limit"):
            res = try_active_set(ev.stats, last=True)
            if res is not None:
                return res
        x, y, z, rep = unscale_primal_dual()
        status = {"time_limit": Status.TIME_LIMIT, "iteration_limit": Status.ITERATION_LIMIT,
                  "numerical_error": Status.NUMERICAL_ERROR}[ev.kind]
        return finish(status, x, y, z, rep)


def _active_set_polisher(problem, opts):
    if (not opts.active_set or problem.num_rows + problem.num_cols > opts.active_set_max_dim
            or problem.nnz > opts.active_set_max_nnz):
        return None
    from .active_set import ActiveSetPolisher
    ap = ActiveSetPolisher(problem, max_dim=opts.active_set_max_dim)
    return ap if ap.applicable else None


def _crossover_share(opts, device):
    """Seconds of crossover per second of PDHG (Options.crossover_share; None: by device)."""
    if opts.crossover_share is not None:
        return float(opts.crossover_share)
    return XOVER_SHARE_GPU if device == "gpu" else XOVER_SHARE


def _crossover(problem, opts):
    if not opts.crossover:
        return None
    from .crossover import Crossover
    xo = Crossover(problem, max_rows=opts.crossover_max_rows, max_nnz=opts.crossover_max_nnz)
    return xo if xo.applicable else None


def _polish(problem, engine, be, wp, sc, s, c, opts, deadline, answer):
    """Feasibility polishing (PDLP's primal and dual feasibility problems, run after the main
    solve). Returns the polished (x, y, z, report), or `answer` where a phase does not help."""
    import dataclasses

    from .pdhg import Engine
    xs, ys = engine.solution()
    x, y, z, rep = answer
    phases = [("primal", dataclasses.replace(wp, c=np.zeros_like(wp.c), Q=None), xs, None)]
    if wp.Q is None:
        zero = {k: np.where(np.isfinite(getattr(wp, k)), 0.0, getattr(wp, k))
                for k in ("row_lower", "row_upper", "col_lower", "col_upper")}
        phases.append(("dual", dataclasses.replace(wp, **zero), None, ys))
    for criterion, wpp, x_start, y_start in phases:
        eng = Engine(be, wpp, opts, x_start=x_start, y_start=y_start, norm_a=engine.norm_a)
        ev = eng.run(opts.polish_tol, -1.0, deadline, criterion=criterion)
        if ev.kind != "converged":
            logger.info(f"{criterion} polishing stopped ({ev.kind}); keeping the main solve's")
            continue
        px, py = eng.solution()
        if criterion == "primal":
            cand_x, cand_y = sc.unscale_x(px), y
        else:
            cand_x, cand_y = x, s * sc.unscale_y(py)
        cand_z, cand = reduced_costs_and_check(problem, cand_x, cand_y, opts.tol)
        verdict = "kept" if cand.ok else "rejected: fails the check at tol"
        logger.info(f"{criterion} polishing ({verdict}): primal {cand.primal_residual:.2e}, dual "
                    f"{cand.dual_residual:.2e}, gap {cand.gap:.2e} after {eng.iterations} "
                    f"iterations")
        if cand.ok:
            x, y, z, rep = cand_x, cand_y, cand_z, cand
    return x, y, z, rep


def _check_ray(problem, engine, sc, s, kind, opts, finish):
    if kind == "primal_infeasible":
        y = _unit(s * sc.unscale_y(engine.ray("dual")))
        rep = primal_infeasibility_check(problem, y, tol=opts.certificate_tol)
        if rep.ok:
            x, _ = engine.solution()
            logger.info(f"primal infeasible: Farkas ray verified (violation {rep.violation:.2e})")
            return _certificate_result(finish, Status.PRIMAL_INFEASIBLE, sc.unscale_x(x), y,
                                       None, rep)
    else:
        d = _unit(sc.unscale_x(engine.ray("primal")))
        rep = dual_infeasibility_check(problem, d, tol=opts.certificate_tol)
        if rep.ok:
            logger.info(f"dual infeasible: primal ray verified (violation {rep.violation:.2e})")
            return _certificate_result(finish, Status.DUAL_INFEASIBLE, d, None, None, rep)
    logger.info(f"{kind} candidate rejected on the original problem (violation "
                f"{rep.violation:.2e}, value {rep.value:.2e})")
    return None


def _crossover_certificate(problem, xover, x, opts, finish):
    """A verified finish() from what the crossover left, or None (each is used once): the
    direction along which it found the objective falling without limit (dual_infeasible), or
    the row multipliers of a phase 1 that ended with violations left (primal_infeasible; the
    sign is tried both ways, the check clips the rest). On a QP, PDHG's own primal ray
    candidates converge slowly (||Q d|| shrinks only as the iterates grow), and on a small
    infeasible LP PDHG's Farkas candidates can take millions of iterations (vol1: 5.9M), where
    the crossover's step or phase 1 finds the certificate at once."""
    d, xover.ray = xover.ray, None
    if d is not None and np.all(np.isfinite(d)):
        d = _unit(d)
        rep = dual_infeasibility_check(problem, d, tol=opts.certificate_tol)
        if rep.ok:
            logger.info(f"dual infeasible: the crossover's ray verified (violation "
                        f"{rep.violation:.2e})")
            return _certificate_result(finish, Status.DUAL_INFEASIBLE, d, None, None, rep)
        logger.info(f"the crossover's ray fails the check on the original problem "
                    f"(violation {rep.violation:.2e}, value {rep.value:.2e})")
    y, xover.farkas = xover.farkas, None
    if y is not None and np.all(np.isfinite(y)):
        for signed in (_unit(y), -_unit(y)):
            rep = primal_infeasibility_check(problem, signed, tol=opts.certificate_tol)
            if rep.ok:
                logger.info(f"primal infeasible: the crossover's phase-1 multipliers verified "
                            f"as a Farkas ray (violation {rep.violation:.2e})")
                return _certificate_result(finish, Status.PRIMAL_INFEASIBLE, x, signed, None,
                                           rep)
        logger.info("the crossover's phase-1 multipliers fail the Farkas check on the original "
                    "problem")
    return None


def _unit(v):
    """v / max|v| (v itself when it is all zero): a ray's scale is free, and the checks'
    relative violations are taken at this one."""
    peak = np.max(np.abs(v)) if v.size else 0.0
    return v / peak if peak > 0 else v


def _certificate(rep, **extra):
    """The Result's certificate dict of a CertificateReport (and any extra entries)."""
    return {"kind": rep.kind, "value": rep.value, "violation": rep.violation, **extra}


def _certificate_result(finish, status, x, y, z, rep):
    return finish(status, x, y, z, certificate=_certificate(rep))


def _signed(Q, s):
    """s * Q, the quadratic term of the minimisation form."""
    from .errors import NonConvexError
    from .problem import FactorQ
    if s > 0:
        return Q
    if isinstance(Q, FactorQ):
        raise NonConvexError("maximising 0.5 x'(F F' + D)x is not a convex problem: give the "
                             "quadratic term with a minimisation, or negate it in a dense/sparse Q")
    return -Q


def _solve_separable(problem: Problem, c, s, opts) -> Result:
    """A with no nonzeros: every row is 0 and every column independent (closed form)."""
    rl, ru = problem.row_lower, problem.row_upper
    bad = np.flatnonzero((rl > 0) | (ru < 0))
    m, n = problem.num_rows, problem.num_cols
    if bad.size:
        y = np.zeros(m)
        i = int(bad[0])
        y[i] = 1.0 if rl[i] > 0 else -1.0
        rep = primal_infeasibility_check(problem, s * y, tol=opts.certificate_tol)
        return Result(Status.PRIMAL_INFEASIBLE, x=np.zeros(n), y=s * y, z=np.zeros(n),
                      verified=rep.ok, certificate=_certificate(rep))
    cl, cu = problem.col_lower, problem.col_upper
    x = np.where(c > 0, cl, np.where(c < 0, cu, np.clip(0.0, cl, cu)))
    unb = np.flatnonzero(~np.isfinite(x))
    if unb.size:
        d = np.zeros(n)
        j = int(unb[0])
        d[j] = -1.0 if c[j] > 0 else 1.0
        rep = dual_infeasibility_check(problem, d, tol=opts.certificate_tol)
        return Result(Status.DUAL_INFEASIBLE, x=d, verified=rep.ok,
                      certificate=_certificate(rep))
    y = np.zeros(m)
    z = s * c
    rep = kkt_check(problem, x, y, z, opts.tol)
    return Result(Status.OPTIMAL if rep.ok else Status.NUMERICAL_ERROR,
                  objective=rep.primal_objective, dual_objective=rep.dual_objective, x=x, y=y, z=z,
                  primal_residual=rep.primal_residual, dual_residual=rep.dual_residual,
                  gap=rep.gap, verified=rep.ok)
