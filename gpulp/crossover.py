"""Crossover: from an approximate PDHG point to an exact optimum, by a bounded primal simplex
method for LPs and a reduced-gradient method for QPs, started from a basis guessed from that point.

PDHG gets near the optimum of the hard Netlib LPs (pilot, pilot.ja, greenbea, bnl1) long before
it reaches the tolerance, and the active-set polisher's guess-and-correct rounds can cycle there
(a few bounds swapped back and forth). The simplex method cannot cycle in the same way: each
pivot keeps the basis nonsingular and never makes the (phase 1 or phase 2) objective worse. The
crossover of commercial interior-point codes (Bixby and Saltzman 1994; Andersen and Ye 1996)
works the same way: a crash basis from the approximate solution, then simplex pivots.

The LP, in minimisation form, with one slack per row:
    min c'x   s.t.  A x - r = 0,  lo <= x <= hi,  rl <= r <= ru.
The n + m variables w = (x, r) have the constraint matrix M = [A, -I]. A basis is m of them with
a nonsingular M_B; the others are nonbasic at a bound (or, when free, at a value).

1. Scaling: a few geometric-mean passes over the rows and columns of A (unscaled at the end).
2. The guess: the m variables that look most basic, slack / (slack + |multiplier|) as in the
   active-set polisher, with the others at their nearer bound. A maximum matching of the
   structural columns on the rows that the basic slacks leave uncovered, then an LU with
   partial pivoting of them (LAPACK's, or SuperLU's for more than DENSE_REPAIR columns), finds
   the dependent columns, and the slacks of the rows left without a pivot replace them (the
   "basis repair" of simplex codes).
3. Phase 1 minimises the sum of the bound violations of the basic variables, phase 2 the
   objective. Pricing is Devex (Forrest and Goldfarb 1992), the ratio test is Harris's two
   passes with bound flips, and an infeasible basic variable that moves towards its bound
   blocks there (so feasible variables stay feasible and the violation sum never grows).
4. The basis is factorised (SuperLU, or LAPACK for small or nearly dense bases) every few dozen
   pivots, with product-form (eta) updates between, and x_B recomputed from the nonbasic values
   at each factorisation, so that errors do not accumulate.

QPs (min c'x + 1/2 x'Qx) keep the basis and phase 1, and replace phase 2 by the reduced-gradient
method of MINOS (Murtagh and Saunders 1978): the nonbasic variables that look off their bounds
are superbasic and move freely, the basic ones follow them, and the others stay at their
bounds. The direction is the Newton step of the reduced Hessian (formed and eigendecomposed for
a few hundred superbasic variables, conjugate gradients beyond), or, where the reduced gradient
has a part without curvature (Q is often singular on the face: the q-Netlib QPs), that part,
followed to the nearest bound. Blocking bounds shrink the superbasic set or swap a
superbasic variable into the basis; a vanishing reduced gradient lets the most wrong nonbasic
variable join it. The reduced Hessian is kept between steps (rank-one changes at basis
exchanges). Where the basis is so ill-conditioned that the reduced gradient cannot get below
its rounding noise (liswet), steps stop descending; the point is then checked, and when the
basis's multipliers fail, the face it defines goes to the active-set polisher's KKT solve.

The answer is used only when verify.kkt_check passes it on the problem given, like any other
candidate, so a failure costs time, never correctness.

Knows: Problem, verify.kkt_check, active_set's basicness score and face solve. Must not know: devices, the
engine's scaling, PDHG.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .active_set import FIXED, FREE, LOWER, UPPER, ActiveSetPolisher, _basic_score
from .backend import MarkowitzLU, SimplexKernels
from .problem import FactorQ
from .verify import kkt_check

__all__ = ["Crossover", "CrossoverOutcome", "crossover"]

logger = logging.getLogger("gpulp")

REFACTOR = 48          # eta updates between factorisations (QPs)
REFACTOR_LP = 96       # ...and on LPs, where they are cheap next to a factorisation (pilot: 4.9 ->
                       # 4.0 s with DENSE_TAIL 0.6)
REPAIR_PIVOT = 1e-9    # start basis: a pivot under this times its column's largest is unusable
REPAIR_PIVOT_LP = 1e-2  # ...on LPs: a better-conditioned basis, whose x_B = B^-1 (b - N x_N) stays
#                         near the iterate's (pilot: 7,300 -> 5,200 pivots; bench/RESULTS.md)
DENSE_SUPERBASICS = 300   # QPs: up to this many superbasic variables, the reduced Hessian whole
STALL_STEPS = 30         # QPs: reduced-gradient steps without descent before the point is checked
DENSE_REPAIR = 1000       # basis repair: LAPACK's LU up to this many structural columns, SuperLU beyond


@dataclass
class CrossoverOutcome:
    x: np.ndarray
    y: np.ndarray                  # the problem's own sign convention, as Result.y
    z: np.ndarray
    report: object                 # verify.KKTReport on the problem passed in
    pivots: int
    seconds: float


class _Basis:
    """The factorisation of M_B with product-form updates: ftran(a) = M_B^-1 a and
    btran(c) = M_B^-T c. The updates' columns are rows of one array, applied by host
    kernels."""

    def __init__(self, MB, kern, cap=REFACTOR):
        m = MB.shape[0]
        self.kern = kern
        self.E = np.empty((cap, m))           # the updates' columns (alpha), one a row
        self.rows = np.empty(cap, dtype=np.int64)
        self.k = 0
        self.dense = m <= 400 or MB.nnz > 0.1 * m * m
        if self.dense:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.lu = sla.lu_factor(MB.toarray(), check_finite=False)
            d = np.abs(np.diag(self.lu[0]))
            if not np.all(np.isfinite(self.lu[0])) or d.min(initial=1.0) <= 1e-14 * max(d.max(initial=1.0), 1.0):
                raise np.linalg.LinAlgError("singular basis")
        else:
            try:
                self.lu = MarkowitzLU(MB)
            except np.linalg.LinAlgError:       # SuperLU decides (it stops only at exact zeros)
                self.lu = spla.splu(MB.tocsc(), permc_spec="COLAMD",
                                    options=dict(DiagPivotThresh=0.1))

    @property
    def etas(self) -> int:
        """The number of product-form updates since the factorisation."""
        return self.k

    def _solve(self, b, trans):
        if self.dense:
            return sla.lu_solve(self.lu, b, trans=1 if trans else 0, check_finite=False)
        return self.lu.solve(b, trans="T" if trans else "N")     # MarkowitzLU or SuperLU

    def ftran(self, a):
        v = np.ascontiguousarray(self._solve(a, False), dtype=np.float64)
        if self.k:
            self.kern.eta_ftran(self.E, self.rows, self.k, v.reshape(-1, 1))
        return v

    def ftran_many(self, Bm):
        """ftran of each column of Bm (m x k), in one solve."""
        V = self._solve(Bm, False)
        if V.ndim == 1:
            V = V[:, None]
        V = np.ascontiguousarray(V, dtype=np.float64)
        if self.k:
            self.kern.eta_ftran(self.E, self.rows, self.k, V)
        return V

    def btran(self, c):
        c = np.array(c, dtype=np.float64)
        if self.k:
            self.kern.eta_btran(self.E, self.rows, self.k, c)
        return self._solve(c, True)

    def update(self, r, alpha):
        if self.k == self.rows.size:          # more updates than cap: room for as many again
            self.E = np.concatenate([self.E, np.empty_like(self.E)])
            self.rows = np.concatenate([self.rows, np.empty_like(self.rows)])
        self.E[self.k] = alpha
        self.rows[self.k] = r
        self.k += 1


# what building the crossover's scaled LP costs (the geometric scaling's passes, [A -I] and its
# transpose): 2.6 s for the 4M nonzeros of a 3,000 x 2M transport LP on a 2-core VM
BUILD_SECONDS_PER_NNZ = 0.65e-6


def _geometric_scaling(A, passes=4):
    """Row and column factors R, S with R A S closer to all entries of magnitude one."""
    m, n = A.shape
    R, S = np.ones(m), np.ones(n)
    B = abs(A).tocsr()
    for _ in range(passes):
        As = (sp.diags(R) @ B @ sp.diags(S)).tocsr()
        mx = As.max(axis=1).toarray().ravel()
        f = np.sqrt(np.where(mx > 0, mx * _row_min(As), 1.0))
        R = R / f
        As = (sp.diags(R) @ B @ sp.diags(S)).T.tocsr()
        cmx = As.max(axis=1).toarray().ravel()
        g = np.sqrt(np.where(cmx > 0, cmx * _row_min(As), 1.0))
        S = S / g
    return R, S


def _row_min(As):
    """The smallest stored entry of each row of a nonnegative CSR matrix (1 for empty rows)."""
    m = As.shape[0]
    out = np.ones(m)
    nz = np.diff(As.indptr) > 0
    if As.nnz:
        out[nz] = np.minimum.reduceat(As.data, As.indptr[:-1][nz])
    return out


class Crossover:
    """The crossover of one LP or QP. `start(x, y, z)` guesses a basis from a point (the problem's own
    units and signs, as Result.x, .y, .z); `run(tol, deadline)` pivots until the basis is
    optimal and its point passes kkt_check at tol (a CrossoverOutcome), or until the deadline
    (None; a later run() goes on from where this one stopped), or until it fails (None, and
    `failed` is set; start() again from a new point)."""

    def __init__(self, problem, max_rows: int = 12000, max_nnz: int = 500_000):
        self.problem = problem
        A = sp.csr_matrix(problem.A, dtype=np.float64)
        m, n = A.shape
        self.qp = problem.Q is not None
        # QPs: superbasic variables join one at a time, so wide QPs (portfolios with thousands
        # of assets off their bounds) are left to PDHG and polishing
        self.applicable = (0 < m <= max_rows and (not self.qp or n <= max_rows)
                           and A.nnz <= max_nnz)
        self.m, self.n = m, n
        self.A = A
        self.s = -1.0 if problem.sense == "max" else 1.0
        self.basic = None
        self.failed = False
        # the direction (original x units) along which the last attempt found the objective
        # falling without limit, or None: a primal ray candidate for the solver to check
        self.ray = None
        # the phase-1 row multipliers (original row units, either sign) when phase 1 ended with
        # bound violations left, or None: a Farkas ray candidate for the solver to check
        self.farkas = None
        self._polisher = None        # QPs: solves the final face's KKT system (_face_answer)
        self.pivots = 0
        self.seconds = 0.0
        self._built = False

    @property
    def built(self) -> bool:
        return self._built

    @property
    def build_estimate(self) -> float:
        """Seconds the first start() spends building the scaled LP (BUILD_SECONDS_PER_NNZ a
        nonzero of A)."""
        return 0.0 if self._built else BUILD_SECONDS_PER_NNZ * self.A.nnz

    def _build(self):
        """The scaled LP and its [A -I] matrix, made at the first start(): a solve that never
        needs the crossover does not pay for them (2.6 s on a 3,000 x 2M transport LP)."""
        if self._built:
            return
        self._built = True
        problem, A, m, n = self.problem, self.A, self.m, self.n
        R, S = _geometric_scaling(A)
        self.R, self.S = R, S
        self.kern = SimplexKernels()
        As = (sp.diags(R) @ A @ sp.diags(S)).tocsc()
        self.As = As
        self.M = sp.hstack([As, -sp.identity(m, format="csc")], format="csc")
        self.MT = self.M.T.tocsr()
        self.lo = np.concatenate([problem.col_lower / S, problem.row_lower * R])
        self.hi = np.concatenate([problem.col_upper / S, problem.row_upper * R])
        self.cost = np.concatenate([self.s * np.asarray(problem.c, dtype=np.float64) * S,
                                    np.zeros(m)])
        lo, hi = self.lo, self.hi
        rb = np.concatenate([lo[n:][np.isfinite(lo[n:])], hi[n:][np.isfinite(hi[n:])]])
        self.ptol0 = 1e-9 * max(1.0, float(np.max(np.abs(rb), initial=0.0)))  # primal tolerance
        self.dtol0 = 1e-9 * max(1.0, float(np.max(np.abs(self.cost))))          # dual tolerance
        if self.qp:
            self.Q = problem.Q
            self.hnorm = self._hessian_norm()

    def _column(self, j):
        """Column j of M, dense."""
        M = self.M
        col = np.zeros(self.m)
        sl = slice(M.indptr[j], M.indptr[j + 1])
        col[M.indices[sl]] = M.data[sl]
        return col

    def _gradient(self):
        """The scaled objective's gradient at w: the costs, plus Hx for a QP."""
        g = self.cost.copy()
        if self.qp:
            g[:self.n] += self._hmul(self.w[:self.n])
        return g

    def _hmul(self, v):
        """The scaled Hessian (minimisation form) times v, on the columns."""
        return self.s * self.S * (self.Q @ (self.S * v))

    def _hmul_many(self, X):
        """_hmul on each column of X (n x k)."""
        SX = self.S[:, None] * X
        Q = self.Q
        QX = Q.F @ (Q.F.T @ SX) + Q.d[:, None] * SX if isinstance(Q, FactorQ) else Q @ SX
        return self.s * self.S[:, None] * np.asarray(QX)

    def _hessian_norm(self):
        v = np.random.default_rng(1).normal(size=self.n)
        nrm = 0.0
        for _ in range(12):
            u = self._hmul(v / max(float(np.linalg.norm(v)), 1e-300))
            nrm = float(np.linalg.norm(u))
            v = u
        return max(nrm, 1e-12)

    @property
    def basis_kept(self) -> bool:
        """A basis from an earlier run() that a new run() goes on from."""
        return self.basic is not None and not self.failed

    # ------------------------------------------------------------------------------ the guess
    def start(self, x, y, z) -> bool:
        """Guess a basis from (x, y, z); False when no nonsingular basis comes out."""
        if not self.applicable:
            return False
        self._build()
        m, n = self.m, self.n
        N = n + m
        lo, hi = self.lo, self.hi
        xs = np.asarray(x, dtype=np.float64) / self.S
        w = np.concatenate([xs, self.As @ xs])
        ys = self.s * np.asarray(y, dtype=np.float64) * self.R   # minimisation sign, scaled
        d = self.cost - self.MT @ ys                                # (S z, y), scaled
        ws = 1.0 + float(np.max(np.abs(w)))
        ds = 1.0 + float(np.max(np.abs(d)))
        with np.errstate(invalid="ignore"):
            score, near_hi = _basic_score((w - lo) / ws, (hi - w) / ws, d / ds, lo == hi)
        score += 1e-12 * np.random.default_rng(0).random(N)   # ties: random, reproducible
        try:
            basic = _repair(self.M, np.argsort(-score, kind="stable")[:m], m, n,
                            REPAIR_PIVOT if self.qp else REPAIR_PIVOT_LP)
        except (ArithmeticError, ValueError, MemoryError, np.linalg.LinAlgError) as exc:
            logger.info(f"crossover: no start basis ({type(exc).__name__}: {exc})")
            basic = None
        self.failed = basic is None
        if basic is None:
            self.basic = None
            return False
        isbasic = np.zeros(N, dtype=bool)
        isbasic[basic] = True
        # nonbasic values: the nearer finite bound; free ones keep their value
        wn = np.where(near_hi, hi, np.where(np.isfinite(lo), lo, w))
        # QPs: the nonbasic variables that look off their bounds are superbasic, at their values
        # (LPs: see below)
        self.issuper = np.zeros(N, dtype=bool)
        if self.qp:
            self.issuper = ~isbasic & (lo < hi) & (score > 0.5)
        else:
            # LPs: the nonbasic variables that the iterate has strictly inside their bounds stay
            # there too, superbasic, rather than moving to a bound: the basic values then stay
            # near the iterate's and phase 1 has little to repair (d6cube: 29,000 -> 4,300
            # pivots). Pricing moves one whose reduced cost asks for it; one left with a zero
            # reduced cost is in the answer at its value (z = 0)
            gap = 10.0 * self.ptol0
            self.issuper = ~isbasic & (lo < hi) & (w - lo > gap) & (hi - w > gap)
        wn = np.where(self.issuper, np.clip(w, lo, hi), wn)
        self.w = np.where(isbasic, w, wn)
        self.basic, self.isbasic = basic, isbasic
        self.rg_steps = 0
        self.weights = np.ones(N)           # Devex reference weights
        self.phase = 0
        self.ptol, self.dtol = self.ptol0, self.dtol0
        self.tightened = 0
        self.fac = None
        self.refactor = REFACTOR if self.qp else REFACTOR_LP
        self.since = self.refactor
        self._dj = None              # phase 2 reduced costs, updated between factorisations
        self._p1 = None              # phase 1: what its next pass updates (_phase1_update)
        self._zh = None              # QPs: (key, S, Z_B, Z'HZ) kept between steps
        self._fbest, self._stall = math.inf, 0     # QPs: the best objective, steps since
        return True

    # ------------------------------------------------------------------------------ pivoting
    def run(self, tol, deadline=math.inf, max_pivots=1_000_000):
        if not self.basis_kept:
            return None
        t0 = time.perf_counter()
        self._deadline = deadline
        try:
            while True:
                status = self._pivots(deadline, max_pivots)
                if status != "optimal":
                    if status != "limit":
                        self.failed = True
                    logger.info(f"crossover: {status} after {self.pivots} pivots")
                    return None
                out = self._answer(tol)
                if out is not None or self.failed:
                    return out
        except (ArithmeticError, ValueError, RuntimeError, MemoryError,
                np.linalg.LinAlgError) as exc:    # numerical trouble: a failed attempt
            logger.info(f"crossover: stopped ({type(exc).__name__}: {exc})")
            self.failed = True
            return None
        finally:
            self.seconds += time.perf_counter() - t0

    def _factor(self):
        self.fac = _Basis(self.M[:, self.basic], self.kern, self.refactor)
        self.since = 0
        nb = ~self.isbasic
        self.w[self.basic] = self.fac.ftran(-(self.M[:, nb] @ self.w[nb]))

    def _original_direction(self, *parts):
        """The x part, in original units, of the direction over the n + m columns of [A -I]
        that has the values `vals` at the indices `idx` of each (idx, vals) part and 0
        elsewhere: an unbounded step's ray, for the solver to check."""
        dw = np.zeros(self.n + self.m)
        for idx, vals in parts:
            dw[idx] = vals
        return dw[:self.n] * self.S

    def _pivots(self, deadline, max_pivots):
        """Simplex pivots until optimal ("optimal"), the deadline ("limit") or a failure."""
        MT, lo, hi, cost, kern = self.MT, self.lo, self.hi, self.cost, self.kern
        m = self.m
        basic, isbasic, w = self.basic, self.isbasic, self.w
        fixed = lo == hi
        count = 0
        while count < max_pivots:
            if self.since >= self.refactor:
                try:
                    self._factor()
                except (RuntimeError, np.linalg.LinAlgError, ValueError) as exc:
                    logger.debug(f"crossover: factorisation failed ({exc})")
                    return "singular"
            if time.perf_counter() > deadline:
                return "limit"
            ptol, fac = self.ptol, self.fac
            wb = w[basic]
            lb, ub = lo[basic], hi[basic]
            below = wb < lb - ptol
            above = wb > ub + ptol
            last, self._p1 = self._p1, None
            fresh = True
            if self.qp and not (below.any() or above.any()):
                self.phase = 2              # QPs: reduced-gradient steps
                count += 1
                self.pivots += 1
                status = self._rg_step()
                if status is not None:
                    return status
                continue
            if below.any() or above.any():      # phase 1: the sum of the violations
                self.phase = 1
                self._dj = None
                cb = np.where(below, -1.0, np.where(above, 1.0, 0.0))
                upd = self._phase1_update(last, cb) if self.since > 0 else None
                if upd is None:
                    y1 = fac.btran(cb)
                    dj = -(MT @ y1)
                else:
                    y1, dj = upd
                    fresh = False
                tolj = 1e-9
            else:
                if self.phase != 2:
                    self.phase = 2
                    self.weights[:] = 1.0
                    self._dj = None
                if self._dj is None or self.since == 0:
                    self._dj = cost - MT @ fac.btran(cost[basic])
                else:
                    fresh = False           # updated from the pivot rows since the last one
                dj = self._dj
                tolj = self.dtol
            # entering candidates: d < 0 and able to increase, or d > 0 and able to decrease
            q, direction = kern.pricing(dj, self.weights, w, lo, hi, isbasic, fixed, tolj, ptol)
            push = False
            if q < 0:
                if not fresh:               # confirm with reduced costs computed afresh
                    self._dj = None
                    continue
                if self.phase == 2 and not self.qp:
                    q, direction = self._push_candidate()
                    push = q >= 0
                if self.phase == 2 and not push:
                    return "optimal"
            if q < 0:                       # phase 1 without a candidate
                slack = float(np.sum(np.maximum(lb - wb, 0.0) + np.maximum(wb - ub, 0.0)))
                if slack <= 1e3 * ptol and self.since > 0:
                    self.since = self.refactor      # w_B afresh from a new factorisation
                    continue
                if slack <= 1e3 * ptol and self.ptol < 1e3 * self.ptol0:
                    # stuck on what rounding leaves in values fixed by the equations: a looser
                    # primal tolerance (the answer's check on the original still decides)
                    self.ptol *= 10.0
                    continue
                self.farkas = y1 * self.R      # (phase 1 set y1 in this pass: it is fresh)
                return "infeasible"
            alpha = fac.ftran(self._column(q))
            # Harris's two-pass ratio test on w_B(theta) = w_B - theta direction alpha; an
            # infeasible basic variable blocks where it becomes feasible, and never in the
            # direction away from its bounds
            own = float(hi[q] - w[q] if direction > 0 else w[q] - lo[q])   # its own bound
            r1min, r, r0min, leave_val, theta = kern.ratio(alpha, direction, wb, lb, ub, below,
                                                           above, self.phase == 1, ptol, own)
            tmax = min(r1min, own)
            if push and not np.isfinite(tmax):
                self.issuper[q] = False     # a free one on a ray of the optimal face: it stays
                continue
            if not np.isfinite(tmax):
                if self.phase != 2:
                    return "stalled"
                # q moves by theta*direction, w_B by -theta direction alpha
                self.ray = self._original_direction(([q], direction), (basic, -direction * alpha))
                return "unbounded"
            count += 1
            self.pivots += 1
            if own <= tmax and (r < 0 or own <= r0min):
                # a bound flip: the entering variable reaches its other bound first
                w[basic] = wb - (own * direction) * alpha
                w[q] = hi[q] if direction > 0 else lo[q]
                self.issuper[q] = False
                if self.phase == 1:
                    self._p1 = (cb, y1, dj, None)
                continue
            if r < 0:
                return "stalled"
            theta = max(theta, 0.0)
            leave = int(basic[r])
            # Devex reference weights (and phase 2's reduced costs), from the pivot row
            rho = np.zeros(m)
            rho[r] = 1.0
            rho = fac.btran(rho)
            arow = MT @ rho
            if kern.devex(arow, q, leave, self._dj, float(alpha[r]), self.weights) > 1e12:
                self.weights[:] = 1.0
            if self.phase == 1:
                self._p1 = (cb, y1, dj, (r, leave, alpha, rho, arow))
            w[basic] = wb - (theta * direction) * alpha
            w[q] = w[q] + direction * theta
            w[leave] = leave_val
            basic[r] = q
            isbasic[q] = True
            self.issuper[q] = False
            isbasic[leave] = False
            fac.update(r, alpha)
            self.since += 1
        return "limit"

    def _push_candidate(self):
        """(q, direction): an LP's superbasic variable left at an optimal basis (its reduced
        cost is zero), to move toward its nearer bound, which the objective does not notice:
        it reaches the bound (a bound flip) or enters the basis, so the answer is a vertex.
        (-1, 0) when none is left."""
        left = np.flatnonzero(self.issuper & ~self.isbasic)
        if left.size == 0:
            return -1, 0.0
        q = int(left[0])
        w, lo, hi = self.w[q], self.lo[q], self.hi[q]
        return q, (1.0 if hi - w <= w - lo else -1.0)

    @staticmethod
    def _phase1_update(last, cb):
        """Phase 1's multipliers and reduced costs (y1, dj) for the costs cb, updated from the
        last pivot's (kept in `last`) without a solve, or None when they must be computed
        afresh. A bound flip keeps the basis: the old ones hold when cb is unchanged. A basis
        change at row r (B' = B E, E = I + (alpha - e_r) e_r') gives
        y' = B^-T (cb - e_r (alpha'cb - cb_r) / alpha_r): when cb differs from the old costs
        at row r alone (by delta), y' = y1 + (delta - (alpha'cb - cb_r) / alpha_r) rho_r, with
        rho_r = B^-T e_r and its row arow = M' rho_r, both from the pivot."""
        if last is None:
            return None
        cb0, y1, dj, piv = last
        diff = np.flatnonzero(cb != cb0)
        if piv is None:
            return (y1, dj) if diff.size == 0 else None
        r, leave, alpha, rho, arow = piv
        if diff.size > 1 or (diff.size == 1 and diff[0] != r):
            return None
        coef = (cb[r] - cb0[r]) - (float(alpha @ cb) - cb[r]) / alpha[r]
        dj[leave] = -cb0[r]             # the pricing zeroed it while the variable was basic
        return y1 + coef * rho, dj - coef * arow

    def _cg_direction(self, sup, dS, MS):
        """(p, Z_B p): conjugate gradients on Z'HZ p = -dS, stopped at zero curvature, for
        many superbasic variables."""
        n, m, fac, basic = self.n, self.m, self.fac, self.basic

        def follow(v):                      # the basic part of Z v
            return -fac.ftran(MS @ v)

        def reduced_hessian(v):
            t = np.zeros(n + m)
            t[sup] = v
            t[basic] = follow(v)
            u = np.zeros(n + m)
            u[:n] = self._hmul(t[:n])
            return u[sup] - MS.T @ fac.btran(u[basic])

        # conjugate gradients on Z'HZ p = -dS, stopped at zero curvature
        p = np.zeros(sup.size)
        r = -dS
        dv = r.copy()
        rr = float(r @ r)
        bnorm = math.sqrt(rr)
        for it in range(min(2 * sup.size + 10, 500)):
            hd = reduced_hessian(dv)
            kap = float(dv @ hd)
            if kap <= 1e-13 * self.hnorm * float(dv @ dv):
                # no curvature along dv, and the slope along it from the current point is
                # -r'r < 0: go that way until a bound blocks, unless what is left of the
                # reduced gradient is negligible
                if it == 0 or rr > 1e-12 * bnorm * bnorm:
                    p = dv
                break
            a = rr / kap
            p += a * dv
            r -= a * hd
            rr_new = float(r @ r)
            if math.sqrt(rr_new) <= 1e-10 * bnorm:
                break
            dv = r + (rr_new / rr) * dv
            rr = rr_new
        return p, follow(p)

    def _dense_direction(self, sup, dS):
        """(p, Z_B p) from the reduced Hessian formed whole, for few superbasic variables (see
        _reduced_hessian), by its eigendecomposition. Where dS has a part in the null space
        (zero curvature) above 1e-6 of its size, p is minus that part, a ray to the nearest bound;
        otherwise p is the Newton step (a smaller part is rounding in the eigenvectors: as a ray
        it gave qscfxm3 no descent, and the crossover stalled)."""
        ZB, Hr = self._reduced_hessian(sup)
        lam, U = np.linalg.eigh(Hr)
        big = max(float(lam.max(initial=0.0)), 1e-300)
        pos = lam > 1e-11 * max(big, self.hnorm)
        coef = U.T @ dS
        null = U[:, ~pos] @ coef[~pos]
        if float(np.linalg.norm(null)) > 1e-6 * float(np.linalg.norm(dS)):
            p = -null
        else:
            p = -(U[:, pos] @ (coef[pos] / lam[pos]))
        return p, ZB @ p

    def _reduced_hessian(self, sup):
        """(Z_B, Z'HZ) for the superbasic set sup, with Z = [-M_B^-1 M_S; I] and Z_B its basic
        part (m x |S|). They are kept from step to step while the factorisation lasts: a
        superbasic variable that leaves drops its column, one that joins adds a column (one
        solve, one Hessian product), and a basis exchange is a rank-one change (_exchange).
        A new factorisation, or a larger change of S, forms them again (one solve with |S|
        right-hand sides)."""
        key = (id(self.fac), self.fac.etas)
        kept = self._zh
        if kept is not None and kept[0] == key:
            _, csup, ZB, Hr = kept
            keep = np.isin(csup, sup)
            new = np.setdiff1d(sup, csup)
            if new.size <= 4:
                csup, ZB, Hr = csup[keep], ZB[:, keep], Hr[np.ix_(keep, keep)]
                for q in new:
                    csup, ZB, Hr = self._join(csup, ZB, Hr, int(q))
                order = np.argsort(csup)
                ZB, Hr = ZB[:, order], Hr[np.ix_(order, order)]
                self._zh = (key, csup[order], ZB, Hr)
                return ZB, Hr
        n, basic = self.n, self.basic
        k = sup.size
        ZB = -self.fac.ftran_many(self.M[:, sup].toarray())   # m x k: the basic part of Z
        T = np.zeros((n, k))                                # the column part of Z
        colsup = sup < n
        T[sup[colsup], np.flatnonzero(colsup)] = 1.0
        colb = basic < n
        T[basic[colb]] = ZB[colb]
        Hr = T.T @ self._hmul_many(T)
        Hr = 0.5 * (Hr + Hr.T)
        self._zh = (key, sup.copy(), ZB, Hr)
        return ZB, Hr

    def _join(self, csup, ZB, Hr, q):
        """csup, Z_B and Z'HZ with the column of q added (last)."""
        n, basic = self.n, self.basic
        zq = -self.fac.ftran(self._column(q))
        colb = basic < n
        t = np.zeros(n)
        t[basic[colb]] = zq[colb]
        if q < n:
            t[q] = 1.0
        h = self._hmul(t)
        cross = ZB[colb].T @ h[basic[colb]]
        struct = csup < n
        cross[struct] += h[csup[struct]]
        Hn = np.empty((Hr.shape[0] + 1,) * 2)
        Hn[:-1, :-1] = Hr
        Hn[:-1, -1] = Hn[-1, :-1] = cross
        Hn[-1, -1] = float(t @ h)
        return np.append(csup, q), np.column_stack([ZB, zq]), Hn

    def _exchange(self, sup, k, jq):
        """Keep Z_B and Z'HZ through the exchange of basic position k for the superbasic
        variable sup[jq] (called after the factorisation's eta update). With u = Z e_jq and
        v = Z_B[k] / Z_B[k, jq], the new Z is Z + u v' on the other columns, so
        Z'HZ gains v c' + c v' + c_jq v v', where c is the column jq of the old Z'HZ."""
        kept = self._zh
        self._zh = None
        if (kept is None or kept[0] != (id(self.fac), self.fac.etas - 1)
                or not np.array_equal(kept[1], sup)):
            return
        _, csup, ZB, Hr = kept
        rest = np.arange(csup.size) != jq
        v = -ZB[k, rest] / ZB[k, jq]
        zq = ZB[:, jq].copy()
        zq[k] += 1.0
        ZBn = ZB[:, rest] + np.outer(zq, v)       # row k comes out as v
        c = Hr[rest, jq]
        Hn = Hr[np.ix_(rest, rest)] + np.outer(v, c) + np.outer(c, v) + Hr[jq, jq] * np.outer(v, v)
        self._zh = ((id(self.fac), self.fac.etas), csup[rest], ZBn, Hn)

    def _rg_direction(self, sup, dS, MS):
        """(p, Z_B p, slope, the whole direction t, the exact step along it (inf without
        curvature)) of the reduced-gradient step."""
        n, m, fac = self.n, self.m, self.fac
        if sup.size <= DENSE_SUPERBASICS:
            p, tb = self._dense_direction(sup, dS)
        else:
            p, tb = self._cg_direction(sup, dS, MS)
        slope = float(dS @ p)
        if not slope < 0.0:
            p = -dS
            slope = -float(dS @ dS)
            tb = -fac.ftran(MS @ p)
        t = np.zeros(n + m)
        t[sup] = p
        t[self.basic] = tb
        kap = float(t[:n] @ self._hmul(t[:n]))
        a_star = -slope / kap if kap > 1e-13 * self.hnorm * float(t @ t) else math.inf
        return p, tb, slope, t, a_star

    def _rg_step(self):
        """One reduced-gradient step of a primal-feasible QP basis (Murtagh and Saunders's
        superbasic variables): None to go on, or "optimal", "unbounded", "stalled".

        The superbasic variables S move freely, the basic ones follow (M w = 0), and the
        nonbasic ones stay at their bounds. The direction on S is the Newton step of the reduced
        Hessian Z'HZ (Z = [-M_B^-1 M_S; I]), or a direction of zero curvature where the reduced
        gradient has a part along one (_dense_direction, _cg_direction); the step is the exact
        minimiser along it unless a bound blocks first. A blocking superbasic variable becomes
        nonbasic; a blocking basic one leaves the basis for the superbasic variable with the
        largest entry in its row of M_B^-1 M_S. When the reduced gradient on S vanishes, the
        nonbasic variable whose reduced cost is most wrong joins S; when none is, the point is
        optimal."""
        n, m = self.n, self.m
        M, MT, fac = self.M, self.MT, self.fac
        basic, w, lo, hi = self.basic, self.w, self.lo, self.hi
        ptol, dtol = self.ptol, self.dtol
        self.rg_steps += 1
        if self.rg_steps % REFACTOR == 0:
            self.since = self.refactor      # refresh x_B from the nonbasic values now and then
        g = self._gradient()
        # no descent for STALL_STEPS steps: the reduced gradient left is rounding noise (an
        # ill-conditioned basis: liswet's second differences), so the point goes to the check
        f = 0.5 * float(self.cost[:n] @ w[:n] + g[:n] @ w[:n])
        if f < self._fbest - 1e-13 * (1.0 + abs(f)):
            self._fbest, self._stall = f, 0
        else:
            self._stall += 1
            if self._stall >= STALL_STEPS:
                self._stall = 0
                logger.debug(f"crossover: no descent in {STALL_STEPS} steps")
                return "optimal"
        # the dual tolerance follows the size of the gradient (Qx included)
        dtol = max(dtol, dtol / self.dtol0 * 1e-12 * float(np.max(np.abs(g), initial=0.0)))
        d = g - MT @ fac.btran(g[basic])
        d[basic] = 0.0
        sup = np.flatnonzero(self.issuper)
        dS = d[sup]
        done = dS.size == 0 or float(np.max(np.abs(dS))) <= dtol
        if not done:
            MS = M[:, sup]
            p, tb, slope, t, a_star = self._rg_direction(sup, dS, MS)
            # a Newton step that moves nothing: dS is rounding noise (an ill-conditioned basis
            # makes M_B^-1 M_S large, and its error with it), so S is done as well
            done = a_star * max(float(np.max(np.abs(t))), 1e-300) <= 1e-3 * ptol
        if done:
            movable = ~self.isbasic & ~self.issuper & (lo < hi)
            at_lo = np.isfinite(lo) & (w <= lo + ptol)
            at_hi = np.isfinite(hi) & (w >= hi - ptol)
            cand = movable & ((~at_hi & (d < -dtol)) | (~at_lo & (d > dtol)))
            if not cand.any():
                return "optimal"
            q = int(np.argmax(np.where(cand, np.abs(d), -1.0)))
            self.issuper[q] = True
            sup = np.flatnonzero(self.issuper)
            # what is left on S is below the dual tolerance or noise: q's own reduced cost
            # drives the step (with the noise in, the step can push q back to its bound, and
            # q joins and leaves in turn)
            dS = np.where(sup == q, d[sup], 0.0)
            MS = M[:, sup]
            p, tb, slope, t, a_star = self._rg_direction(sup, dS, MS)
        # ratio test (Harris's two passes) over the basic and superbasic variables
        idx = np.concatenate([basic, sup])
        tv = np.concatenate([tb, p])
        wv, li, ui = w[idx], lo[idx], hi[idx]
        piv = 1e-11 * float(np.max(np.abs(tv)))
        dec, inc = tv < -piv, tv > piv
        with np.errstate(invalid="ignore", divide="ignore"):
            r1 = np.where(dec, (wv - li + ptol) / -tv, np.where(inc, (ui - wv + ptol) / tv, np.inf))
            r0 = np.where(dec, (wv - li) / -tv, np.where(inc, (ui - wv) / tv, np.inf))
        r1[np.isnan(r1)] = np.inf
        r0[np.isnan(r0)] = np.inf
        if math.isfinite(a_star) and a_star <= float(r0.min(initial=np.inf)):
            w[sup] += a_star * p
            w[basic] += a_star * tb
            return None
        tmax = min(float(r1.min(initial=np.inf)), a_star)
        if not np.isfinite(tmax):
            # a ray without curvature or bounds: unbounded, if the descent along it is real
            if -slope > dtol * float(np.linalg.norm(t)):
                self.ray = self._original_direction((sup, p), (basic, tb))
                return "unbounded"
            logger.debug(f"crossover: stalled on a ray without curvature, bounds or descent "
                         f"(slope {slope:.1e}, |S| {sup.size})")
            return "stalled"
        elig = np.flatnonzero(r0 <= tmax)
        k = int(elig[np.argmax(np.abs(tv[elig]))])
        alpha = max(float(r0[k]), 0.0)
        w[sup] += alpha * p
        w[basic] += alpha * tb
        j_out = int(idx[k])
        w[j_out] = li[k] if dec[k] else ui[k]
        if k >= m:                          # a superbasic variable reaches a bound
            self.issuper[j_out] = False
            return None
        row = MS.T @ fac.btran(np.eye(1, m, k).ravel())   # row k of M_B^-1 M_S
        jpos = int(np.argmax(np.abs(row)))
        if not abs(row[jpos]) > 1e-9 * max(1.0, float(np.max(np.abs(row)))):
            logger.debug(f"crossover: stalled: no superbasic variable can replace basic "
                         f"{j_out} (largest entry {abs(row[jpos]):.1e}, |S| {sup.size})")
            return "stalled"
        q = int(sup[jpos])
        col = self._column(q)
        basic[k] = q
        self.isbasic[q] = True
        self.issuper[q] = False
        self.isbasic[j_out] = False
        fac.update(k, fac.ftran(col))
        self._exchange(sup, k, jpos)
        self.since += 1
        return None

    def _face_answer(self, tol, xo, yo):
        """A QP's answer from the KKT system of the basis's face (the nonbasic variables at
        their bounds, the others free), solved by the active-set polisher, its x or the basis's
        own xo with multipliers refitted to xo (from the face's, or from the basis's own yo,
        minimisation sign): checked like the basis's own point, or None. Where M_B is
        ill-conditioned (liswet: second differences), the basis's multipliers carry
        reduced-gradient errors far above the KKT system's own."""
        if self._polisher is None:
            self._polisher = ActiveSetPolisher(self.problem)
        n, lo, hi, w, ptol = self.n, self.lo, self.hi, self.w, self.ptol
        free = self.isbasic | self.issuper | ~(np.isfinite(lo) | np.isfinite(hi))
        state = np.where(lo == hi, FIXED,
                         np.where(np.isfinite(hi) & (np.abs(w - hi) <= np.abs(w - lo)), UPPER, LOWER))
        state = np.where(free, FREE, state).astype(np.int8)
        out = self._polisher.solve_face(state[:n], state[n:], tol, x_alt=xo, y_alt=yo,
                                        deadline=self._deadline)
        if out is None:
            return None
        logger.info("crossover: the basis's face verified through its KKT system")
        return CrossoverOutcome(out.x, out.y, out.z, out.report, self.pivots, self.seconds)

    # ------------------------------------------------------------------------------ the answer
    def _answer(self, tol):
        """The optimal basis's point, checked: a CrossoverOutcome, or None after tightening
        the simplex tolerances (the next _pivots goes on), or None with `failed` set."""
        problem, A, s, n = self.problem, self.A, self.s, self.n
        try:
            self._factor()
        except (RuntimeError, np.linalg.LinAlgError, ValueError):
            self.failed = True
            return None
        basic, isbasic, w, M = self.basic, self.isbasic, self.w, self.M
        rhs = -(M[:, ~isbasic] @ w[~isbasic])
        w[basic] += self.fac.ftran(rhs - M[:, basic] @ w[basic])     # one refinement step
        yv = self.fac.btran(self._gradient()[basic])
        xo = w[:n] * self.S
        yo = yv * self.R                      # minimisation sign, original rows
        grad = s * np.asarray(problem.c, dtype=np.float64)
        if self.qp:
            grad = grad + s * (problem.Q @ xo)
        zo = s * (grad - A.T @ yo)
        zo[isbasic[:n] | self.issuper[:n]] = 0.0
        rep = kkt_check(problem, xo, s * yo, zo, tol)
        logger.info(f"crossover: optimal basis after {self.pivots} pivots; primal "
                    f"{rep.primal_residual:.1e}, dual {rep.dual_residual:.1e}, gap {rep.gap:.1e}")
        if rep.ok:
            return CrossoverOutcome(xo, s * yo, zo, rep, self.pivots, self.seconds)
        if self.qp:
            face = self._face_answer(tol, xo, yo)
            if face is not None:
                return face
        # within the simplex tolerances but not the check's: tighten them and pivot on
        self.tightened += 1
        if self.tightened > 2:
            self.failed = True
            return None
        self.ptol *= 0.01
        self.dtol *= 0.01
        return None


