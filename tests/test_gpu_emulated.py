"""The GPU backend without a GPU: gpulp's CUDA kernels compiled for the CPU and CuPy replaced by
the stand-in in cuda_emu.py. These run in CI. (Each kernel against the CPU backend is tested in
test_kernels.py, on the emulator and on a real GPU.)

What they catch: a launch with the wrong argument types, a kernel writing out of bounds, host
code that converts device arrays implicitly, a window that allocates or synchronises inside its
CUDA-graph capture, a graph that does not survive a restart, and any difference between the GPU
and CPU paths on whole solves."""

import numpy as np
import pytest
import scipy.sparse as sp

import gpulp
from gpulp.problem import FactorQ
from gpulp.backend import CpuBackend, CupyBackend, NSCAL, kernel_path, window_by_launches
from instances import generators
from instances.tiny import cases

cuda_emu = pytest.importorskip("cuda_emu")

if cuda_emu.compiler_missing():
    pytest.skip(cuda_emu.compiler_missing(), allow_module_level=True)

EmulatorError = cuda_emu.EmulatorError


@pytest.fixture
def cp():
    with cuda_emu.emulated_cupy() as mod:
        yield mod


@pytest.fixture
def gpu(cp):
    be = CupyBackend()
    be.warmup()
    with be.activate():        # the tests' own CuPy calls on the kernels' stream
        yield be


def test_a_budget_row_is_split_over_warps(cp):
    """A knapsack-style row over every column must not be walked by one thread."""
    from gpulp.backend import SPMV_CHUNK
    n = 5 * SPMV_CHUNK + 7
    A = sp.vstack([sp.eye(n, format="csr"), sp.csr_matrix(np.ones((1, n)))]).tocsr()
    M = CupyBackend().matrix(A)
    assert M.row_kernel == "chunks"
    assert int(np.diff(M.rchunk.get()).max()) == 6         # the row's 6 chunks, one warp each


# ------------------------------------------------------------------------------ CUDA graphs
@pytest.mark.parametrize("fused,chunk", [(True, 1024), (True, 5), (False, 1024)])
def test_captured_window_replays_and_survives_new_scalars(cp, fused, chunk):
    """The engine's window as a graph: the first call runs eagerly, the second captures, later
    calls replay. Each must equal K CPU iterations, also after the host rewrites the scalars
    (a restart changes tau, sigma and the Halpern counter without recapturing). With the fused
    halves (vector layout; row-split with chunks of 5) and with separate kernels."""
    gpu = CupyBackend(chunk=chunk, fused=fused)
    gpu.warmup()
    with gpu.activate():
        _captured_window(gpu, chunk)


@pytest.mark.parametrize("fused,chunk,per_iteration", [(True, 1024, 2), (True, 5, 4),
                                                      (False, 1024, 4), (False, 5, 6)])
def test_fused_window_launches_two_kernels_an_iteration(cp, fused, chunk, per_iteration):
    """An LP window of K iterations: with the fused halves, one kernel a half in the vector
    layout (two with the row-split one); separate SpMV and step kernels otherwise."""
    be = CupyBackend(chunk=chunk, fused=fused)
    be.warmup()
    m, n, K = 30, 50, 4
    A = sp.random(m, n, density=0.3, random_state=2, format="csr")
    with be.activate():
        Ad, ATd = be.matrix(A), be.matrix(A.T.tocsr())
        v = {k: be.zeros(size) for k, size in dict(x=n, y=m, aty=n, xhat=n, xbar=n, axbar=m,
                                                    yhat=m, x0=n, y0=m, c=n, cl=n, cu=n, rl=m,
                                                    ru=m, scal=NSCAL).items()}
        names = []
        kernel = be._kernel

        def counting(name):
            names.append(name)
            return kernel(name)

        be._kernel = counting
        be.pdhg_window(K, Ad, ATd, None, None, v["scal"], v["x"], v["y"], v["aty"], None,
                       v["xhat"], v["xbar"], v["axbar"], v["yhat"], v["x0"], v["y0"], v["c"],
                       v["cl"], v["cu"], v["rl"], v["ru"])
    assert len(names) == per_iteration * K, names
    assert any("vector" in k or "rows" in k for k in names)


