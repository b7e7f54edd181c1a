"""The CPU backend's kernels match their NumPy definitions (serial and threaded variants)."""

import numpy as np
import pytest
import scipy.sparse as sp

from gpulp.backend import NSCAL, CpuBackend, _jit


@pytest.fixture(params=[False, True], ids=["serial", "threaded"])
def parallel(request):
    return request.param


def _rand(rng, n):
    return rng.standard_normal(n)


def test_spmv(parallel):
    rng = np.random.default_rng(0)
    A = sp.random(50, 70, density=0.1, random_state=2, format="csr")
    M = CpuBackend().matrix(A)
    x = _rand(rng, 70)
    out = np.full(50, np.nan)
    _jit("spmv", parallel)(M.indptr, M.indices, M.data, x, out)
    np.testing.assert_allclose(out, A @ x, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("update", [False, True])
def test_primal_step(parallel, update):
    rng = np.random.default_rng(1)
    n = 40
    x, aty, c, x0 = (_rand(rng, n) for _ in range(4))
    lo = np.where(rng.random(n) < 0.3, -np.inf, -0.5)
    hi = np.where(rng.random(n) < 0.3, np.inf, 0.5)
    scal = np.array([0.7, 1.3, 5.0, 0.8])
    i = 3
    tau, k, g = scal[0], scal[2] + i, scal[3]
    w = (k + 1) / (k + 2)
    xhat_ref = np.clip(x - tau * (c - aty), lo, hi)
    xbar_ref = 2 * xhat_ref - x
    x_ref = w * (g * xbar_ref + (1 - g) * x) + (1 - w) * x0 if update else x.copy()
    xhat, xbar = np.full(n, np.nan), np.full(n, np.nan)
    _jit("primal_step", parallel)(i, update, scal, x, aty, c, lo, hi, x0, xhat, xbar)
    np.testing.assert_allclose(xhat, xhat_ref, rtol=1e-15)
    np.testing.assert_allclose(xbar, xbar_ref, rtol=1e-15)
    np.testing.assert_allclose(x, x_ref, rtol=1e-14)


@pytest.mark.parametrize("update", [False, True])
def test_dual_step(parallel, update):
    rng = np.random.default_rng(2)
    m = 30
    y, axbar, y0 = (_rand(rng, m) for _ in range(3))
    lo = np.where(rng.random(m) < 0.4, -np.inf, -0.2)
    hi = np.where(rng.random(m) < 0.4, np.inf, 0.3)
    hi[:3] = lo[:3] = 0.1                               # equality rows
    scal = np.array([0.7, 1.3, 0.0, 1.0])
    i = 0
    sigma, k, g = scal[1], scal[2] + i, scal[3]
    w = (k + 1) / (k + 2)
    v = y - sigma * axbar
    yhat_ref = v - sigma * np.clip(v / sigma, -hi, -lo)
    y_ref = w * (g * (2 * yhat_ref - y) + (1 - g) * y) + (1 - w) * y0 if update else y.copy()
    yhat = np.full(m, np.nan)
    _jit("dual_step", parallel)(i, update, scal, y, axbar, lo, hi, y0, yhat)
    np.testing.assert_allclose(yhat, yhat_ref, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(y, y_ref, rtol=1e-13, atol=1e-15)


def test_halpern(parallel):
    rng = np.random.default_rng(3)
    v, vhat, v0 = (_rand(rng, 20) for _ in range(3))
    scal = np.zeros(NSCAL)
    scal[2], scal[3] = 7.0, 0.9
    i = 2
    k = 9.0
    w = (k + 1) / (k + 2)
    ref = w * (0.9 * (2 * vhat - v) + 0.1 * v) + (1 - w) * v0
    _jit("halpern", parallel)(i, scal, v, vhat, v0)
    np.testing.assert_allclose(v, ref, rtol=1e-14)


def _numpy_window(K, scal, A, Q, qd, x, y, x0, y0, c, cl, cu, rl, ru):
    """K PDHG iterations written out in NumPy from the kernels' docstrings."""
    tau, sigma, k0, g = scal
    for i in range(K):
        w = (k0 + i + 1) / (k0 + i + 2)
        grad = c - A.T @ y
        step = tau
        if Q is not None:
            grad = grad + Q @ x
            step = tau / (1 + tau * qd)
        xhat = np.clip(x - step * grad, cl, cu)
        xbar = 2 * xhat - x
        v = y - sigma * (A @ xbar)
        yhat = np.minimum(0, v + sigma * ru) + np.maximum(0, v + sigma * rl)
        if i != K - 1:
            x = w * (g * xbar + (1 - g) * x) + (1 - w) * x0
            y = w * (g * (2 * yhat - y) + (1 - g) * y) + (1 - w) * y0
    return x, y, xhat, yhat


@pytest.mark.parametrize("quadratic", [False, True], ids=["lp", "qp"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "launches"])
def test_pdhg_window_matches_numpy(quadratic, fused):
    """The fused one-call window (small problems) and the kernel-by-kernel window both do K
    iterations of the NumPy definition, including the deferred last Halpern update."""
    from gpulp.backend import window_by_launches
    rng = np.random.default_rng(5)
    m, n, K = 30, 45, 7
    A = sp.random(m, n, density=0.2, random_state=4, format="csr")
    Q = None
    if quadratic:
        F = sp.random(n, 5, density=0.3, random_state=6, format="csr")
        Q = (F @ F.T + sp.diags(rng.random(n))).tocsr()
    be = CpuBackend()
    dA, dAT = be.matrix(A), be.matrix(A.T.tocsr())
    dQ = be.matrix(Q) if quadratic else None
    qd = np.abs(Q).sum(axis=1).A1 if quadratic else None
    scal = np.array([0.3, 0.2, 4.0, 0.8])
    x0, y0 = _rand(rng, n), _rand(rng, m)
    c = _rand(rng, n)
    cl = np.where(rng.random(n) < 0.5, -1.0, -np.inf)
    cu = np.where(rng.random(n) < 0.5, 1.0, np.inf)
    rl = np.where(rng.random(m) < 0.5, -0.5, -np.inf)
    ru = np.where(rng.random(m) < 0.5, 0.5, np.inf)
    x, y = x0 + 0.1 * _rand(rng, n), y0 + 0.1 * _rand(rng, m)
    ref = _numpy_window(K, scal, A, Q, qd, x.copy(), y.copy(), x0, y0, c, cl, cu, rl, ru)
    z = np.zeros
    aty, qx, xhat, xbar, axbar, yhat = z(n), z(n), z(n), z(n), z(m), z(m)
    run = be.pdhg_window if fused else (lambda *a: window_by_launches(be, *a))
    run(K, dA, dAT, dQ, qd, scal, x, y, aty, qx if quadratic else None, xhat, xbar, axbar, yhat,
        x0, y0, c, cl, cu, rl, ru)
    for got, want in zip((x, y, xhat, yhat), ref):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_matrix_upload_is_a_copy():
    """scipy canonicalises a CSR matrix in place (np.abs sums duplicates); the uploaded matrix
    must not change with it."""
    rng = np.random.default_rng(1)
    F = sp.random(20, 3, density=0.4, random_state=2, format="csr")
    Q = (F @ F.T + sp.diags(rng.random(20))).tocsr()     # not in canonical order
    be = CpuBackend()
    M = be.matrix(Q)
    x = rng.random(20)
    want = Q @ x
    np.abs(Q)
    out = np.zeros(20)
    be.qmv(M, x, out)
    np.testing.assert_allclose(out, want, rtol=1e-14)


@pytest.mark.parametrize("quadratic", [False, True], ids=["lp", "qp"])
def test_kkt_terms_match_their_numpy_definition(quadratic):
    """The CPU's one-pass reductions of a termination check equal the array-operation
    definition (the GPU's), with infinite bounds and bound-free columns among the data."""
    from gpulp.backend import kkt_terms_xp
    rng = np.random.default_rng(7)
    m, n = 23, 31
    cols = [_rand(rng, n) for _ in range(4)]           # xhat, x, x0, c
    q = [_rand(rng, n), _rand(rng, n), rng.random(n)] if quadratic else [None, None, None]
    col_fin = [(rng.random(n) < 0.6).astype(float) for _ in range(2)]
    col_b = [np.where(f > 0, _rand(rng, n), 0.0) for f in col_fin]
    rows = [_rand(rng, m) for _ in range(5)]           # yhat, y, y0, axhat, axbar
    rl = np.where(rng.random(m) < 0.5, -1.0, -np.inf)
    ru = np.where(rng.random(m) < 0.5, 1.0, np.inf)
    rl0, ru0 = np.where(np.isfinite(rl), rl, 0.0), np.where(np.isfinite(ru), ru, 0.0)
    args = (*cols[:4], *q, _rand(rng, n), *col_fin, *col_b, rng.random(n) + 0.5, *rows, rl, ru,
            rl0, ru0, rng.random(m) + 0.5)
    want = kkt_terms_xp(np, *args)
    got = CpuBackend().kkt_terms(*args)
    assert len(got) == len(want) == 10
    np.testing.assert_allclose(got, [float(w) for w in want], rtol=1e-12, atol=1e-12)
    if not quadratic:
        assert got[9] == 0.0


@pytest.mark.parametrize("chunk", [1, 3, 256])
def test_spmv_chunk_layout_tiles_the_rows(chunk):
    """The GPU's row-split SpMV layout: chunks tile the nonzeros in order, never cross a row,
    hold at most `chunk` entries, and each row owns exactly the chunks of its entries."""
    from gpulp.backend import spmv_chunks
    lengths = np.array([0, 1, 7, 0, 0, 3, 12, 256, 257, 0])
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    cstart, rchunk = spmv_chunks(indptr, chunk)
    assert cstart[0] == 0 and cstart[-1] == indptr[-1]
    sizes = np.diff(cstart)
    assert (sizes >= 1).all() and (sizes <= chunk).all()
    assert rchunk[0] == 0 and rchunk[-1] == sizes.size
    for r, n in enumerate(lengths):
        own = range(rchunk[r], rchunk[r + 1])
        assert len(own) == -(-n // chunk)
        if n:
            assert cstart[own[0]] == indptr[r] and cstart[own[-1] + 1] == indptr[r + 1]


@pytest.mark.parametrize("blocked", [False, True], ids=["one pass", "row blocks"])
def test_col_stats_match_their_numpy_definition(blocked, monkeypatch):
    """In one pass, or (large A on a machine with threads) in row blocks, each counted into its
    own buffer and summed: the same counts either way."""
    import gpulp.backend as b
    from gpulp.backend import col_stats
    if blocked:      # make this small A "large", and this machine one with threads
        monkeypatch.setattr(b, "BLOCK_NNZ", 0)
        monkeypatch.setattr(b, "BLOCK_RATIO", 1)
        monkeypatch.setattr(b, "_PARALLEL_CORES", 1)
        assert b.row_blocks(np.array([0, 5, 9]), 3) is not None
    rng = np.random.default_rng(3)
    m, n, k = 40, 30, 400
    ri, ci = np.sort(rng.integers(0, m, k)), rng.integers(0, n, k)
    v = rng.standard_normal(k)
    rl = np.where(rng.random(m) < 0.5, -np.inf, -1.0)
    ru = np.where(rng.random(m) < 0.5, np.inf, 1.0)
    ru[:4], rl[:4] = np.inf, -np.inf           # free rows, skipped by the pass
    fl, fu, pos = np.isfinite(rl[ri]), np.isfinite(ru[ri]), v > 0
    ptr = np.concatenate([[0], np.cumsum(np.bincount(ri, minlength=m))])
    for idx in (ci, ci.astype(np.int32)):      # presolve passes scipy's int32 columns as given
        count, down, up = col_stats(ptr, idx, v, rl, ru, n)
        np.testing.assert_array_equal(count, np.bincount(ci, minlength=n))  # free rows counted too
        np.testing.assert_array_equal(down, np.bincount(ci, (pos & fl) | (~pos & fu), n))
        np.testing.assert_array_equal(up, np.bincount(ci, (pos & fu) | (~pos & fl), n))
