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

import copy
import math
import os
import time
import types
from dataclasses import dataclass

import numpy as np

__all__ = ["CpuBackend", "CupyBackend", "get_backend", "max_matching", "col_stats",
           "check_products", "gpu_unavailable_reason", "kernel_path", "kernel_names",
           "spmv_chunks", "SimplexKernels", "MarkowitzLU", "TAU", "SIGMA", "K0", "GAMMA", "NSCAL"]

TAU, SIGMA, K0, GAMMA = 0, 1, 2, 3
NSCAL = 4

_PARALLEL_MIN = 200_000   # entries touched per call above which the threaded kernels are used
_PARALLEL_CORES = 4       # ...on machines with at least this many cores (on 2 shared cores,
                          # measured 3x slower than serial under load)


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


def _primal_step_q(i, update, scal, x, aty, qx, qd, c, lo, hi, x0, xhat, xbar):
    tau = scal[0]
    k = scal[2] + i
    g = scal[3]
    w = (k + 1.0) / (k + 2.0)
    for j in prange(x.size):
        v = x[j] - tau / (1.0 + tau * qd[j]) * (c[j] + qx[j] - aty[j])
        v = min(max(v, lo[j]), hi[j])
        xhat[j] = v
        xb = 2.0 * v - x[j]
        xbar[j] = xb
        if update:
            x[j] = w * (g * xb + (1.0 - g) * x[j]) + (1.0 - w) * x0[j]


def _diag_axpy(out, d, x):
    for j in prange(x.size):
        out[j] += d[j] * x[j]


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


def _dot(a, b):
    s = 0.0
    for j in prange(a.size):
        s += a[j] * b[j]
    return s


def _kkt_terms(quadratic, xhat, x, x0, c, qxhat, qx, qd, atyhat, cl_fin, cu_fin, cl0, cu0,
               col_unscale, yhat, y, y0, axhat, axbar, rl, ru, rl0, ru0, row_unscale):
    pres = 0.0
    dobj = 0.0
    dy2 = 0.0
    dyadx = 0.0
    ya = 0.0
    for r in range(yhat.size):
        a = axhat[r]
        e = (a - min(max(a, rl[r]), ru[r])) * row_unscale[r]
        pres += e * e
        v = yhat[r]
        dobj += max(v, 0.0) * rl0[r] + min(v, 0.0) * ru0[r]
        d = v - y[r]
        dy2 += d * d
        dyadx += d * (axbar[r] - a)
        e = v - y0[r]
        ya += e * e
    dres = 0.0
    pobj = 0.0
    quad = 0.0
    dx2 = 0.0
    xa = 0.0
    dxq = 0.0
    for j in range(xhat.size):
        g = c[j] - atyhat[j]
        d = xhat[j] - x[j]
        if quadratic:
            g += qxhat[j]
            quad += xhat[j] * qxhat[j]
            dxq += d * (qd[j] * d - (qxhat[j] - qx[j]))
        zr = max(g, 0.0) * cl_fin[j] + min(g, 0.0) * cu_fin[j]
        e = (g - zr) * col_unscale[j]
        dres += e * e
        pobj += c[j] * xhat[j]
        dobj += max(zr, 0.0) * cl0[j] + min(zr, 0.0) * cu0[j]
        dx2 += d * d
        e = xhat[j] - x0[j]
        xa += e * e
    quad *= 0.5
    return (math.sqrt(pres), math.sqrt(dres), pobj + quad, dobj - quad, dx2, dy2, dyadx,
            math.sqrt(xa), math.sqrt(ya), dxq)


def _window(K, quadratic, scal, a_ip, a_ix, a_d, at_ip, at_ix, at_d, q_ip, q_ix, q_d, qd, x, y,
            aty, qx, xhat, xbar, axbar, yhat, x0, y0, c, cl, cu, rl, ru):
    for i in range(K):
        _spmv(at_ip, at_ix, at_d, y, aty)
        if quadratic:
            _spmv(q_ip, q_ix, q_d, x, qx)
            _primal_step_q(i, i != K - 1, scal, x, aty, qx, qd, c, cl, cu, x0, xhat, xbar)
        else:
            _primal_step(i, i != K - 1, scal, x, aty, c, cl, cu, x0, xhat, xbar)
        _spmv(a_ip, a_ix, a_d, xbar, axbar)
        _dual_step(i, i != K - 1, scal, y, axbar, rl, ru, y0, yhat)


def _matching(ptr, idx, row_of, col_of, dist, queue, stack, pos):
    """Maximum matching of a bipartite pattern (Hopcroft-Karp): column j's rows are
    idx[ptr[j]:ptr[j+1]]; row_of[j] / col_of[i] start at -1 and end as the partners. A column
    whose search fails is marked dead for the rest of its phase, so that each phase costs one pass
    over the pattern (scipy's version, without that mark, takes exponential time on grid-like
    patterns: scipy issue 26147)."""
    ncol = ptr.size - 1
    dead = ncol + 1
    for j in range(ncol):                       # greedy start
        for k in range(ptr[j], ptr[j + 1]):
            if col_of[idx[k]] < 0:
                col_of[idx[k]] = j
                row_of[j] = idx[k]
                break
    while True:
        tail = 0                                # breadth-first layers from the free columns
        for j in range(ncol):
            if row_of[j] < 0:
                dist[j] = 0
                queue[tail] = j
                tail += 1
            else:
                dist[j] = dead
        head = 0
        found = False
        while head < tail:
            j = queue[head]
            head += 1
            for k in range(ptr[j], ptr[j + 1]):
                j2 = col_of[idx[k]]
                if j2 < 0:
                    found = True
                elif dist[j2] == dead:
                    dist[j2] = dist[j] + 1
                    queue[tail] = j2
                    tail += 1
        if not found:
            return
        for j0 in range(ncol):                  # depth-first augmenting paths along the layers
            if row_of[j0] >= 0 or dist[j0] != 0:
                continue
            top = 0
            stack[0] = j0
            pos[j0] = ptr[j0]
            while top >= 0:
                j = stack[top]
                if pos[j] == ptr[j + 1]:        # dead end for this phase
                    dist[j] = dead
                    top -= 1
                    continue
                i = idx[pos[j]]
                pos[j] += 1
                j2 = col_of[i]
                if j2 < 0:                      # a free row: flip the path
                    for t in range(top, -1, -1):
                        jj = stack[t]
                        ii = idx[pos[jj] - 1]
                        col_of[ii] = jj
                        row_of[jj] = ii
                        dist[jj] = dead
                    break
                if dist[j2] == dist[j] + 1:
                    top += 1
                    stack[top] = j2
                    pos[j2] = ptr[j2]


def _csr_scale(indptr, indices, data, d1, d2, out, rmax, cmax):
    for r in range(indptr.size - 1):
        top = 0.0
        for k in range(indptr[r], indptr[r + 1]):
            v = data[k] * d1[r] * d2[indices[k]]
            out[k] = v
            a = abs(v)
            if a > top:
                top = a
            if a > cmax[indices[k]]:
                cmax[indices[k]] = a
        rmax[r] = top


def _csr_powsums(indptr, indices, data, a, rs, cs):
    for r in range(indptr.size - 1):
        s = 0.0
        for k in range(indptr[r], indptr[r + 1]):
            s += data[k] ** a
            cs[indices[k]] += data[k] ** (2.0 - a)
        rs[r] = s


def _col_stats_rows(ptr, ci, v, rl_fin, ru_fin, r0, r1, out):
    # rows r0..r1-1 into out[j] = (count, down, up): one cache line per column instead of three
    for r in range(r0, r1):
        a, b = rl_fin[r], ru_fin[r]
        if a == 0 and b == 0:           # a free row blocks nothing: its entries are only counted
            for k in range(ptr[r], ptr[r + 1]):
                out[ci[k], 0] += 1
            continue
        for k in range(ptr[r], ptr[r + 1]):
            # branch-free, in integers (the signs come in random order; `int * bool` makes Numba
            # emit code 3x slower, 65 against 19 ms on a 10M-nonzero LP)
            j = ci[k]
            pos = np.int64(v[k] > 0)
            out[j, 0] += 1
            out[j, 1] += a * pos + b * (1 - pos)
            out[j, 2] += b * pos + a * (1 - pos)


def _col_stats_chunked(ptr, ci, v, rl_fin, ru_fin, rows, part, out):
    # row block t (rows[t]:rows[t+1]) counts into part[t]; then out = part.sum(axis=0), a block
    # of columns a thread (integer sums: the same counts whatever the order)
    for t in prange(rows.size - 1):
        _col_stats_rows(ptr, ci, v, rl_fin, ru_fin, rows[t], rows[t + 1], part[t])
    nb = out.shape[0] // 4096 + 1
    for b in prange(nb):
        for j in range(b * 4096, min((b + 1) * 4096, out.shape[0])):
            for t in range(part.shape[0]):
                out[j, 0] += part[t, j, 0]
                out[j, 1] += part[t, j, 1]
                out[j, 2] += part[t, j, 2]


def _check_products_rows(indptr, indices, data, x, y, r0, r1, ax, aty):
    for r in range(r0, r1):
        s = 0.0
        yr = y[r]
        for k in range(indptr[r], indptr[r + 1]):
            j = indices[k]
            s += data[k] * x[j]
            aty[j] += data[k] * yr
        ax[r] = s


def _check_products_chunked(indptr, indices, data, x, y, rows, part, ax, aty):
    # row block t scatters its A'y into part[t]; then aty[j] = part[0, j] + part[1, j] + ...,
    # left to right, a block of columns a thread: the bits depend on the blocks, not the threads
    for t in prange(rows.size - 1):
        _check_products_rows(indptr, indices, data, x, y, rows[t], rows[t + 1], ax, part[t])
    nb = aty.size // 4096 + 1
    for b in prange(nb):
        for j in range(b * 4096, min((b + 1) * 4096, aty.size)):
            s = part[0, j]
            for t in range(1, part.shape[0]):
                s += part[t, j]
            aty[j] = s


# ------------------------------------------------------- the crossover's simplex pivots (host)
def _simplex_price(dj, weights, w, lo, hi, isbasic, fixed, tolj, ptol, out):
    # Devex pricing; dj of the basic variables is set to 0 on the way (the loop's own rule)
    best = -1.0
    q = -1
    dirn = 0.0
    for j in range(dj.size):
        if isbasic[j]:
            dj[j] = 0.0
            continue
        if fixed[j]:
            continue
        d = dj[j]
        if d < -tolj:
            if hi[j] < np.inf and w[j] >= hi[j] - ptol:
                continue
            s, dj_dir = d * d / weights[j], 1.0
        elif d > tolj:
            if lo[j] > -np.inf and w[j] <= lo[j] + ptol:
                continue
            s, dj_dir = d * d / weights[j], -1.0
        else:
            continue
        if s > best:
            best, q, dirn = s, j, dj_dir
    out[0] = q
    out[1] = dirn


