"""Tests of instances.generators: determinism, sizes, feasibility (HiGHS), memory, docstrings."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from gpulp.verify import kkt_check
from instances import generators as g
from instances.generators import KINDS, by_nnz, params_for_nnz

REPO = Path(__file__).resolve().parent.parent

highspy = pytest.importorskip("highspy")


def _highs(problem):
    from bench.solvers import SOLVERS
    return SOLVERS["highs-ipm"](problem, tol=1e-6, time_limit=60)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_same_seed_same_instance(kind):
    a, b = by_nnz(kind, 3000, seed=7), by_nnz(kind, 3000, seed=7)
    assert a.equals(b)
    assert np.array_equal(a.A.data, b.A.data) and np.array_equal(a.A.indices, b.A.indices)
    assert not by_nnz(kind, 3000, seed=8).equals(a)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("nnz", [1000, 30_000, 300_000])
def test_nnz_target_met(kind, nnz):
    p = by_nnz(kind, nnz)
    assert abs(p.nnz - nnz) <= 0.03 * nnz
    assert p.A.indptr[-1] == p.nnz and p.num_rows > 0 and p.num_cols > 0


def test_shapes_follow_the_formulas():
    n, S = 7, 30
    p = g.cvar(n, S)
    assert (p.num_rows, p.num_cols, p.nnz) == (S + 2, n + 1 + S, S * (n + 2) + 2 * n)
    p = g.allocation(100, 12, 10, resources_per_item=4)
    assert (p.num_rows, p.num_cols, p.nnz, p.sense) == (22, 100, 500, "max")
    p = g.transport(9, 11, arcs_per_sink=4)
    assert (p.num_rows, p.num_cols, p.nnz) == (20, 44, 88)
    p = g.transport(5, 6)
    assert p.num_cols == 30
    n, k = 40, 6
    p = g.factor_qp(n, k)
    assert (p.num_rows, p.num_cols, p.nnz) == (k + 1, n + k, k * (n + 1) + n)
    Q = p.Q.tocoo()
    assert Q.nnz == n + k and np.array_equal(Q.row, Q.col) and Q.data.min() > 0


def test_shapes_of_the_bench_sizes():
    """The parameters for the BENCH.md sizes give the shapes it quotes (no generation)."""
    cv = params_for_nnz("cvar", 10_100_000)
    rows, cols = cv["n_scenarios"] + 2, cv["n_assets"] + 1 + cv["n_scenarios"]
    assert 23_000 < rows < 27_000 and 23_000 < cols < 27_000
    al = params_for_nnz("allocation", 1_800_000)
    assert al["n_items"] == 200_000 and al["n_resources"] + al["n_groups"] == 20_000
    tr = params_for_nnz("transport", 4_000_000)
    assert 2_900 <= tr["n_sources"] + tr["n_sinks"] <= 3_100
    assert abs(tr["n_sinks"] * tr["arcs_per_sink"] - 2_000_000) < 20_000
    fq = params_for_nnz("factor_qp", 51 * 10_000 + 50)
    assert fq == {"n_assets": 10_000, "n_factors": 50}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_small_instances_are_optimal_for_highs(kind, seed):
    p = by_nnz(kind, 1000, seed=seed)
    out = _highs(p)
    assert out.status == "optimal", out.solver_status
    assert kkt_check(p, out.x, out.y, out.z, 1e-6).ok


def test_cvar_return_target_is_reachable_and_binds_sensibly():
    p = g.cvar(20, 200, target_fraction=0.9, seed=3)
    out = _highs(p)
    assert out.status == "optimal"
    w = out.x[:20]
    assert abs(w.sum() - 1) < 1e-6 and w.min() >= -1e-9 and w.max() <= p.col_upper[0] + 1e-9
    assert p.A[-1] @ out.x >= p.row_lower[-1] - 1e-7


def test_transport_demand_is_met():
    p = g.transport(30, 40, arcs_per_sink=3, seed=4)
    out = _highs(p)
    assert out.status == "optimal"
    sinks = p.A[30:] @ out.x
    assert np.all(sinks >= p.row_lower[30:] - 1e-6)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_memory_is_linear_in_nonzeros(kind):
    """Peak traced memory per nonzero is bounded and does not grow with size (no dense m x n)."""
    per_nnz = []
    for nnz in (50_000, 400_000):
        tracemalloc.start()
        p = by_nnz(kind, nnz)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        per_nnz.append(peak / p.nnz)
        del p
    assert max(per_nnz) < 100, per_nnz
    assert per_nnz[1] < 1.5 * per_nnz[0] + 10, per_nnz


def test_docstrings_state_the_models():
    assert g.__doc__ and "Must not know" in g.__doc__
    for fn in (g.cvar, g.allocation, g.transport, g.factor_qp):
        doc = fn.__doc__ or ""
        assert "subject to" in doc and ("minimise" in doc or "maximise" in doc), fn.__name__
        assert "Size:" in doc, fn.__name__
    for fn in (g.params_for_nnz, g.by_nnz):
        assert fn.__doc__


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown instance kind"):
        params_for_nnz("nope", 100)


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError):
        g.allocation(5, 3, 10)
    with pytest.raises(ValueError):
        g.cvar(0, 10)


def test_cli_writes_mps_that_reads_back(tmp_path):
    gpulp = pytest.importorskip("gpulp")
    pytest.importorskip("gpulp.mps")
    out = tmp_path / "fq.mps.gz"
    proc = subprocess.run([sys.executable, "-m", "instances", "factor_qp", "--size", "2e3",
                           "--seed", "4", "--out", str(out)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert gpulp.read_mps(out).equals(by_nnz("factor_qp", 2000, seed=4), rtol=1e-12)
