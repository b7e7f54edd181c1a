"""Where arrays live: the ONLY module that imports numba or cupy.

The algorithm (pdhg.py) is written once against the small contract below; each backend implements
it. The CPU backend (NumPy + Numba) defines the semantics; every operation's docstring says what it
means in NumPy. A GPU backend must match it.

Scalars that change during a window live in a small device array `scal` so that a captured window
survives restarts: scal[TAU], scal[SIGMA], scal[K0] (Halpern counter at the window's start) and
scal[GAMMA] (reflection). Iteration i of a window uses k = scal[K0] + i.

Knows: devices, array libraries, kernels and their launch.
Must not know: the LP, scaling, restarts or termination.
"""

from __future__ import annotations

import os
import types
from dataclasses import dataclass

import numpy as np

__all__ = ["CpuBackend", "get_backend", "TAU", "SIGMA", "K0", "GAMMA", "NSCAL", "gpu_unavailable_reason"]

TAU, SIGMA, K0, GAMMA = 0, 1, 2, 3
NSCAL = 4

_PARALLEL_MIN = 200_000   # entries touched per call above which the threaded kernels are used


# ----------------------------------------------------------------------------- Numba kernels
# Plain Python bodies; `prange` is bound to numba.prange when a kernel is compiled (see _jit).
prange = range


def _spmv(indptr, indices, data, x, out):
    for i in prange(indptr.size - 1):
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            s += data[k] * x[indices[k]]
        out[i] = s


def _primal_step(i, update, scal, x, aty, c, lo, hi, x0, xhat, xbar):
    tau = scal[0]
    k = scal[2] + i
    g = scal[3]
    w = (k + 1.0) / (k + 2.0)
    for j in prange(x.size):
        v = x[j] - tau * (c[j] - aty[j])
        v = min(max(v, lo[j]), hi[j])
        xhat[j] = v
        xb = 2.0 * v - x[j]
        xbar[j] = xb
        if update:
            x[j] = w * (g * xb + (1.0 - g) * x[j]) + (1.0 - w) * x0[j]


def _dual_step(i, update, scal, y, axbar, lo, hi, y0, yhat):
    sigma = scal[1]
    k = scal[2] + i
    g = scal[3]
    w = (k + 1.0) / (k + 2.0)
    for r in prange(y.size):
        v = y[r] - sigma * axbar[r]
        v = min(0.0, v + sigma * hi[r]) + max(0.0, v + sigma * lo[r])
        yhat[r] = v
        if update:
            y[r] = w * (g * (2.0 * v - y[r]) + (1.0 - g) * y[r]) + (1.0 - w) * y0[r]


def _halpern(i, scal, v, vhat, v0):
    k = scal[2] + i
    g = scal[3]
    w = (k + 1.0) / (k + 2.0)
    for j in prange(v.size):
        v[j] = w * (g * (2.0 * vhat[j] - v[j]) + (1.0 - g) * v[j]) + (1.0 - w) * v0[j]


_BODIES = {"spmv": _spmv, "primal_step": _primal_step, "dual_step": _dual_step,
           "halpern": _halpern}
_JITTED = {}


def _jit(name, parallel):
    """The Numba kernel for `name`, serial or threaded, compiled once and cached on disk. Each
    variant gets its own function name so that the two on-disk cache entries do not collide."""
    key = (name, parallel)
    if key not in _JITTED:
        import numba
        body = _BODIES[name]
        glb = dict(body.__globals__, prange=numba.prange if parallel else range)
        fname = f"gpulp_{name}_{'par' if parallel else 'ser'}"
        fn = types.FunctionType(body.__code__, glb, fname)
        fn.__qualname__ = fname
        _JITTED[key] = numba.njit(cache=True, parallel=parallel, nogil=True)(fn)
    return _JITTED[key]


@dataclass
class CsrMatrix:
    """A CSR matrix on the backend's device (int64 indices, float64 data)."""
    indptr: object
    indices: object
    data: object
    shape: tuple

    @property
    def nnz(self):
        return int(self.data.size)


