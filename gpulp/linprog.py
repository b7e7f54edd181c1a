"""scipy-compatible front door: `gpulp.linprog` mirrors `scipy.optimize.linprog`.

Knows: scipy's argument conventions (A_ub x <= b_ub, A_eq x == b_eq, bounds) and its
OptimizeResult fields, status codes 0-4 and marginals (sensitivities of `fun` to the right-hand
sides and bounds, as scipy's HiGHS methods report them).
Must not know: how the problem is solved.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .errors import OptionsError, ProblemError
from .problem import Problem, _floats
from .result import scipy_status

__all__ = ["linprog"]


def _bounds(bounds, n):
    if bounds is None:
        return np.zeros(n), np.full(n, np.inf)
    b = bounds
    if isinstance(b, tuple) and len(b) == 2 and not isinstance(b[0], (list, tuple, np.ndarray)):
        b = [b] * n
    b = list(b)
    if len(b) == 1 and n != 1:
        b = b * n
    if len(b) != n:
        raise ValueError(f"bounds has {len(b)} entries, expected {n}")
    lo = _floats("bounds", [-np.inf if p[0] is None else p[0] for p in b])
    hi = _floats("bounds", [np.inf if p[1] is None else p[1] for p in b])
    return lo, hi


def _matrix(M, n, name):
    if M is None:
        return sp.csr_matrix((0, n))
    if sp.issparse(M):
        if np.issubdtype(M.dtype, np.complexfloating):
            raise ProblemError(f"{name} must be real numbers, got complex values")
        return M        # Problem converts and checks the rest
    return sp.csr_matrix(np.atleast_2d(_floats(name, M)))


def linprog(c, A_ub=None, b_ub=None, A_eq=None, b_eq=None, bounds=(0, None), method="pdhg",
            callback=None, options=None, x0=None, integrality=None):
    """Minimise c'x s.t. A_ub x <= b_ub, A_eq x == b_eq, bounds; drop-in for scipy's linprog.

    `options` may hold `tol`, `time_limit`, `maxiter` (iteration limit), `disp` (verbose),
    `device` and any other gpulp option. `method`, `callback`, `x0` and `integrality` are accepted
    for compatibility; only method="pdhg" (the default) exists, and callback/x0/integrality must be
    None. Returns an OptimizeResult with x, fun, slack, con, success, status (0 optimal, 1 limit,
    2 infeasible, 3 unbounded, 4 numerical or
    unbounded-or-infeasible undecided), message, nit, and ineqlin / eqlin / lower / upper with
    `residual` and `marginals`.
    """
    from scipy.optimize import OptimizeResult

    from .solver import solve
    if method not in ("pdhg", "gpulp"):
        raise OptionsError(f"method must be 'pdhg', got {method!r}")
    if callback is not None or x0 is not None or integrality is not None:
        raise OptionsError("callback, x0 and integrality are not supported by gpulp.linprog")
    c = _floats("c", c).ravel()
    n = c.size
    Aub, Aeq = _matrix(A_ub, n, "A_ub"), _matrix(A_eq, n, "A_eq")
    bub = _floats("b_ub", b_ub if b_ub is not None else []).ravel()
    beq = _floats("b_eq", b_eq if b_eq is not None else []).ravel()
    if Aub.shape[1] != n or Aeq.shape[1] != n:
        raise ValueError("A_ub and A_eq must have as many columns as c has entries")
    if Aub.shape[0] != bub.size or Aeq.shape[0] != beq.size:
        raise ValueError("b_ub / b_eq must have one entry per row of A_ub / A_eq")
    lo, hi = _bounds(bounds, n)
    mu, me = Aub.shape[0], Aeq.shape[0]
    A = sp.vstack([Aub, Aeq], format="csr")
    problem = Problem(c, A, np.concatenate([np.full(mu, -np.inf), beq]),
                      np.concatenate([bub, beq]), lo, hi)
    opts = dict(options or {})
    kw = {}
    for ours, theirs in (("iteration_limit", "maxiter"), ("verbose", "disp")):
        if theirs in opts:
            kw[ours] = opts.pop(theirs)
    kw.update(opts)
    res = solve(problem, **kw)
    status, message = scipy_status(res)
    out = OptimizeResult(status=status, success=status == 0, message=message +
                         (f" ({res.message})" if res.message else ""), nit=res.iterations,
                         x=None, fun=None, slack=None, con=None)
    if res.status in ("optimal", "iteration_limit", "time_limit") and res.x is not None:
        x = res.x
        y = res.y if res.y is not None else np.zeros(mu + me)
        z = res.z if res.z is not None else np.zeros(n)
        out.x = x
        out.fun = float(c @ x)
        out.slack = bub - Aub @ x
        out.con = beq - Aeq @ x
        out.ineqlin = OptimizeResult(residual=out.slack, marginals=y[:mu])
        out.eqlin = OptimizeResult(residual=out.con, marginals=y[mu:])
        out.lower = OptimizeResult(residual=x - lo, marginals=np.maximum(z, 0.0))
        out.upper = OptimizeResult(residual=hi - x, marginals=np.minimum(z, 0.0))
    out.gpulp = res
    return out
