"""CUDA kernel sources: found from a checkout and from a wheel, compile with nvcc, match the
loader; each kernel matches its NumPy definition (the CPU backend), on a GPU and on the CUDA
emulator (tests/cuda_emu.py)."""

import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp

from gpulp.backend import KERNEL_FILE, CpuBackend, CupyBackend, kernel_names, kernel_path
from gpulp.problem import FactorQ

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_loader_finds_every_kernel_it_names():
    defined = set(kernel_names())
    used = {f"gpulp_{k}" for k in CupyBackend.KERNELS}
    assert used == defined
    assert os.path.isfile(kernel_path())
    # the termination check's block size and partial sums a block, as the launch assumes
    import re
    from gpulp import backend
    src = open(kernel_path()).read()
    assert int(re.search(r"#define KKT_T (\d+)", src).group(1)) == backend._THREADS
    assert int(re.search(r"#define KKT_Q (\d+)", src).group(1)) == backend._KKT_Q


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed here")
def test_kernels_compile_with_nvcc(tmp_path):
    out = tmp_path / "pdhg.ptx"
    proc = subprocess.run(["nvcc", "--ptx", "-arch=sm_80", "--std=c++14", kernel_path(), "-o",
                           str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ptx = out.read_text()
    for name in kernel_names():
        assert f".entry {name}(" in ptx


def test_wheel_ships_the_kernel_sources(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(tmp_path), ROOT], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("gpulp-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert f"gpulp/kernels/{KERNEL_FILE}" in names
    # and the installed layout is what kernel_path() looks for first
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    code = ("import gpulp.backend as b, sys; p = b.kernel_path(); "
            "sys.exit(0 if p.startswith(sys.argv[1]) else 1)")
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run([sys.executable, "-c", code, str(target)], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------------------------------ on a GPU
# Each kernel against its NumPy definition (the CPU backend), on a real GPU (`gpu` mark) and on the
# CUDA emulator of tests/cuda_emu.py (g++; runs in CI).
def _dev(be, a):
    return None if a is None else be.asarray(a)


@pytest.fixture
def real_gpu():
    from gpulp.backend import gpu_unavailable_reason
    reason = gpu_unavailable_reason()
    if reason:
        pytest.skip(f"no GPU: {reason}")
    be = CupyBackend()
    with be.activate():              # the tests' own CuPy calls on the kernels' stream
        yield be


@pytest.fixture(params=[pytest.param("cuda", marks=pytest.mark.gpu), "emulated"])
def gpu(request):
    if request.param == "cuda":
        yield request.getfixturevalue("real_gpu")
        return
    import cuda_emu
    if cuda_emu.compiler_missing():
        pytest.skip(cuda_emu.compiler_missing())
    with cuda_emu.emulated_cupy():
        be = CupyBackend()
        be.warmup()
        with be.activate():          # the tests' own CuPy calls on the kernels' stream
            yield be


def _spmv_cases():
    rng = np.random.default_rng(2)
    dense_row = sp.vstack([sp.random(300, 400, density=0.005, random_state=3),
                           sp.csr_matrix(np.ones((1, 400)))]).tocsr()   # a budget row
    skewed = sp.csr_matrix(sp.hstack([sp.random(500, 3, density=1.0, random_state=4),
                                      sp.eye(500)]).T)    # 3 rows of 500, 500 rows of 1 (CVaR A')
    return {"empty": sp.csr_matrix((5, 4)), "sparse": sp.random(70, 50, density=0.02,
                                                               random_state=5, format="csr"),
            "dense": sp.csr_matrix(rng.standard_normal((40, 60))), "dense_row": dense_row,
            "skewed": skewed.tocsr()}


@pytest.mark.parametrize("name", list(_spmv_cases()))
@pytest.mark.parametrize("chunk", [5, 32, 256, 1024])
def test_spmv_kernels_match_scipy(gpu, name, chunk):
    """Both SpMV kernels on even, empty, dense and skewed matrices, with chunks that cut rows
    (5), fill a warp (32), the old default (256) and the default (1024); the choice sends long or
    uneven rows to the split kernel."""
    A = _spmv_cases()[name]
    cp = gpu.cp
    gpu = CupyBackend(chunk=chunk)
    with gpu.activate():
        _check_spmv(gpu, cp, A, chunk)


def _layouts(gpu, cp, M, A, chunk):
    """Every SpMV layout of M in turn: the vector kernel at 1, 2, 8 and 32 lanes a row, and the
    row-split one (whatever the backend chose), each with int32 and with 16-bit column indices,
    M set to each; M is restored at the end."""
    from gpulp.backend import spmv_chunks
    chosen = (M.row_kernel, getattr(M, "lanes", None))
    cstart, rchunk = spmv_chunks(A.indptr, chunk)
    M.cstart, M.rchunk, M.part = cp.asarray(cstart), cp.asarray(rchunk), \
        cp.zeros(max(1, cstart.size - 1))
    idx16 = M.idx16
    for layout in (("vector", 0), ("vector", 1), ("vector", 3), ("vector", 5), ("chunks", None)):
        M.row_kernel, M.lanes = layout
        for ix in ("int32", "uint16"):      # each matrix here has under 2^16 columns
            M.idx16 = M.indices.astype(cp.uint16) if ix == "uint16" else None
            yield f"{layout[0]} {layout[1]} {ix}"
    M.row_kernel, M.lanes, M.idx16 = chosen + (idx16,)


def _check_spmv(gpu, cp, A, chunk):
    from gpulp.backend import vector_lanes
    x = np.random.default_rng(4).standard_normal(A.shape[1])
    M = gpu.matrix(A)
    lg = vector_lanes(A.indptr, chunk)
    assert M.row_kernel == ("chunks" if lg is None else "vector")
    if lg is not None:
        assert M.lanes == lg
    for layout in _layouts(gpu, cp, M, A, chunk):
        out = gpu.asarray(np.full(A.shape[0], np.nan))
        gpu.spmv(M, gpu.asarray(x), out)
        np.testing.assert_allclose(gpu.to_host(out), A @ x, rtol=1e-13, atol=1e-13,
                                   err_msg=layout)
    # precision="mixed": float32 values through the kernels' float instances, the products
    # and sums in double (so the float32-rounded matrix times x, to double accuracy)
    values = M.data
    M.data = values.astype(cp.float32)
    A32 = sp.csr_matrix((A.data.astype(np.float32).astype(np.float64), A.indices, A.indptr),
                        shape=A.shape)
    for layout in _layouts(gpu, cp, M, A, chunk):
        out = gpu.asarray(np.full(A.shape[0], np.nan))
        gpu.spmv(M, gpu.asarray(x), out)
        np.testing.assert_allclose(gpu.to_host(out), A32 @ x, rtol=1e-13, atol=1e-13,
                                   err_msg=layout + " float32")
    M.data = values


def test_sixteen_bit_indices_up_to_their_range(gpu):
    """A matrix of at most 2^16 columns gets a uint16 copy of its indices, which the SpMVs read
    (the same products); one more column, or index16=False, keeps int32 only."""
    from gpulp.backend import INDEX16_MAX
    cp = gpu.cp
    rng = np.random.default_rng(6)
    for n, want in ((INDEX16_MAX, True), (INDEX16_MAX + 1, False)):
        A = sp.csr_matrix((rng.standard_normal(6), ([0, 0, 1, 2, 2, 2], [0, n - 1, 7, 3, n - 2,
                                                                            n - 1])), shape=(3, n))
        x = rng.standard_normal(n)
        for be in (gpu, CupyBackend(index16=False)):
            with be.activate():
                M = be.matrix(A)
                assert (M.idx16 is not None) == (want and be.index16), (n, be.index16)
                if M.idx16 is not None:
                    assert M.idx16.dtype == cp.uint16
                    np.testing.assert_array_equal(be.to_host(M.idx16.astype(cp.float64)),
                                                  A.indices)
                out = be.asarray(np.full(3, np.nan))
                be.spmv(M, be.asarray(x), out)
                np.testing.assert_allclose(be.to_host(out), A @ x, rtol=1e-14)
    assert CupyBackend(index16=False).memory_needed(10, 10, 100) < gpu.memory_needed(10, 10, 100)


def test_vector_lanes_follow_the_row_lengths():
    """Lanes a row: the largest power of two up to the average length, at most a warp, and one
    below an average of 4; a row
    longer than the lanes' VECTOR_ROUNDS strides, or than a chunk, sends the matrix to the
    row-split layout."""
    from gpulp.backend import VECTOR_ROUNDS, vector_lanes

    def ptr(lengths):
        return np.concatenate([[0], np.cumsum(lengths)])

    assert vector_lanes(ptr([1] * 10)) == 0
    assert vector_lanes(ptr([2] * 10)) == 0 and vector_lanes(ptr([3] * 10)) == 0
    assert vector_lanes(ptr([4] * 10)) == 2
    assert vector_lanes(ptr([9] * 10)) == 3                 # the allocation LP's columns
    assert vector_lanes(ptr([400] * 10)) == 5               # CVaR's scenario rows: a warp
    assert vector_lanes(ptr([0] * 4)) == 0 and vector_lanes([0]) == 0
    assert vector_lanes(ptr([1] * 99 + [VECTOR_ROUNDS])) == 0
    assert vector_lanes(ptr([1] * 99 + [VECTOR_ROUNDS + 1])) is None     # a budget row
    assert vector_lanes(ptr([400] * 10 + [1025])) is None                # past one chunk
    assert vector_lanes(ptr([400] * 10 + [1025]), chunk=2048) == 5


@pytest.mark.parametrize("alpha", [1.0, 0.5])
@pytest.mark.parametrize("name", list(_spmv_cases()) + ["scaled"])
def test_scaling_on_the_device_matches_the_cpu(gpu, name, alpha):
    """The scaling's passes on the device (csr_scale with its atomic maxima, sums by SpMV, A'
    formed by a stable sort): the same factors, A~ and A~' as the CPU's, the transpose's pattern
    exactly, and the same bound on ||A~||."""
    from gpulp.scaling import compute_scaling
    if name == "scaled":        # magnitudes over 12 decades, an empty row and an empty column
        rng = np.random.default_rng(9)
        A = sp.random(90, 70, density=0.08, random_state=9, format="csr")
        A.data = rng.standard_normal(A.nnz) * 10.0 ** rng.integers(-6, 7, A.nnz)
        A = sp.vstack([A, sp.csr_matrix((1, 70))]).tocsr()
        A = sp.hstack([sp.csr_matrix((91, 1)), A]).tocsr()
    else:
        A = _spmv_cases()[name]
    m, n = A.shape
    c, rl, ru = np.ones(n), -np.ones(m), np.ones(m)
    ref = compute_scaling(A, c, rl, ru, pock_chambolle_alpha=alpha, be=CpuBackend())
    got = compute_scaling(A, c, rl, ru, pock_chambolle_alpha=alpha, be=gpu)
    np.testing.assert_allclose(got[0].D1, ref[0].D1, rtol=1e-13)
    np.testing.assert_allclose(got[0].D2, ref[0].D2, rtol=1e-13)
    for side in ("A", "AT"):
        want, have = getattr(ref[1], side), getattr(got[1], side)
        assert have.shape == want.shape
        np.testing.assert_array_equal(gpu.cp.asnumpy(have.indptr), want.indptr)
        np.testing.assert_array_equal(gpu.cp.asnumpy(have.indices), want.indices)
        np.testing.assert_allclose(gpu.to_host(have.data), want.data, rtol=1e-12, atol=0)
    assert got[1].norm_bound == pytest.approx(ref[1].norm_bound, rel=1e-12)
    dense = ref[1].A
    dense = sp.csr_matrix((dense.data, dense.indices, dense.indptr), shape=dense.shape).toarray()
    if dense.size:
        want = np.sqrt(np.abs(dense).sum(0).max() * np.abs(dense).sum(1).max())
        assert ref[1].norm_bound == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("update", [0, 1])
def test_step_kernels_match_the_cpu_backend(gpu, update):
    rng = np.random.default_rng(6)
    cpu = CpuBackend()
    n, m = 300, 200                     # neither a multiple of the block size
    lo = np.where(rng.random(n) < 0.3, -np.inf, -0.5)
    hi = np.where(rng.random(n) < 0.3, np.inf, 0.5)
    scal = np.array([0.7, 1.3, 4.0, 0.9])
    x, aty, c, x0, qx, qd = (rng.standard_normal(n) for _ in range(6))
    qd = np.abs(qd)
    for quadratic in (False, True):
        ref = [x.copy(), np.zeros(n), np.zeros(n)]
        dev = [gpu.asarray(x), gpu.asarray(np.full(n, np.nan)), gpu.asarray(np.full(n, np.nan))]
        if quadratic:
            cpu.primal_step_q(2, update, scal, ref[0], aty, qx, qd, c, lo, hi, x0, ref[1], ref[2])
            gpu.primal_step_q(2, update, gpu.asarray(scal), dev[0], *map(gpu.asarray, (aty, qx, qd,
                              c, lo, hi, x0)), dev[1], dev[2])
        else:
            cpu.primal_step(2, update, scal, ref[0], aty, c, lo, hi, x0, ref[1], ref[2])
            gpu.primal_step(2, update, gpu.asarray(scal), dev[0], *map(gpu.asarray, (aty, c, lo,
                            hi, x0)), dev[1], dev[2])
        for a, b in zip(ref, dev):
            np.testing.assert_allclose(gpu.to_host(b), a, rtol=1e-14, atol=1e-15)
    y, axbar, y0 = (rng.standard_normal(m) for _ in range(3))
    rl = np.where(rng.random(m) < 0.5, -np.inf, -0.1)
    ru = np.where(rng.random(m) < 0.5, np.inf, 0.2)
    yref, yhat = y.copy(), np.zeros(m)
    cpu.dual_step(1, update, scal, yref, axbar, rl, ru, y0, yhat)
    yd, yhd = gpu.asarray(y), gpu.asarray(np.full(m, np.nan))
    gpu.dual_step(1, update, gpu.asarray(scal), yd, *map(gpu.asarray, (axbar, rl, ru, y0)), yhd)
    np.testing.assert_allclose(gpu.to_host(yd), yref, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(gpu.to_host(yhd), yhat, rtol=1e-14, atol=1e-15)
    v, vhat, v0 = (rng.standard_normal(m) for _ in range(3))
    vref = v.copy()
    cpu.halpern(3, scal, vref, vhat, v0)
    vd = gpu.asarray(v)
    gpu.halpern(3, gpu.asarray(scal), vd, gpu.asarray(vhat), gpu.asarray(v0))
    np.testing.assert_allclose(gpu.to_host(vd), vref, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("update", [0, 1])
@pytest.mark.parametrize("name", ["sparse", "dense", "dense_row", "skewed"])
def test_fused_halves_match_spmv_then_step(gpu, name, update):
    """primal_half (A'y, then the primal step, LP and QP) and dual_half (A xbar, then the dual
    step), fused in one kernel for each vector layout and in the row-split pass 2 otherwise,
    give what the CPU backend's separate SpMV and step give, in float64 and float32 values; in an
    iteration with update they leave the products and the hat points unwritten."""
    A = _spmv_cases()[name]
    m, n = A.shape
    cp, cpu = gpu.cp, CpuBackend()
    rng = np.random.default_rng(8)
    scal = np.array([0.7, 1.3, 4.0, 0.9])
    y, xbar, x, c, x0, qx, qd, y0 = (rng.standard_normal(k) for k in (m, n, n, n, n, n, n, m))
    qd = np.abs(qd)
    lo = np.where(rng.random(n) < 0.3, -np.inf, -0.5)
    hi = np.where(rng.random(n) < 0.3, np.inf, 0.5)
    rl = np.where(rng.random(m) < 0.5, -np.inf, -0.1)
    ru = np.where(rng.random(m) < 0.5, np.inf, 0.2)
    AT = A.T.tocsr()
    g = {k: gpu.asarray(v) for k, v in dict(scal=scal, y=y, xbar=xbar, c=c, x0=x0, qx=qx, qd=qd,
                                             y0=y0, lo=lo, hi=hi, rl=rl, ru=ru).items()}
    Mt, M = gpu.matrix(AT), gpu.matrix(A)
    for f32 in (False, True):
        Ad = sp.csr_matrix((A.data.astype(np.float32).astype(np.float64), A.indices, A.indptr),
                           shape=A.shape) if f32 else A
        ATd = Ad.T.tocsr()
        if f32:
            Mt.data, M.data = Mt.data.astype(cp.float32), M.data.astype(cp.float32)
        for quadratic in (False, True):
            aty = ATd @ y
            want = [x.copy(), np.zeros(n), np.zeros(n)]
            if quadratic:
                cpu.primal_step_q(2, update, scal, want[0], aty, qx, qd, c, lo, hi, x0, *want[1:])
            else:
                cpu.primal_step(2, update, scal, want[0], aty, c, lo, hi, x0, *want[1:])
            for layout in _layouts(gpu, cp, Mt, AT, 32):
                got = [gpu.asarray(x)] + [gpu.asarray(np.full(n, np.nan)) for _ in range(3)]
                gpu.primal_half(2, update, g["scal"], Mt, g["y"], got[3], got[0],
                                g["qx"] if quadratic else None, g["qd"] if quadratic else None,
                                g["c"], g["lo"], g["hi"], g["x0"], got[1], got[2])
                for k, (a, b) in enumerate(zip(want + [aty], got)):
                    if update and k in (1, 3):      # xhat, aty: made by the last iteration alone
                        assert np.isnan(gpu.to_host(b)).all(), (layout, k)
                        continue
                    np.testing.assert_allclose(gpu.to_host(b), a, rtol=1e-12, atol=1e-12,
                                               err_msg=f"{layout} q={quadratic} f32={f32}")
        axbar = Ad @ xbar
        want = [y.copy(), np.zeros(m)]
        cpu.dual_step(1, update, scal, want[0], axbar, rl, ru, y0, want[1])
        for layout in _layouts(gpu, cp, M, A, 32):
            got = [gpu.asarray(y)] + [gpu.asarray(np.full(m, np.nan)) for _ in range(2)]
            gpu.dual_half(1, update, g["scal"], M, g["xbar"], got[2], got[0], g["rl"], g["ru"],
                          g["y0"], got[1])
            for k, (a, b) in enumerate(zip(want + [axbar], got)):
                if update and k in (1, 2):          # yhat, axbar: as in the primal half
                    assert np.isnan(gpu.to_host(b)).all(), (layout, k)
                    continue
                np.testing.assert_allclose(gpu.to_host(b), a, rtol=1e-12, atol=1e-12,
                                           err_msg=f"{layout} f32={f32}")


@pytest.mark.parametrize("n", [1, 300, 700])
def test_factor_kernels_match_the_cpu_backend(gpu, n):
    """Q x = F (F' x) + d x: factor_ft reduces in shared memory behind barriers and adds its
    partial sums atomically (the emulator runs those blocks as cooperative threads)."""
    rng = np.random.default_rng(n)
    k = 50
    Fq = FactorQ(rng.standard_normal((n, k)), rng.random(n))
    x = rng.standard_normal(n)
    want = Fq.F @ (Fq.F.T @ x) + Fq.d * x
    Q = gpu.factor(Fq)
    out = gpu.asarray(np.full(n, np.nan))
    gpu.qmv(Q, gpu.asarray(x), out)
    gpu.qmv(Q, gpu.asarray(x), out)          # twice: the k-vector is zeroed before each use
    np.testing.assert_allclose(gpu.to_host(out), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("quadratic", [False, True], ids=["lp", "qp"])
@pytest.mark.parametrize("m, n", [(30, 50), (700, 1300)], ids=["one-block", "many-blocks"])
def test_kkt_terms_match_the_cpu_backend(gpu, quadratic, m, n):
    """The check's ten reductions: one block of rows and one of columns, and several of each
    (the partial sums of pass 1, then pass 2's fixed-order sum over them)."""
    rng = np.random.default_rng(8)
    cols = [rng.standard_normal(n) for _ in range(4)]
    q = [rng.standard_normal(n), rng.standard_normal(n), rng.random(n)] if quadratic else [None] * 3
    fin = [(rng.random(n) < 0.6).astype(float) for _ in range(2)]
    b0 = [np.where(f > 0, rng.standard_normal(n), 0.0) for f in fin]
    rows = [rng.standard_normal(m) for _ in range(5)]
    rl = np.where(rng.random(m) < 0.5, -1.0, -np.inf)
    ru = np.where(rng.random(m) < 0.5, 1.0, np.inf)
    args = (*cols, *q, rng.standard_normal(n), *fin, *b0, rng.random(n) + 0.5, *rows, rl, ru,
            np.where(np.isfinite(rl), rl, 0.0), np.where(np.isfinite(ru), ru, 0.0),
            rng.random(m) + 0.5)
    want = CpuBackend().kkt_terms(*args)
    got = gpu.fetch(gpu.kkt_terms(*[_dev(gpu, a) for a in args]))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_boost_masks_match_the_cpu_backend(gpu):
    """The step boost's masks in one launch: the same last-seen iterations, masks and count of
    changes as the NumPy definition, over several blocks of columns and rows, twice in a row
    (the count adds up)."""
    rng = np.random.default_rng(9)
    n, m = 700, 400
    cl = np.where(rng.random(n) < 0.3, 0.0, -np.inf)
    cu = np.where(rng.random(n) < 0.3, cl + (rng.random(n) < 0.5), np.inf)
    cl_fin, cu_fin = np.isfinite(cl).astype(float), np.isfinite(cu).astype(float)
    rl = np.where(rng.random(m) < 0.5, -1.0, -np.inf)
    ru = np.where(rng.random(m) < 0.3, -rl, np.inf)
    ru[:20] = rl[:20]                                       # equality rows
    ru0, rl0 = np.where(np.isfinite(ru), ru, 0.0), np.where(np.isfinite(rl), rl, 0.0)
    # about half of each side near its threshold, so that both outcomes occur
    vecs = dict(xhat=rng.standard_normal(n), x=rng.standard_normal(n), c=rng.standard_normal(n),
                aty=rng.standard_normal(n), y=rng.standard_normal(m),
                axbar=rng.standard_normal(m) * 2)
    state = dict(last_free=np.where(rng.random(n) < 0.5, -np.inf, rng.integers(0, 50, n) * 1.0),
                 last_binding=np.where(rng.random(m) < 0.5, -np.inf,
                                       rng.integers(0, 50, m) * 1.0),
                 col=(rng.random(n) < 0.5) * 1.0, row=(rng.random(m) < 0.5) * 1.0,
                 count=np.zeros(1))
    cpu, dev = CpuBackend(), {k: gpu.asarray(v) for k, v in state.items()}
    for now in (60.0, 75.0):
        args = (now, 0.7, 1.3, 20, 1e-8, vecs["xhat"], vecs["x"], vecs["c"], vecs["aty"], cl, cu,
                cl_fin, cu_fin, vecs["y"], vecs["axbar"], rl, ru, rl0, ru0)
        cpu.boost_masks(*args, *state.values())
        gpu.boost_masks(*args[:5], *[gpu.asarray(a) for a in args[5:]], *dev.values())
        for k, v in state.items():
            np.testing.assert_array_equal(gpu.to_host(dev[k]), v, err_msg=k)
    assert 0 < state["count"][0] < n + m                    # some entries changed, not all
    assert 0 < state["col"].sum() < n and 0 < state["row"].sum() < m


@pytest.mark.gpu
def test_gpu_and_cpu_solve_the_same_lp(real_gpu):
    import gpulp
    from instances.tiny import cases
    for case in cases():
        r_cpu = gpulp.solve(case["problem"], tol=1e-8, device="cpu")
        r_gpu = gpulp.solve(case["problem"], tol=1e-8, device="gpu")
        assert r_cpu.status == r_gpu.status
        if r_cpu.status == "optimal":
            assert r_gpu.verified
            assert r_gpu.objective == pytest.approx(r_cpu.objective, rel=1e-6, abs=1e-6)