def _blocking(g, piv_tol, lb, ub, below, above, phase1):
    # (side, bound) where w_B[i] - theta g blocks: side +1 when it decreases (to lb; in phase 1,
    # to ub when above and nowhere when below), -1 when it increases, 0 when |g| <= piv_tol
    if g > piv_tol:
        if phase1:
            return 1.0, ub if above else (-np.inf if below else lb)
        return 1.0, lb
    if g < -piv_tol:
        if phase1:
            return -1.0, lb if below else (np.inf if above else ub)
        return -1.0, ub
    return 0.0, 0.0


def _simplex_ratio(alpha, direction, wb, lb, ub, below, above, phase1, ptol, own, out):
    # Harris's two passes over g = direction * alpha (w_B(theta) = w_B - theta g)
    m = alpha.size
    amax = 1.0
    for i in range(m):
        a = abs(alpha[i])
        if a > amax:
            amax = a
    piv_tol = 1e-9 * amax
    r1min = np.inf
    for i in range(m):                  # pass 1: the largest step with bounds relaxed by ptol
        g = direction * alpha[i]
        side, blk = _blocking(g, piv_tol, lb[i], ub[i], below[i], above[i], phase1)
        if side == 0.0:
            continue
        t = (wb[i] - blk + side * ptol) / g
        if t == t and t < r1min:
            r1min = t
    tmax = min(r1min, own)
    r = -1
    gbest = -1.0
    r0min = np.inf
    blk_r = 0.0
    t_r = 0.0
    for i in range(m):                  # pass 2: of the steps within it, the largest |g|
        g = direction * alpha[i]
        side, blk = _blocking(g, piv_tol, lb[i], ub[i], below[i], above[i], phase1)
        if side == 0.0:
            continue
        t = (wb[i] - blk) / g
        if not (t <= tmax) or not (abs(t) < np.inf):
            continue
        if t < r0min:
            r0min = t
        if abs(g) > gbest:
            gbest, r, blk_r, t_r = abs(g), i, blk, t
    out[0] = r1min
    out[1] = r
    out[2] = r0min
    out[3] = blk_r
    out[4] = t_r


def _simplex_devex(arow, q, leave, dj, has_dj, alpha_r, weights):
    # the reduced costs and Devex weights from the pivot row; returns the largest weight
    if has_dj:
        dq = dj[q] / alpha_r
        for j in range(arow.size):
            dj[j] -= dq * arow[j]
        dj[q] = 0.0
    ar_q = arow[q]
    top = 0.0
    if abs(ar_q) > 1e-12:
        wq = max(weights[q], 1.0)
        for j in range(arow.size):
            v = arow[j] / ar_q
            v = v * v * wq
            if v > weights[j]:
                weights[j] = v
        weights[leave] = max(wq / (ar_q * ar_q), 1.0)
    for j in range(arow.size):
        if weights[j] > top:
            top = weights[j]
    return top


def _eta_ftran(E, rows, k, V):
    # the product-form updates 0..k-1, in order, on each column of V (m x p)
    for e in range(k):
        r = rows[e]
        ar = E[e, r]
        for c in range(V.shape[1]):
            vr = V[r, c] / ar
            if vr != 0.0:
                for i in range(V.shape[0]):
                    V[i, c] -= vr * E[e, i]
            V[r, c] = vr


def _eta_btran(E, rows, k, c):
    # the transposed updates k-1..0 on c. Each changes c at its own row only, so when c starts
    # sparse (the pivot row's e_r) its nonzeros stay within those and the updates' rows, and the
    # dot products need only them
    m = c.size
    idx = np.empty(m, dtype=np.int64)
    seen = np.zeros(m, dtype=np.bool_)
    n = 0
    sparse = True
    for i in range(m):
        if c[i] != 0.0:
            if n >= m // 4:
                sparse = False
                break
            idx[n] = i
            seen[i] = True
            n += 1
    if sparse:
        for e in range(k):
            r = rows[e]
            if not seen[r]:
                seen[r] = True
                idx[n] = r
                n += 1
        if n < m // 4:
            for e in range(k - 1, -1, -1):
                r = rows[e]
                s = 0.0
                for t in range(n):
                    s += E[e, idx[t]] * c[idx[t]]
                cr = c[r]
                s -= E[e, r] * cr
                c[r] = (cr - s) / E[e, r]
            return
    for e in range(k - 1, -1, -1):
        r = rows[e]
        s = 0.0
        for i in range(m):
            s += E[e, i] * c[i]
        cr = c[r]
        s -= E[e, r] * cr
        c[r] = (cr - s) / E[e, r]


def _grow(a, used, extra):
    # a with room for `extra` more entries after its first `used` (twice the size plus extra)
    if used + extra <= a.size:
        return a
    b = np.empty(2 * a.size + extra, dtype=a.dtype)
    b[:used] = a[:used]
    return b


def _link(j, c, head, nxt, prv):
    # column j into the bucket of count c (doubly linked, j first)
    nxt[j] = head[c]
    prv[j] = -1
    if head[c] >= 0:
        prv[head[c]] = j
    head[c] = j


def _unlink(j, c, head, nxt, prv):
    # column j out of the bucket of count c
    if prv[j] >= 0:
        nxt[prv[j]] = nxt[j]
    else:
        head[c] = nxt[j]
    if nxt[j] >= 0:
        prv[nxt[j]] = prv[j]


