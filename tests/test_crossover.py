"""The crossover (gpulp/crossover.py): for LPs a bounded primal simplex, for QPs a reduced-gradient
method with superbasic variables, both from a basis guessed from an approximate point, checked
against HiGHS."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpulp
from gpulp import Problem, Status
from gpulp.crossover import Crossover, crossover
from gpulp.verify import dual_infeasibility_check, kkt_check

highspy = pytest.importorskip("highspy")
from bench.solvers import solve_with_highs  # noqa: E402


def _random_lp(seed, m=30, n=50, sense="min", dup_rows=0):
    rng = np.random.default_rng(seed)
    A = sp.random(m, n, density=0.3, random_state=rng, format="csr")
    if dup_rows:                        # rank-deficient: copies (and sums) of earlier rows
        extra = [A[i] for i in range(dup_rows)] + [A[0] + A[1]]
        A = sp.vstack([A] + extra, format="csr")
        m = A.shape[0]
    x0 = rng.uniform(0, 1, n)
    act = A @ x0
    rl = np.where(rng.random(m) < 0.3, act, act - rng.uniform(0.1, 1, m))
    ru = np.where(rng.random(m) < 0.5, np.inf, act + rng.uniform(0.1, 1, m))
    eq = rng.random(m) < 0.2
    if dup_rows:
        eq[-dup_rows - 1:] = True      # the copies are equalities, consistent at x0
    rl[eq] = ru[eq] = act[eq]
    lo = np.where(rng.random(n) < 0.2, -np.inf, 0.0)
    hi = np.where(rng.random(n) < 0.5, 2.0, np.inf)
    return Problem(rng.standard_normal(n), A, rl, ru, lo, hi, sense=sense)


def _highs_optimum(p):
    h = solve_with_highs(p)
    if h.modelStatusToString(h.getModelStatus()) != "Optimal":
        return None
    return h.getInfo().objective_function_value


def _assert_exact(p, out, obj):
    rep = kkt_check(p, out.x, out.y, out.z, 1e-9)
    assert rep.ok, rep
    assert max(rep.primal_residual, rep.dual_residual, rep.gap) <= 1e-10
    assert rep.primal_objective == pytest.approx(obj, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("sense", ["min", "max"])
def test_from_a_rough_pdhg_point_to_the_exact_optimum(seed, sense):
    p = _random_lp(seed, sense=sense)
    obj = _highs_optimum(p)
    if obj is None:
        pytest.skip("the random LP is not bounded")
    rough = gpulp.solve(p, tol=1e-3, device="cpu", presolve=False, active_set=False,
                        crossover=False)
    out = crossover(p, rough.x, rough.y, rough.z, 1e-9)
    assert out is not None
    _assert_exact(p, out, obj)
    # a vertex: at most m columns strictly between their bounds
    between = (out.x > p.col_lower + 1e-9) & (out.x < p.col_upper - 1e-9)
    assert between.sum() <= p.num_rows


@pytest.mark.parametrize("seed", range(3))
def test_phase_one_from_a_point_that_knows_nothing(seed):
    # zeros everywhere: the basis guess is arbitrary and phase 1 must find feasibility
    p = _random_lp(seed + 10)
    obj = _highs_optimum(p)
    if obj is None:
        pytest.skip("the random LP is not bounded")
    out = crossover(p, np.zeros(p.num_cols), np.zeros(p.num_rows), np.zeros(p.num_cols), 1e-9)
    assert out is not None and out.pivots > 0
    _assert_exact(p, out, obj)


def test_dependent_rows_are_repaired_with_slacks():
    p = _random_lp(5, dup_rows=3)
    obj = _highs_optimum(p)
    assert obj is not None
    out = crossover(p, np.zeros(p.num_cols), np.zeros(p.num_rows), np.zeros(p.num_cols), 1e-9)
    assert out is not None
    _assert_exact(p, out, obj)


def test_an_infeasible_lp_gets_no_answer():
    # x1 + x2 <= 1 and x1 + x2 >= 2
    A = sp.csr_matrix(np.array([[1.0, 1.0], [1.0, 1.0]]))
    p = Problem(np.array([1.0, 1.0]), A, np.array([-np.inf, 2.0]), np.array([1.0, np.inf]),
                np.zeros(2), np.full(2, np.inf))
    xo = Crossover(p)
    assert xo.start(np.array([0.5, 0.5]), np.zeros(2), np.zeros(2))
    assert xo.run(1e-9) is None and xo.failed


def test_an_unbounded_lp_gets_no_answer():
    # min -x1 s.t. x1 - x2 <= 1, x >= 0
    p = Problem(np.array([-1.0, 0.0]), sp.csr_matrix(np.array([[1.0, -1.0]])),
                np.array([-np.inf]), np.array([1.0]), np.zeros(2), np.full(2, np.inf))
    out = crossover(p, np.zeros(2), np.zeros(1), np.zeros(2), 1e-9)
    assert out is None


def test_a_run_stopped_by_its_deadline_goes_on_from_its_basis():
    p = _random_lp(2, m=60, n=90)
    obj = _highs_optimum(p)
    if obj is None:
        pytest.skip("the random LP is not bounded")
    xo = Crossover(p)
    assert xo.start(np.zeros(p.num_cols), np.zeros(p.num_rows), np.zeros(p.num_cols))
    assert xo.run(1e-9, deadline=0.0) is None      # past: not one pivot
    assert xo.basis_kept and xo.pivots == 0
    assert xo.run(1e-9, deadline=math.inf, max_pivots=3) is None
    assert xo.basis_kept and xo.pivots == 3
    out = xo.run(1e-9)
    assert out is not None and out.pivots > 3
    _assert_exact(p, out, obj)


def test_large_lps_and_wide_qps_are_not_taken():
    lp = _random_lp(0)                  # 30 rows, 50 columns
    assert not Crossover(lp, max_rows=lp.num_rows - 1).applicable
    assert Crossover(lp, max_rows=lp.num_rows).applicable
    assert not Crossover(lp, max_nnz=lp.nnz - 1).applicable
    qp = _random_qp(0)
    assert not Crossover(qp, max_rows=qp.num_cols - 1).applicable
    assert Crossover(qp, max_rows=qp.num_cols).applicable


def test_it_builds_its_scaled_lp_only_when_first_started():
    p = _random_lp(7)
    xo = Crossover(p)
    assert xo.applicable and not xo.built and xo.build_estimate > 0
    assert xo.start(np.zeros(p.num_cols), np.zeros(p.num_rows), np.zeros(p.num_cols))
    assert xo.built and xo.build_estimate == 0.0


def test_solve_skips_it_while_building_it_would_take_the_attempts_budget(monkeypatch):
    import gpulp.crossover as xmod
    p = _random_lp(7)
    monkeypatch.setattr(xmod, "BUILD_SECONDS_PER_NNZ", 1e3)     # as if A were huge
    res = gpulp.solve(p, tol=1e-8, device="cpu", presolve=False)
    assert res.status == Status.OPTIMAL and res.verified and res.message != "crossover"


def test_solve_uses_it_on_lps_and_says_so():
    p = _random_lp(7)
    res = gpulp.solve(p, tol=1e-8, device="cpu", presolve=False)
    assert res.status == Status.OPTIMAL and res.verified
    assert res.message == "crossover"
    off = gpulp.solve(p, tol=1e-8, device="cpu", presolve=False, crossover=False)
    assert off.message != "crossover"
    assert off.objective == pytest.approx(res.objective, rel=1e-6, abs=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), m=st.integers(1, 25), n=st.integers(1, 35))
def test_random_lps_agree_with_highs(seed, m, n):
    p = _random_lp(seed, m=m, n=n)
    obj = _highs_optimum(p)
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    out = crossover(p, x, rng.normal(0, 1, m), rng.normal(0, 1, n), 1e-9)
    if obj is None:        # infeasible or unbounded: never an answer
        assert out is None
        return
    assert out is not None
    _assert_exact(p, out, obj)


def test_numerical_trouble_is_a_failed_attempt_not_a_traceback(monkeypatch):
    import gpulp.crossover as X
    p = _random_lp(1)
    xo = Crossover(p)
    assert xo.start(np.zeros(p.num_cols), np.zeros(p.num_rows), np.zeros(p.num_cols))

    def broken(*_):
        raise np.linalg.LinAlgError("broken factorisation")

    monkeypatch.setattr(X._Basis, "ftran", broken)
    assert xo.run(1e-9) is None and xo.failed
    res = gpulp.solve(p, tol=1e-6, device="cpu", presolve=False)   # PDHG still answers
    assert res.status == Status.OPTIMAL and res.verified and res.message != "crossover"


# ---------------------------------------------------------------------------------------- QPs
def _random_qp(seed, m=30, n=50, sense="min", rank=None, support=None):
    """A random LP made a convex QP: Q = +-F F' on `support` columns (all by default) with F of
    `rank` columns, so that Q may be singular (zero-curvature directions on the faces)."""
    p = _random_lp(seed, m=m, n=n, sense=sense)
    rng = np.random.default_rng(seed + 1)
    cols = np.arange(n) if support is None else rng.choice(n, min(support, n), replace=False)
    k = rank if rank is not None else cols.size
    F = np.zeros((n, k))
    F[cols] = rng.standard_normal((cols.size, k))
    Q = F @ F.T * (-1.0 if sense == "max" else 1.0)
    return Problem(p.c, p.A, p.row_lower, p.row_upper, p.col_lower, p.col_upper,
                   Q=sp.csr_matrix(Q), sense=sense)


def _highs_qp(p):
    """HiGHS's (objective, x, y, z), when it says optimal and its point passes our check (its QP
    solver sometimes says optimal for an unbounded QP, or stops with a dual error of 1e-3, and
    its duals are good to about 1e-7 only); its
    model status otherwise."""
    h = solve_with_highs(p)
    status = h.modelStatusToString(h.getModelStatus())
    if status != "Optimal":
        return status
    sol = h.getSolution()
    ref = (h.getInfo().objective_function_value, np.array(sol.col_value),
           np.array(sol.row_dual), np.array(sol.col_dual))
    with np.errstate(all="ignore"):     # its point can hold infinities when it is wrong
        ok = kkt_check(p, *ref[1:], 1e-5).ok
    return ref if ok else "unchecked"


def _assert_qp_optimum(p, out, ref, unique=False):
    obj, x, y, z = ref
    rep = kkt_check(p, out.x, out.y, out.z, 1e-9)
    assert rep.ok, rep
    assert rep.primal_objective == pytest.approx(obj, rel=1e-8, abs=1e-8)
    if unique:                          # strictly convex: one x, and nondegenerate multipliers
        np.testing.assert_allclose(out.x, x, atol=1e-6)
        np.testing.assert_allclose(out.y, y, atol=1e-5 * (1 + np.abs(y).max()))
        np.testing.assert_allclose(out.z, z, atol=1e-5 * (1 + np.abs(z).max()))


@pytest.fixture(params=["dense", "cg"])
def direction(request, monkeypatch):
    """Both ways to the superbasic direction: the reduced Hessian whole, and CG."""
    import gpulp.crossover as X
    monkeypatch.setattr(X, "DENSE_SUPERBASICS", 300 if request.param == "dense" else 0)
    return request.param


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("sense", ["min", "max"])
def test_qp_from_a_rough_pdhg_point_to_the_exact_optimum(seed, sense, direction):
    p = _random_qp(seed, sense=sense)          # Q of full rank: a unique optimum
    ref = _highs_qp(p)
    assert isinstance(ref, tuple)
    rough = gpulp.solve(p, tol=1e-9, iteration_limit=300, device="cpu", presolve=False,
                        active_set=False, crossover=False)
    xo = Crossover(p)
    assert xo.start(rough.x, rough.y, rough.z)
    out = xo.run(1e-9)
    assert out is not None
    assert xo.rg_steps > 0
    _assert_qp_optimum(p, out, ref, unique=True)


@pytest.mark.parametrize("seed", range(3))
def test_qp_with_a_singular_q_from_zero(seed, direction):
    # Q on 6 of 50 columns with rank 2: most superbasic directions have no curvature, and the
    # steps run to a bound (the LP-like q-Netlib shape)
    p = _random_qp(seed, rank=2, support=6)
    ref = _highs_qp(p)
    assert isinstance(ref, tuple)
    out = crossover(p, np.zeros(p.num_cols), np.zeros(p.num_rows), np.zeros(p.num_cols), 1e-9)
    assert out is not None
    _assert_qp_optimum(p, out, ref)


def test_solve_uses_it_on_qps_after_the_polisher():
    p = _random_qp(4, rank=3, support=10)
    ref = _highs_qp(p)
    res = gpulp.solve(p, tol=1e-8, device="cpu", presolve=False, active_set=False)
    assert res.status == Status.OPTIMAL and res.verified
    assert res.message == "crossover"
    assert res.objective == pytest.approx(ref[0], rel=1e-7, abs=1e-7)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), m=st.integers(1, 20), n=st.integers(1, 30),
       rank=st.integers(0, 6), sense=st.sampled_from(["min", "max"]))
def test_random_qps_agree_with_highs(seed, m, n, rank, sense):
    p = _random_qp(seed, m=m, n=n, rank=rank, sense=sense)
    if p.Q is None:
        return
    ref = _highs_qp(p)
    rng = np.random.default_rng(seed)
    out = crossover(p, rng.normal(0, 1, n), rng.normal(0, 1, m), rng.normal(0, 1, n), 1e-9)
    if ref == "Infeasible":             # never an answer
        assert out is None
    elif isinstance(ref, tuple):
        assert out is not None
        _assert_qp_optimum(p, out, ref)
    elif out is not None:               # HiGHS unsure: ours must pass the check on its own
        assert kkt_check(p, out.x, out.y, out.z, 1e-9).ok


def test_a_qps_polisher_keeps_its_moments_while_the_crossover_has_a_basis(monkeypatch):
    # cont-050 at 20 s: the first polish failed, the crossover then kept a basis and took its
    # turns, and the polisher, which would have succeeded a few seconds later, never ran again
    from gpulp.active_set import ActiveSetPolisher
    p = _random_qp(5, m=40, n=60)
    calls = []
    real_attempt = ActiveSetPolisher.attempt

    def attempt(self, *args, **kw):
        calls.append(1)
        return None if len(calls) == 1 else real_attempt(self, *args, **kw)

    def run(self, tol, deadline=math.inf, max_pivots=1_000_000):
        return None                     # the crossover never finishes, but keeps its basis

    monkeypatch.setattr(ActiveSetPolisher, "attempt", attempt)
    monkeypatch.setattr(Crossover, "run", run)
    res = gpulp.solve(p, tol=1e-9, device="cpu", presolve=False)
    assert res.status == Status.OPTIMAL and res.verified
    assert len(calls) >= 2 and res.message == "active-set polished"


def test_qp_with_a_factor_q_operator_matches_the_formed_matrix():
    from gpulp.problem import FactorQ
    rng = np.random.default_rng(9)
    lp = _random_lp(9, m=20, n=40)
    Fq = FactorQ(rng.standard_normal((40, 3)), rng.uniform(0.0, 0.1, 40))
    p = Problem(lp.c, lp.A, lp.row_lower, lp.row_upper, lp.col_lower, lp.col_upper, Q=Fq)
    formed = Problem(lp.c, lp.A, lp.row_lower, lp.row_upper, lp.col_lower, lp.col_upper,
                     Q=Fq.tocsr())
    ref = _highs_qp(formed)
    assert isinstance(ref, tuple)
    out = crossover(p, np.zeros(40), np.zeros(20), np.zeros(40), 1e-9)
    assert out is not None
    _assert_qp_optimum(formed, out, ref)


# ---------------------------------------------------------------- large bases, stalls, faces

def _random_basis_case(rng, t):
    """A random [A, -I] with m rows and a random choice of m of its columns: dense low-rank
    blocks with empty columns, or sparse blocks with empty rows (structurally singular)."""
    m, n = int(rng.integers(2, 50)), int(rng.integers(1, 80))
    if rng.random() < 0.5:
        r = int(rng.integers(1, min(m, n) + 1))
        A = rng.normal(size=(m, r)) @ rng.normal(size=(r, n))
        A[:, rng.random(n) < 0.3] = 0.0
    else:
        A = sp.random(m, n, density=rng.uniform(0.03, 0.3), random_state=t).toarray()
    M = sp.csr_matrix(np.hstack([A, -np.eye(m)]))
    return M, rng.permutation(n + m)[:m], m, n


@pytest.mark.parametrize("dense_limit", [10**9, 0])
def test_basis_repair_gives_a_nonsingular_basis_with_lapack_and_with_superlu(monkeypatch,
                                                                           dense_limit):
    # dense_limit 0: every repair through the maximum matching and SuperLU (the path of
    # bases over 1,000 structural columns); SuperLU's COLAMD crashed the process on the
    # structurally singular cases before the matching took them out
    import gpulp.crossover as X
    monkeypatch.setattr(X, "DENSE_REPAIR", dense_limit)
    rng = np.random.default_rng(5)
    for t in range(300):
        M, basic, m, n = _random_basis_case(rng, t)
        out = X._repair(M, basic.copy(), m, n)
        assert out is not None
        assert len(set(out.tolist())) == m
        assert np.linalg.matrix_rank(M.toarray()[:, out]) == m, t


def _ladder(L):
    """A square pattern (2L + 2) with a full matching that a greedy start misses by one column,
    f (the last), whose augmenting path runs f -> r_a -> g -> r_c only after f's first rows lead
    into a ladder: level l's two columns reach both rows of level l + 1 and no free row. A search
    that does not mark the ladder's dead ends walks its 2^L paths (4x per 2 levels measured; scipy
    issue 26147, which hung the crossover's repair of cont-100)."""
    def r(level, a):
        return 2 * (level - 1) + a
    ra, rc = 2 * L, 2 * L + 1
    cols = [[r(level, a)] + ([r(level + 1, 0), r(level + 1, 1)] if level < L else [])
            for level in range(1, L + 1) for a in (0, 1)]
    cols += [[ra, rc], [r(1, 0), r(1, 1), ra]]
    ptr = np.cumsum([0] + [len(c) for c in cols])
    return ptr, np.concatenate(cols), 2 * L + 2


