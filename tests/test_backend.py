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
