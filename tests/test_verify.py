"""The independent checks in gpulp.verify, on answers known by hand."""

import numpy as np
import pytest

from gpulp import Problem
from gpulp.verify import dual_infeasibility_check, kkt_check, primal_infeasibility_check
from instances.tiny import cases

OPTIMAL = [c for c in cases() if c["status"] == "optimal"]


@pytest.mark.parametrize("case", OPTIMAL, ids=lambda c: c["name"])
def test_exact_answers_pass(case):
    rep = kkt_check(case["problem"], case["x"], case["y"], case["z"], 1e-12)
    assert rep.ok, rep
    assert rep.primal_objective == pytest.approx(case["objective"])
    assert rep.dual_objective == pytest.approx(case["objective"])


def test_wrong_dual_signs_show_up_as_residual_not_as_better_objective():
    case = OPTIMAL[0]
    y = case["y"].copy()
    y[0] = -y[0]            # a >= row cannot have a negative dual in a minimisation
    rep = kkt_check(case["problem"], case["x"], y, case["z"], 1e-6)
    assert not rep.ok and rep.dual_residual > 1e-3


def test_primal_violation_and_gap_are_measured():
    case = OPTIMAL[0]
    x = case["x"] + np.array([-1.0, 0.0])
    rep = kkt_check(case["problem"], x, case["y"], case["z"], 1e-6)
    assert rep.primal_residual > 0.1 and rep.gap > 0.01 and not rep.ok


def test_huge_coefficients_do_not_make_the_relative_measures_vanish():
    """NumPy's norm of [1e154, 1e154] overflows to inf; as a denominator that passed any
    residual. Here the dual residual is 1e154 against ||c|| = 1.4e154, and the primal residual
    1e154 against ||b|| = 1.4e154: both relative measures are 0.71."""
    big = 1e154
    p = Problem([big, big], [[1.0, 0.0], [0.0, 1.0]], [-1.0, -1.0], [big, big],
                [-np.inf, -np.inf], [np.inf, np.inf])
    rep = kkt_check(p, np.zeros(2), [big, 0.0], np.zeros(2), 1e-6)   # y fits c[0] only
    assert rep.dual_residual == pytest.approx(1.0 / np.sqrt(2.0), rel=1e-12)
    assert not rep.ok
    x = np.array([2.0 * big, -1.0])                                  # row 0 above big by big
    rep = kkt_check(p, x, [big, big], np.zeros(2), 1e-6)
    assert rep.primal_residual == pytest.approx(1.0 / np.sqrt(2.0), rel=1e-12)
    assert not rep.ok
    # the optimum (both rows at their lower bound) still passes
    rep = kkt_check(p, np.array([-1.0, -1.0]), [big, big], np.zeros(2), 1e-12)
    assert rep.ok, rep


def test_certificates():
    infeas = Problem([1, 1], [[1, 1], [1, 1]], [-np.inf, 3], [1, np.inf])
    assert primal_infeasibility_check(infeas, [-1.0, 1.0]).ok
    assert not primal_infeasibility_check(infeas, [1.0, 1.0]).ok     # wrong sign on the <= row
    assert not primal_infeasibility_check(infeas, [-1.0, 0.2]).ok    # value <= 0
    unb = Problem([-1, 0], [[1, -1]], [-np.inf], [1])
    assert dual_infeasibility_check(unb, [1.0, 1.0]).ok
    assert not dual_infeasibility_check(unb, [1.0, 0.0]).ok          # A d > 0 on a <= row
    assert not dual_infeasibility_check(unb, [-1.0, -1.0]).ok        # leaves the bounds


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_fused_products_give_scipys_bits(index_dtype, monkeypatch):
    """Above FUSED_NNZ the check's two products are one compiled pass: the same bits as scipy's
    (duplicates and unsorted entries included), so the check does not change with the size."""
    import scipy.sparse as sp

    import gpulp.verify as v
    rng = np.random.default_rng(5)
    m, n, nnz = 700, 900, v.FUSED_NNZ + 5000
    # raw CSR arrays, kept as given: unsorted columns within rows, with repeats (summed)
    indptr = np.concatenate([[0], np.sort(rng.integers(0, nnz, m - 1)), [nnz]])
    A = sp.csr_matrix((rng.normal(size=nnz), rng.integers(0, n, nnz).astype(index_dtype),
                       indptr.astype(index_dtype)), shape=(m, n))
    assert not A.has_canonical_format
    x, y = rng.normal(size=n), rng.normal(size=m)
    ax, aty = v._products(A, x, y)
    assert A.nnz >= v.FUSED_NNZ
    assert np.array_equal(ax, A @ x) and np.array_equal(aty, A.T @ y)

    lo = np.where(rng.random(m) < 0.5, -np.inf, -1.0)
    hi = np.where(rng.random(m) < 0.5, np.inf, 1.0)
    p = Problem(rng.normal(size=n), A, lo, hi, np.zeros(n), np.full(n, 3.0))
    xx, yy, zz = rng.random(n), rng.normal(size=m), rng.normal(size=n)
    monkeypatch.setattr(v, "FUSED_NNZ", 0)
    fused = kkt_check(p, xx, yy, zz, 1e-6)
    monkeypatch.setattr(v, "FUSED_NNZ", 10 ** 12)
    assert fused == kkt_check(p, xx, yy, zz, 1e-6)