def test_the_maximum_matching_agrees_with_scipy_on_random_patterns():
    from scipy.sparse.csgraph import maximum_bipartite_matching

    from gpulp.backend import max_matching
    rng = np.random.default_rng(3)
    for t in range(200):
        m, n = rng.integers(1, 40, size=2)
        A = sp.random(m, n, density=rng.uniform(0.0, 0.3), random_state=t, format="csc")
        row_of, col_of = max_matching(A.indptr, A.indices, m)
        ref = maximum_bipartite_matching(A.tocsr(), perm_type="row")
        assert (row_of >= 0).sum() == (ref >= 0).sum(), t
        for j in np.flatnonzero(row_of >= 0):
            assert A[row_of[j], j] != 0 and col_of[row_of[j]] == j
        assert (col_of >= 0).sum() == (row_of >= 0).sum()


def test_the_maximum_matching_marks_dead_ends_on_a_ladder():
    # in a child process with a time limit, so that an exponential search fails rather than hangs
    import subprocess
    import sys
    import textwrap
    ptr, idx, k = _ladder(60)
    code = textwrap.dedent(f"""
        import numpy as np
        from gpulp.backend import max_matching
        ptr = np.array({ptr.tolist()}); idx = np.array({idx.tolist()})
        row_of, col_of = max_matching(ptr, idx, {k})
        print(int((row_of >= 0).sum()), int(row_of[-1]), int(row_of[-2]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["122", "120", "121"]     # full; f takes r_a, g takes r_c


def test_sparse_pivots_mark_the_dependent_columns():
    import gpulp.crossover as X
    rng = np.random.default_rng(2)
    C = rng.normal(size=(30, 30))
    C[:, 7] = C[:, 3] - 2.0 * C[:, 11]          # two dependent columns
    C[:, 20] = 0.5 * C[:, 3]
    bad, rows = X._sparse_pivots(sp.csc_matrix(C))
    assert bad.size == 2
    D = C.copy()
    D[:, bad] = 0.0
    D[rows, bad] = 1.0
    assert np.linalg.matrix_rank(D) == 30


def test_sparse_pivots_jitter_along_a_matching_and_keeps_the_pattern(monkeypatch):
    # cont-100: after an exactly singular SuperLU factorisation, a random diagonal added to a
    # 9,586-column basis took 28 s and 33 million entries (the solve ran 26 s past its limit);
    # along a maximum matching the pattern, and so the fill, stay C's
    import scipy.sparse.linalg as spla

    import gpulp.crossover as X
    rng = np.random.default_rng(4)
    k = 300
    perm = rng.permutation(k)
    C = (sp.random(k, k, density=0.01, random_state=4)
         + sp.csr_matrix((rng.uniform(1, 2, k), (perm, np.arange(k))), shape=(k, k))).tocsc()
    C = C.tolil()
    C[:, 7] = C[:, 3].toarray() * 2.0 - C[:, 11].toarray()   # dependent: one column comes out
    C = C.tocsc()
    C.eliminate_zeros()
    assert C.diagonal().nonzero()[0].size < k / 2     # a diagonal would add entries
    real_splu = spla.splu
    seen = []

    def splu(A, **kw):
        seen.append(A.copy())
        if len(seen) == 1:
            raise RuntimeError("Factor is exactly singular")    # as SuperLU says it
        return real_splu(A, **kw)

    monkeypatch.setattr(X.spla, "splu", splu)
    bad, rows = X._sparse_pivots(C)
    assert len(seen) == 2
    pattern = lambda M: set(zip(*sp.coo_matrix(M).nonzero()))     # noqa: E731
    assert pattern(seen[1]) == pattern(C)
    assert bad.size == 1 and bad[0] in (3, 7, 11)


def test_the_reduced_hessian_kept_between_steps_matches_one_formed_afresh(monkeypatch):
    import gpulp.crossover as X
    real = X.Crossover._reduced_hessian
    worst, exchanges = [0.0], [0]

    def checked(self, sup):
        ZB, Hr = real(self, sup)
        kept, self._zh = self._zh, None
        ZB2, Hr2 = real(self, sup)              # formed afresh
        self._zh = kept
        worst[0] = max(worst[0], float(np.abs(ZB - ZB2).max(initial=0.0)) / (1 + np.abs(ZB2).max()),
                       float(np.abs(Hr - Hr2).max(initial=0.0)) / (1 + np.abs(Hr2).max()))
        return ZB, Hr

    real_exchange = X.Crossover._exchange

    def exchange(self, sup, k, jq):
        real_exchange(self, sup, k, jq)
        exchanges[0] += self._zh is not None

    monkeypatch.setattr(X.Crossover, "_reduced_hessian", checked)
    monkeypatch.setattr(X.Crossover, "_exchange", exchange)
    for seed in range(3):
        p = _random_qp(seed, m=40, n=60, rank=4, support=20)
        ref = _highs_qp(p)
        assert isinstance(ref, tuple)
        out = crossover(p, np.zeros(60), np.zeros(40), np.zeros(60), 1e-9)
        assert out is not None
        _assert_qp_optimum(p, out, ref)
    assert exchanges[0] > 0                      # rank-one updates were used
    assert worst[0] < 1e-9


def _convex_fit(n, seed=0):
    """liswet's shape: min 1/2 ||x||^2 - d'x over convex sequences (second differences >= 0),
    for nearly linear noisy data d, so that nearly every row is active and the basis of
    second differences is badly conditioned."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)
    d = 0.01 * np.sin(3 * t) + 0.05 * rng.standard_normal(n)
    m = n - 2
    A = sp.diags([np.ones(m), -2.0 * np.ones(m), np.ones(m)], [0, 1, 2], shape=(m, n),
                 format="csr")
    return Problem(-d, A, np.zeros(m), np.full(m, np.inf), np.full(n, -np.inf),
                   np.full(n, np.inf), Q=sp.identity(n, format="csr"))


def test_a_liswet_like_qp_is_solved_and_its_face_goes_to_the_polisher():
    from gpulp.active_set import FREE, LOWER, ActiveSetPolisher
    p = _convex_fit(4000)
    ref = _highs_qp(p)
    assert isinstance(ref, tuple)
    rough = gpulp.solve(p, tol=1e-9, iteration_limit=200, device="cpu", presolve=False,
                        active_set=False, crossover=False)
    out = crossover(p, rough.x, rough.y, rough.z, 1e-9)
    assert out is not None
    _assert_qp_optimum(p, out, ref)
    act = out.y > 0
    cs = np.full(p.num_cols, FREE, dtype=np.int8)
    rs = np.where(act, LOWER, FREE).astype(np.int8)
    # multipliers refitted to the exact x from wrong ones: what is left of the free columns'
    # reduced costs drops from the error put in to rounding (the noise makes the wrong ones fail
    # the check below whatever basis the crossover ended on)
    pol = ActiveSetPolisher(p)
    y_wrong = out.y + np.where(act, 1e-3 * np.random.default_rng(0).standard_normal(p.num_rows), 0)

    def dual_error(y):
        return float(np.abs(-np.asarray(p.c) - out.x + p.A.T @ y).max())   # Q = I, min -d'x

    assert dual_error(y_wrong) > 1e-4
    assert dual_error(pol._refit_multipliers(cs, rs, out.x, y_wrong)) < 1e-5 * dual_error(y_wrong)
    # the optimal face is verified at 1e-6 (its own KKT solve is at the edge, a gap of about
    # 1e-6: the system is nearly singular; the basis's x with its noisy multipliers refitted
    # passes), and a wrong face (a tenth of the active rows released) is corrected from
    assert not kkt_check(p, out.x, y_wrong, pol._reduced_costs(out.x, y_wrong, cs), 1e-6).ok
    face = pol.solve_face(cs, rs, 1e-6, x_alt=out.x, y_alt=y_wrong)
    assert face is not None and face.report.ok
    # (verified at 1e-6: the objective within that of HiGHS's)
    assert face.report.primal_objective == pytest.approx(ref[0], rel=1e-6, abs=2e-6)


def test_a_wrong_face_is_corrected_by_active_set_rounds():
    from gpulp.active_set import FREE, LOWER, UPPER, ActiveSetPolisher
    for seed in range(3):
        p = _random_qp(seed)
        ref = _highs_qp(p)
        assert isinstance(ref, tuple)
        out = crossover(p, np.zeros(p.num_cols), np.zeros(p.num_rows), np.zeros(p.num_cols), 1e-9)
        assert out is not None
        rs = np.where(out.y > 1e-9, LOWER, np.where(out.y < -1e-9, UPPER, FREE)).astype(np.int8)
        cs = np.where(out.z > 1e-9, LOWER, np.where(out.z < -1e-9, UPPER, FREE)).astype(np.int8)
        assert (rs != FREE).sum() >= 2
        wrong = rs.copy()
        wrong[np.flatnonzero(rs != FREE)[:2]] = FREE      # two active rows released
        pol = ActiveSetPolisher(p)
        assert pol.solve_face(cs, rs, 1e-9) is not None   # the right face at once
        xw, yw = pol._solve_guess(cs, wrong)
        assert not kkt_check(p, xw, yw, pol._reduced_costs(xw, yw, cs), 1e-9).ok
        fixed = pol.solve_face(cs, wrong, 1e-9)           # the wrong one after corrections
        assert fixed is not None
        assert fixed.report.primal_objective == pytest.approx(ref[0], rel=1e-8, abs=1e-8)


def test_a_qps_crossover_starts_again_from_a_much_better_iterate(monkeypatch):
    # liswet5: a start from an iterate with a KKT error of 1e-3 guessed a superbasic set that
    # took thousands of steps; from 1e-5 the crossover needs a hundred
    from gpulp.active_set import ActiveSetPolisher
    p = _random_qp(6, m=40, n=60)
    starts = []
    real_start = Crossover.start

    def start(self, x, y, z):
        starts.append(1)
        return real_start(self, x, y, z)

    def run(self, tol, deadline=math.inf, max_pivots=1_000_000):
        return None                     # never finishes, keeps its basis

    monkeypatch.setattr(ActiveSetPolisher, "attempt", lambda self, *a, **k: None)
    monkeypatch.setattr(Crossover, "start", start)
    monkeypatch.setattr(Crossover, "run", run)
    res = gpulp.solve(p, tol=1e-9, device="cpu", presolve=False)
    assert res.status == Status.OPTIMAL     # PDHG itself
    assert len(starts) >= 2


def test_the_crossover_starts_at_a_time_mark_from_a_rough_iterate(monkeypatch):
    # qpilotno: PDHG's error stays above 1 after 2 s, so no polishing moment ever comes; at
    # half the time limit the crossover starts from the iterate anyway
    import dataclasses

    import gpulp.pdhg as pdhg
    real_run = pdhg.Engine.run

    def run(self, tol, infeasibility_tol, deadline, on_stats=None, criterion="kkt"):
        def rough(stats):                   # the solver sees an error of 5 throughout
            return on_stats(dataclasses.replace(stats, primal_residual=5.0))
        ev = real_run(self, 1e-300, infeasibility_tol, deadline,     # never converges
                      on_stats=rough if on_stats is not None else None, criterion=criterion)
        return dataclasses.replace(ev, stats=dataclasses.replace(ev.stats, primal_residual=5.0))

    monkeypatch.setattr(pdhg.Engine, "run", run)
    p = _random_lp(3, m=60, n=90)
    obj = _highs_optimum(p)
    assert obj is not None
    res = gpulp.solve(p, tol=1e-9, time_limit=2.0, device="cpu", presolve=False)
    assert res.status == Status.OPTIMAL and res.message == "crossover", res.message
    assert res.objective == pytest.approx(obj, rel=1e-9, abs=1e-9)


def test_a_crossover_that_never_finishes_does_not_keep_the_solve_past_its_limit(monkeypatch):
    # stadat3 in the benchmark: past the limit, each crossover slice got no time and returned
    # at once, the next slice was due at once, and the engine returned "interrupted" before it
    # looked at the deadline: the solve ran until the harness killed it
    import time as _time

    import gpulp.pdhg as pdhg
    real_run = pdhg.Engine.run
    p = _random_lp(4, m=60, n=90)
    gpulp.solve(p, iteration_limit=64, device="cpu")       # compiled before the clock starts
    started = [math.inf]
    calls = []

    def never_converges(self, tol, infeasibility_tol, deadline, on_stats=None, criterion="kkt"):
        return real_run(self, 1e-300, infeasibility_tol, deadline, on_stats=on_stats,
                        criterion=criterion)

    def slice_without_an_answer(self, tol, deadline=math.inf, max_pivots=1_000_000):
        calls.append(deadline)
        assert _time.perf_counter() < started[0] + 15.0, "still solving 13 s past a 2-s limit"
        return None

    monkeypatch.setattr(pdhg.Engine, "run", never_converges)
    monkeypatch.setattr(Crossover, "run", slice_without_an_answer)
    started[0] = _time.perf_counter()
    res = gpulp.solve(p, tol=1e-9, time_limit=2.0, device="cpu", presolve=False)
    assert res.status == Status.TIME_LIMIT
    assert calls, "the crossover never got a slice"
    # every slice ends by the limit: the last attempt's as well
    assert max(calls) <= started[0] + 2.0 + 0.05


def test_a_rounding_size_part_of_the_reduced_gradient_on_a_flat_direction_is_not_a_ray():
    # qscfxm3: a joining variable's reduced gradient had a part of 1e-9 of its size along a
    # direction of zero curvature (rounding in the eigenvectors); that part was taken as a ray,
    # whose slope (-4e-30) was no descent, and the crossover stalled. The Newton step on the
    # curved part is the step to take.
    import types
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    lam = np.array([0.0, 0.0, 1.0, 30.0, 1e3, 1e6])
    Hr = (U * lam) @ U.T
    Hr = 0.5 * (Hr + Hr.T)
    curved = U[:, 2:] @ rng.normal(size=4)
    flat = U[:, 0]
    ZB = np.eye(6)
    fake = types.SimpleNamespace(_reduced_hessian=lambda sup: (ZB, Hr), hnorm=1e6)
    for size in (1e-8, 1e-7):              # below the threshold: Newton on the curved part
        dS = curved + size * np.linalg.norm(curved) * flat
        p, _ = Crossover._dense_direction(fake, np.arange(6), dS)
        newton = -np.linalg.lstsq(Hr, curved, rcond=1e-12)[0]
        assert np.allclose(p, newton, rtol=1e-6, atol=1e-9 * np.linalg.norm(newton))
    dS = curved + 1e-3 * np.linalg.norm(curved) * flat   # a real part along it: the ray
    p, _ = Crossover._dense_direction(fake, np.arange(6), dS)
    assert abs(p @ flat) > 0.99 * np.linalg.norm(p) and dS @ p < 0


def test_without_a_time_limit_the_crossover_also_starts_from_rough_iterates(monkeypatch, caplog):
    """With no time limit, the crossover still gets rough starts (error above 0.1), at
    ROUGH_MARK seconds and each doubling; before, it waited for an error of 0.1 (qpilotno:
    74 s). Here the mark is shrunk so that the first window's iterate (error 0.14) is taken."""
    import logging
    import re

    import gpulp.solver as solver_mod
    from instances import generators
    p = generators.transport(30, 60, seed=2)
    ref = gpulp.solve(p, tol=1e-6, device="cpu", presolve=False)
    monkeypatch.setattr(solver_mod, "ROUGH_MARK", 1e-6)
    with caplog.at_level(logging.INFO, logger="gpulp"):
        r = gpulp.solve(p, tol=1e-6, device="cpu", presolve=False)
    starts = [float(m.group(1)) for m in re.finditer(
        r"crossover: starts from an iterate with KKT error (\S+)", caplog.text)]
    assert starts and starts[0] > 0.1
    assert r.status == Status.OPTIMAL and r.message == "crossover"
    assert r.objective == pytest.approx(ref.objective, rel=1e-8)


def test_solve_leaves_lps_above_the_nonzero_cap_to_pdhg():
    p = _random_lp(7)
    res = gpulp.solve(p, tol=1e-8, device="cpu", presolve=False, crossover_max_nnz=p.nnz - 1)
    assert res.status == Status.OPTIMAL and res.verified and res.message != "crossover"
    at_cap = gpulp.solve(p, tol=1e-8, device="cpu", presolve=False, crossover_max_nnz=p.nnz)
    assert at_cap.message == "crossover"


def test_an_unbounded_lp_leaves_its_ray_for_the_solver_to_check():
    """Phase 2 meets a column that no row or bound stops: the crossover returns nothing and keeps
    the direction (entering column and basis change), which is a checkable primal ray."""
    lp = Problem([-1.0, -0.5, 0.0], [[1.0, -1.0, 1.0]], [-np.inf], [1.0])
    xo = Crossover(lp)
    assert xo.start(np.zeros(3), np.zeros(1), np.zeros(3))
    assert xo.run(1e-6) is None
    rep = dual_infeasibility_check(lp, xo.ray / np.abs(xo.ray).max())
    assert rep.ok and rep.value > 0


def _unbounded_qp():
    """Q is singular along d = (0, 2, 0, 0, 1, 3, 0), and c'd = -2 < 0 with d in the recession
    cone: unbounded, though PDHG's own ray candidates converge slowly (||Q x|| falls only as x
    grows)."""
    inf = np.inf
    Q = np.array([[5, 2, 1, 0, -4, 0, 1], [2, 6, 2, 6, -6, -2, 2], [1, 2, 8, 4, -4, 0, -2],
                  [0, 6, 4, 8, -6, -2, 0], [-4, -6, -4, -6, 9, 1, 2],
                  [0, -2, 0, -2, 1, 1, -2], [1, 2, -2, 0, 2, -2, 10]], dtype=float)
    return Problem([-1, 3, -2, 1, -2, -2, -2], [[-2, 0, 3, 0, 0, 0, 0]], [4], [5],
                   [-1, 2, 1, -3, -inf, 0, -2], [-1, inf, inf, -3, inf, inf, 1], Q=Q)


def test_an_unbounded_qp_leaves_the_reduced_gradient_ray():
    p = _unbounded_qp()
    xo = Crossover(p)
    assert xo.start(np.array([-1, 2, 1, -3, 0, 0, 0.0]), np.zeros(1), np.zeros(7))
    assert xo.run(1e-6) is None
    d = xo.ray / np.abs(xo.ray).max()
    assert np.linalg.norm(p.Q @ d) <= 1e-9
    assert dual_infeasibility_check(p, d).ok


def test_the_solver_reports_the_crossovers_checked_ray():
    """With PDHG's own ray test all but off (a relative violation of 1e-300), the crossover's
    ray, checked on the original, decides (at the first time mark, half the limit)."""
    res = gpulp.solve(_unbounded_qp(), device="cpu", tol=1e-6, infeasibility_tol=1e-300,
                      time_limit=4)
    assert res.status == "dual_infeasible" and res.verified, res.status
    assert dual_infeasibility_check(_unbounded_qp(), res.x).ok


def test_an_infeasible_lp_leaves_its_phase_one_multipliers_as_a_farkas_ray():
    """x0 + x1 >= 3 with both in [0, 1]: phase 1 ends with a violation left, and its row
    multipliers (one of the two signs) are a Farkas ray that checks on the original."""
    from gpulp.verify import primal_infeasibility_check
    lp = Problem([1.0, 1.0], [[1.0, 1.0], [1.0, -1.0]], [3.0, -1.0], [np.inf, 1.0],
                 [0.0, 0.0], [1.0, 1.0])
    xo = Crossover(lp)
    assert xo.start(np.zeros(2), np.zeros(2), np.zeros(2))
    assert xo.run(1e-6) is None and xo.farkas is not None
    y = xo.farkas / np.abs(xo.farkas).max()
    assert primal_infeasibility_check(lp, y).ok or primal_infeasibility_check(lp, -y).ok


def test_vol1_is_found_infeasible_by_the_crossovers_phase_one(shared_instances):
    """vol1 (323 rows) needed 5.9M PDHG iterations (about 42 s here) for its Farkas ray; the
    crossover's phase 1 ends infeasible after about 130 pivots, and its multipliers check."""
    res = gpulp.solve(str(shared_instances / "infeasible" / "vol1.mps.gz"), device="cpu",
                      time_limit=15)
    assert res.status == Status.PRIMAL_INFEASIBLE and res.verified, res.status


def test_klein1_is_found_infeasible_once_pdhgs_candidate_comes_close(shared_instances):
    """klein1 (54 x 54): PDHG's Farkas candidate reached the 1e-8 test after 299,776 iterations.
    Its violation is 1e-3 after about 2,300; that starts the crossover from the iterate, and its
    phase 1 ends infeasible at once."""
    res = gpulp.solve(str(shared_instances / "infeasible" / "klein1.mps.gz"), device="cpu",
                      time_limit=30)
    assert res.status == Status.PRIMAL_INFEASIBLE and res.verified, res.status
    assert res.iterations < 30_000, res.iterations


def test_a_close_ray_candidate_starts_the_crossover_before_any_time_mark(monkeypatch, caplog):
    """With PDHG's own ray test all but off and the rough time marks pushed out of reach, only
    the candidate's closeness (RAY_SUSPECT) can start the crossover; without it the solve ran to
    its iteration limit."""
    import logging

    import gpulp.solver as solver_mod
    monkeypatch.setattr(solver_mod, "ROUGH_MARK", 1e9)
    # a random LP with a last row, the sum of the first two, required above the sum of their
    # upper bounds: PDHG's Farkas candidate comes within 3e-3 after 256 iterations, 1e-11
    # after 1,024, never exactly
    rng = np.random.default_rng(0)
    A = sp.random(30, 50, density=0.3, random_state=rng, format="csr")
    act = A @ rng.uniform(0, 1, 50)
    rl, ru = act - rng.uniform(0.1, 1, 30), act + rng.uniform(0.1, 1, 30)
    A = sp.vstack([A, A[0] + A[1]], format="csr")
    lp = Problem(rng.standard_normal(50), A, np.append(rl, ru[0] + ru[1] + 0.01),
                 np.append(ru, np.inf), np.full(50, -np.inf), np.full(50, np.inf))
    with caplog.at_level(logging.INFO, logger="gpulp"):
        res = gpulp.solve(lp, device="cpu", presolve=False, infeasibility_tol=1e-300,
                          iteration_limit=200_000)
    assert res.status == Status.PRIMAL_INFEASIBLE and res.verified, res.status
    assert "phase-1 multipliers verified" in caplog.text
    assert caplog.text.count("crossover: starts") == 1


# ------------------------------------------------------------- the pivots' host kernels
@pytest.mark.parametrize("seed", range(4))
def test_simplex_kernels_match_their_numpy_definitions(seed):
    from gpulp.backend import SimplexKernels
    rng = np.random.default_rng(seed)
    kern = SimplexKernels()
    N, m = 200, 60
    lo = np.where(rng.random(N) < 0.2, -np.inf, rng.normal(size=N))
    hi = np.where(rng.random(N) < 0.3, np.inf, lo + np.where(rng.random(N) < 0.1, 0.0, 1.0))
    hi = np.where(np.isfinite(hi), hi, np.where(np.isfinite(lo), np.inf, np.inf))
    w = np.where(rng.random(N) < 0.5, lo, hi)
    w = np.where(np.isfinite(w), w, rng.normal(size=N))
    isbasic = rng.random(N) < 0.3
    fixed = lo == hi
    weights = rng.uniform(0.5, 3.0, N)
    dj = rng.normal(size=N) * (rng.random(N) < 0.7)
    ptol, tolj = 1e-9, 1e-9
    # pricing
    d = dj.copy()
    q, direction = kern.pricing(d, weights, w, lo, hi, isbasic, fixed, tolj, ptol)
    ref = dj.copy()
    ref[isbasic] = 0.0
    movable = ~isbasic & ~fixed
    up = movable & ~(np.isfinite(hi) & (w >= hi - ptol)) & (ref < -tolj)
    down = movable & ~(np.isfinite(lo) & (w <= lo + ptol)) & (ref > tolj)
    assert np.array_equal(d, ref)
    assert q == int(np.argmax(np.where(up | down, ref * ref / weights, -1.0)))
    assert direction == (1.0 if up[q] else -1.0)
    # the ratio test, in both phases
    alpha = rng.normal(size=m) * (rng.random(m) < 0.6)
    wb = rng.normal(size=m)
    lb = np.where(rng.random(m) < 0.2, -np.inf, wb - rng.uniform(0, 1, m))
    ub = np.where(rng.random(m) < 0.2, np.inf, wb + rng.uniform(0, 1, m))
    below, above = rng.random(m) < 0.2, np.zeros(m, dtype=bool)
    above[~below] = rng.random(int((~below).sum())) < 0.2
    for phase1 in (False, True):
        for own in (np.inf, 0.3):
            got = kern.ratio(alpha, direction, wb, lb, ub, below, above, phase1, ptol, own)
            g = direction * alpha
            piv = 1e-9 * max(1.0, np.abs(alpha).max())
            dec, inc = g > piv, g < -piv
            if phase1:
                bd = np.where(above, ub, np.where(below, -np.inf, lb))
                bi = np.where(below, lb, np.where(above, np.inf, ub))
            else:
                bd, bi = lb, ub
            with np.errstate(invalid="ignore", divide="ignore"):
                r1 = np.where(dec, (wb - bd + ptol) / g, np.where(inc, (wb - bi - ptol) / g, np.inf))
                r0 = np.where(dec, (wb - bd) / g, np.where(inc, (wb - bi) / g, np.inf))
            r1[np.isnan(r1)] = np.inf
            r0[np.isnan(r0)] = np.inf
            tmax = min(r1.min(), own)
            elig = (r0 <= tmax) & np.isfinite(r0)
            assert got[0] == r1.min()
            if elig.any():
                c = np.flatnonzero(elig)
                r = int(c[np.argmax(np.abs(g[c]))])
                assert got[1:] == (r, r0[elig].min(), bd[r] if dec[r] else bi[r], r0[r])
            else:
                assert got[1] == -1
    # Devex weights and reduced costs from a pivot row
    arow = rng.normal(size=N)
    wts, d = weights.copy(), dj.copy()
    top = kern.devex(arow, q, 7, d, 0.8, wts)
    ref_d = dj - (dj[q] / 0.8) * arow
    ref_d[q] = 0.0
    wq = max(weights[q], 1.0)
    ref_w = np.maximum(weights, (arow / arow[q]) ** 2 * wq)
    ref_w[7] = max(wq / arow[q] ** 2, 1.0)
    assert np.allclose(d, ref_d, rtol=1e-14, atol=1e-15) and np.array_equal(wts, ref_w)
    assert top == ref_w.max()
    # product-form updates: ftran and btran against the explicit inverse
    B = rng.normal(size=(m, m)) + m * np.eye(m)
    E, rows = np.empty((5, m)), np.array([3, 10, 3, 40, 59])
    Binv = np.linalg.inv(B)
    for e, r in enumerate(rows):
        a = Binv @ rng.normal(size=m)
        a[r] += 2.0
        E[e] = a
        F = np.eye(m)
        F[:, r] = a
        Binv = np.linalg.solve(F, Binv)          # (B F)^-1 = F^-1 B^-1
    b = rng.normal(size=m)
    v = np.linalg.solve(B, b)
    kern.eta_ftran(E, rows, 5, v.reshape(-1, 1))
    assert np.allclose(v, Binv @ b)
    for c0 in (b, np.eye(1, m, 10).ravel(), np.eye(1, m, 11).ravel()):
        c = c0.copy()                   # dense, and sparse (the pivot row's e_r: its own path)
        kern.eta_btran(E, rows, 5, c)
        assert np.allclose(np.linalg.solve(B.T, c), Binv.T @ c0)


def test_phase1_update_matches_fresh_multipliers():
    """Phase 1's multipliers after a pivot, updated from the pivot row, equal a fresh solve,
    with the leaving variable's cost changed; a change elsewhere asks for a fresh solve."""
    rng = np.random.default_rng(5)
    m, n = 40, 70
    M = sp.hstack([sp.random(m, n, density=0.2, random_state=rng), -sp.identity(m)]).tocsc()
    MT = M.T.tocsr()
    while True:                                 # a well-conditioned basis with 10 structurals
        basic = np.arange(n, n + m)
        basic[:10] = rng.choice(n, 10, replace=False)
        B = M[:, basic].toarray()
        if np.linalg.cond(B) < 1e6:
            break
    cb0 = rng.choice([-1.0, 0.0, 1.0], m)
    y1 = np.linalg.solve(B.T, cb0)
    dj = -(MT @ y1)
    q = int(np.setdiff1d(np.arange(n), basic)[0])
    alpha = np.linalg.solve(B, M[:, [q]].toarray().ravel())
    r = int(np.argmax(np.abs(alpha)))
    rho = np.linalg.solve(B.T, np.eye(m)[r])
    arow = MT @ rho
    leave = int(basic[r])
    dj_priced = dj.copy()
    dj_priced[basic] = 0.0                      # as the pricing leaves it
    cb = cb0.copy()
    cb[r] = 0.0                                 # q enters feasible; the others keep theirs
    got = Crossover._phase1_update((cb0, y1, dj_priced, (r, leave, alpha, rho, arow)), cb)
    nb = basic.copy()
    nb[r] = q
    y_ref = np.linalg.solve(M[:, nb].toarray().T, cb)
    d_ref = -(MT @ y_ref)
    assert got is not None
    assert np.allclose(got[0], y_ref) and np.allclose(np.delete(got[1], nb), np.delete(d_ref, nb))
    o = (r + 1) % m
    cb[o] = -cb[o] if cb[o] else 1.0
    assert Crossover._phase1_update((cb0, y1, dj.copy(), (r, leave, alpha, rho, arow)), cb) is None
    # a bound flip keeps the basis: unchanged costs keep the multipliers
    assert Crossover._phase1_update((cb0, y1, dj, None), cb0.copy())[0] is y1


@pytest.mark.parametrize("dense_at", [0.0, 0.25])
@pytest.mark.parametrize("density", [0.01, 0.05, 0.3])
def test_markowitz_lu_solves_like_dense_algebra(density, dense_at):
    """Both solves of the crossover's LU against NumPy's, on bases with slack columns, with a
    dense part whose fill outgrows the first storage, and with zeros on the diagonal; sparse to
    the end (dense_at 0) or with the dense rest handed to LAPACK."""
    from gpulp.backend import MarkowitzLU
    rng = np.random.default_rng(int(density * 100))
    m = 300
    R = sp.random(m, m, density=density, random_state=rng).toarray()
    perm = rng.permutation(m)
    D = (np.eye(m) * (1.0 + density * m) + R)[perm]    # the pivots off the diagonal
    slack = np.flatnonzero(rng.random(m) < 0.3)     # unit columns, as slacks in a basis
    D[:, slack] = 0.0
    D[np.argsort(perm)[slack], slack] = -1.0
    assert np.linalg.cond(D) < 1e8
    B = sp.csc_matrix(D)
    lu = MarkowitzLU(B, dense_at=dense_at)
    assert (lu.dense_tail > 0) == (dense_at > 0 and density > 0.01)
    b = rng.normal(size=m)
    assert np.allclose(lu.solve(b), np.linalg.solve(D, b), atol=1e-9)
    assert np.allclose(lu.solve(b, trans="T"), np.linalg.solve(D.T, b), atol=1e-9)
    Bm = rng.normal(size=(m, 3))
    assert np.allclose(lu.solve(Bm), np.linalg.solve(D, Bm), atol=1e-9)
    assert lu.nnz >= B.nnz - 1
    with pytest.raises(ValueError, match="trans"):
        lu.solve(b, trans=True)


def test_markowitz_lu_pivots_for_stability_and_flags_singular_bases():
    from gpulp.backend import MarkowitzLU
    # the sparsest pivot (1e-12 in a column singleton's row) fails the threshold; another is taken
    B = sp.csc_matrix(np.array([[1e-12, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 2.0]]))
    b = np.array([1.0, 2.0, 3.0])
    assert np.allclose(MarkowitzLU(B).solve(b), np.linalg.solve(B.toarray(), b), rtol=1e-12)
    with pytest.raises(np.linalg.LinAlgError):          # an empty column
        MarkowitzLU(sp.csc_matrix(np.array([[1.0, 0.0], [2.0, 0.0]])))
    with pytest.raises(np.linalg.LinAlgError):          # two equal columns
        MarkowitzLU(sp.csc_matrix(np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 0.0], [0.0, 0.0, 1.0]])))


