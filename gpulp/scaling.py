"""Diagonal preconditioning of the working problem: Ruiz, Pock-Chambolle, bound/objective scaling.

Glossary: D1 (row factors), D2 (column factors), theta_b (bound scale), theta_c (objective scale).
    A~ = D1 A D2,  c~ = theta_c D2 c,  row bounds~ = theta_b D1 (l_r, u_r),
    column bounds~ = theta_b D2^-1 (l_c, u_c)
and back:  x = D2 x~ / theta_b,  y = D1 y~ / theta_c,  z = D2^-1 z~ / theta_c.

Knows: host arrays (NumPy, scipy CSR) of an LP in two-sided form, and the backend's scaler
contract (backend.CpuBackend.scaler) for the passes over A's entries.
Must not know: where arrays live, the iteration, presolve, or the original problem's sense.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .verify import finite_bound_norm, norm2

__all__ = ["Scaling", "compute_scaling", "finite_norm"]


@dataclass
class Scaling:
    D1: np.ndarray
    D2: np.ndarray
    theta_b: float
    theta_c: float
    # seconds of the scaler's steps (upload, transpose, passes, finish: see backend.scaler)
    times: dict = field(default_factory=dict, repr=False, compare=False)

    def unscale_x(self, x):
        return self.D2 * x / self.theta_b

    def unscale_y(self, y):
        return self.D1 * y / self.theta_c

    def unscale_z(self, z):
        return z / (self.D2 * self.theta_c)


def finite_norm(lo, hi) -> float:
    """||b||_2 over the finite entries of two bound vectors, an equality counted once."""
    eq = lo == hi
    with np.errstate(over="ignore"):
        n = float(np.sqrt(np.sum(np.square(lo[np.isfinite(lo)]))
                          + np.sum(np.square(hi[np.isfinite(hi) & ~eq]))))
    if math.isinf(n):           # entries from about 1e154 on: the check's scaled norm
        n = finite_bound_norm(lo, hi)
    return n


def compute_scaling(A: sp.csr_matrix, c, row_lower, row_upper, ruiz_iterations=10,
                    pock_chambolle_alpha=1.0, bound_objective_rescaling=True, Q=None, be=None):
    """Return (Scaling, A~, c~, row_lower~, row_upper~, Q~) for the given LP or QP data. A~ is a
    backend.MatrixPair on `be`'s device (A~ and A~', with a bound on ||A~||_2); `be` defaults to
    the CPU backend. The passes over A's entries (`be.scaler`) and the factor vectors' updates
    run on that device; the factors come back to the host at the end. Column bounds are scaled
    by the caller with `D2` and `theta_b` (see module docstring).

    With a quadratic term the column factors equilibrate the stacked matrix [Q; A] (a FactorQ
    contributes its diagonal), and Q~ = (theta_c / theta_b) D2 Q D2 keeps the objective's two
    parts in proportion."""
    if be is None:
        from .backend import CpuBackend
        be = CpuBackend()
    with be.activate():        # every device operation on the backend's stream
        return _compute_scaling(A, c, row_lower, row_upper, ruiz_iterations,
                                pock_chambolle_alpha, bound_objective_rescaling, Q, be)


def _compute_scaling(A, c, row_lower, row_upper, ruiz_iterations, pock_chambolle_alpha,
                     bound_objective_rescaling, Q, be):
    from .problem import FactorQ
    m, n = A.shape
    factor = isinstance(Q, FactorQ)
    qdata = qdiag = q_row = None
    if factor:
        qdiag = np.abs(Q.diagonal())
    elif Q is not None:
        Q = Q.tocsr()
        qdata = np.abs(Q.data).astype(np.float64)
        q_row = np.repeat(np.arange(n, dtype=np.int64), np.diff(Q.indptr))

    def q_colmax():
        if Q is None:
            return np.zeros(n)
        if factor:
            return qdiag
        out = np.zeros(n)
        rows = np.flatnonzero(np.diff(Q.indptr) > 0)
        if rows.size:
            out[rows] = np.maximum.reduceat(qdata, Q.indptr[rows])
        return out

    def q_colsum():
        if Q is None:
            return np.zeros(n)
        if factor:
            return qdiag
        return np.bincount(Q.indices, weights=qdata, minlength=n)
    # The passes over A's entries are the backend's (one fused pass each, scaling and taking the
    # next maxima: Numba on the host, a kernel on a GPU, where A is uploaded once and A' formed
    # there), and the factor vectors live there too (xp: NumPy or CuPy); the arithmetic, and so
    # the result, is the same on both.
    xp = be.xp
    work = be.scaler(A)
    D1 = xp.ones(m)
    D2 = xp.ones(n)
    rmax, cmax = work.scale(D1, D2)                        # |A|'s maxima

    def apply(d1, d2):
        """Scale by d1, d2; returns the new row and column maxima of |A| (from the same pass)."""
        nonlocal qdata, qdiag
        D1[...] *= d1
        D2[...] *= d2
        rmax, cmax = work.scale(d1, d2)
        if Q is not None:
            d2h = be.to_host(d2)
            if factor:
                qdiag = qdiag * d2h * d2h
            else:
                qdata = qdata * d2h[q_row] * d2h[Q.indices]
        return rmax, cmax

    def inv_sqrt(v):
        """1 / sqrt(v) where v > 0, else 1."""
        pos = v > 0
        return xp.where(pos, 1.0 / xp.sqrt(xp.where(pos, v, 1.0)), 1.0)

    def on_device(v):
        return v if Q is None else be.asarray(v)

    for _ in range(ruiz_iterations):
        cm = cmax if Q is None else xp.maximum(cmax, on_device(q_colmax()))
        rmax, cmax = apply(inv_sqrt(rmax), inv_sqrt(cm))
    if pock_chambolle_alpha is not None and pock_chambolle_alpha >= 0:
        rs, cs = work.powsums(float(pock_chambolle_alpha))
        if Q is not None:
            cs = cs + on_device(q_colsum())
        apply(inv_sqrt(rs), inv_sqrt(cs))

    As = work.finish(D1, D2)
    D1, D2 = be.to_host(D1), be.to_host(D2)
    cs_ = D2 * np.asarray(c, dtype=np.float64)
    rl = D1 * row_lower
    ru = D1 * row_upper
    theta_b = theta_c = 1.0
    if bound_objective_rescaling:
        theta_b = 1.0 / (1.0 + finite_norm(rl, ru))
        theta_c = 1.0 / (1.0 + norm2(cs_))
    Qs = None
    if Q is not None:
        ratio = theta_c / theta_b
        if factor:
            Qs = FactorQ(np.sqrt(ratio) * D2[:, None] * Q.F, ratio * D2 * D2 * Q.d)
        else:
            Qs = sp.csr_matrix((ratio * Q.data * D2[q_row] * D2[Q.indices], Q.indices.copy(),
                                Q.indptr.copy()), shape=Q.shape)
    return (Scaling(D1, D2, theta_b, theta_c, dict(work.times)), As, theta_c * cs_, theta_b * rl,
            theta_b * ru, Qs)
