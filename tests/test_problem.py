"""gpulp.Problem turns bad input into a ProblemError that says what is wrong, never a traceback
from NumPy or SciPy, and never a silently different model."""

import numpy as np
import pytest
import scipy.sparse as sp

import gpulp
from gpulp import Problem
from gpulp.errors import ProblemError


def _lp(**kw):
    args = dict(c=[1.0, 1.0], A=[[1.0, 1.0]], row_lower=[0.0], row_upper=[1.0],
                col_lower=[0.0, 0.0], col_upper=[1.0, 1.0])
    args.update(kw)
    return Problem(**args)


BAD = [
    (dict(c=[np.nan, 1.0]), "c is NaN at column 0"),
    (dict(c=[np.inf, 1.0]), "c is infinite at column 0"),
    (dict(c=["a", 1.0]), "c must be real numbers"),
    (dict(c=[1j, 1.0]), "c must be real numbers, got complex"),
    (dict(c=np.array([1 + 1j, 1.0])), "c must be real numbers, got complex"),
    (dict(A=[[1.0, 1.0, 1.0]]), "A has 3 columns but c has length 2"),
    (dict(A=[1.0, 1.0]), "A must be a 2-D matrix"),
    (dict(A=[[np.nan, 1.0]]), "A has a non-finite entry at (0, 0)"),
    (dict(A=np.array([[1 + 1j, 1.0]])), "A must be real numbers, got complex"),
    (dict(A=sp.csr_matrix(np.array([[1 + 1j, 1.0]]))), "A must be real numbers, got complex"),
    (dict(A=sp.csr_matrix(([1.0, 1.0], [0, -1], [0, 2]), shape=(1, 2))),
     "A is not a valid sparse matrix: indices must be >= 0"),
    (dict(A=sp.csr_matrix(([1.0, 1.0], [0, 5], [0, 2]), shape=(1, 2))),
     "A is not a valid sparse matrix"),
    (dict(row_lower=[2.0]), "row_lower > row_upper at row 0"),
    (dict(row_lower=["a"]), "row_lower must be real numbers"),
    (dict(col_lower=[2.0, 0.0]), "col_lower > col_upper at column 0"),
    (dict(col_lower=[np.inf, 0.0], col_upper=[np.inf, 1.0]), "col_lower is +inf at column 0"),
    (dict(col_upper=[-np.inf, 1.0], col_lower=[-np.inf, 0.0]), "col_upper is -inf at column 0"),
    (dict(col_upper=[1.0, 1.0, 1.0]), "col_upper has length 3, expected 2"),
    (dict(Q=[[1.0]]), "Q has shape (1, 1), expected (2, 2)"),
    (dict(Q=[[1.0, 1.0], [0.0, 1.0]]), "Q is not symmetric"),
    (dict(Q=[["a", 0.0], [0.0, 1.0]]), "Q must be real numbers"),
    (dict(objective_constant="x"), "objective_constant must be a real number"),
    (dict(objective_constant=np.inf), "objective_constant must be finite"),
    (dict(sense="up"), "sense must be 'min' or 'max'"),
]


@pytest.mark.parametrize("kw, message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_a_problem_error_that_says_what(kw, message):
    with pytest.raises(ProblemError) as info:
        _lp(**kw)
    assert message in str(info.value)


def test_good_input_in_other_forms_is_the_same_model():
    base = _lp()
    for kw in (dict(A=sp.coo_matrix([[1.0, 1.0]])), dict(A=np.array([[1, 1]])),
               dict(row_lower=0, row_upper=1, col_lower=0, col_upper=1),
               dict(A=sp.csr_matrix(([0.5, 0.5, 1.0], [0, 0, 1], [0, 3]), shape=(1, 2)))):
        p = _lp(**kw)
        assert (p.A != base.A).nnz == 0
        for f in ("c", "row_lower", "row_upper", "col_lower", "col_upper"):
            np.testing.assert_array_equal(getattr(p, f), getattr(base, f))
        assert gpulp.solve(p, device="cpu").status == "optimal"
