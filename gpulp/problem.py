"""The in-memory form of an LP or convex QP on the host.

    minimise (or maximise)   0.5 x'Qx + c'x + objective_constant
    subject to               row_lower <= A x <= row_upper
                             col_lower <=   x <= col_upper

Knows: NumPy arrays and scipy CSR matrices, validation, names.
Must not know: files, devices, scaling or the algorithm.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .errors import ProblemError

__all__ = ["Problem", "FactorQ"]


class FactorQ:
    """A quadratic term Q = F F' + diag(d) that is never formed (factor-model covariance).

    F is dense (n, k), d is (n,) (default zeros). `Q @ x` works on vectors; `tocsr()` forms the
    matrix and is meant for small n only (writing MPS, tests).
    """

    def __init__(self, F, d=None):
        F = np.ascontiguousarray(np.asarray(F, dtype=np.float64))
        if F.ndim != 2:
            raise ProblemError(f"FactorQ: F must be 2-D (n, k), got {F.ndim} dimensions")
        n = F.shape[0]
        d = np.zeros(n) if d is None else np.asarray(d, dtype=np.float64).ravel().copy()
        if d.shape[0] != n:
            raise ProblemError(f"FactorQ: d has length {d.shape[0]}, expected {n}")
        if not (np.isfinite(F).all() and np.isfinite(d).all()):
            raise ProblemError("FactorQ: F and d must be finite")
        self.F, self.d = F, d
        self.shape = (n, n)

    @property
    def nnz(self) -> int:
        return int(self.F.size + np.count_nonzero(self.d))

    @property
    def T(self):
        return self

    def __matmul__(self, x):
        x = np.asarray(x, dtype=np.float64)
        return self.F @ (self.F.T @ x) + self.d * x

    def diagonal(self):
        return np.einsum("ij,ij->i", self.F, self.F) + self.d

    def tocsr(self):
        return sp.csr_matrix(self.F @ self.F.T + np.diag(self.d))


def _floats(name, value):
    """`value` as a float64 array, or a ProblemError naming `name` (strings, objects, and
    complex numbers, whose imaginary part NumPy would drop with only a warning)."""
    if np.iscomplexobj(value):
        raise ProblemError(f"{name} must be real numbers, got complex values")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"{name} must be real numbers: {exc}") from None


def _vector(name, value, size, default):
    if value is None:
        return np.full(size, default, dtype=np.float64)
    arr = _floats(name, value)
    if arr.ndim == 0:
        arr = np.full(size, float(arr), dtype=np.float64)
    arr = np.ascontiguousarray(arr.ravel()).copy()
    if arr.shape[0] != size:
        raise ProblemError(f"{name} has length {arr.shape[0]}, expected {size}")
    return arr


def _csr(name, M, shape=None):
    if M is None:
        return None
    if sp.issparse(M):
        if np.issubdtype(M.dtype, np.complexfloating):
            raise ProblemError(f"{name} must be real numbers, got complex values")
        try:
            M = sp.csr_matrix(M, dtype=np.float64)
            M.check_format(full_check=True)    # indices in range, row pointer non-decreasing
        except (TypeError, ValueError) as exc:
            raise ProblemError(f"{name} is not a valid sparse matrix: {exc}") from None
    else:
        arr = _floats(name, M)
        if arr.ndim != 2:
            raise ProblemError(f"{name} must be a 2-D matrix, got {arr.ndim} dimensions")
        M = sp.csr_matrix(arr)
    if shape is not None and M.shape != shape:
        raise ProblemError(f"{name} has shape {M.shape}, expected {shape}")
    M = M.copy()
    M.sum_duplicates()
    M.sort_indices()
    if not np.all(np.isfinite(M.data)):
        k = int(np.flatnonzero(~np.isfinite(M.data))[0])
        row = int(np.searchsorted(M.indptr, k, side="right") - 1)
        raise ProblemError(f"{name} has a non-finite entry at ({row}, {int(M.indices[k])})")
    M.eliminate_zeros()
    M.indptr = M.indptr.astype(np.int64, copy=False)
    M.indices = M.indices.astype(np.int64, copy=False)
    return M


def _label(names, i, kind):
    return f"{kind} {i} ({names[i]!r})" if names is not None else f"{kind} {i}"


class Problem:
    """An LP or convex QP in two-sided form (HiGHS's field names).

    Parameters
    ----------
    c : array (n,)
        Linear objective.
    A : sparse or dense (m, n), optional
        Constraint matrix; stored as CSR with sorted indices and no explicit zeros. None means no rows.
    row_lower, row_upper : array (m,), optional
        Row activity bounds; default -inf and +inf.
    col_lower, col_upper : array (n,), optional
        Column bounds; default 0 and +inf (the LP and MPS convention).
    Q : sparse or dense (n, n), optional
        Symmetric quadratic objective matrix (both triangles stored). None for an LP.
    objective_constant : float
    sense : "min" or "max"
    integrality : bool array (n,), optional
        True for integer columns.
    name, row_names, col_names : optional labels.

    Raises ProblemError (a ValueError) for inconsistent shapes, NaN anywhere, a lower bound of +inf,
    an upper bound of -inf, lower > upper, or a non-square or asymmetric Q. The message names the row
    or column.
    """

    def __init__(self, c, A=None, row_lower=None, row_upper=None, col_lower=None, col_upper=None,
                 Q=None, objective_constant=0.0, sense="min", integrality=None, name="",
                 row_names=None, col_names=None):
        c = _floats("c", c).ravel()
        n = c.shape[0]
        if A is None:
            m = 0 if row_lower is None and row_upper is None else len(
                np.atleast_1d(row_lower if row_lower is not None else row_upper))
            A = sp.csr_matrix((m, n), dtype=np.float64)
        A = _csr("A", A)
        m = A.shape[0]
        if A.shape[1] != n:
            raise ProblemError(f"A has {A.shape[1]} columns but c has length {n}")
        self.name = str(name or "")
        self.row_names = None if row_names is None else [str(s) for s in row_names]
        self.col_names = None if col_names is None else [str(s) for s in col_names]
        if self.row_names is not None and len(self.row_names) != m:
            raise ProblemError(f"row_names has length {len(self.row_names)}, expected {m}")
        if self.col_names is not None and len(self.col_names) != n:
            raise ProblemError(f"col_names has length {len(self.col_names)}, expected {n}")
        self.c = np.ascontiguousarray(c).copy()
        self.A = A
        self.row_lower = _vector("row_lower", row_lower, m, -np.inf)
        self.row_upper = _vector("row_upper", row_upper, m, np.inf)
        self.col_lower = _vector("col_lower", col_lower, n, 0.0)
        self.col_upper = _vector("col_upper", col_upper, n, np.inf)
        if isinstance(Q, FactorQ):
            if Q.shape != (n, n):
                raise ProblemError(f"Q has shape {Q.shape}, expected {(n, n)}")
            self.Q = Q
        else:
            self.Q = _csr("Q", Q, (n, n)) if Q is not None else None
            if self.Q is not None and self.Q.nnz == 0:
                self.Q = None
        try:
            self.objective_constant = float(objective_constant)
        except (TypeError, ValueError) as exc:
            raise ProblemError(f"objective_constant must be a real number: {exc}") from None
        if sense in ("min", "minimize", "minimise", 1):
            self.sense = "min"
        elif sense in ("max", "maximize", "maximise", -1):
            self.sense = "max"
        else:
            raise ProblemError(f"sense must be 'min' or 'max', got {sense!r}")
        if integrality is None:
            self.integrality = np.zeros(n, dtype=bool)
        else:
            self.integrality = np.asarray(integrality, dtype=bool).ravel().copy()
            if self.integrality.shape[0] != n:
                raise ProblemError(f"integrality has length {self.integrality.shape[0]}, expected {n}")
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self):
        if np.isnan(self.c).any():
            j = int(np.flatnonzero(np.isnan(self.c))[0])
            raise ProblemError(f"c is NaN at {_label(self.col_names, j, 'column')}")
        if not np.isfinite(self.c).all():
            j = int(np.flatnonzero(~np.isfinite(self.c))[0])
            raise ProblemError(f"c is infinite at {_label(self.col_names, j, 'column')}")
        if not np.isfinite(self.objective_constant):
            raise ProblemError("objective_constant must be finite")
        for kind, names, lo, hi in (("row", self.row_names, self.row_lower, self.row_upper),
                                    ("column", self.col_names, self.col_lower, self.col_upper)):
            pre = "row" if kind == "row" else "col"
            for label, v in ((f"{pre}_lower", lo), (f"{pre}_upper", hi)):
                bad = np.flatnonzero(np.isnan(v))
                if bad.size:
                    raise ProblemError(f"{label} is NaN at {_label(names, int(bad[0]), kind)}")
            bad = np.flatnonzero(lo == np.inf)
            if bad.size:
                raise ProblemError(f"{pre}_lower is +inf at {_label(names, int(bad[0]), kind)}")
            bad = np.flatnonzero(hi == -np.inf)
            if bad.size:
                raise ProblemError(f"{pre}_upper is -inf at {_label(names, int(bad[0]), kind)}")
            bad = np.flatnonzero(lo > hi)
            if bad.size:
                i = int(bad[0])
                raise ProblemError(f"{pre}_lower > {pre}_upper at {_label(names, i, kind)}: "
                                   f"{float(lo[i])!r} > {float(hi[i])!r}")
        if self.Q is not None and not isinstance(self.Q, FactorQ):
            diff = self.Q - self.Q.T
            if diff.nnz:
                scale = max(1.0, float(np.abs(self.Q.data).max()))
                worst = float(np.abs(diff.data).max()) if diff.data.size else 0.0
                if worst > 1e-12 * scale:
                    d = diff.tocoo()
                    k = int(np.argmax(np.abs(d.data)))
                    raise ProblemError(f"Q is not symmetric: Q[{d.row[k]}, {d.col[k]}] != "
                                       f"Q[{d.col[k]}, {d.row[k]}]")

    # ------------------------------------------------------------------ properties
    @property
    def num_rows(self) -> int:
        return self.A.shape[0]

    @property
    def num_cols(self) -> int:
        return self.A.shape[1]

    @property
    def nnz(self) -> int:
        return int(self.A.nnz)

    @property
    def is_qp(self) -> bool:
        return self.Q is not None

    @property
    def is_mip(self) -> bool:
        return bool(self.integrality.any())

    def objective(self, x) -> float:
        """Objective value at x in the problem's own sense (constant included)."""
        x = np.asarray(x, dtype=np.float64)
        val = float(self.c @ x) + self.objective_constant
        if self.Q is not None:
            val += 0.5 * float(x @ (self.Q @ x))
        return val

    def copy(self) -> "Problem":
        return Problem(self.c, self.A, self.row_lower, self.row_upper, self.col_lower,
                       self.col_upper, self.Q, self.objective_constant, self.sense,
                       self.integrality, self.name, self.row_names, self.col_names)

    def __repr__(self):
        kind = "QP" if self.is_qp else ("MIP" if self.is_mip else "LP")
        return (f"Problem({self.name!r}, {kind}, sense={self.sense}, rows={self.num_rows}, "
                f"cols={self.num_cols}, nnz={self.nnz})")

    def equals(self, other: "Problem", rtol: float = 0.0) -> bool:
        """True when the data (not the names) agree, up to a relative tolerance on numbers."""
        def close(a, b):
            a = np.asarray(a, dtype=float)
            b = np.asarray(b, dtype=float)
            if a.shape != b.shape:
                return False
            inf_a, inf_b = np.isinf(a), np.isinf(b)
            if not np.array_equal(inf_a, inf_b) or not np.array_equal(a[inf_a], b[inf_b]):
                return False
            fa, fb = a[~inf_a], b[~inf_b]
            return bool(np.all(np.abs(fa - fb) <= rtol * np.maximum(np.abs(fa), np.abs(fb))))

        def mclose(P, R):
            if P is None or R is None:
                return P is None and R is None
            if isinstance(P, FactorQ) or isinstance(R, FactorQ):
                P, R = P.tocsr(), R.tocsr()
            if P.shape != R.shape:
                return False
            D = (P - R).tocoo()
            S = abs(P) + abs(R)
            return bool(np.all(np.abs(D.data) <= rtol * np.asarray(S[D.row, D.col]).ravel()))

        return (self.sense == other.sense and close(self.c, other.c)
                and close([self.objective_constant], [other.objective_constant])
                and mclose(self.A, other.A) and mclose(self.Q, other.Q)
                and close(self.row_lower, other.row_lower) and close(self.row_upper, other.row_upper)
                and close(self.col_lower, other.col_lower) and close(self.col_upper, other.col_upper)
                and np.array_equal(self.integrality, other.integrality))