def _captured_window(gpu, chunk):
    rng = np.random.default_rng(3)
    m, n, K = 40, 60, 5
    A = sp.random(m, n, density=0.2, random_state=1, format="csr")
    AT = A.T.tocsr()
    c = rng.standard_normal(n)
    cl, cu = np.zeros(n), np.full(n, 2.0)
    rl, ru = -np.ones(m), np.ones(m)
    cpu = CpuBackend()

    def state(be):
        vecs = dict(x=np.zeros(n), y=np.zeros(m), aty=np.zeros(n), xhat=np.zeros(n),
                    xbar=np.zeros(n), axbar=np.zeros(m), yhat=np.zeros(m),
                    x0=rng_x0.copy(), y0=rng_y0.copy())
        vecs["x"][:] = rng_x0
        vecs["y"][:] = rng_y0
        return {k: be.asarray(v) for k, v in vecs.items()}

    rng_x0, rng_y0 = rng.standard_normal(n), rng.standard_normal(m)
    sc = state(cpu)
    sg = state(gpu)
    scal_c, scal_g = np.zeros(NSCAL), gpu.zeros(NSCAL)
    Ac, ATc = cpu.matrix(A), cpu.matrix(AT)
    Ag, ATg = gpu.matrix(A), gpu.matrix(AT)
    assert {Ag.row_kernel, ATg.row_kernel} == {"chunks" if chunk < 12 else "vector"}
    dc = [cpu.asarray(v) for v in (c, cl, cu, rl, ru)]
    dg = [gpu.asarray(v) for v in (c, cl, cu, rl, ru)]

    def args(be, Am, ATm, s, scal, d):
        return (K, Am, ATm, None, None, scal, s["x"], s["y"], s["aty"], None, s["xhat"],
                s["xbar"], s["axbar"], s["yhat"], s["x0"], s["y0"], *d)

    window = gpu.capture(lambda: gpu.pdhg_window(*args(gpu, Ag, ATg, sg, scal_g, dg)))
    for call, values in enumerate([[0.3, 0.2, 0.0, 1.0], [0.3, 0.2, 5.0, 1.0],
                                   [0.1, 0.5, 0.0, 0.8], [0.1, 0.5, 5.0, 0.8]]):
        cpu.set_scalars(scal_c, values)
        gpu.set_scalars(scal_g, values)
        window_by_launches(cpu, *args(cpu, Ac, ATc, sc, scal_c, dc))
        window()
        for k in sc:
            np.testing.assert_allclose(gpu.to_host(sg[k]), sc[k], rtol=1e-12, atol=1e-13,
                                       err_msg=f"{k} after call {call}")
    assert gpu.capture_time > 0


def test_work_inside_a_capture_that_a_graph_cannot_hold_is_caught(cp, gpu):
    v = gpu.zeros(10)
    w = gpu.zeros(10)
    for bad in (lambda: v + 1.0, lambda: v.get(), lambda: gpu.synchronize(), lambda: gpu.zeros(3),
                lambda: float(gpu.dot(v, w))):
        gpu.stream.begin_capture()
        try:
            with pytest.raises(EmulatorError, match="capture"):
                bad()
        finally:
            gpu.stream.end_capture()
    # work on another stream would be missed by the graph
    gpu.stream.begin_capture()
    try:
        with pytest.raises(EmulatorError, match="another stream"):
            with cp.cuda.Stream():
                v.fill(1.0)
    finally:
        gpu.stream.end_capture()


def test_scaling_called_outside_the_solver_keeps_to_one_stream(cp):
    from gpulp.scaling import compute_scaling
    be = CupyBackend()
    A = sp.random(50, 80, density=0.1, random_state=2, format="csr")
    sc, pair, *_ = compute_scaling(A, np.ones(80), -np.ones(50), np.ones(50), be=be)
    assert pair.A.nnz == A.nnz and pair.AT.shape == (80, 50) and sc.D1.shape == (50,)