@pytest.mark.parametrize("threads", [False, True], ids=["serial", "threaded"])
def test_blocked_products_sum_the_blocks_in_order(threads, monkeypatch):
    """On a large A the check's A'y is each row block's scatter (scipy's order within the
    block) summed over the blocks in block order, so its bits depend on the fixed blocks and
    not on the threads; A x keeps scipy's bits, and both agree with scipy to rounding."""
    import scipy.sparse as sp

    import gpulp.backend as b
    rng = np.random.default_rng(11)
    m, n, nnz = 300, 40, 40_000
    indptr = np.concatenate([[0], np.sort(rng.integers(0, nnz, m - 1)), [nnz]])
    indptr[50:60] = indptr[50]                       # some empty rows
    A = sp.csr_matrix((rng.normal(size=nnz), rng.integers(0, n, nnz), indptr), shape=(m, n))
    x, y = rng.normal(size=n), rng.normal(size=m)
    monkeypatch.setattr(b, "BLOCK_NNZ", 10_000)
    monkeypatch.setattr(b, "_PARALLEL_CORES", 1 if threads else 10 ** 6)
    rows = b.row_blocks(A.indptr, n)
    assert rows is not None and rows.size == b.HOST_BLOCKS + 1
    assert rows[0] == 0 and rows[-1] == m and (np.diff(rows) >= 0).all()
    sizes = np.diff(A.indptr[rows])
    assert sizes.max() <= nnz / b.HOST_BLOCKS + np.diff(A.indptr).max()
    ax, aty = b.check_products(A.indptr, A.indices, A.data, x, y, n)
    assert np.array_equal(ax, A @ x)
    want = np.zeros(n)
    for t in range(rows.size - 1):
        blk = A[rows[t]:rows[t + 1]]
        part = blk.T @ y[rows[t]:rows[t + 1]] if blk.nnz else np.zeros(n)
        want = part if t == 0 else want + part
    assert np.array_equal(aty, want)
    np.testing.assert_allclose(aty, A.T @ y, rtol=1e-12, atol=1e-12 * np.abs(A.data).sum())
    monkeypatch.setattr(b, "BLOCK_NNZ", 10 ** 12)   # below the sizes: scipy's bits again
    assert np.array_equal(b.check_products(A.indptr, A.indices, A.data, x, y, n)[1], A.T @ y)


@pytest.mark.parametrize("sense", ["min", "max"])
@pytest.mark.parametrize("wrong_sign", [False, True])
def test_reduced_costs_and_check_match_the_separate_calls(sense, wrong_sign):
    """reduced_costs_and_check derives z = c + Qx - A'y sign-clipped by the column bounds from
    the dual as given (a wrong-signed entry included), and its report is kkt_check's of (x, y, z)."""
    from gpulp.verify import reduced_costs_and_check
    case = OPTIMAL[0]
    p0 = case["problem"]
    p = Problem(p0.c, p0.A, p0.row_lower, p0.row_upper, p0.col_lower, p0.col_upper,
                sense=sense, Q=p0.Q)
    s = -1.0 if sense == "max" else 1.0
    x = np.asarray(case["x"], dtype=float) + 0.01
    y = s * np.asarray(case["y"], dtype=float)
    if wrong_sign:
        y[0] = -y[0]
    z, rep = reduced_costs_and_check(p, x, y, 1e-6)
    grad = s * p.c + (0.0 if p.Q is None else p.Q @ x)
    lo, hi = p.col_lower, p.col_upper
    want = grad - p.A.T @ (s * y)
    want = np.where(np.isfinite(lo), want, np.minimum(want, 0.0))
    want = np.where(np.isfinite(hi), want, np.maximum(want, 0.0))
    assert np.array_equal(z, s * want)
    assert rep == kkt_check(p, x, y, z, 1e-6)