def _lu_factor(ip, ix, vx, u, dense_at, dense_max):
    # Markowitz LU with threshold u of the m x m CSC matrix (ip, ix, vx); see MarkowitzLU. Stops
    # (status 2) with the active submatrix dense (D, its rows and columns) once it holds more
    # than dense_at r^2 entries, r <= dense_max the steps left
    m = ip.size - 1
    nnz = ip[m]
    # the active columns (rows and values) and rows (column patterns), each a segment of a pool
    cap0 = 2 * nnz + 8 * m + 16
    cpool_i = np.empty(cap0, dtype=np.int64)
    cpool_v = np.empty(cap0, dtype=np.float64)
    cstart = np.empty(m, dtype=np.int64)
    clen = np.zeros(m, dtype=np.int64)
    ccap = np.empty(m, dtype=np.int64)
    rlen = np.zeros(m, dtype=np.int64)
    for k in range(nnz):
        rlen[ix[k]] += 1
    rpool = np.empty(cap0, dtype=np.int64)
    rstart = np.empty(m, dtype=np.int64)
    rcap = np.empty(m, dtype=np.int64)
    ctop = 0
    rtop = 0
    for j in range(m):
        c = ip[j + 1] - ip[j]
        cstart[j] = ctop
        ccap[j] = c + 4
        for k in range(ip[j], ip[j + 1]):
            cpool_i[ctop] = ix[k]
            cpool_v[ctop] = vx[k]
            ctop += 1
        clen[j] = c
        ctop += 4
    for i in range(m):
        rstart[i] = rtop
        rcap[i] = rlen[i] + 4
        rtop += rlen[i] + 4
        rlen[i] = 0
    for j in range(m):
        for k in range(ip[j], ip[j + 1]):
            i = ix[k]
            rpool[rstart[i] + rlen[i]] = j
            rlen[i] += 1
    ralive = np.ones(m, dtype=np.bool_)
    calive = np.ones(m, dtype=np.bool_)
    pr = np.empty(m, dtype=np.int64)
    pc = np.empty(m, dtype=np.int64)
    piv = np.empty(m, dtype=np.float64)
    lstart = np.zeros(m + 1, dtype=np.int64)
    ustart = np.zeros(m + 1, dtype=np.int64)
    lcap = nnz + m + 16
    l_i = np.empty(lcap, dtype=np.int64)
    l_v = np.empty(lcap, dtype=np.float64)
    u_j = np.empty(lcap, dtype=np.int64)
    u_v = np.empty(lcap, dtype=np.float64)
    ltop = 0
    utop = 0
    mark = np.full(m, -1, dtype=np.int64)
    cand = np.empty(4, dtype=np.int64)
    # the active columns in buckets by their count (doubly linked), and a stack of rows that
    # became singletons
    head = np.full(m + 1, -1, dtype=np.int64)
    nxt = np.full(m, -1, dtype=np.int64)
    prv = np.full(m, -1, dtype=np.int64)
    for j in range(m):
        _link(j, clen[j], head, nxt, prv)
    sing = np.empty(m + 16, dtype=np.int64)
    ns = 0
    for i in range(m):
        if rlen[i] == 1:
            sing[ns] = i
            ns += 1
    status = 0
    nstep = 0
    annz = nnz                          # entries in the active submatrix
    D = np.zeros((0, 0))
    rowids = np.empty(0, dtype=np.int64)
    colids = np.empty(0, dtype=np.int64)
    for step in range(m):
        nstep = step
        r = m - step
        if dense_at > 0.0 and 40 <= r <= dense_max and annz > dense_at * r * r:
            status = 2
            D = np.zeros((r, r))
            rowids = np.empty(r, dtype=np.int64)
            colids = np.empty(r, dtype=np.int64)
            t = 0
            for i in range(m):
                if ralive[i]:
                    mark[i] = t
                    rowids[t] = i
                    t += 1
            t = 0
            for j in range(m):
                if calive[j]:
                    colids[t] = j
                    for s in range(cstart[j], cstart[j] + clen[j]):
                        D[mark[cpool_i[s]], t] = cpool_v[s]
                    t += 1
            break
        # the pivot: a row singleton passing the threshold, or the fewest (r - 1)(c - 1)
        # passing it in the (up to) four active columns of fewest entries
        best_cost = -1
        bp = -1
        bq = -1
        while ns > 0 and best_cost != 0:
            ns -= 1
            i = sing[ns]
            if not ralive[i] or rlen[i] != 1:
                continue
            j = rpool[rstart[i]]
            amax = 0.0
            aij = 0.0
            for t in range(cstart[j], cstart[j] + clen[j]):
                a = abs(cpool_v[t])
                if a > amax:
                    amax = a
                if cpool_i[t] == i:
                    aij = a
            if aij > 0.0 and aij >= u * amax:
                best_cost, bp, bq = 0, i, j
        if best_cost != 0:
            if head[0] >= 0:
                status = 1              # an empty active column: singular
                break
            nc = 0
            c = 1
            while nc < 4 and c <= m:
                j = head[c]
                while j >= 0 and nc < 4:
                    cand[nc] = j
                    nc += 1
                    j = nxt[j]
                c += 1
            for t0 in range(nc):
                j = cand[t0]
                amax = 0.0
                for t in range(cstart[j], cstart[j] + clen[j]):
                    a = abs(cpool_v[t])
                    if a > amax:
                        amax = a
                if amax == 0.0:
                    continue
                for t in range(cstart[j], cstart[j] + clen[j]):
                    a = abs(cpool_v[t])
                    if a >= u * amax:
                        cost = (rlen[cpool_i[t]] - 1) * (clen[j] - 1)
                        if best_cost < 0 or cost < best_cost:
                            best_cost, bp, bq = cost, cpool_i[t], j
                if best_cost == 0:
                    break
        if bp < 0:
            status = 1                  # no usable pivot: singular
            break
        p, q = bp, bq
        # the pivot column: multipliers, and q leaves the patterns of its rows
        pv = 0.0
        for t in range(cstart[q], cstart[q] + clen[q]):
            if cpool_i[t] == p:
                pv = cpool_v[t]
        pr[step] = p
        pc[step] = q
        piv[step] = pv
        lq = clen[q] - 1
        l_i = _grow(l_i, ltop, lq)
        l_v = _grow(l_v, ltop, lq)
        lbeg = ltop
        for t in range(cstart[q], cstart[q] + clen[q]):
            i = cpool_i[t]
            if i == p:
                continue
            l_i[ltop] = i
            l_v[ltop] = cpool_v[t] / pv
            ltop += 1
            for s in range(rstart[i], rstart[i] + rlen[i]):     # drop q from row i
                if rpool[s] == q:
                    rpool[s] = rpool[rstart[i] + rlen[i] - 1]
                    rlen[i] -= 1
                    break
            if rlen[i] == 1:
                sing = _grow(sing, ns, 1)
                sing[ns] = i
                ns += 1
        lstart[step + 1] = ltop
        annz -= clen[q] + rlen[p] - 1
        _unlink(q, clen[q], head, nxt, prv)     # q leaves its bucket
        calive[q] = False
        ralive[p] = False
        clen[q] = 0
        # the pivot row: U's row, and the update of each of its columns
        u_j = _grow(u_j, utop, rlen[p])
        u_v = _grow(u_v, utop, rlen[p])
        for s in range(rstart[p], rstart[p] + rlen[p]):
            j = rpool[s]
            if j == q:
                continue
            _unlink(j, clen[j], head, nxt, prv)     # to join the bucket of its new count
            # take row p out of column j
            apj = 0.0
            for t in range(cstart[j], cstart[j] + clen[j]):
                if cpool_i[t] == p:
                    apj = cpool_v[t]
                    last = cstart[j] + clen[j] - 1
                    cpool_i[t] = cpool_i[last]
                    cpool_v[t] = cpool_v[last]
                    clen[j] -= 1
                    break
            u_j[utop] = j
            u_v[utop] = apj
            utop += 1
            if apj != 0.0 and lq > 0:
                if clen[j] + lq > ccap[j]:          # room for the fill: move to the pool's end
                    need = 2 * (clen[j] + lq) + 4
                    cpool_i = _grow(cpool_i, ctop, need)
                    cpool_v = _grow(cpool_v, ctop, need)
                    for t in range(clen[j]):
                        cpool_i[ctop + t] = cpool_i[cstart[j] + t]
                        cpool_v[ctop + t] = cpool_v[cstart[j] + t]
                    cstart[j] = ctop
                    ccap[j] = need
                    ctop += need
                for t in range(cstart[j], cstart[j] + clen[j]):
                    mark[cpool_i[t]] = t
                for s2 in range(lbeg, ltop):
                    i = l_i[s2]
                    delta = -l_v[s2] * apj
                    t = mark[i]
                    if t >= 0:
                        cpool_v[t] += delta
                    else:                               # fill: (i, j) joins column j and row i
                        t = cstart[j] + clen[j]
                        cpool_i[t] = i
                        cpool_v[t] = delta
                        clen[j] += 1
                        annz += 1
                        mark[i] = t
                        if rlen[i] == rcap[i]:
                            need = 2 * rlen[i] + 4
                            rpool = _grow(rpool, rtop, need)
                            for t2 in range(rlen[i]):
                                rpool[rtop + t2] = rpool[rstart[i] + t2]
                            rstart[i] = rtop
                            rcap[i] = need
                            rtop += need
                        rpool[rstart[i] + rlen[i]] = j
                        rlen[i] += 1
                for t in range(cstart[j], cstart[j] + clen[j]):
                    mark[cpool_i[t]] = -1
            _link(j, clen[j], head, nxt, prv)
        rlen[p] = 0
        ustart[step + 1] = utop
        nstep = step + 1
    return status, nstep, pr, pc, piv, lstart, l_i[:ltop].copy(), l_v[:ltop].copy(), ustart, \
        u_j[:utop].copy(), u_v[:utop].copy(), D, rowids, colids


def _lu_solve(pr, pc, piv, lstart, l_i, l_v, ustart, u_j, u_v, b, x):
    # B x = b (b is overwritten): L's column operations in order, then U backwards
    m = pr.size
    for k in range(m):
        t = b[pr[k]]
        if t != 0.0:
            for s in range(lstart[k], lstart[k + 1]):
                b[l_i[s]] -= l_v[s] * t
    for k in range(m - 1, -1, -1):
        acc = b[pr[k]]
        for s in range(ustart[k], ustart[k + 1]):
            acc -= u_v[s] * x[u_j[s]]
        x[pc[k]] = acc / piv[k]


def _lu_solve_t(pr, pc, piv, lstart, l_i, l_v, ustart, u_j, u_v, c, y):
    # B' y = c (c is overwritten): U' forwards by scattering, then L' backwards
    m = pr.size
    for k in range(m):
        z = c[pc[k]] / piv[k]
        y[pr[k]] = z
        if z != 0.0:
            for s in range(ustart[k], ustart[k + 1]):
                c[u_j[s]] -= u_v[s] * z
    for k in range(m - 1, -1, -1):
        acc = 0.0
        for s in range(lstart[k], lstart[k + 1]):
            acc += l_v[s] * y[l_i[s]]
        y[pr[k]] -= acc

_BODIES = {"csr_scale": _csr_scale, "csr_powsums": _csr_powsums,
           "col_stats_rows": _col_stats_rows, "col_stats_chunked": _col_stats_chunked,
           "check_products_rows": _check_products_rows,
           "check_products_chunked": _check_products_chunked,
           "dot": _dot, "spmv": _spmv, "primal_step": _primal_step, "primal_step_q": _primal_step_q,
           "dual_step": _dual_step, "halpern": _halpern, "diag_axpy": _diag_axpy,
           "window": _window, "kkt_terms": _kkt_terms, "matching": _matching,
           "simplex_price": _simplex_price, "simplex_ratio": _simplex_ratio,
           "simplex_devex": _simplex_devex, "eta_ftran": _eta_ftran, "eta_btran": _eta_btran,
           "lu_factor": _lu_factor, "lu_solve": _lu_solve, "lu_solve_t": _lu_solve_t,
           "blocking": _blocking, "grow": _grow, "link": _link, "unlink": _unlink}
# what a kernel calls (serial kernels, bound into its globals when it is compiled)
_CALLEES = {"window": ("_spmv", "_primal_step", "_primal_step_q", "_dual_step"),
            "simplex_ratio": ("_blocking",), "lu_factor": ("_grow", "_link", "_unlink"),
            "col_stats_chunked": ("_col_stats_rows",),
            "check_products_chunked": ("_check_products_rows",)}
_JITTED = {}


def _jit(name, parallel):
    """The Numba kernel for `name`, serial or threaded, compiled once and cached on disk. Each
    variant gets its own function name so that the two on-disk cache entries do not collide."""
    key = (name, parallel)
    if key not in _JITTED:
        import numba
        body = _BODIES[name]
        glb = dict(body.__globals__, prange=numba.prange if parallel else range)
        glb.update({f: _jit(f[1:], False) for f in _CALLEES.get(name, ())})
        fname = f"gpulp_{name}_{'par' if parallel else 'ser'}"
        fn = types.FunctionType(body.__code__, glb, fname)
        fn.__qualname__ = fname
        _JITTED[key] = numba.njit(cache=True, parallel=parallel, nogil=True)(fn)
    return _JITTED[key]


def csr_scale(indptr, indices, data, d1, d2):
    """(`data * d1[row] * d2[col]` per entry of an m x n CSR pattern, in that order of
    operations; and the row and column maxima of its absolute values, 0 for empty rows and
    columns, like `abs(B).max(axis=1)` and `abs(B).max(axis=0)`). A host routine (Numba), used
    by the scaling."""
    out = np.empty(data.size, dtype=np.float64)
    rmax, cmax = np.zeros(d1.size), np.zeros(d2.size)
    _jit("csr_scale", False)(np.asarray(indptr, dtype=np.int64), indices,
                             np.asarray(data, dtype=np.float64), d1, d2, out, rmax, cmax)
    return out, rmax, cmax


def csr_powsums(indptr, indices, data, a, m, n):
    """(rs, cs): per row the sum of data**a, per column the sum of data**(2 - a), summed in the
    entries' order (as numpy.bincount). A host routine (Numba), used by the scaling."""
    rs, cs = np.zeros(m), np.zeros(n)
    _jit("csr_powsums", False)(np.asarray(indptr, dtype=np.int64), indices, data, float(a), rs, cs)
    return rs, cs


# The host passes over all of A (presolve's column counts, the check's products) split the rows
# into HOST_BLOCKS blocks of about equal entries, each counted or scattered into its own column
# buffer and then summed, when A has at least BLOCK_NNZ entries and BLOCK_RATIO per column (so the
# buffers, HOST_BLOCKS x n, stay small beside the entries). The count is fixed, not the number of
# threads, so the check's sums, and its bits, are the same on every machine; the blocks run in
# threads where there are at least _PARALLEL_CORES cores.
HOST_BLOCKS = 16
BLOCK_NNZ = 1_000_000
BLOCK_RATIO = 32


def _host_threaded():
    return (os.cpu_count() or 1) >= _PARALLEL_CORES