# ------------------------------------------------------------------------ the emulator's own checks
def test_emulator_catches_work_on_two_streams_without_a_synchronisation(cp):
    """The backend's stream is non-blocking, so work queued on the legacy null stream (a CuPy
    call outside `be.activate()`) may overlap its kernels on a GPU."""
    be = CupyBackend()
    be.warmup()
    n = 20
    scal = be.zeros(NSCAL)                       # outside activate(): on the null stream
    v = be.zeros(n)
    args = (np.int32(0), scal, v, v, v, np.int64(n))
    with pytest.raises(EmulatorError, match="no synchronisation"):
        be._kernel("halpern")((1,), (32,), args, stream=be.stream)
    cp.cuda.Stream.null.synchronize()             # now the null stream's writes are done
    be._kernel("halpern")((1,), (32,), args, stream=be.stream)
    with pytest.raises(EmulatorError, match="no synchronisation"):
        v.get()                                   # a null-stream copy racing the kernel
    be.synchronize()
    assert v.get().shape == (n,)
    with be.activate():                           # one stream: nothing to order
        w = be.zeros(n)
        be._kernel("halpern")((1,), (32,), (np.int32(0), scal, w, w, w, np.int64(n)),
                              stream=be.stream)
        assert be.to_host(w).shape == (n,)
    blocking = cp.cuda.Stream()                   # a blocking stream orders itself with null
    with blocking:
        u = cp.zeros(n)
    assert (u + 1.0).shape == (n,)


def test_emulator_rejects_bad_launches(gpu):
    n = 20
    f = gpu._kernel("halpern")
    scal, v = gpu.zeros(NSCAL), gpu.zeros(n)
    good = (np.int32(0), scal, v, v, v, np.int64(n))
    f((1,), (32,), good, stream=gpu.stream)
    with pytest.raises(EmulatorError, match="numpy.int32"):
        f((1,), (32,), (np.int64(0),) + good[1:], stream=gpu.stream)
    with pytest.raises(EmulatorError, match="numpy.int64"):
        f((1,), (32,), good[:-1] + (np.int32(n),), stream=gpu.stream)
    with pytest.raises(EmulatorError, match="takes 6 arguments"):
        f((1,), (32,), good[:-1], stream=gpu.stream)
    with pytest.raises(EmulatorError, match="float64"):
        f((1,), (32,), (np.int32(0), scal, gpu.cp.zeros(n, dtype=np.int32), v, v, np.int64(n)),
          stream=gpu.stream)
    with pytest.raises(EmulatorError, match="outside an array"):     # n 2 too large for v
        f((1,), (32,), (np.int32(0), scal, v, gpu.zeros(22), gpu.zeros(22), np.int64(22)),
          stream=gpu.stream)


def test_emulator_runs_barriers_and_shuffles_like_a_gpu(cp):
    src = r"""
    extern "C" __global__ void block_sum(const double* x, double* out, int n) {
        __shared__ double s[256];
        int t = threadIdx.x;
        s[t] = t < n ? x[blockIdx.x * blockDim.x + t] : 0.0;
        __syncthreads();
        for (int h = blockDim.x / 2; h > 0; h >>= 1) {
            if (t < h) s[t] += s[t + h];
            __syncthreads();
        }
        if (t == 0) out[blockIdx.x] = s[0];
    }
    extern "C" __global__ void mixed_barriers(double* out) {
        double v = 1.0;
        if (threadIdx.x & 1) __syncthreads(); else v = __shfl_down_sync(0xffffffffu, v, 1);
        out[threadIdx.x] = v;
    }
    extern "C" __global__ void partial_warp_shuffle(double* out) {
        double v = __shfl_down_sync(0xffffffffu, 1.0, 1);
        out[threadIdx.x] = v;
    }
    """
    mod = cp.RawModule(code=src)
    x = np.arange(512.0)
    out = cp.zeros(2)
    mod.get_function("block_sum")((2,), (256,), (cp.asarray(x), out, np.int32(256)))
    np.testing.assert_allclose(out.get(), [x[:256].sum(), x[256:].sum()])
    with pytest.raises(EmulatorError, match="deadlock"):
        mod.get_function("mixed_barriers")((1,), (32,), (cp.zeros(32),))
    with pytest.raises(EmulatorError, match="partial"):
        mod.get_function("partial_warp_shuffle")((1,), (48,), (cp.zeros(48),))