def test_crossover_share_defaults_by_device_and_is_an_option(caplog):
    import logging

    from gpulp.options import make_options
    from gpulp.solver import XOVER_SHARE, XOVER_SHARE_GPU, _crossover_share
    assert _crossover_share(make_options(), "cpu") == XOVER_SHARE == 1.0
    assert _crossover_share(make_options(), "gpu") == XOVER_SHARE_GPU == 2.0
    assert _crossover_share(make_options(crossover_share=3), "gpu") == 3.0
    for bad in (0, -1.0, math.inf, math.nan, "2", True):
        with pytest.raises(gpulp.OptionsError, match="crossover_share"):
            make_options(crossover_share=bad)
    p = _random_lp(3)
    with caplog.at_level(logging.INFO, logger="gpulp"):
        r = gpulp.solve(p, tol=1e-8, device="cpu", presolve=False, crossover_share=3)
    assert "(share 3 of the iterating time)" in caplog.text
    assert r.status == Status.OPTIMAL


# ------------------------------------------------------------------ superbasic starts (LPs)
def test_an_lp_iterate_inside_its_bounds_starts_superbasic_and_ends_at_a_vertex():
    """min -x1 subject to x1 + x2 + x3 = 2, 0 <= x <= 1: the optimal face is x1 = 1, x2 + x3 = 1.
    From its midpoint, the columns strictly inside their bounds that are not basic start
    superbasic (not moved to a bound), and the answer is still a vertex, exact."""
    A = sp.csr_matrix(np.ones((1, 3)))
    p = Problem(np.array([-1.0, 0.0, 0.0]), A, np.array([2.0]), np.array([2.0]), np.zeros(3),
                np.ones(3))
    xo = Crossover(p)
    assert xo.start(np.array([1.0, 0.5, 0.5]), np.array([0.0]), np.zeros(3))
    assert xo.issuper.sum() >= 1 and not (xo.issuper & xo.isbasic).any()
    out = xo.run(1e-9)
    assert out is not None and out.report.ok
    assert out.report.primal_objective == pytest.approx(-1.0, abs=1e-12)
    between = (out.x > 1e-9) & (out.x < 1 - 1e-9)
    assert between.sum() <= p.num_rows and not xo.issuper.any()