def row_blocks(indptr, n):
    """Row boundaries (int64, first 0, last m) of HOST_BLOCKS blocks of about equal entries, or
    None when A is below the blocked passes' sizes (see HOST_BLOCKS)."""
    nnz = int(indptr[-1])
    if nnz < BLOCK_NNZ or nnz < BLOCK_RATIO * n:
        return None
    rows = np.searchsorted(indptr, np.linspace(0, nnz, HOST_BLOCKS + 1), side="left")
    rows[0], rows[-1] = 0, indptr.size - 1
    return np.maximum.accumulate(rows).astype(np.int64)


def col_stats(ptr, ci, v, row_lower, row_upper, n):
    """(count, down, up): per column j, its number of entries (row r's are ci[ptr[r]:ptr[r+1]],
    with values v there), and how many of them sit in a row that stops x_j from decreasing (a
    finite lower side for v > 0, a finite upper side otherwise) and from increasing (the other
    side). One pass over the entries, like three numpy.bincount calls over gathered masks; in
    row blocks on threads when A is large (row_blocks). A host routine (Numba), used by
    presolve's empty and dominated columns."""
    ptr = np.asarray(ptr, dtype=np.int64)
    out = np.zeros((n, 3), dtype=np.int64)
    fin = (np.isfinite(row_lower).astype(np.int64), np.isfinite(row_upper).astype(np.int64))
    rows = row_blocks(ptr, n) if _host_threaded() else None
    if rows is None:
        _jit("col_stats_rows", False)(ptr, ci, v, *fin, 0, ptr.size - 1, out)
    else:
        part = np.zeros((rows.size - 1, n, 3), dtype=np.int64)
        _jit("col_stats_chunked", True)(ptr, ci, v, *fin, rows, part, out)
    return out[:, 0], out[:, 1], out[:, 2]


def check_products(indptr, indices, data, x, y, n):
    """(A x, A' y) for the m x n CSR arrays of A, in one pass. A x row by row, with scipy's sums
    in scipy's order (its bits). A' y as scipy forms it (each row's entries scattered in turn),
    except on a large A (row_blocks), where each block of rows scatters into its own vector and
    the blocks' vectors are summed in block order: a fixed order, so the same bits on every
    machine, within rounding of scipy's. A host routine (Numba) for gpulp.verify's check alone;
    the solver's own products never use it."""
    indptr = np.asarray(indptr)
    ax, aty = np.empty(indptr.size - 1), np.zeros(n)
    args = (indptr, indices, np.asarray(data, dtype=np.float64), np.asarray(x, dtype=np.float64),
            np.asarray(y, dtype=np.float64))
    rows = row_blocks(indptr, n)
    if rows is None:
        _jit("check_products_rows", False)(*args, 0, indptr.size - 1, ax, aty)
    else:
        part = np.zeros((rows.size - 1, n))
        _jit("check_products_chunked", _host_threaded())(*args, rows, part, ax, aty)
    return ax, aty


# MarkowitzLU: the active part goes to LAPACK once this dense (pilot's crossover with 96 eta
# updates: 6.0 s sparse to the end, 4.5 s at 0.25, 4.0 s at 0.6)
DENSE_TAIL = 0.6


class MarkowitzLU:
    """A sparse LU of a square CSC matrix B with Markowitz pivoting (the fewest (r - 1)(c - 1)
    among the four shortest columns, or a row singleton) and a threshold u on each column:
    |pivot| >= u max |column|, the pivot order of simplex codes (Suhl and Suhl 1990), which
    keeps the factors of simplex bases sparser than a fill-reducing column order made before
    the numbers are seen (pilot's late bases: 63k nonzeros in L and U against SuperLU's 210k
    with COLAMD). `solve(b)` is like `numpy.linalg.solve(B, b)`, `solve(b, trans="T")` like
    `numpy.linalg.solve(B.T, b)` (SuperLU's interface, so the crossover calls either alike).
    Raises numpy.linalg.LinAlgError when no pivot passes (a structurally or numerically
    singular B). A host routine (Numba), used by the crossover."""

    def __init__(self, B, u: float = 0.1, dense_at: float | None = None, dense_max: int = 3000):
        dense_at = DENSE_TAIL if dense_at is None else dense_at
        B = B.tocsc()
        m = B.shape[0]
        ip = np.asarray(B.indptr, dtype=np.int64)
        ix = np.asarray(B.indices, dtype=np.int64)
        vx = np.asarray(B.data, dtype=np.float64)
        (status, k, pr, pc, piv, lstart, l_i, l_v, ustart, u_j, u_v, D, rowids,
         colids) = _jit("lu_factor", False)(ip, ix, vx, float(u), float(dense_at), int(dense_max))
        if status == 1:
            raise np.linalg.LinAlgError("singular basis: no pivot passes the threshold")
        self.dense_tail = 0
        if status == 2:                 # the dense rest by LAPACK (partial pivoting)
            import scipy.linalg as sla
            r = D.shape[0]
            self.dense_tail = r
            lu, swaps = sla.lu_factor(D, check_finite=False)
            d = np.diag(lu)
            if not np.all(np.isfinite(lu)) or np.any(d == 0.0):
                raise np.linalg.LinAlgError("singular basis: a zero pivot in the dense part")
            order = np.arange(r)
            for t, s in enumerate(swaps):       # LAPACK's row interchanges, as an order
                order[t], order[s] = order[s], order[t]
            t, t2 = np.triu_indices(r, 1)      # step t, and the later rows / columns t2
            lv, uv = lu.T[t, t2], lu[t, t2]
            kl, ku = lv != 0.0, uv != 0.0
            pr[k:], pc[k:], piv[k:] = rowids[order], colids, d
            lstart[k + 1:] = lstart[k] + np.cumsum(np.bincount(t[kl], minlength=r))
            ustart[k + 1:] = ustart[k] + np.cumsum(np.bincount(t[ku], minlength=r))
            l_i = np.concatenate([l_i, rowids[order[t2[kl]]]])
            l_v = np.concatenate([l_v, lv[kl]])
            u_j = np.concatenate([u_j, colids[t2[ku]]])
            u_v = np.concatenate([u_v, uv[ku]])
        self.parts = (pr, pc, piv, lstart, l_i, l_v, ustart, u_j, u_v)
        self.m = m
        self.nnz = int(l_i.size + u_j.size + m)     # L, U and the pivots
        self._solve = _jit("lu_solve", False)
        self._solve_t = _jit("lu_solve_t", False)

    def solve(self, b, trans="N"):
        if trans not in ("N", "T"):
            raise ValueError(f"trans must be 'N' or 'T', got {trans!r}")
        b = np.asarray(b, dtype=np.float64)
        if b.ndim == 2:
            return np.column_stack([self.solve(b[:, k], trans) for k in range(b.shape[1])])
        w = b.copy()
        x = np.empty(self.m)
        (self._solve_t if trans == "T" else self._solve)(*self.parts, w, x)
        return x


class SimplexKernels:
    """The crossover's per-pivot loops over the LP's variables and the basis's rows, as host
    routines (Numba); each method says what it computes in NumPy. One pivot of the pure-NumPy
    loop cost about 40 NumPy calls (185 us on pilot's 4,700 variables)."""

    def __init__(self):
        self.price = _jit("simplex_price", False)
        self.ratio_fn = _jit("simplex_ratio", False)
        self.devex_fn = _jit("simplex_devex", False)
        self.ftran_fn = _jit("eta_ftran", False)
        self.btran_fn = _jit("eta_btran", False)
        self._out = np.zeros(5)

    def pricing(self, dj, weights, w, lo, hi, isbasic, fixed, tolj, ptol):
        """(q, direction): Devex's choice `argmax(where(up | down, dj**2 / weights, -1))` (the
        first of equals), where up = movable & (dj < -tolj) & ~(w >= hi - ptol) (finite hi), down
        = movable & (dj > tolj) & ~(w <= lo + ptol) (finite lo) and movable = ~isbasic & ~fixed;
        direction +1 for up, -1 for down; (-1, 0.0) when no variable qualifies. Sets
        dj[isbasic] = 0."""
        out = self._out
        self.price(dj, weights, w, lo, hi, isbasic, fixed, float(tolj), float(ptol), out)
        return int(out[0]), float(out[1])

    def ratio(self, alpha, direction, wb, lb, ub, below, above, phase1, ptol, own):
        """Harris's two passes for w_B(theta) = wb - theta g, g = direction * alpha, counting
        only |g| > piv_tol = 1e-9 max(1, max|alpha|): g > 0 blocks at blk_dec (lb; in phase 1,
        ub where above and none where below), g < 0 at blk_inc (ub; in phase 1, lb where below
        and none where above). r1 = (wb - blk_dec + ptol) / g or (wb - blk_inc - ptol) / g, NaN
        read as inf; tmax = min(min(r1), own); r0 the same without ptol. Returns (min(r1), r,
        min r0, blk_r, r0[r]): r the first row of largest |g| among those with finite
        r0 <= tmax (-1 when none), min r0 over those rows, and r's blocking bound and r0."""
        out = self._out
        self.ratio_fn(alpha, float(direction), wb, lb, ub, below, above, bool(phase1),
                      float(ptol), float(own), out)
        return float(out[0]), int(out[1]), float(out[2]), float(out[3]), float(out[4])

    def devex(self, arow, q, leave, dj, alpha_r, weights):
        """The pivot row's updates: dj -= (dj[q] / alpha_r) * arow, then dj[q] = 0 (dj None: none);
        when |arow[q]| > 1e-12, weights = maximum(weights, (arow / arow[q])**2 * wq) with wq =
        max(weights[q], 1), then weights[leave] = max(wq / arow[q]**2, 1). Returns
        weights.max()."""
        has = dj is not None
        return float(self.devex_fn(arow, int(q), int(leave), dj if has else arow, has,
                                   float(alpha_r), weights))

    def eta_ftran(self, E, rows, k, V):
        """In place on V (m x p): for e in 0..k-1, with r = rows[e] and a = E[e]:
        `V[r] /= a[r]; V[i] -= a[i] * V[r]` for i != r."""
        self.ftran_fn(E, rows, int(k), V)

    def eta_btran(self, E, rows, k, c):
        """In place on c: for e in k-1..0, with r = rows[e] and a = E[e]:
        `c[r] = (c[r] - (a @ c - a[r] * c[r])) / a[r]`."""
        self.btran_fn(E, rows, int(k), c)