def crossover(problem, x, y, z, tol, deadline=math.inf):
    """One crossover from (x, y, z): a CrossoverOutcome that passed kkt_check at tol, or None."""
    xo = Crossover(problem)
    if not xo.start(x, y, z):
        return None
    return xo.run(tol, deadline)


def _repair(M, basic, m, n, pivot=REPAIR_PIVOT):
    """basic with its dependent columns replaced by slacks, so that M_B is nonsingular; None when
    that fails. The slacks in the basis cover their rows, so only the structural columns on the
    other rows (a square matrix, no larger than the number of columns) need an LU with partial
    pivoting; it marks the columns without a usable pivot (below `pivot` times the column's
    largest entry), which leave, and the slacks of the rows that got no pivot take their places.
    Up to DENSE_REPAIR such columns the LU is LAPACK's,
    beyond that SuperLU's (_sparse_pivots), and LAPACK's again up to 4x as many where SuperLU meets
    an exactly singular matrix. First, though, the columns that a maximum matching of C's
    pattern leaves unmatched swap with unmatched rows' slacks (SuperLU's COLAMD can crash on a
    structurally singular matrix)."""
    basic = np.array(basic)
    Mc = M.tocsc()
    for _ in range(12):
        struct = np.flatnonzero(basic < n)
        covered = np.zeros(m, dtype=bool)
        covered[basic[basic >= n] - n] = True
        rows = np.flatnonzero(~covered)
        if rows.size != struct.size:            # a slack twice: not a basis
            return None
        if struct.size == 0:
            return basic
        C = Mc[:, basic[struct]].tocsr()[rows, :]
        C.eliminate_zeros()
        bad, badrow = _unmatched(C)             # structurally singular: no LU needed
        if bad.size:
            pass
        elif rows.size <= DENSE_REPAIR:
            bad, badrow = _dense_pivots(C.toarray(), pivot)
        else:
            try:
                bad, badrow = _sparse_pivots(C.tocsc(), pivot)
            except np.linalg.LinAlgError:
                if rows.size > 4 * DENSE_REPAIR:
                    raise
                bad, badrow = _dense_pivots(C.toarray(), pivot)
        if bad.size == 0:
            return basic
        basic[struct[bad]] = n + rows[badrow]
    return None


