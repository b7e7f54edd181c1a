"""Netlib LPs and the infeasible set through gpulp.solve on the CPU path.

CI runs a fixed fast subset; the whole set runs under the `slow` mark (60 s per instance, as the
solver issue asks). An answer counts when it is verified optimal at tol AND its objective is within
10 * tol * (1 + |f*|) of shared/instances/reference.json.
"""

import pytest

import gpulp

NETLIB = ['25fv47', '80bau3b', 'adlittle', 'afiro', 'agg', 'agg2', 'bandm', 'beaconfd', 'blend', 'bnl1', 'boeing1', 'boeing2', 'bore3d', 'brandy', 'cycle', 'd6cube', 'degen2', 'degen3', 'etamacro', 'fffff800', 'finnis', 'fit1d', 'fit1p', 'forplan', 'gfrd-pnc', 'greenbea', 'grow15', 'grow7', 'israel', 'kb2', 'lotfi', 'modszk1', 'pilot', 'pilot.ja', 'pilot4', 'pilotnov', 'qap12', 'recipe', 'sc105', 'sc205', 'sc50a', 'sc50b', 'scagr25', 'scagr7', 'scfxm1', 'scfxm2', 'scorpion', 'scrs8', 'scsd1', 'scsd6', 'sctap1', 'sctap2', 'seba', 'share1b', 'share2b', 'shell', 'ship04l', 'ship04s', 'ship08l', 'ship08s', 'ship12s', 'sierra', 'stair', 'standata', 'standgub', 'stocfor1', 'stocfor2', 'truss', 'vtp.base', 'wood1p']

FAST = ['afiro', 'adlittle', 'blend', 'sc50a', 'sc50b', 'sc105', 'kb2', 'israel', 'beaconfd', 'boeing1', 'degen2', 'finnis', 'grow7', 'scsd1', 'sctap1', 'sctap2', 'standata', 'standgub', 'stocfor1', 'share1b', 'brandy', 'agg2', 'scagr7', 'scfxm1', 'vtp.base']

# Unsolved within 60 s on this CPU at 1e-4 and 1e-8 (cuPDLPx leaves them unsolved too): bnl1,
# greenbea and the pilots. They stay xfail (not strict) so that a slow, shared CI machine does not
# turn a near miss into a failure; the full-set counts are in bench/RESULTS.md.
HARD = {"bnl1", "greenbea", "pilot", "pilot.ja", "pilot4"}


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


@pytest.mark.slow
@pytest.mark.parametrize("tol", [1e-4, 1e-8])
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(
    reason="hard for PDHG without presolve", strict=False)) if n in HARD else n for n in NETLIB])
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