def test_emulated_arrays_refuse_implicit_host_conversion(cp):
    d = cp.zeros(3)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(d)
    with pytest.raises(TypeError, match="host array"):
        d + np.ones(3)
    assert isinstance(d + 1.0, cp.ndarray)
    np.testing.assert_array_equal((d + 1.0).get(), np.ones(3))


def test_kernel_sources_compile_for_the_emulator():
    with open(kernel_path()) as fh:
        kernels = cuda_emu.parse_kernels(fh.read())
    assert {f"gpulp_{k}" for k in CupyBackend.KERNELS} == set(kernels)
    # the warp SpMV and the block reductions need cooperative threads; the rest run one by one
    warp = {f"gpulp_{k}{f32}{ix}" for k in ("spmv_chunks", "spmv_vector", "primal_vector",
                                               "dual_vector")
            for f32 in ("", "_f32") for ix in ("", "_u16")}
    assert {k for k, (_, coop) in kernels.items() if coop} == warp | {
        "gpulp_factor_ft", "gpulp_kkt_partial", "gpulp_kkt_finish"}


# ------------------------------------------------------------------------------ whole solves
def _agree(problem, tol=1e-6, **opts):
    """Solve on the emulated GPU and on the CPU, with the same window length.

    Plain PDHG (no active-set polishing, no crossover: those are scheduled by the clock, and
    the emulator is slower than a GPU) must take the same number of iterations to the same
    status and objective on both paths. With the default pipeline, the two must agree on the
    status and the verified objective."""
    pure = {"tol": tol, "check_every": 64, "active_set": False, "crossover": False, **opts}
    full = {"tol": tol, "check_every": 64, **opts}
    out = []
    for kw in (pure, full):
        r_cpu = gpulp.solve(problem, device="cpu", **kw)
        with cuda_emu.emulated_cupy():
            r_gpu = gpulp.solve(problem, device="gpu", **kw)
        if r_cpu.iterations:             # (presolve alone solves some tiny cases)
            assert r_gpu.device == "gpu" and r_cpu.device == "cpu"
        assert r_gpu.status == r_cpu.status
        if kw is pure:
            assert r_gpu.iterations == r_cpu.iterations
        if r_cpu.status == "optimal":
            assert r_gpu.verified
            assert r_gpu.objective == pytest.approx(r_cpu.objective, rel=10 * tol, abs=10 * tol)
        out.append(r_gpu)
    return out


def test_tiny_lps_agree_on_the_emulated_gpu():
    for case in cases():
        for r in _agree(case["problem"], tol=1e-8):
            assert r.status == case["status"], case["name"]


def test_the_gpu_scaling_reports_its_parts():
    """The solve's timers split the device scaling into its steps (a sync at each end), so a
    GPU run says where its set-up time goes."""
    with cuda_emu.emulated_cupy():
        r = gpulp.solve(generators.by_nnz("cvar", 3000, seed=1), device="gpu", tol=1e-4)
    assert r.status == "optimal" and r.device == "gpu"
    parts = [r.timers[f"scale.{k}"] for k in ("upload", "transpose", "passes", "finish")]
    assert all(t >= 0 for t in parts) and sum(parts) <= r.timers["scale"], r.timers


@pytest.mark.parametrize("name", ["netlib/afiro.mps.gz", "netlib/sc50a.mps.gz",
                                  "netlib/blend.mps.gz", "maros-meszaros/qafiro.qps.gz",
                                  "maros-meszaros/hs21.qps.gz", "infeasible/woodinfe.mps.gz"])
def test_shared_instances_agree_on_the_emulated_gpu(shared_instances, name):
    _agree(gpulp.read_mps(shared_instances / name))


@pytest.mark.parametrize("name", ["netlib/afiro.mps.gz", "netlib/blend.mps.gz"])
def test_mixed_precision_agrees_on_the_emulated_gpu(shared_instances, name, monkeypatch):
    """precision="mixed": the engines' A and A' hold float32 values on both paths (the GPU
    path through the kernels' float instances), both paths take the same iterations, and the
    answer passes the float64 check on the original."""
    import gpulp.pdhg as pdhg
    seen = []
    init = pdhg.Engine.__init__

    def spy(self, *args, **kwargs):
        init(self, *args, **kwargs)
        seen.append((self.be.name, str(self.dev.A.data.dtype), str(self.dev.AT.data.dtype)))

    monkeypatch.setattr(pdhg.Engine, "__init__", spy)
    out = _agree(gpulp.read_mps(shared_instances / name), precision="mixed")
    assert all(r.status == "optimal" and r.verified for r in out)
    assert {s for s in seen} == {("cpu", "float32", "float32"), ("gpu", "float32", "float32")}