def _unmatched(C):
    """(columns, rows) of C (square, sparse) that a maximum matching of its pattern leaves
    unmatched, paired in order; empty when C is structurally nonsingular."""
    from .backend import max_matching
    Cc = C.tocsc()
    row_of, col_of = max_matching(Cc.indptr, Cc.indices, C.shape[0])
    cols = np.flatnonzero(row_of < 0)
    return cols, np.flatnonzero(col_of < 0)[:cols.size]


def _dense_pivots(C, pivot=REPAIR_PIVOT):
    """(columns, rows) of C (square) left without a usable pivot by LU with partial pivoting:
    pivot position i pairs column i with the row that the row swaps brought there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lu, piv = sla.lu_factor(C, check_finite=False)
    k = C.shape[0]
    perm = np.arange(k)
    for i in range(k):
        p = piv[i]
        perm[i], perm[p] = perm[p], perm[i]
    diag = np.abs(np.diag(lu))
    colmax = np.abs(C).max(axis=0)
    bad = np.flatnonzero(~(diag > pivot * np.maximum(colmax, 1e-300)))
    return bad, perm[bad]


def _sparse_pivots(C, pivot=REPAIR_PIVOT):
    """_dense_pivots through SuperLU (COLAMD order, partial pivoting). SuperLU stops on an
    exactly singular matrix; then a random 1e-13 of each column's size (an empty column: of the
    largest) is added along a maximum matching of C's pattern, which makes C almost surely
    numerically nonsingular (the determinant, as a polynomial in those entries, has their product
    as a term) and is far below the `pivot` (1e-9 or more) at which a pivot is unusable. Where the
    elimination still meets an exact zero, a larger one (1e-11) is tried. The matched entries are
    entries of C, so the pattern and the fill stay C's; a plain diagonal paired rows and columns
    arbitrarily and took 28 s and 33 million entries on a 9,586-column basis of cont-100, where
    C alone takes 0.04 s. Columns the matching leaves out get the diagonal."""
    from .backend import max_matching
    k = C.shape[0]
    colmax = abs(C).max(axis=0).toarray().ravel()
    colmax = np.where(colmax > 0, colmax, max(float(colmax.max(initial=0.0)), 1.0))
    Cc = C.tocsc()
    rng = np.random.default_rng(0)
    jrow = None
    for size in (0.0, 1e-13, 1e-11):
        jitter = size * colmax * (1.0 + rng.random(k))
        try:
            if size:
                if jrow is None:            # the matching, only once C proved singular
                    row_of, _ = max_matching(Cc.indptr, Cc.indices, k)
                    jrow = np.where(row_of >= 0, row_of, np.arange(k))
                A = (Cc + sp.csc_matrix((jitter, (jrow, np.arange(k))), shape=C.shape)).tocsc()
            else:
                A = Cc
            lu = spla.splu(A, permc_spec="COLAMD", options=dict(DiagPivotThresh=1.0, Equil=False))
            break
        except RuntimeError as exc:              # exactly singular
            err = exc
    else:
        raise np.linalg.LinAlgError(str(err))
    # Pr C Pc = L U: column j sits at position perm_c[j], row i at perm_r[i]
    col_at = np.empty(k, dtype=np.int64)
    col_at[lu.perm_c] = np.arange(k)
    row_at = np.empty(k, dtype=np.int64)
    row_at[lu.perm_r] = np.arange(k)
    diag = np.abs(lu.U.diagonal())
    bad_pos = np.flatnonzero(~(diag > pivot * colmax[col_at]))
    return col_at[bad_pos], row_at[bad_pos]