def max_matching(ptr, idx, nrows):
    """A maximum matching of the bipartite pattern whose column j has the rows
    idx[ptr[j]:ptr[j+1]] (a CSC pattern; duplicates allowed): (row_of, col_of), each partner or
    -1. A host routine (Numba), used by the crossover's basis repair."""
    ptr = np.ascontiguousarray(ptr, dtype=np.int64)
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    ncol = ptr.size - 1
    row_of = np.full(ncol, -1, dtype=np.int64)
    col_of = np.full(int(nrows), -1, dtype=np.int64)
    work = [np.zeros(ncol, dtype=np.int64) for _ in range(4)]
    _jit("matching", False)(ptr, idx, row_of, col_of, *work)
    return row_of, col_of


@dataclass
class FactorOp:
    """Q = F F' + diag(d) on the backend's device, with a k-vector of workspace."""
    F: object
    FT: object
    d: object
    tmp: object
    shape: tuple


@dataclass
class CsrMatrix:
    """A CSR matrix on the backend's device (int64 indices; float64 data, or float32 for
    precision="mixed"); on the GPU, idx16 is a uint16 copy of the indices that the SpMV kernels
    read instead, when there are at most INDEX16_MAX columns (else None)."""
    indptr: object
    indices: object
    data: object
    shape: tuple
    idx16: object = None

    @property
    def nnz(self):
        return int(self.data.size)


@dataclass
class MatrixPair:
    """A scaled constraint matrix on the backend's device: A and A' (each a CsrMatrix ready for
    `spmv`), and sqrt(||A||_1 ||A||_inf), an upper bound on ||A||_2. Made by a scaler's
    `finish` (see `CpuBackend.scaler`)."""
    A: CsrMatrix
    AT: CsrMatrix
    norm_bound: float

    @property
    def shape(self):
        return self.A.shape

    @property
    def nnz(self):
        return self.A.nnz


def single_values(be, pair: MatrixPair) -> MatrixPair:
    """precision="mixed": `pair` (on backend `be`) with A's and A''s values rounded to float32,
    in place (indices and layouts unchanged; the float64 values are released). Every SpMV still
    multiplies and sums in float64: Numba specialises on the dtype, and the CuPy backend picks
    the kernels' float instances."""
    for M in (pair.A, pair.AT):
        M.data = M.data.astype(be.xp.float32)
    return pair


def _norm_bound(rs, cs):
    """sqrt(max row sum * max column sum) of |A|, given both sums (0 for an empty matrix)."""
    if rs.size == 0 or cs.size == 0:
        return 0.0
    return math.sqrt(float(rs.max()) * float(cs.max()))


class _HostScaler:
    """The scaling's passes over a scipy CSR matrix's entries, on the host (Numba): see
    `CpuBackend.scaler`."""

    def __init__(self, be, A):
        self.be, self.A, self.shape = be, A, A.shape
        self.indptr = np.asarray(A.indptr, dtype=np.int64)
        self.work = np.abs(np.asarray(A.data, dtype=np.float64))
        self.times = {}                  # as _DeviceScaler's: passes, and finish (A' formed)
        self._t = time.perf_counter()

    def scale(self, d1, d2):
        self.work, rmax, cmax = csr_scale(self.indptr, self.A.indices, self.work, d1, d2)
        return rmax, cmax

    def powsums(self, a):
        return csr_powsums(self.indptr, self.A.indices, self.work, a, *self.shape)

    def finish(self, D1, D2):
        import scipy.sparse as sp
        t = time.perf_counter()
        self.times["passes"] = t - self._t
        A = self.A
        data = csr_scale(self.indptr, A.indices, A.data, D1, D2)[0]
        As = sp.csr_matrix((data, A.indices, self.indptr), shape=self.shape)
        bound = _norm_bound(*csr_powsums(self.indptr, A.indices, np.abs(data), 1.0, *self.shape))
        self.work = None
        pair = MatrixPair(self.be.matrix(As), self.be.matrix(As.T.tocsr()), bound)
        self.times["finish"] = time.perf_counter() - t
        return pair


class CpuBackend:
    """NumPy arrays, Numba kernels (threaded above a size threshold)."""

    name = "cpu"
    xp = np

    def __init__(self, threads: int = 0):
        import numba
        if threads:
            numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
        cores = threads or (os.cpu_count() or 1)
        self._threaded = cores >= (2 if threads else _PARALLEL_CORES)
        self.description = f"CPU ({os.cpu_count()} cores, numba {numba.__version__})"

    def _pick(self, name, size):
        return _jit(name, self._threaded and size >= _PARALLEL_MIN)

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
        """Upload a scipy CSR matrix (a copy, as on a device: scipy may later reorder the
        caller's arrays in place, e.g. when it sums duplicates)."""
        return CsrMatrix(np.array(A.indptr, dtype=np.int64), np.array(A.indices, dtype=np.int64),
                         np.array(A.data, dtype=np.float64), A.shape)

    def scaler(self, A):
        """The scaling's passes over the entries of a scipy CSR matrix A (the algorithm is
        scaling.compute_scaling's). Its methods, with W a working copy of |A| on the device:
          scale(d1, d2): W = diag(d1) W diag(d2), each entry computed as w * d1[r] * d2[c] in that
            order; returns W's row and column maxima (0 for an empty row or column);
          powsums(a): (per row the sum of W**a, per column the sum of W**(2 - a));
          finish(D1, D2): A~ = diag(D1) A diag(D2) (same order of operations) and its transpose on
            the device, with sqrt(||A~||_1 ||A~||_inf), as a MatrixPair.
        Vectors in and out are the backend's arrays (the factors stay on the device). On the CPU
        these are Numba passes and scipy's transpose."""
        return _HostScaler(self, A)

    def set_scalars(self, scal, values):
        """Like `scal[:] = values`."""
        scal[:] = values

    def activate(self):
        """Context in which the backend's operations run (nothing to set on the CPU)."""
        import contextlib
        return contextlib.nullcontext()

    def fetch(self, values):
        """Like `[float(v) for v in values]` (one transfer on a device)."""
        return [float(v) for v in values]

    def check_memory(self, m, n, nnz):
        """Raise DeviceError when the problem cannot fit (never on the CPU)."""

    def out_of_memory(self, exc):
        """A DeviceError standing for `exc` when it means the device is out of memory."""
        return None

    def synchronize(self):
        pass

    # kernels -----------------------------------------------------------------------------
    def spmv(self, M: CsrMatrix, x, out):
        """Like `out[:] = M @ x`."""
        self._pick("spmv", M.nnz + M.shape[0])(M.indptr, M.indices, M.data, x, out)

    def dot(self, a, b):
        """Like `a @ b` (Numba, not BLAS: threaded BLAS on short vectors stalls on a busy
        machine)."""
        return self._pick("dot", a.size)(a, b)

    def norm(self, a):
        """Like `np.linalg.norm(a)`."""
        return math.sqrt(self._pick("dot", a.size)(a, a))

    def factor(self, Fq):
        """Upload a FactorQ (Q = F F' + diag(d))."""
        return FactorOp(np.ascontiguousarray(Fq.F), np.ascontiguousarray(Fq.F.T), Fq.d.copy(),
                        np.zeros(Fq.F.shape[1]), Fq.shape)

    def qmv(self, Q, x, out):
        """Like `out[:] = Q @ x` for a CSR matrix or a FactorOp (`F @ (F.T @ x) + d*x`)."""
        if isinstance(Q, CsrMatrix):
            self.spmv(Q, x, out)
            return
        np.dot(Q.FT, x, out=Q.tmp)
        np.dot(Q.F, Q.tmp, out=out)
        self._pick("diag_axpy", x.size)(out, Q.d, x)

    def primal_step_q(self, i, update, scal, x, aty, qx, qd, c, lo, hi, x0, xhat, xbar):
        """primal_step with the gradient c + qx - aty (qx = Q x, the linearised quadratic) and
        the per-column step tau / (1 + tau * qd), qd a diagonal majorant of Q."""
        self._pick("primal_step_q", x.size)(i, update, scal, x, aty, qx, qd, c, lo, hi, x0, xhat,
                                            xbar)

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

    def pdhg_window(self, K, A, AT, Q, qd, scal, x, y, aty, qx, xhat, xbar, axbar, yhat, x0, y0,
                    c, cl, cu, rl, ru):
        """Like `window_by_launches` (K PDHG iterations). Small problems run it as one Numba
        call (the CPU's counterpart of a CUDA graph: no per-kernel dispatch); large ones, and a
        FactorOp Q, launch kernel by kernel (threaded kernels, BLAS for the factor)."""
        size = A.nnz + AT.nnz + x.size + y.size + (Q.nnz if isinstance(Q, CsrMatrix) else 0)
        serial = not (self._threaded and size >= _PARALLEL_MIN)
        if serial and (Q is None or isinstance(Q, CsrMatrix)):
            q = Q if Q is not None else A           # an LP passes A in Q's place, unread
            _jit("window", False)(K, Q is not None, scal, A.indptr, A.indices, A.data, AT.indptr,
                                  AT.indices, AT.data, q.indptr, q.indices, q.data,
                                  x if qd is None else qd, x, y, aty, x if qx is None else qx,
                                  xhat, xbar, axbar, yhat, x0, y0, c, cl, cu, rl, ru)
        else:
            window_by_launches(self, K, A, AT, Q, qd, scal, x, y, aty, qx, xhat, xbar, axbar,
                               yhat, x0, y0, c, cl, cu, rl, ru)

    def kkt_terms(self, xhat, x, x0, c, qxhat, qx, qd, atyhat, cl_fin, cu_fin, cl0, cu0,
                  col_unscale, yhat, y, y0, axhat, axbar, rl, ru, rl0, ru0, row_unscale):
        """Like `kkt_terms_xp(np, ...)` (one serial pass over the rows and one over the
        columns)."""
        q = qxhat is not None
        if not q:
            qxhat = qx = qd = xhat
        return list(_jit("kkt_terms", False)(q, xhat, x, x0, c, qxhat, qx, qd, atyhat, cl_fin,
                                             cu_fin, cl0, cu0, col_unscale, yhat, y, y0, axhat,
                                             axbar, rl, ru, rl0, ru0, row_unscale))

    def boost_masks(self, *args):
        """`boost_masks_xp(numpy, ...)`."""
        boost_masks_xp(np, *args)

    def warmup(self):
        """Compile (or load from the disk cache) the serial kernels with tiny arguments."""
        x = np.zeros(2)
        scal = np.zeros(NSCAL)
        ip = np.zeros(3, dtype=np.int64)
        _jit("spmv", False)(ip, ip[:0], x[:0], x, x)
        _jit("primal_step", False)(0, True, scal, x, x, x, x, x, x, x, x)
        _jit("primal_step_q", False)(0, True, scal, x, x, x, x, x, x, x, x, x, x)
        _jit("diag_axpy", False)(x, x, x)
        _jit("dot", False)(x, x)
        _jit("dual_step", False)(0, True, scal, x, x, x, x, x, x)
        _jit("halpern", False)(0, scal, x, x, x)
        y = x[:0]
        _jit("window", False)(1, True, scal, ip[:1], ip[:0], y, ip[:1], ip[:0], y, ip[:1], ip[:0],
                              *([y] * 17))
        _jit("kkt_terms", False)(True, *([y] * 23))

    def capture(self, fn):
        """Return a callable that replays `fn()`; on the CPU it simply calls it."""
        return fn