def _factor_portfolio(n):
    from gpulp.apps import portfolio
    market = portfolio.synthetic_market(n, 4, seed=1)
    problem = portfolio.build_problem(mu=market["mu"], factors=market["factors"],
                                      risk_aversion=5.0).problem
    assert isinstance(problem.Q, FactorQ)       # Q = F F' + D, never formed
    return problem


def test_factor_portfolio_agrees_on_the_emulated_gpu():
    _agree(_factor_portfolio(100))


def test_device_memory_errors_are_clear(cp, monkeypatch):
    problem = generators.factor_qp(300, 5, seed=1)
    cp.emulator.limit = 10_000                 # bytes: the estimate says it cannot fit
    with pytest.raises(gpulp.DeviceError, match="needs about .* device memory.*device='cpu'"):
        gpulp.solve(problem, device="gpu", presolve=False)
    # an allocation that fails after the estimate passed is reported the same way
    monkeypatch.setattr(CupyBackend, "memory_needed", lambda self, m, n, nnz: 0)
    with pytest.raises(gpulp.DeviceError, match="ran out of memory.*device='cpu'"):
        gpulp.solve(problem, device="gpu", presolve=False)


# ------------------------------------------------------------------------------ bench/gpu_check.py
def test_gpu_check_runs_its_device_code_on_the_emulator(tmp_path, shared_instances, monkeypatch):
    """The device-only branches of bench/gpu_check.py (CUDA events, the memory pool, the kernel
    profile) run here before they cost device time."""
    import json

    from bench import gpu_check
    monkeypatch.setenv("GPULP_SHARED", str(shared_instances.parent))
    with cuda_emu.emulated_cupy():
        gpu_check.main(["--part", "floor,small,memory,profile", "--dry-run", "--device", "gpu",
                        "--nnz", "2000", "--out", str(tmp_path)])
    rows = [json.loads(line) for line in (tmp_path / "gpu_check.jsonl").read_text().splitlines()]
    assert not any("error" in r or "skipped" in r for r in rows), rows
    assert {r["part"] for r in rows} == {"floor", "small", "memory", "profile"}
    floor = next(r for r in rows if r["part"] == "floor")
    assert floor["iter_us"] > 0 and floor["copy_GBps"] > 0
    small = [r for r in rows if r["part"] == "small"]
    assert all(r["capture_s"] > 0 for r in small)          # the window was captured as a graph
    # plain windows, whatever the timing: exactly the iterations asked for (4 windows each)
    assert [r["iterations"] for r in small] == [4 * 64, 4 * 128, 4 * 256]
    assert {r["kernel"] for r in rows if r["part"] == "profile"} >= {"spmv A x", "primal_step"}
    # the solve's peak live device bytes (the allocator hook) hold A and A' (24 bytes a nonzero)
    # and stay under the model that check_memory refuses a problem by
    mem = next(r for r in rows if r["part"] == "memory")
    assert 24 < mem["measured_bytes_per_nnz"] < mem["model_bytes_per_nnz"], mem


def test_the_step_boost_runs_on_the_emulated_gpu():
    """At 1e-8 the active-set step boost raises the step on both paths alike: its masks, the
    restricted power iteration and the new step scalars work on device arrays, and the captured
    window takes the raised step."""
    problem = generators.by_nnz("allocation", 3e3, seed=3)
    kw = dict(tol=1e-8, check_every=64, active_set=False, crossover=False)
    r_cpu = gpulp.solve(problem, device="cpu", **kw)
    with cuda_emu.emulated_cupy():
        r_gpu = gpulp.solve(problem, device="gpu", **kw)
    assert r_cpu.step_raises >= 1 and r_gpu.device == "gpu"
    assert (r_gpu.iterations, r_gpu.step_raises) == (r_cpu.iterations, r_cpu.step_raises)
    assert r_gpu.verified and r_gpu.objective == pytest.approx(r_cpu.objective, rel=1e-8)
