"""The independent checks in gpulp.verify, on answers known by hand."""

import numpy as np
import pytest

from gpulp import Problem
from gpulp.verify import dual_infeasibility_check, kkt_check, primal_infeasibility_check
from instances.tiny import cases

OPTIMAL = [c for c in cases() if c["status"] == "optimal"]


@pytest.mark.parametrize("case", OPTIMAL, ids=lambda c: c["name"])
def test_exact_answers_pass(case):
    rep = kkt_check(case["problem"], case["x"], case["y"], case["z"], 1e-12)
    assert rep.ok, rep
    assert rep.primal_objective == pytest.approx(case["objective"])
    assert rep.dual_objective == pytest.approx(case["objective"])


def test_wrong_dual_signs_show_up_as_residual_not_as_better_objective():
    case = OPTIMAL[0]
    y = case["y"].copy()
    y[0] = -y[0]            # a >= row cannot have a negative dual in a minimisation
    rep = kkt_check(case["problem"], case["x"], y, case["z"], 1e-6)
    assert not rep.ok and rep.dual_residual > 1e-3


def test_primal_violation_and_gap_are_measured():
    case = OPTIMAL[0]
    x = case["x"] + np.array([-1.0, 0.0])
    rep = kkt_check(case["problem"], x, case["y"], case["z"], 1e-6)
    assert rep.primal_residual > 0.1 and rep.gap > 0.01 and not rep.ok


def test_certificates():
    infeas = Problem([1, 1], [[1, 1], [1, 1]], [-np.inf, 3], [1, np.inf])
    assert primal_infeasibility_check(infeas, [-1.0, 1.0]).ok
    assert not primal_infeasibility_check(infeas, [1.0, 1.0]).ok     # wrong sign on the <= row
    assert not primal_infeasibility_check(infeas, [-1.0, 0.2]).ok    # value <= 0
    unb = Problem([-1, 0], [[1, -1]], [-np.inf], [1])
    assert dual_infeasibility_check(unb, [1.0, 1.0]).ok
    assert not dual_infeasibility_check(unb, [1.0, 0.0]).ok          # A d > 0 on a <= row
    assert not dual_infeasibility_check(unb, [-1.0, -1.0]).ok        # leaves the bounds