def kkt_terms_xp(xp, xhat, x, x0, c, qxhat, qx, qd, atyhat, cl_fin, cu_fin, cl0, cu0, col_unscale,
                 yhat, y, y0, axhat, axbar, rl, ru, rl0, ru0, row_unscale):
    """The ten reductions of a termination check, in array operations of `xp` (the definition;
    qxhat, qx, qd are None for an LP). With g = c + qxhat - atyhat, its bound part
    zr = max(g, 0)*cl_fin + min(g, 0)*cu_fin, quad = xhat'qxhat/2, dx = xhat - x, dy = yhat - y:
    [ ||(axhat - clip(axhat, rl, ru)) * row_unscale||,  ||(g - zr) * col_unscale||,
      c'xhat + quad,  max(yhat,0)'rl0 + min(yhat,0)'ru0 + max(zr,0)'cl0 + min(zr,0)'cu0 - quad,
      dx'dx,  dy'dy,  dy'(axbar - axhat),  ||xhat - x0||,  ||yhat - y0||,
      dx'(qd*dx - (qxhat - qx)) (0 for an LP) ]."""
    dot, nrm = (lambda a, b: a @ b), xp.linalg.norm
    rr = axhat - xp.clip(axhat, rl, ru)
    dx = xhat - x
    dy = yhat - y
    if qxhat is not None:
        g = c + qxhat - atyhat
        quad = 0.5 * dot(xhat, qxhat)
        dxq = dot(dx, qd * dx - (qxhat - qx))
    else:
        g = c - atyhat
        quad = dxq = 0.0
    zr = xp.maximum(g, 0.0) * cl_fin + xp.minimum(g, 0.0) * cu_fin
    return [nrm(rr * row_unscale), nrm((g - zr) * col_unscale), dot(c, xhat) + quad,
            dot(xp.maximum(yhat, 0.0), rl0) + dot(xp.minimum(yhat, 0.0), ru0)
            + dot(xp.maximum(zr, 0.0), cl0) + dot(xp.minimum(zr, 0.0), cu0) - quad,
            dot(dx, dx), dot(dy, dy), dot(dy, axbar - axhat), nrm(xhat - x0), nrm(yhat - y0), dxq]


def boost_masks_xp(xp, now, tau, ew, window, tol, xhat, x, c, aty, cl, cu, cl_fin, cu_fin, y,
                   axbar, rl, ru, rl0, ru0, last_free, last_binding, col, row, count):
    """The step boost's masks at a check, in place (the definition, in array operations of
    `xp`): last_free = now where the column's projection did not clip it by a margin, last_binding
    = now where the row's dual projection input is not safely inside its bounds; col (row) = 1.0
    where that was within `window` iterations, else 0.0; count[0] += the entries of col and row
    that changed."""
    slack = (xhat - x) / tau + c - aty           # the projection's reduced cost
    t = tol * xp.maximum(1.0, xp.abs(c))
    clamped = (cl == cu) | ((cl_fin > 0) & (slack > t)) | ((cu_fin > 0) & (slack < -t))
    last_free[...] = xp.where(clamped, last_free, now)
    q = y / ew - axbar                           # the dual projection's input
    qa = xp.maximum(1.0, xp.abs(q))
    inside = ((q + ru > tol * xp.maximum(qa, xp.abs(ru0)))
              & (-rl - q > tol * xp.maximum(qa, xp.abs(rl0))))
    last_binding[...] = xp.where((rl == ru) | ~inside, now, last_binding)
    new_col = (last_free >= now - window).astype(xp.float64)
    new_row = (last_binding >= now - window).astype(xp.float64)
    count += xp.count_nonzero(new_col != col) + xp.count_nonzero(new_row != row)
    col[...] = new_col
    row[...] = new_row


def window_by_launches(be, K, A, AT, Q, qd, scal, x, y, aty, qx, xhat, xbar, axbar, yhat, x0, y0,
                       c, cl, cu, rl, ru):
    """K PDHG iterations, kernel by kernel: for i in 0..K-1, `spmv(AT, y, aty)`; for a QP
    `qmv(Q, x, qx)` and `primal_step_q(i, i != K-1, ..., qx, qd, ...)`, else `primal_step(i,
    i != K-1, ...)`; `spmv(A, xbar, axbar)`; `dual_step(i, i != K-1, ...)`. The last iteration's
    Halpern update is left to the caller (it depends on the restart decision)."""
    for i in range(K):
        update = i != K - 1
        be.spmv(AT, y, aty)
        if Q is not None:
            be.qmv(Q, x, qx)
            be.primal_step_q(i, update, scal, x, aty, qx, qd, c, cl, cu, x0, xhat, xbar)
        else:
            be.primal_step(i, update, scal, x, aty, c, cl, cu, x0, xhat, xbar)
        be.spmv(A, xbar, axbar)
        be.dual_step(i, update, scal, y, axbar, rl, ru, y0, yhat)


# ----------------------------------------------------------------------------- CUDA kernels
KERNEL_FILE = "pdhg.cu"
_THREADS = 256
_KKT_Q = 7              # partial sums a block of gpulp_kkt_partial (KKT_Q in pdhg.cu)
# nonzeros per warp in the row-split SpMV: 1024 from the H100 profile of 2026-11-25 on the 10M
# CVaR LP (A x 52.8 us against 54.4 at 256, A'y 59.6 us against 63.9; bench/RESULTS.md)
SPMV_CHUNK = 1024
VECTOR_ROUNDS = 64          # vector SpMV while each row's lanes take at most this many strides
FUSED_WINDOW = True         # each SpMV of the window fused with its step (False: separate kernels)
# The SpMVs and fused halves read 16-bit column indices (a copy beside the int32 ones, which the
# scaling uses) for a matrix of at most INDEX16_MAX columns: 10 bytes an entry instead of 12 in
# float64 (False: int32 indices everywhere, for comparison)
INDEX16 = True
INDEX16_MAX = 1 << 16


def vector_lanes(indptr, chunk=SPMV_CHUNK):
    """log2 of the lanes a row for the vector SpMV of a CSR row pointer (0: a thread a row, 5: a
    warp), or None when a row is too long for it, so that the row-split layout is used: the
    largest power of two up to the average row length (at most 32; rows averaging under 4
    entries keep a thread a row, as before the vector kernel: transport's A' has 2), kept while
    the longest row takes at most VECTOR_ROUNDS strides of its lanes and fits one chunk of the
    row-split layout (then the two layouts do the same work, the vector one in one pass)."""
    indptr = np.asarray(indptr)
    rows = indptr.size - 1
    if rows <= 0:
        return 0
    longest = int(np.diff(indptr).max())
    avg = float(indptr[-1] - indptr[0]) / rows
    lg = 0
    if avg >= 4:
        while lg < 5 and (2 << lg) <= avg:
            lg += 1
    if longest > min(chunk, VECTOR_ROUNDS << lg):
        return None
    return lg


def spmv_chunks(indptr, chunk=SPMV_CHUNK):
    """The row-split SpMV's layout for a CSR row pointer: (cstart, rchunk). The nonzeros are cut
    into chunks of at most `chunk` entries that never cross a row, in row order: chunk k holds
    entries cstart[k]..cstart[k+1], and row r owns chunks rchunk[r]..rchunk[r+1] (none when
    empty). Both int64, with a final entry (nnz, and the number of chunks)."""
    indptr = np.asarray(indptr, dtype=np.int64)
    lengths = np.diff(indptr)
    per_row = -(-lengths // chunk)
    rchunk = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
    rows = np.repeat(np.arange(lengths.size), per_row)
    j = np.arange(rows.size, dtype=np.int64) - rchunk[:-1][rows]
    cstart = np.concatenate([indptr[:-1][rows] + j * chunk, indptr[-1:]]).astype(np.int64)
    return cstart, rchunk


def kernel_path(name: str = KERNEL_FILE) -> str:
    """Path of a kernel source, from an installed wheel (package `gpulp.kernels`) or a checkout
    (`kernels/` beside the package)."""
    from importlib import resources
    try:
        ref = resources.files("gpulp.kernels").joinpath(name)
        if ref.is_file():
            return str(ref)
    except ModuleNotFoundError:
        pass
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kernels",
                        name)
    if not os.path.isfile(path):
        from .errors import DeviceError
        raise DeviceError(f"kernel source {name} not found (looked in the package and in {path})")
    return path


def kernel_names(name: str = KERNEL_FILE):
    """The `extern "C" __global__` kernels a source defines."""
    import re
    with open(kernel_path(name), encoding="utf-8") as fh:
        return re.findall(r"__global__\s+void\s+(gpulp_\w+)", fh.read())


_MODULES = {}


def _load_module(cp, name, options=("--std=c++14",)):
    """A cupy.RawModule per (file, source hash, device, options), memoised in the process; CuPy
    also caches the compiled binary on disk across processes."""
    import hashlib
    with open(kernel_path(name), encoding="utf-8") as fh:
        src = fh.read()
    key = (name, hashlib.sha256(src.encode()).hexdigest(), cp.cuda.Device().id, options)
    if key not in _MODULES:
        _MODULES[key] = cp.RawModule(code=src, options=options)
    return _MODULES[key]