class CpuBackend:
    """NumPy arrays, Numba kernels (threaded above a size threshold)."""

    name = "cpu"
    xp = np

    def __init__(self, threads: int = 0):
        import numba
        if threads:
            numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
        self.description = f"CPU ({os.cpu_count()} cores, numba {numba.__version__})"

    def _pick(self, name, size):
        return _jit(name, size >= _PARALLEL_MIN)

    # data movement -----------------------------------------------------------------------
    def asarray(self, a):
        """Like `np.array(a, dtype=float64)` (a copy on the device)."""
        return np.array(a, dtype=np.float64)

    def zeros(self, n):
        return np.zeros(n, dtype=np.float64)

    def to_host(self, a):
        """Like `np.asarray(a)` on the host (a copy)."""
        return np.array(a, dtype=np.float64)

    def matrix(self, A):
        """Upload a scipy CSR matrix."""
        return CsrMatrix(np.ascontiguousarray(A.indptr, dtype=np.int64),
                         np.ascontiguousarray(A.indices, dtype=np.int64),
                         np.ascontiguousarray(A.data, dtype=np.float64), A.shape)

    def set_scalars(self, scal, values):
        """Like `scal[:] = values`."""
        scal[:] = values

    def synchronize(self):
        pass

    # kernels -----------------------------------------------------------------------------
    def spmv(self, M: CsrMatrix, x, out):
        """Like `out[:] = M @ x`."""
        self._pick("spmv", M.nnz + M.shape[0])(M.indptr, M.indices, M.data, x, out)

    def primal_step(self, i, update, scal, x, aty, c, lo, hi, x0, xhat, xbar):
        """Like `xhat = clip(x - tau*(c - aty), lo, hi); xbar = 2*xhat - x`, then when `update`,
        `x = w*(g*xbar + (1-g)*x) + (1-w)*x0` with k = scal[K0] + i, w = (k+1)/(k+2), g = gamma."""
        self._pick("primal_step", x.size)(i, update, scal, x, aty, c, lo, hi, x0, xhat, xbar)

    def dual_step(self, i, update, scal, y, axbar, lo, hi, y0, yhat):
        """Like `v = y - sigma*axbar; yhat = minimum(0, v + sigma*hi) + maximum(0, v + sigma*lo)`
        (that is v - sigma*clip(v/sigma, -hi, -lo)), then when `update`,
        `y = w*(g*(2*yhat - y) + (1-g)*y) + (1-w)*y0`."""
        self._pick("dual_step", y.size)(i, update, scal, y, axbar, lo, hi, y0, yhat)

    def halpern(self, i, scal, v, vhat, v0):
        """Like `v = w*(g*(2*vhat - v) + (1-g)*v) + (1-w)*v0` (the deferred Halpern update)."""
        self._pick("halpern", v.size)(i, scal, v, vhat, v0)

    def warmup(self):
        """Compile (or load from the disk cache) the serial kernels with tiny arguments."""
        x = np.zeros(2)
        scal = np.zeros(NSCAL)
        ip = np.zeros(3, dtype=np.int64)
        _jit("spmv", False)(ip, ip[:0], x[:0], x, x)
        _jit("primal_step", False)(0, True, scal, x, x, x, x, x, x, x, x)
        _jit("dual_step", False)(0, True, scal, x, x, x, x, x, x)
        _jit("halpern", False)(0, scal, x, x, x)

    def capture(self, fn):
        """Return a callable that replays `fn()`; on the CPU it simply calls it."""
        return fn


def gpu_unavailable_reason():
    """None when the GPU backend can run here, else a sentence saying why not."""
    return ("the GPU engine is not available in this version of gpulp "
            "(it arrives with the CuPy backend); use device='cpu'")


def get_backend(device: str, threads: int = 0):
    """Return (backend, note). device='auto' falls back to the CPU and the note says why."""
    from .errors import DeviceError
    if device == "cpu":
        return CpuBackend(threads), ""
    reason = gpu_unavailable_reason()
    if device == "gpu":
        if reason:
            raise DeviceError(f"device='gpu' requested but {reason}")
    if reason:
        return CpuBackend(threads), f"device='auto' uses the CPU: {reason}"
    raise AssertionError("unreachable")
