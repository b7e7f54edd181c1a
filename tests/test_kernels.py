"""CUDA kernel sources: found from a checkout and from a wheel, compile with nvcc, match the
loader; on a GPU, each kernel matches its NumPy definition (the CPU backend)."""

import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp

from gpulp.backend import KERNEL_FILE, CpuBackend, CupyBackend, kernel_names, kernel_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_loader_finds_every_kernel_it_names():
    defined = set(kernel_names())
    used = {f"gpulp_{k}" for k in CupyBackend.KERNELS}
    assert used == defined
    assert os.path.isfile(kernel_path())


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
@pytest.fixture
def gpu():
    from gpulp.backend import gpu_unavailable_reason
    reason = gpu_unavailable_reason()
    if reason:
        pytest.skip(f"no GPU: {reason}")
    return CupyBackend()


@pytest.mark.gpu
@pytest.mark.parametrize("density", [0.02, 0.6])
def test_gpu_spmv_matches_cpu(gpu, density):
    rng = np.random.default_rng(4)
    A = sp.random(300, 200, density=density, random_state=5, format="csr")
    x = rng.standard_normal(200)
    M = gpu.matrix(A)
    out = gpu.asarray(np.full(300, np.nan))
    gpu.spmv(M, gpu.asarray(x), out)
    np.testing.assert_allclose(gpu.to_host(out), A @ x, rtol=1e-13, atol=1e-13)


@pytest.mark.gpu
@pytest.mark.parametrize("update", [0, 1])
def test_gpu_steps_match_cpu(gpu, update):
    rng = np.random.default_rng(6)
    cpu = CpuBackend()
    n, m = 500, 300
    args_p = [rng.standard_normal(n) for _ in range(4)]
    lo = np.where(rng.random(n) < 0.3, -np.inf, -0.5)
    hi = np.where(rng.random(n) < 0.3, np.inf, 0.5)
    scal = np.array([0.7, 1.3, 4.0, 1.0])
    ref = [a.copy() for a in args_p] + [np.zeros(n), np.zeros(n)]
    cpu.primal_step(2, update, scal, ref[0], ref[1], ref[2], lo, hi, ref[3], ref[4], ref[5])
    dev = [gpu.asarray(a) for a in args_p] + [gpu.asarray(np.full(n, np.nan))] * 0 + \
        [gpu.asarray(np.full(n, np.nan)), gpu.asarray(np.full(n, np.nan))]
    gpu.primal_step(2, update, gpu.asarray(scal), dev[0], dev[1], dev[2], gpu.asarray(lo),
                    gpu.asarray(hi), dev[3], dev[4], dev[5])
    for a, b in zip(ref, dev):
        np.testing.assert_allclose(gpu.to_host(b), a, rtol=1e-14, atol=1e-15)
    y, axbar, y0 = (rng.standard_normal(m) for _ in range(3))
    rl = np.where(rng.random(m) < 0.5, -np.inf, -0.1)
    ru = np.where(rng.random(m) < 0.5, np.inf, 0.2)
    yref, yhat = y.copy(), np.zeros(m)
    cpu.dual_step(1, update, scal, yref, axbar, rl, ru, y0, yhat)
    yd, yhd = gpu.asarray(y), gpu.asarray(np.full(m, np.nan))
    gpu.dual_step(1, update, gpu.asarray(scal), yd, gpu.asarray(axbar), gpu.asarray(rl),
                  gpu.asarray(ru), gpu.asarray(y0), yhd)
    np.testing.assert_allclose(gpu.to_host(yd), yref, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(gpu.to_host(yhd), yhat, rtol=1e-14, atol=1e-15)


@pytest.mark.gpu
def test_gpu_and_cpu_solve_the_same_lp(gpu):
    import gpulp
    from instances.tiny import cases
    for case in cases():
        r_cpu = gpulp.solve(case["problem"], tol=1e-8, device="cpu")
        r_gpu = gpulp.solve(case["problem"], tol=1e-8, device="gpu")
        assert r_cpu.status == r_gpu.status
        if r_cpu.status == "optimal":
            assert r_gpu.verified
            assert r_gpu.objective == pytest.approx(r_cpu.objective, rel=1e-6, abs=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("quadratic", [False, True], ids=["lp", "qp"])
def test_gpu_kkt_terms_match_cpu(gpu, quadratic):
    """The termination check's ten reductions: the GPU's array operations against the CPU's
    one-pass Numba kernel."""
    rng = np.random.default_rng(8)
    m, n = 300, 500
    cols = [rng.standard_normal(n) for _ in range(4)]
    q = [rng.standard_normal(n), rng.standard_normal(n), rng.random(n)] if quadratic else \
        [None] * 3
    fin = [(rng.random(n) < 0.6).astype(float) for _ in range(2)]
    b0 = [np.where(f > 0, rng.standard_normal(n), 0.0) for f in fin]
    rows = [rng.standard_normal(m) for _ in range(5)]
    rl = np.where(rng.random(m) < 0.5, -1.0, -np.inf)
    ru = np.where(rng.random(m) < 0.5, 1.0, np.inf)
    args = (*cols, *q, rng.standard_normal(n), *fin, *b0, rng.random(n) + 0.5, *rows, rl, ru,
            np.where(np.isfinite(rl), rl, 0.0), np.where(np.isfinite(ru), ru, 0.0),
            rng.random(m) + 0.5)
    want = CpuBackend().kkt_terms(*args)
    got = gpu.fetch(gpu.kkt_terms(*[None if a is None else gpu.asarray(a) for a in args]))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