class CupyBackend:
    """CuPy arrays on one CUDA device, gpulp's fused kernels, windows replayed as CUDA graphs."""

    name = "gpu"
    KERNELS = ("spmv_vector", "spmv_chunks", "spmv_rows", "primal_step", "primal_step_q",
               "dual_step", "halpern", "factor_ft", "factor_fq", "csr_scale", "spmv_vector_f32",
               "spmv_chunks_f32", "kkt_partial", "kkt_finish", "boost_masks", "primal_vector",
               "primal_vector_f32", "dual_vector", "dual_vector_f32", "primal_rows", "dual_rows",
               "spmv_vector_u16", "spmv_vector_f32_u16", "spmv_chunks_u16",
               "spmv_chunks_f32_u16", "primal_vector_u16", "primal_vector_f32_u16",
               "dual_vector_u16", "dual_vector_f32_u16")

    def __init__(self, use_graphs: bool = True, chunk: int = SPMV_CHUNK, fused=None,
                 index16=None):
        import cupy as cp
        self.cp = self.xp = cp
        self.chunk = int(chunk)
        self.stream = cp.cuda.Stream(non_blocking=True)
        self.use_graphs = use_graphs
        self.fused = FUSED_WINDOW if fused is None else bool(fused)
        self.index16 = INDEX16 if index16 is None else bool(index16)
        dev = cp.cuda.Device()
        props = cp.cuda.runtime.getDeviceProperties(dev.id)
        gpu = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        self.description = f"GPU {gpu} (device {dev.id}, CuPy {cp.__version__})"
        self.capture_time = 0.0
        self._module = None
        self._k = {}

    def activate(self):
        """Context in which every operation of this backend runs on its stream."""
        return self.stream

    def _kernel(self, name):
        if name not in self._k:
            if self._module is None:
                self._module = _load_module(self.cp, KERNEL_FILE)
            self._k[name] = self._module.get_function(f"gpulp_{name}")
        return self._k[name]

    @staticmethod
    def _grid(n, per_block=_THREADS):
        return (max(1, -(-int(n) // per_block)),)

    def asarray(self, a):
        return self.cp.asarray(np.asarray(a, dtype=np.float64)).copy()

    def zeros(self, n):
        return self.cp.zeros(n, dtype=np.float64)

    def to_host(self, a):
        return self._host(a)[0]

    def fetch(self, values):
        """Many device scalars to host floats in one transfer."""
        if not values:
            return []
        cp = self.cp
        with self.stream:
            both = cp.stack([cp.asarray(v, dtype=cp.float64) for v in values])
        return [float(v) for v in self._host(both)[0]]

    def memory_needed(self, m, n, nnz):
        """Peak bytes for an m x n working problem with nnz nonzeros: A and A' with their
        row-split layouts (at most nnz / SPMV_CHUNK + rows chunks each), their 16-bit indices
        where they have them, and the vectors, plus
        what the scaling holds while it forms A' (a copy of |A|, the transpose's permutation
        and the sort's or the gather's temporaries: about 36 bytes a nonzero)."""
        chunks = nnz // SPMV_CHUNK + max(m, n) + 1
        idx16 = 2 * ((m <= INDEX16_MAX) + (n <= INDEX16_MAX)) * nnz if self.index16 else 0
        return (2 * (nnz * 12 + (max(m, n) + 2) * 16 + chunks * 16) + 8 * (22 * n + 16 * m)
                + 36 * nnz + idx16)

    def out_of_memory(self, exc):
        """A DeviceError for a CuPy out-of-memory exception, else None."""
        from .errors import DeviceError
        if isinstance(exc, self.cp.cuda.memory.OutOfMemoryError):
            return DeviceError(f"the GPU ran out of memory ({exc}); use device='cpu' or a "
                               f"smaller problem")
        return None

    def check_memory(self, m, n, nnz):
        from .errors import DeviceError
        need = self.memory_needed(m, n, nnz)
        free, total = self.cp.cuda.runtime.memGetInfo()
        pool = self.cp.get_default_memory_pool()
        free += pool.free_bytes()
        if need > free:
            raise DeviceError(f"the problem needs about {need / 2**30:.2f} GiB of device memory "
                              f"but {free / 2**30:.2f} GiB of {total / 2**30:.2f} GiB is free; "
                              f"use device='cpu'")

    def matrix(self, A):
        cp = self.cp
        if max(A.shape) >= 2**31:
            from .errors import DeviceError
            raise DeviceError("more than 2^31 rows or columns are not supported on the GPU")
        indptr = np.asarray(A.indptr, dtype=np.int64)
        return self._csr(indptr, cp.asarray(indptr), cp.asarray(A.indices.astype(np.int32)),
                         cp.asarray(A.data.astype(np.float64)), A.shape)

    def _csr(self, indptr_host, indptr, indices, data, shape):
        """A CsrMatrix of device arrays with its SpMV layout, chosen from the host row pointer."""
        cp = self.cp
        M = CsrMatrix(indptr, indices, data, shape)
        if self.index16 and shape[1] <= INDEX16_MAX:
            M.idx16 = indices.astype(cp.uint16)
        lg = vector_lanes(indptr_host, self.chunk)
        if lg is not None:
            M.row_kernel, M.lanes = "vector", lg
        else:                 # long or uneven rows: split them over warps (see pdhg.cu)
            cstart, rchunk = spmv_chunks(indptr_host, self.chunk)
            M.row_kernel = "chunks"
            M.cstart, M.rchunk = cp.asarray(cstart), cp.asarray(rchunk)
            M.part = cp.zeros(max(1, cstart.size - 1))
        return M

    def scaler(self, A):
        """`CpuBackend.scaler` on the device: A is uploaded once, its transpose is formed there,
        and the passes are a kernel (gpulp_csr_scale) and SpMVs by ones."""
        return _DeviceScaler(self, A)

    def _host(self, *arrays):
        """Device arrays to host copies, on the backend's stream, waiting for them."""
        out = [a.get(stream=self.stream) for a in arrays]
        self.stream.synchronize()
        return out

    def set_scalars(self, scal, values):
        scal.set(np.asarray(values, dtype=np.float64), stream=self.stream)

    def synchronize(self):
        self.stream.synchronize()

    def warmup(self):
        for name in self.KERNELS:
            self._kernel(name)

    def spmv(self, M, x, out):
        m = M.shape[0]
        if M.row_kernel == "chunks":
            self._chunks(M, x)
            self._kernel("spmv_rows")(self._grid(m), (_THREADS,),
                                      (M.rchunk, M.part, out, np.int64(m)), stream=self.stream)
            return
        kind, idx = self._variant(M)
        self._kernel("spmv_vector" + kind)(self._grid(m << M.lanes), (_THREADS,),
                                           (M.indptr, idx, M.data, x, out, np.int64(m),
                                            np.int32(M.lanes)), stream=self.stream)

    @staticmethod
    def _variant(M):
        """(the kernel name's suffix for M's value and index types, the indices to pass)."""
        f32 = "_f32" if M.data.dtype == np.float32 else ""
        if M.idx16 is not None:
            return f32 + "_u16", M.idx16
        return f32, M.indices

    def _chunks(self, M, x):
        """Pass 1 of the row-split SpMV: M.part[k] = chunk k's products with x."""
        nch = M.cstart.size - 1
        if nch:
            kind, idx = self._variant(M)
            self._kernel("spmv_chunks" + kind)(self._grid(nch * 32), (_THREADS,),
                                               (M.cstart, idx, M.data, x, M.part,
                                                np.int64(nch)), stream=self.stream)

    def primal_half(self, i, update, scal, AT, y, aty, x, qx, qd, c, lo, hi, x0, xhat, xbar):
        """`spmv(AT, y, aty)` then `primal_step` (`primal_step_q` when qx is given), fused
        (`_half`), except that aty and xhat are left as they were when `update` (only the
        window's last iteration, update = 0, makes them for the host)."""
        q = qx is not None
        if not q:
            qx = qd = x                                 # unread by the kernels for an LP
        self._half("primal", AT, y, aty, (np.int32(i), np.int32(update), np.int32(q), scal),
                   (x, qx, qd, c, lo, hi, x0, xhat, xbar, np.int64(x.size)))

    def dual_half(self, i, update, scal, A, xbar, axbar, y, lo, hi, y0, yhat):
        """`spmv(A, xbar, axbar)` then `dual_step`, fused (`_half`); axbar and yhat left as they
        were when `update` (as in primal_half)."""
        self._half("dual", A, xbar, axbar, (np.int32(i), np.int32(update), scal),
                   (y, lo, hi, y0, yhat, np.int64(y.size)))

    def _half(self, side, M, v, out, head, tail):
        """out = M v and the `side` step in one kernel for the vector layout (gpulp_{side}_vector,
        after `head` the matrix, v and out, after `tail` the lanes); for the row-split layout,
        pass 1 and then gpulp_{side}_rows (after `head` the chunks of each row, their sums and
        out)."""
        rows = M.shape[0]
        if M.row_kernel == "chunks":
            self._chunks(M, v)
            self._kernel(side + "_rows")(self._grid(rows), (_THREADS,),
                                         head + (M.rchunk, M.part, out) + tail, stream=self.stream)
            return
        kind, idx = self._variant(M)
        self._kernel(side + "_vector" + kind)(
            self._grid(rows << M.lanes), (_THREADS,),
            head + (M.indptr, idx, M.data, v, out) + tail + (np.int32(M.lanes),),
            stream=self.stream)

    def primal_step(self, i, update, scal, x, aty, c, lo, hi, x0, xhat, xbar):
        n = x.size
        self._kernel("primal_step")(self._grid(n), (_THREADS,),
                                    (np.int32(i), np.int32(update), scal, x, aty, c, lo, hi, x0,
                                     xhat, xbar, np.int64(n)), stream=self.stream)

    def dot(self, a, b):
        return a @ b

    def norm(self, a):
        return self.cp.linalg.norm(a)

    def factor(self, Fq):
        cp = self.cp
        F = cp.asarray(np.ascontiguousarray(Fq.F))
        return FactorOp(F, None, cp.asarray(Fq.d), cp.zeros(Fq.F.shape[1]), Fq.shape)

    def qmv(self, Q, x, out):
        if isinstance(Q, CsrMatrix):
            self.spmv(Q, x, out)
            return
        n, k = Q.F.shape
        Q.tmp.fill(0.0)
        self._kernel("factor_ft")(self._grid(n), (_THREADS,),
                                  (Q.F, x, Q.tmp, np.int64(n), np.int32(k)), stream=self.stream)
        self._kernel("factor_fq")(self._grid(n), (_THREADS,),
                                  (Q.F, Q.tmp, Q.d, x, out, np.int64(n), np.int32(k)),
                                  stream=self.stream)

    def primal_step_q(self, i, update, scal, x, aty, qx, qd, c, lo, hi, x0, xhat, xbar):
        n = x.size
        self._kernel("primal_step_q")(self._grid(n), (_THREADS,),
                                      (np.int32(i), np.int32(update), scal, x, aty, qx, qd, c, lo,
                                       hi, x0, xhat, xbar, np.int64(n)), stream=self.stream)

    def dual_step(self, i, update, scal, y, axbar, lo, hi, y0, yhat):
        m = y.size
        self._kernel("dual_step")(self._grid(m), (_THREADS,),
                                  (np.int32(i), np.int32(update), scal, y, axbar, lo, hi, y0,
                                   yhat, np.int64(m)), stream=self.stream)

    def kkt_terms(self, xhat, x, x0, c, qxhat, qx, qd, atyhat, cl_fin, cu_fin, cl0, cu0,
                  col_unscale, yhat, y, y0, axhat, axbar, rl, ru, rl0, ru0, row_unscale):
        """`kkt_terms_xp(cupy, ...)` in two launches (gpulp_kkt_partial, gpulp_kkt_finish: a
        fixed order of sums, no atomics): device scalars, fetched together by `fetch`."""
        cp = self.cp
        m, n = yhat.size, xhat.size
        q = qxhat is not None
        if not q:
            qxhat = qx = qd = xhat
        row_blocks = -(-m // _THREADS)
        blocks = max(1, row_blocks + -(-n // _THREADS))
        partial = cp.empty(blocks * _KKT_Q)
        out = cp.empty(10)
        self._kernel("kkt_partial")(
            (blocks,), (_THREADS,),
            (np.int32(q), np.int64(m), np.int64(n), np.int64(row_blocks), axhat, rl, ru,
             row_unscale, yhat, y, y0, axbar, rl0, ru0, xhat, x, x0, c, qxhat, qx, qd, atyhat,
             cl_fin, cu_fin, cl0, cu0, col_unscale, partial), stream=self.stream)
        self._kernel("kkt_finish")((1,), (_THREADS,), (partial, np.int64(row_blocks),
                                                       np.int64(blocks), out), stream=self.stream)
        return [out[i] for i in range(10)]

    def boost_masks(self, now, tau, ew, window, tol, xhat, x, c, aty, cl, cu, cl_fin, cu_fin, y,
                    axbar, rl, ru, rl0, ru0, last_free, last_binding, col, row, count):
        """`boost_masks_xp(cupy, ...)` in one launch (gpulp_boost_masks)."""
        n, m = xhat.size, y.size
        col_blocks = -(-n // _THREADS)
        f = np.float64
        self._kernel("boost_masks")(
            (max(1, col_blocks + -(-m // _THREADS)),), (_THREADS,),
            (np.int64(n), np.int64(m), np.int64(col_blocks), f(now), f(tau), f(ew), f(window),
             f(tol), xhat, x, c, aty, cl, cu, cl_fin, cu_fin, y, axbar, rl, ru, rl0, ru0,
             last_free, last_binding, col, row, count), stream=self.stream)

    def pdhg_window(self, K, A, AT, Q, qd, scal, x, y, aty, qx, xhat, xbar, axbar, yhat, x0, y0,
                    c, cl, cu, rl, ru):
        """`window_by_launches`, with each SpMV fused with its step (`primal_half`, `dual_half`:
        two to four kernels an iteration, plus Q's product for a QP) unless `fused` is off; the
        engine captures the window in a CUDA graph."""
        if not self.fused:
            window_by_launches(self, K, A, AT, Q, qd, scal, x, y, aty, qx, xhat, xbar, axbar,
                               yhat, x0, y0, c, cl, cu, rl, ru)
            return
        for i in range(K):
            update = i != K - 1
            if Q is not None:
                self.qmv(Q, x, qx)
            self.primal_half(i, update, scal, AT, y, aty, x, qx if Q is not None else None, qd,
                             c, cl, cu, x0, xhat, xbar)
            self.dual_half(i, update, scal, A, xbar, axbar, y, rl, ru, y0, yhat)

    def halpern(self, i, scal, v, vhat, v0):
        n = v.size
        self._kernel("halpern")(self._grid(n), (_THREADS,),
                                (np.int32(i), scal, v, vhat, v0, np.int64(n)), stream=self.stream)

    def capture(self, fn):
        """A callable replaying `fn` (kernel launches only, no allocation). The first call runs
        eagerly (compiles and checks every launch); the second captures a CUDA graph on the
        backend's stream and launches it; later calls replay it. A failed capture is always
        ended, and the window then runs eagerly."""
        import time
        state = {"calls": 0, "graph": None}

        def run():
            state["calls"] += 1
            if not self.use_graphs or state["calls"] == 1 or state["graph"] is False:
                fn()
                return
            if state["graph"] is None:
                t = time.perf_counter()
                self.stream.begin_capture()
                graph = None
                try:
                    fn()
                finally:
                    try:
                        graph = self.stream.end_capture()
                    except Exception:  # noqa: BLE001 - capture unsupported: run eagerly
                        graph = None
                state["graph"] = graph if graph is not None else False
                self.capture_time += time.perf_counter() - t
                if graph is None:
                    fn()
                    return
            state["graph"].launch(stream=self.stream)

        return run


class _DeviceScaler:
    """The scaling's passes on the GPU: see `CpuBackend.scaler`. Exact as on the CPU: the
    products are formed in the same order, the maxima are exact whatever the threads' order, and
    the sums are SpMVs by ones (summed in row order where rows are short, as on the CPU)."""

    def __init__(self, be, A):
        cp = be.cp
        m, n = A.shape
        nnz = int(A.nnz)
        be.check_memory(m, n, nnz)
        self.be, self.shape, self.nnz = be, A.shape, nnz
        # seconds of each step, the device waited for at each end (a few syncs in all): the
        # solve's timers show them as scale.upload, scale.transpose, scale.passes, scale.finish
        t = time.perf_counter()
        self.A = be.matrix(A)                     # signed data, scaled in place by finish
        self.work = cp.abs(self.A.data)
        be.synchronize()
        self.times = {"upload": time.perf_counter() - t}
        t = time.perf_counter()
        # A' on the device: a stable sort of the entries by column keeps each column's rows in
        # ascending order (as scipy's transpose does); perm maps A''s entries to A's
        at_ptr_h = np.zeros(n + 1, dtype=np.int64)
        if nnz:
            self.perm = cp.argsort(self.A.indices)
            rows = cp.searchsorted(self.A.indptr[1:], cp.arange(nnz, dtype=cp.int64),
                                   side="right")
            at_indices = rows[self.perm].astype(cp.int32)
            del rows
            at_ptr = cp.concatenate([cp.zeros(1, dtype=cp.int64),
                                     cp.cumsum(cp.bincount(self.A.indices, minlength=n))])
            at_ptr_h = be._host(at_ptr)[0].astype(np.int64)
        else:
            self.perm = cp.zeros(0, dtype=cp.int64)
            at_indices = cp.zeros(0, dtype=cp.int32)
        # A''s values come at finish (the sums below hand each SpMV its own values)
        self.AT = be._csr(at_ptr_h, cp.asarray(at_ptr_h), at_indices, None, (n, m))
        self.rmax, self.cmax = cp.zeros(m), cp.zeros(n)
        self.ones_m, self.ones_n = cp.ones(m), cp.ones(n)
        be.synchronize()
        self._t = time.perf_counter()
        self.times["transpose"] = self._t - t

    def _pass(self, data, d1, d2):
        be = self.be
        self.rmax.fill(0.0)
        self.cmax.fill(0.0)
        if self.nnz:
            be._kernel("csr_scale")(be._grid(self.nnz), (_THREADS,),
                                    (self.A.indptr, self.A.indices, data, d1, d2, self.rmax,
                                     self.cmax, np.int64(self.shape[0]), np.int64(self.nnz)),
                                    stream=be.stream)

    def _sums(self, row_data, col_data):
        """(A-pattern row sums of row_data, A'-pattern row sums of col_data[perm]), on device."""
        be, cp = self.be, self.be.cp
        Ar, ATc = copy.copy(self.A), copy.copy(self.AT)
        Ar.data, ATc.data = row_data, col_data[self.perm]
        rs, cs = cp.zeros(self.shape[0]), cp.zeros(self.shape[1])
        be.spmv(Ar, self.ones_n, rs)
        be.spmv(ATc, self.ones_m, cs)
        return rs, cs

    def scale(self, d1, d2):
        self._pass(self.work, d1, d2)
        return self.rmax.copy(), self.cmax.copy()

    def powsums(self, a):
        w = self.work
        return self._sums(w, w) if a == 1.0 else self._sums(w ** a, w ** (2.0 - a))

    def finish(self, D1, D2):
        self.be.synchronize()
        t = time.perf_counter()
        self.times["passes"] = t - self._t
        self.work = None
        self._pass(self.A.data, D1, D2)
        self.AT.data = self.A.data[self.perm]
        mag = self.be.cp.abs(self.A.data)
        rs, cs = self.be._host(*self._sums(mag, mag))
        self.perm = None
        self.times["finish"] = time.perf_counter() - t
        return MatrixPair(self.A, self.AT, _norm_bound(rs, cs))


_GPU_REASON = []


def gpu_unavailable_reason():
    """None when the GPU backend can run here, else a sentence saying why not."""
    if not _GPU_REASON:
        try:
            import cupy as cp
        except ImportError:
            _GPU_REASON.append("CuPy is not installed (pip install 'gpulp[gpu]')")
        except Exception as exc:  # noqa: BLE001 - a broken CUDA install shows up here
            _GPU_REASON.append(f"CuPy failed to import ({type(exc).__name__}: {exc})")
        else:
            try:
                count = cp.cuda.runtime.getDeviceCount()
                _GPU_REASON.append(None if count > 0 else "no CUDA device was found")
            except Exception as exc:  # noqa: BLE001
                _GPU_REASON.append(f"no usable CUDA device ({type(exc).__name__}: {exc})")
    return _GPU_REASON[0]


def get_backend(device: str, threads: int = 0, use_graphs: bool = True):
    """Return (backend, note). device='auto' falls back to the CPU and the note says why."""
    from .errors import DeviceError
    if device == "cpu":
        return CpuBackend(threads), ""
    reason = gpu_unavailable_reason()
    if reason is None:
        return CupyBackend(use_graphs), ""
    if device == "gpu":
        raise DeviceError(f"device='gpu' requested but {reason}; use device='cpu' or 'auto'")
    return CpuBackend(threads), f"device='auto' uses the CPU: {reason}"