def test_phase_one_stuck_on_a_rounding_size_violation_loosens_its_tolerance():
    """x1 = -5e-9 with x1 >= 0 violates the simplex's primal tolerance (1e-9) by a rounding-size
    amount that no pivot can change (the row fixes x1): phase 1 loosens the tolerance instead of
    calling the LP infeasible, and the check on the original at 1e-8 decides."""
    A = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0]]))
    p = Problem(np.array([0.0, 1.0]), A, np.array([-5e-9, 1.0]), np.array([-5e-9, np.inf]),
                np.zeros(2), np.full(2, np.inf))
    xo = Crossover(p)
    assert xo.start(np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.zeros(2))
    out = xo.run(1e-8)
    assert out is not None and out.report.ok
    assert xo.ptol > xo.ptol0
    assert out.x[1] == pytest.approx(1.0, abs=1e-7)


def test_a_netlib_lp_needs_far_fewer_pivots_from_a_superbasic_start(shared_instances):
    """25fv47 from 3,000 PDHG iterations: 2,751 pivots when every nonbasic column moved to a
    bound at the start, about 820 with the superbasic start and the LP's stricter repair."""
    p = gpulp.read_mps(shared_instances / "netlib" / "25fv47.mps.gz")
    r = gpulp.solve(p, tol=1e-8, device="cpu", crossover=False, active_set=False,
                    presolve=False, iteration_limit=3000)
    xo = Crossover(p)
    assert xo.start(r.x, r.y, r.z)
    assert xo.issuper.sum() > 50
    out = xo.run(1e-8)
    assert out is not None and out.report.ok
    assert xo.pivots < 1500, xo.pivots
