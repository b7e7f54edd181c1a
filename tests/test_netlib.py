"""Netlib LPs and the infeasible set through gpulp.solve on the CPU path.

CI runs a fixed fast subset; the whole set runs under the `slow` mark (60 s per instance, as the
solver issue asks). An answer counts when it is verified optimal at tol AND its objective is within
10 * tol * (1 + |f*|) of shared/instances/reference.json.
"""

import pytest

import gpulp

NETLIB = ['25fv47', '80bau3b', 'adlittle', 'afiro', 'agg', 'agg2', 'bandm', 'beaconfd', 'blend', 'bnl1', 'boeing1', 'boeing2', 'bore3d', 'brandy', 'cycle', 'd6cube', 'degen2', 'degen3', 'etamacro', 'fffff800', 'finnis', 'fit1d', 'fit1p', 'forplan', 'gfrd-pnc', 'greenbea', 'grow15', 'grow7', 'israel', 'kb2', 'lotfi', 'modszk1', 'pilot', 'pilot.ja', 'pilot4', 'pilotnov', 'qap12', 'recipe', 'sc105', 'sc205', 'sc50a', 'sc50b', 'scagr25', 'scagr7', 'scfxm1', 'scfxm2', 'scorpion', 'scrs8', 'scsd1', 'scsd6', 'sctap1', 'sctap2', 'seba', 'share1b', 'share2b', 'shell', 'ship04l', 'ship04s', 'ship08l', 'ship08s', 'ship12s', 'sierra', 'stair', 'standata', 'standgub', 'stocfor1', 'stocfor2', 'truss', 'vtp.base', 'wood1p']

FAST = ['afiro', 'adlittle', 'blend', 'sc50a', 'sc50b', 'sc105', 'kb2', 'israel', 'beaconfd', 'boeing1', 'degen2', 'finnis', 'grow7', 'scsd1', 'sctap1', 'sctap2', 'standata', 'standgub', 'stocfor1', 'share1b', 'brandy', 'agg2', 'scagr7', 'scfxm1', 'vtp.base']

# greenbea at 1e-8 cannot pass in float64: ||b|| = 0, so the relative primal residual is absolute,
# and the rounding of A x in rows where sum |a_ij x_j| is 4.7e8 leaves 1e-7 (bench/RESULTS.md).
# Not strict, so that a lucky rounding does not fail the suite.
HARD = {("greenbea", 1e-8)}


def _check(shared_instances, reference, name, tol, time_limit):
    key = f"netlib/{name}.mps.gz"
    res = gpulp.solve(shared_instances / key, tol=tol, time_limit=time_limit, device="cpu")
    f = reference[key]["objective"]
    assert res.status == "optimal", (name, res.status)
    assert res.verified
    assert max(res.primal_residual, res.dual_residual, res.gap) <= tol
    assert abs(res.objective - f) <= 10 * tol * (1 + abs(f)), (name, res.objective, f)


@pytest.mark.parametrize("name", FAST)
def test_netlib_fast_subset(shared_instances, reference, name):
    _check(shared_instances, reference, name, 1e-4, 60)


def test_lotfi_at_1e_8_matches_the_reference_objective(shared_instances, reference):
    # lotfi's 1e-8 iterate lies inside an optimal face that is not a vertex: relative KKT
    # measures pass there while the objective is 3e-6 off; the projection rule of active-set
    # polishing makes it exact
    _check(shared_instances, reference, "lotfi", 1e-8, 60)


@pytest.mark.parametrize("name, tol", [("bnl1", 1e-8), ("pilot.ja", 1e-4)])
def test_the_crossover_finishes_what_pdhg_cannot(shared_instances, reference, name, tol):
    # alone, PDHG needs more than 60 s for either (bnl1 at 1e-8 never finished, pilot.ja took
    # 147 s at 1e-4); the crossover's vertex takes a few seconds
    _check(shared_instances, reference, name, tol, 60)


@pytest.mark.slow
@pytest.mark.parametrize("name, tol", [
    pytest.param(n, t, marks=pytest.mark.xfail(reason="rounding of A x exceeds 1e-8",
                                               strict=False)) if (n, t) in HARD else (n, t)
    for t in (1e-4, 1e-8) for n in NETLIB])
def test_netlib_all(shared_instances, reference, name, tol):
    _check(shared_instances, reference, name, tol, 60)


@pytest.mark.parametrize("name, expected", [
    ("galenet", "primal_infeasible"), ("woodinfe", "primal_infeasible"),
    ("klein1", "primal_infeasible"), ("gas11-unbounded", "dual_infeasible"),
    pytest.param("vol1", "primal_infeasible", marks=[pytest.mark.slow, pytest.mark.xfail(
        reason="the Farkas ray converges too slowly within 60 s", strict=False)]),
])
def test_infeasible_set(shared_instances, name, expected):
    res = gpulp.solve(shared_instances / f"infeasible/{name}.mps.gz", time_limit=60, device="cpu")
    assert res.status != "optimal"
    assert res.status == expected and res.verified and res.certificate["violation"] <= 1e-6
