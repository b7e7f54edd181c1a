"""Active-set polishing: from an approximate primal-dual point, guess which bounds are active,
solve the equality-constrained KKT system of that guess with a sparse direct factorisation, and
correct the guess until it is consistent (a primal-dual active-set iteration).

PDHG identifies the active set long before it reaches 1e-8, and on hard LPs (pilot, greenbea)
and ill-conditioned QPs (cvxqp, liswet) it can sit at 1e-3..1e-5 for a long time. Once the
guess is right, one linear solve gives the vertex or face to machine precision. The idea is
OSQP's "solution polishing" (Stellato et al. 2020, section 4.2), extended with the correction
rounds of primal-dual active-set methods (Hintermüller, Ito and Kunisch 2003). The answer is
only ever used after `verify.kkt_check` passes it, so a wrong guess costs time, never
correctness.

The problem, in minimisation form (s = -1 for "max"):
    min c'x + 1/2 x'Qx   s.t.  rl <= A x <= ru,  lo <= x <= hi
with duals y (y_i > 0: row at rl, < 0: at ru) and reduced costs z = c + Qx - A'y.

A guess fixes each column at a bound (set B) or leaves it free (set F) and marks each row
inactive or active at one of its bounds (set R). The KKT system of the guess is

    [ Q_FF   A_RF' ] [ x_F ]   [ -(c_F + Q_FB x_B) ]
    [ A_RF    0    ] [ -y_R] = [  b_R - A_RB x_B    ]

It is equilibrated (symmetric Ruiz), regularised by +-rho on the diagonal so that it is
quasi-definite and always factorises, and then solved against the unregularised matrix by
iterative refinement; rank-deficient but consistent systems (degenerate vertices) converge to
one of their solutions. Where refinement stalls (nearly singular K), a smaller rho is tried.

For an LP, the "project" rule replaces the square solve by two least-change projections from
the iterate: x onto the guessed face, y onto the set where the free columns' reduced costs
vanish. It keeps working on optimal faces that are not vertices (lotfi at 1e-8).

Full primal-dual swaps can cycle (liswet: nearly every row active, multipliers from 0.1 to
1e6). Then the corrections grow: violated bounds are added while there are any, and only the
worst wrong-signed multipliers are released otherwise. A later attempt resumes from the guess
where the previous one stopped, so the rounds of several attempts add up.

Runs on the host (NumPy, SciPy's SuperLU), on problems up to a size limit.

Knows: Problem, verify.kkt_check. Must not know: devices, scaling, the PDHG engine.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .verify import kkt_check

__all__ = ["ActiveSetPolisher", "PolishOutcome", "FREE", "LOWER", "UPPER", "FIXED"]

logger = logging.getLogger("gpulp")

FREE, LOWER, UPPER, FIXED = 0, 1, 2, 3          # column states; rows use FREE (inactive) too


@dataclass
class PolishOutcome:
    x: np.ndarray
    y: np.ndarray                  # the problem's own sign convention, as Result.y
    z: np.ndarray
    report: object                 # verify.KKTReport on the problem passed in
    rounds: int
    seconds: float


class _DenseLU:
    """splu's interface over LAPACK for small systems (SuperLU's BLAS calls misbehave on
    small, nearly dense supernodes)."""

    def __init__(self, K):
        import warnings

        import scipy.linalg as sla
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.f = sla.lu_factor(K.toarray(), check_finite=True)
        if not np.all(np.isfinite(self.f[0])) or np.any(np.diag(self.f[0]) == 0):
            raise RuntimeError("singular")

    def solve(self, b):
        import scipy.linalg as sla
        return sla.lu_solve(self.f, b, check_finite=False)


def _factor(K):
    """LU of K (quasi-definite): LAPACK for small or dense-ish matrices (SuperLU's BLAS calls
    fail with 'illegal value' on dense supernodes), SuperLU for sparse ones.

    A quasi-definite matrix has an LDL' factorisation in any symmetric order, so SuperLU is
    first run in its symmetric mode: a minimum-degree order of K + K' and the diagonal pivots
    taken as they come. That keeps the fill of a saddle-point system low (cvxqp1l's 11,300
    rows: 3.6 million entries in 0.6 s, against 15 million in 10 s with COLAMD and partial
    pivoting, and 36 million in 40 s with any pivoting threshold above zero). Diagonal pivots
    are stable only when the order happens to take them well, so the factor is checked by its
    backward error on one solve, and partial pivoting is the fallback."""
    n = K.shape[0]
    dense = K.nnz > 0.02 * n * n
    if n <= 300 or (dense and n <= 3000):
        return _DenseLU(K)          # a singular regularised matrix is impossible, but be safe
    if dense:
        raise RuntimeError("too large and too dense for a direct factorisation here")
    K = K.tocsc()
    try:
        lu = spla.splu(K, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                       options=dict(SymmetricMode=True))
        if _stable(K, lu):
            return lu
        logger.debug("active-set polish: the symmetric factorisation is unstable; pivoting")
    except RuntimeError:        # an exactly zero pivot
        pass
    return spla.splu(K, permc_spec="COLAMD")


def _stable(K, lu) -> bool:
    """Whether the factor `lu` of K solves K v = b, for a b of mixed signs, with a small
    normwise backward error: ||K v - b|| <= 1e-10 (||K|| ||v|| + ||b||) in the max norm. An
    unstable order shows as growth, by the size of the pivots' ratios; a nearly singular K
    does not (cvxqp1l: ||v|| = 5e8 and a backward error of 8e-14, as with pivoting)."""
    b = np.cos(np.arange(K.shape[0]) * 1.7) + 0.5
    with np.errstate(all="ignore"):
        v = lu.solve(b)
        if not np.all(np.isfinite(v)):
            return False
        r = float(np.max(np.abs(K @ v - b)))
        k_inf = float(np.max(abs(K).sum(axis=1)))
        return r <= 1e-10 * (k_inf * float(np.max(np.abs(v))) + float(np.max(np.abs(b))))


def _solve_kkt(K, rhs, nf, nr):
    """Solve the (equilibrated) KKT system K v = rhs. Small or dense systems: LAPACK's LU of K
    itself with two steps of refinement. Otherwise, and where that fails (a singular guess) or
    leaves a large residual: the LU of K regularised by +-rho (quasi-definite, so it always
    factorises; SuperLU is never given a singular matrix, on which it can crash), iterative
    refinement against K, then GMRES on K preconditioned by that LU. None when nothing finite
    comes out."""
    scale = 1.0 + float(np.max(np.abs(rhs))) if rhs.size else 1.0
    best, best_res = None, math.inf

    def keep(v):
        nonlocal best, best_res
        if v is None or not np.all(np.isfinite(v)):
            return
        res = float(np.max(np.abs(rhs - K @ v))) if rhs.size else 0.0
        if res < best_res:
            best, best_res = v, res

    n = K.shape[0]
    if n <= 300 or (K.nnz > 0.02 * n * n and n <= 3000):
        try:
            lu = _DenseLU(K)
            v = lu.solve(rhs)
            for _ in range(2):
                if not np.all(np.isfinite(v)):
                    break
                v = v + lu.solve(rhs - K @ v)
            keep(v)
        except (RuntimeError, MemoryError, ValueError):
            pass
        if best_res <= 1e-11 * scale:
            return best
    # rho = 1e-9 keeps the factorisation safe; when the refinement against K stalls (K is
    # nearly singular there, as with the second-difference rows of liswet, whose smallest
    # singular values are far below sqrt(rho)), a smaller rho is tried
    lu = None
    for rho in (1e-9, 1e-13):
        reg = sp.diags(np.concatenate([np.full(nf, rho), np.full(nr, -rho)]))
        try:
            lu_rho = _factor((K + reg).tocsc())
        except (RuntimeError, MemoryError, ValueError) as exc:
            logger.debug(f"active-set polish: factorisation failed ({exc})")
            break
        lu = lu_rho
        v = lu.solve(rhs)
        last = math.inf
        for _ in range(10):
            if not np.all(np.isfinite(v)):
                break
            r = rhs - K @ v
            rn = float(np.max(np.abs(r)))
            if rn <= 1e-11 * scale or rn > 0.5 * last:
                break
            last = rn
            v = v + lu.solve(r)
        keep(v)
        if best_res <= 1e-11 * scale:
            return best
    if lu is None:
        return best
    M = spla.LinearOperator(K.shape, lu.solve)
    with np.errstate(all="ignore"):
        v, _ = spla.gmres(K, rhs, x0=best, M=M, rtol=1e-14, atol=0.0,
                          restart=min(40, n), maxiter=2)
    keep(v)
    return best


def _solve_equilibrated(K, rhs, nf, nr):
    """Solve the saddle-point system K v = rhs (blocks nf, nr) after symmetric Ruiz
    equilibration; None when nothing finite comes out."""
    d = np.ones(K.shape[0])
    Ka = abs(K).tocsr()
    for _ in range(8):
        Kd = sp.diags(d) @ Ka @ sp.diags(d)
        rmax = Kd.max(axis=1).toarray().ravel()
        rmax[rmax == 0] = 1.0
        d = d / np.sqrt(rmax)
    D = sp.diags(d)
    sol = _solve_kkt((D @ K @ D).tocsc(), d * rhs, nf, nr)
    if sol is None:
        return None
    sol = d * sol
    return sol if np.all(np.isfinite(sol)) else None


def _lopsided_projection(M, s, w):
    """d nearest 0 in the weights w (||d||_w^2 = sum w d^2) with M'd = s, through the normal
    equations of the smaller side of M (nr x nf): with more equations than unknowns (nr < nf)
    the least-squares solution of M'd = s, (M M' + eps W) d = M s; with fewer, d = W^-1 M l,
    (M' W^-1 M + eps I) l = s. eps (1e-13 of the largest diagonal entry) keeps rank-deficient
    systems solvable; None when nothing finite comes out."""
    nr, nf = M.shape
    if nr <= nf:
        N = (M @ M.T).tocsc()
        rhs = M @ s
        reg = w
    else:
        Mw = sp.diags(1.0 / w) @ M
        N = (M.T @ Mw).tocsc()
        rhs = s
        reg = np.ones(nf)
    scale = float(abs(N).max()) if N.nnz else 1.0
    N = N + sp.diags(1e-13 * scale * reg / reg.max())
    try:
        if N.shape[0] <= 3000:
            import scipy.linalg as sla
            v = sla.solve(N.toarray(), rhs, assume_a="sym", check_finite=True)
        else:
            v = spla.splu(N.tocsc()).solve(rhs)
    except (RuntimeError, ValueError, np.linalg.LinAlgError):
        return None
    d = v if nr <= nf else Mw @ v
    return d if np.all(np.isfinite(d)) else None


def _sides(at_lo, at_hi, d_lo, d_hi, fixed):
    """States (FREE / LOWER / UPPER / FIXED) from the flags of being at either bound; a variable
    flagged at both goes to the nearer one (distances d_lo, d_hi)."""
    st = np.zeros(at_lo.size, dtype=np.int8)
    both = at_lo & at_hi
    st[at_lo] = LOWER
    st[at_hi] = UPPER
    st[both] = np.where(d_lo[both] <= d_hi[both], LOWER, UPPER)
    st[fixed] = FIXED
    return st


def _basic_score(d_lo, d_hi, mult, fixed):
    """How basic a variable looks, slack / (slack + |multiplier|): 2 with no finite bound, -1
    when fixed; and whether its nearer bound is the upper one."""
    d_lo = np.where(np.isfinite(d_lo), d_lo, np.inf)
    d_hi = np.where(np.isfinite(d_hi), d_hi, np.inf)
    dist = np.maximum(np.minimum(d_lo, d_hi), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(np.isinf(dist), 2.0, dist / (dist + np.abs(mult) + 1e-300))
    score[fixed] = -1.0
    return score, d_hi < d_lo


def _violations(st, v, lo, hi, mult):
    """What a primal-dual active-set correction sees in the states `st` (values v, multipliers
    mult): (free variables below lo, free ones above hi, how wrong the sign of each bound
    variable's multiplier is: > 0 when wrong)."""
    free = st == FREE
    below = free & (v < lo - 1e-9 * (1.0 + np.abs(np.where(np.isfinite(lo), lo, 0.0))))
    above = free & (v > hi + 1e-9 * (1.0 + np.abs(np.where(np.isfinite(hi), hi, 0.0))))
    wrongness = np.where(st == LOWER, -mult, np.where(st == UPPER, mult, 0.0))
    return below, above, wrongness


def _apply(st, below, above, release):
    st[below] = LOWER
    st[above] = UPPER
    st[release] = FREE
    return int(below.sum() + above.sum() + release.sum())


class ActiveSetPolisher:
    """Polishes approximate solutions of one problem. `attempt(x, y, z)` takes and returns
    vectors in the problem's own units and sign convention (as Result.x, .y, .z)."""

    def __init__(self, problem, max_dim: int = 400_000, max_nnz: int = 4_000_000,
                 max_rounds: int = 12):
        self.problem = problem
        self.s = -1.0 if problem.sense == "max" else 1.0
        self.A = sp.csr_matrix(problem.A)
        self.c = self.s * np.asarray(problem.c, dtype=np.float64)
        self.rl, self.ru = problem.row_lower, problem.row_upper
        self.lo, self.hi = problem.col_lower, problem.col_upper
        m, n = self.A.shape
        Q = problem.Q
        if Q is not None and not sp.issparse(Q):        # a FactorQ: formed only when small
            Q = Q.tocsr() if n * n <= max_nnz else None
            if Q is None:
                max_dim = -1
        self.Q = None if Q is None else sp.csr_matrix(self.s * Q)
        qnnz = 0 if self.Q is None else self.Q.nnz
        self.applicable = (m + n) <= max_dim and 2 * self.A.nnz + qnnz <= max_nnz
        # A' only where it is used: a 10M-nonzero LP is turned down without its transpose
        self.AT = self.A.T.tocsr() if self.applicable else None
        self.max_rounds = max_rounds
        self.attempts = 0
        self.seconds = 0.0
        self.slowest_round = 0.0       # seconds of the slowest single solve so far
        # QPs: the last attempt ran out of time while its corrections were shrinking (fewer
        # changes in its last round than in the one before): more rounds are likely to finish
        self.progressing = False
        self._face = None       # the guess of the "face" rule (solve_face)
        self._resume = None     # (column states, row states, grow) where the last square-solve
        #                         corrections stopped (QPs resume from it)
        self.c_inf = float(np.max(np.abs(self.c))) if n else 0.0

    # ------------------------------------------------------------------------------ the guess
    def _initial_guess(self, x, y, z, rule):
        lo, hi, rl, ru = self.lo, self.hi, self.rl, self.ru
        ax = self.A @ x
        xs = 1.0 + float(np.max(np.abs(x))) if x.size else 1.0
        bs = 1.0 + float(np.max(np.abs(ax))) if ax.size else 1.0
        ys = 1.0 + float(np.max(np.abs(y))) if y.size else 1.0
        zs = 1.0 + float(np.max(np.abs(z))) if z.size else 1.0
        with np.errstate(invalid="ignore"):
            col_lo = (x - lo) / xs
            col_hi = (hi - x) / xs
            row_lo = (ax - rl) / bs
            row_hi = (ru - ax) / bs
        zn, yn = z / zs, y / ys
        if rule == "basis":
            return self._basis_guess(col_lo, col_hi, row_lo, row_hi, zn, yn)
        if rule in ("compare", "rows"):     # columns: the multiplier outweighs the slack
            at_lo_c, at_hi_c = np.isfinite(lo) & (zn > col_lo), np.isfinite(hi) & (-zn > col_hi)
            if rule == "compare":           # rows likewise
                at_lo_r, at_hi_r = np.isfinite(rl) & (yn > row_lo), np.isfinite(ru) & (-yn > row_hi)
            else:                           # every row active at its nearer finite side
                at_lo_r, at_hi_r = np.isfinite(rl), np.isfinite(ru)
        else:                       # "primal": the bound is (nearly) reached
            eps = 1e-6
            at_lo_c, at_hi_c = np.isfinite(lo) & (col_lo <= eps), np.isfinite(hi) & (col_hi <= eps)
            at_lo_r, at_hi_r = np.isfinite(rl) & (row_lo <= eps), np.isfinite(ru) & (row_hi <= eps)
        return (_sides(at_lo_c, at_hi_c, col_lo, col_hi, lo == hi),
                _sides(at_lo_r, at_hi_r, row_lo, row_hi, rl == ru))

    def _basis_guess(self, col_lo, col_hi, row_lo, row_hi, zn, yn):
        """An LP vertex guess: rank the columns and the row slacks by how far they are from
        being at a bound (slack / (slack + |multiplier|)) and keep the m most basic ones free,
        so that the KKT system is square."""
        m = row_lo.size
        bc, near_hi_c = _basic_score(col_lo, col_hi, zn, self.lo == self.hi)
        br, near_hi_r = _basic_score(row_lo, row_hi, yn, self.rl == self.ru)
        score = np.concatenate([bc, br])
        basic = np.zeros(score.size, dtype=bool)
        basic[np.argsort(-score, kind="stable")[:m]] = True
        n = bc.size
        cs = np.where(basic[:n], FREE, np.where(near_hi_c, UPPER, LOWER)).astype(np.int8)
        cs[self.lo == self.hi] = FIXED
        rs = np.where(basic[n:], FREE, np.where(near_hi_r, UPPER, LOWER)).astype(np.int8)
        rs[self.rl == self.ru] = FIXED
        return cs, rs

    # ------------------------------------------------------------------------------ one solve
    def _at_bounds(self, x, cs):
        """x (in place) with the columns that the states `cs` put at a bound moved there."""
        for state, bound in ((LOWER, self.lo), (FIXED, self.lo), (UPPER, self.hi)):
            x[cs == state] = bound[cs == state]
        return x

    def _face_matrix(self, cs, rs):
        """(K, F, R): the KKT matrix of the guess, its free columns and its active rows."""
        A, Q = self.A, self.Q
        F = np.flatnonzero(cs == FREE)
        R = np.flatnonzero(rs != FREE)
        nf, nr = F.size, R.size
        ARF = A[R][:, F] if nf else sp.csr_matrix((nr, 0))
        QFF = Q[F][:, F] if (Q is not None and nf) else sp.csr_matrix((nf, nf))
        K = sp.bmat([[QFF, ARF.T], [ARF, sp.csr_matrix((nr, nr))]], format="csc")
        return K, F, R

    def _solve_guess(self, cs, rs):
        """x, y_min (minimisation sign) for the guess, or None when the solve fails."""
        A, Q, c = self.A, self.Q, self.c
        m, n = A.shape
        x = self._at_bounds(np.zeros(n), cs)
        K, F, R = self._face_matrix(cs, rs)
        b = np.where(rs == UPPER, self.ru, self.rl)[R]
        xb = x.copy()                       # free entries are 0 here
        rhs_x = -(c[F] + (Q @ xb)[F]) if Q is not None else -c[F]
        rhs_y = b - (A @ xb)[R]
        nf, nr = F.size, R.size
        rhs = np.concatenate([rhs_x, rhs_y])
        if not np.all(np.isfinite(rhs)):
            return None
        if K.shape[0] == 0:
            return x, np.zeros(m)
        sol = _solve_equilibrated(K, rhs, nf, nr)
        if sol is None:
            return None
        x[F] = sol[:nf]
        y = np.zeros(m)
        y[R] = -sol[nf:]
        return x, y

    def _refit_multipliers(self, cs, rs, x, y):
        """y corrected for the primal point x on the face: the KKT system solved for the
        residual of the free columns' reduced costs, (u, -dy) with A_RF u = 0 and
        Q_FF u - A_RF' dy = -(c + Qx - A'y)_F, so that what is left of the residual is the
        (small) Q u. A small right-hand side keeps the error of a nearly singular K small."""
        K, F, R = self._face_matrix(cs, rs)
        if K.shape[0] == 0 or R.size == 0:
            return y
        g = self.c - self.AT @ y
        if self.Q is not None:
            g = g + self.Q @ x
        rhs = np.concatenate([-g[F], np.zeros(R.size)])
        sol = _solve_equilibrated(K, rhs, F.size, R.size)
        if sol is None:
            return y
        y = y.copy()
        y[R] -= sol[F.size:]
        return y

    def _project_guess(self, cs, rs, x0, y0):
        """x, y_min for the guess by two least-change projections (LP only): x is the point
        nearest x0 (relative changes) with the guessed bounds met as equalities, and y the
        point nearest y0 that is zero on the inactive rows and makes the reduced costs of the
        free columns zero. Unlike the square solve, this works on an optimal face that is not
        a vertex (dual degeneracy) and at a degenerate vertex (primal degeneracy): when the
        guess is right, both projections are consistent and the gap is zero by construction."""
        A, c = self.A, self.c
        m, n = A.shape
        x = self._at_bounds(np.array(x0, dtype=np.float64), cs)
        F = np.flatnonzero(cs == FREE)
        R = np.flatnonzero(rs != FREE)
        nf, nr = F.size, R.size
        ARF = A[R][:, F] if nf else sp.csr_matrix((nr, 0))
        if nr and nf:
            b = np.where(rs == UPPER, self.ru, self.rl)[R]
            r = b - (A @ x)[R]
            wx = (1.0 + np.abs(x[F])) ** -2
            K = sp.bmat([[sp.diags(wx), ARF.T], [ARF, None]], format="csc")
            sol = _solve_equilibrated(K, np.concatenate([np.zeros(nf), r]), nf, nr)
            if sol is None:
                return None
            x[F] += sol[:nf]
        y = self._project_dual(cs, rs, x, y0)
        return None if y is None else (x, y)

    def _project_dual(self, cs, rs, x, y0):
        """The row duals nearest y0 (relative changes) that are zero on the inactive rows and
        make the reduced costs of the free columns, (c + Qx - A'y)_F, zero."""
        A = self.A
        m = A.shape[0]
        F = np.flatnonzero(cs == FREE)
        R = np.flatnonzero(rs != FREE)
        nf, nr = F.size, R.size
        y = np.zeros(m)
        y[R] = np.asarray(y0, dtype=np.float64)[R]
        if nr and nf:
            g = self.c if self.Q is None else self.c + self.Q @ x
            ARF = A[R][:, F]
            s_ = g[F] - ARF.T @ y[R]
            wy = (1.0 + np.abs(y[R])) ** -2
            if self.Q is not None and 4 * min(nr, nf) <= max(nr, nf):
                # lopsided (huestis: 2 active rows, 10,000 free columns): the saddle-point system
                # fills in, the normal equations of the smaller side do not (LPs keep the
                # saddle-point solve, measured on Netlib)
                d = _lopsided_projection(ARF, s_, wy)
            else:
                K = sp.bmat([[sp.diags(wy), ARF], [ARF.T, None]], format="csc")
                sol = _solve_equilibrated(K, np.concatenate([np.zeros(nr), s_]), nr, nf)
                d = None if sol is None else sol[:nr]
            if d is None:
                return None
            y[R] += d
        return y

    # ------------------------------------------------------------------------------ the loop
    def attempt(self, x, y, z, tol, deadline=math.inf, rules=None):
        """A verified (at `tol`, on this problem) PolishOutcome, or None. rules: the initial
        guesses tried in turn. Default for an LP: "project" (the "compare" guess solved by
        least-change projections, with corrections), then "basis" and "compare" with square
        solves and few corrections, since full swaps on a wrong LP basis tend to cycle. For a
        QP: "compare", "primal" and "rows" (every row active), preceded by "resume" (the guess
        where the previous attempt stopped) from the second attempt on. After four rounds, or
        when a guess repeats, corrections switch to the growing mode (see _correct)."""
        if rules is None:
            rules = ("compare", "primal", "rows") if self.Q is not None else ("project", "basis", "compare")
        if not self.applicable:
            return None
        t0 = time.perf_counter()
        self.attempts += 1
        s = self.s
        x = np.asarray(x, dtype=np.float64)
        ym, zm = s * np.asarray(y, dtype=np.float64), s * np.asarray(z, dtype=np.float64)
        out = None
        rounds = 0
        seen = set()
        self.progressing = False
        timed_out = False
        if self.Q is not None and self._resume is not None and rules != ("face",):
            rules = ("resume",) + tuple(rules)
        for rule in rules:
            kind = "project" if rule == "project" else "square"    # how a guess is solved
            grow, prev = False, None
            rounds_before = rounds
            hist = []                       # changes made by each correction of this rule
            if rule == "resume":            # where the last attempt's corrections stopped
                cs, rs, grow = self._resume
                cs, rs = cs.copy(), rs.copy()
            elif rule == "face":            # the guess given (solve_face)
                cs, rs = self._face[0].copy(), self._face[1].copy()
            else:
                cs, rs = self._initial_guess(x, ym, zm, "compare" if kind == "project" else rule)
            for k in range(self.max_rounds if (self.Q is not None or kind == "project") else 3):
                key = (kind, cs.tobytes(), rs.tobytes())
                if key in seen and not grow and prev is not None:
                    # full swaps cycle: redo the last correction in the growing mode
                    grow = True
                    cs, rs = prev[0].copy(), prev[1].copy()
                    self._correct(cs, rs, *prev[2:], grow=True)
                    key = (kind, cs.tobytes(), rs.tobytes())
                if key not in seen and time.perf_counter() > deadline:
                    timed_out = True
                    self.progressing = (self.Q is not None and len(hist) >= 2
                                        and hist[-1] < hist[-2])
                if key in seen or timed_out:
                    break
                seen.add(key)
                rounds += 1
                tr = time.perf_counter()
                if kind == "project":
                    got = self._project_guess(cs, rs, x, ym)
                else:
                    got = self._solve_guess(cs, rs)
                self.slowest_round = max(self.slowest_round, time.perf_counter() - tr)
                if got is None:
                    break
                xp, yp = got
                zp = self._reduced_costs(xp, yp, cs)
                rep = kkt_check(self.problem, xp, s * yp, s * zp, tol)
                if (not rep.ok and kind == "square" and self.Q is not None
                        and np.count_nonzero(rs) > np.count_nonzero(cs == FREE)):
                    # more active rows than free columns (a degenerate face) leaves y to the
                    # factorisation: also try the multipliers nearest the iterate's, and go on
                    # with whichever checks better
                    yq = self._project_dual(cs, rs, xp, ym)
                    if yq is not None:
                        zq = self._reduced_costs(xp, yq, cs)
                        rq = kkt_check(self.problem, xp, s * yq, s * zq, tol)
                        if rq.ok or max(rq.dual_residual, rq.gap) < max(rep.dual_residual,
                                                                         rep.gap):
                            yp, zp, rep = yq, zq, rq
                if rep.ok:
                    out = PolishOutcome(xp, s * yp, s * zp, rep, rounds, 0.0)
                    break
                prev = (cs.copy(), rs.copy(), xp, yp, zp)
                grow = grow or k >= 4
                changed = self._correct(cs, rs, xp, yp, zp, grow=grow)
                hist.append(changed)
                logger.debug(f"active-set polish ({rule}) round {rounds}: {int((cs == FREE).sum())} "
                             f"free columns, {int((rs != FREE).sum())} active rows; primal "
                             f"{rep.primal_residual:.1e}, dual {rep.dual_residual:.1e}, gap "
                             f"{rep.gap:.1e}; {changed} changes")
                if not changed:
                    break
            if out is not None:
                break
            if kind == "square" and rounds > rounds_before:
                self._resume = (cs, rs, grow)
            if timed_out:
                break
        el = time.perf_counter() - t0
        self.seconds += el
        if out is not None:
            out.seconds = el
        logger.info(f"active-set polish: {'verified' if out else 'no verified point'} after "
                    f"{rounds} solve(s), {el:.2f} s")
        return out

    def solve_face(self, cs, rs, tol, x_alt=None, y_alt=None, deadline=math.inf):
        """The KKT point of one given face (column states cs, row states rs: FREE, LOWER,
        UPPER or FIXED), checked at tol: a PolishOutcome, or None. x_alt, a primal point on
        the same face from elsewhere (the crossover's basis), is tried with the face's
        multipliers too, as they are and refitted to it (_refit_multipliers), and with y_alt
        (minimisation sign; the basis's own multipliers) refitted to it: where the face's KKT
        system is nearly singular, its own point can be off by more than the check allows, and
        a refit is accurate only from multipliers that are already close.
        When none passes, active-set corrections go on from the face (attempt's "face" rule)
        until the deadline."""
        if not self.applicable:
            return None
        t0 = time.perf_counter()
        cs, rs = np.asarray(cs, dtype=np.int8), np.asarray(rs, dtype=np.int8)
        got = self._solve_guess(cs, rs)
        if got is None:
            return None
        s = self.s
        xp, yp = got
        out = None
        tries = [(xp, yp)]
        if x_alt is not None:
            tries.append((x_alt, yp))
            for y0 in ([] if y_alt is None else [y_alt]) + [yp]:
                tries += [y0, None]         # refitted from y0, then once more
        y = yp
        for got in tries:
            if not isinstance(got, tuple):  # x_alt with multipliers refitted to it
                y = self._refit_multipliers(cs, rs, x_alt, y if got is None else got)
                got = (x_alt, y)
            zp = self._reduced_costs(got[0], got[1], cs)
            rep = kkt_check(self.problem, got[0], s * got[1], s * zp, tol)
            if rep.ok:
                out = PolishOutcome(got[0], s * got[1], s * zp, rep, 1, 0.0)
                break
        el = time.perf_counter() - t0
        self.seconds += el
        if out is not None:
            out.seconds = el
            return out
        # a wrong face (a stalled crossover): active-set corrections from it
        self._face = (cs, rs)
        z = self._reduced_costs(xp, yp, cs)
        return self.attempt(xp, s * yp, s * z, tol, deadline, rules=("face",))

    def _reduced_costs(self, x, y, cs):
        """c + Qx - A'y, zero on the free columns (minimisation signs)."""
        z = self.c - self.AT @ y
        if self.Q is not None:
            z = z + self.Q @ x
        z[cs == FREE] = 0.0
        return z

    def _correct(self, cs, rs, x, y, z, grow=False) -> int:
        """One primal-dual active-set correction of the guess in place; the number of changes.
        With grow, only violated bounds are added while there are any, and otherwise only the
        bounds whose multipliers are at least half as wrong as the worst are released: slower,
        but it does not cycle where full swaps do (liswet)."""
        cb, ca, cw = _violations(cs, x, self.lo, self.hi, z)
        rb, ra, rw = _violations(rs, self.A @ x, self.rl, self.ru, y)
        dtol = 1e-9 * (1.0 + self.c_inf)        # how wrong a multiplier must be to count
        c_rel, r_rel = cw > dtol, rw > dtol
        if grow:
            if cb.any() or ca.any() or rb.any() or ra.any():
                c_rel[:], r_rel[:] = False, False
            else:
                worst = max(float(np.max(cw, initial=0.0)), float(np.max(rw, initial=0.0)))
                c_rel &= cw >= 0.5 * worst
                r_rel &= rw >= 0.5 * worst
        return _apply(cs, cb, ca, c_rel) + _apply(rs, rb, ra, r_rel)
