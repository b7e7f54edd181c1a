"""Tiny hand-solved LPs with their exact answers written beside them.

Each case gives the Problem and, for an optimal one, the unique optimal x, row duals y, reduced
costs z and objective (HiGHS's sign convention: c - A'y - z = 0 in the problem's own sense), or
the expected infeasibility status. The solutions were worked out by hand; the tests also compare
them with HiGHS.

Knows: gpulp.Problem. Must not know: the solver.
"""

from __future__ import annotations

import numpy as np

from gpulp import Problem

INF = np.inf


def _case(name, problem, status="optimal", x=None, y=None, z=None, objective=None):
    return {"name": name, "problem": problem, "status": status,
            "x": None if x is None else np.array(x, float),
            "y": None if y is None else np.array(y, float),
            "z": None if z is None else np.array(z, float), "objective": objective}


def cases():
    """All tiny cases, freshly built (tests may modify them)."""
    out = []
    # min 2a + 3b  s.t.  a + b >= 4,  a - b <= 2,  a, b >= 0.  Both rows tight: a = 3, b = 1;
    # 2 = y1 + y2, 3 = y1 - y2  ->  y = (2.5, -0.5).
    out.append(_case("lower_and_upper_rows",
                     Problem([2, 3], [[1, 1], [1, -1]], [4, -INF], [INF, 2]),
                     x=[3, 1], y=[2.5, -0.5], z=[0, 0], objective=9.0))
    # max 3a + 2b  s.t.  a + b <= 4,  a + 3b <= 7,  0 <= a <= 3,  b >= 0.  a at its upper bound,
    # b = 1 basic: y1 = 2, y2 = 0, z_a = 3 - 2 = 1 (maximisation: z >= 0 at an upper bound).
    out.append(_case("maximise_with_upper_bound",
                     Problem([3, 2], [[1, 1], [1, 3]], [-INF, -INF], [4, 7], [0, 0], [3, INF],
                             sense="max"),
                     x=[3, 1], y=[2, 0], z=[1, 0], objective=11.0))
    # min a + b  s.t.  a - b = 1,  2 <= a + b <= 5 (ranged),  a free,  b >= 0.
    # a + b = 2 -> a = 1.5, b = 0.5;  1 = y1 + y2, 1 = -y1 + y2  ->  y = (0, 1).
    out.append(_case("free_column_equality_and_ranged_row",
                     Problem([1, 1], [[1, -1], [1, 1]], [1, 2], [1, 5], [-INF, 0], [INF, INF]),
                     x=[1.5, 0.5], y=[0, 1], z=[0, 0], objective=2.0))
    # min -a + b + 5  s.t.  a + b <= 3,  -1 <= a <= 2,  b fixed at 0.5.  a = 2 at its upper bound,
    # row slack: y = 0, z = c = (-1, 1); objective -2 + 0.5 + 5 = 3.5.
    out.append(_case("fixed_column_negative_lower_and_constant",
                     Problem([-1, 1], [[1, 1]], [-INF], [3], [-1, 0.5], [2, 0.5],
                             objective_constant=5.0),
                     x=[2, 0.5], y=[0], z=[-1, 1], objective=3.5))
    # min a - b  with  1 <= a <= 2,  0 <= b <= 3  and no rows: a = 1, b = 3, z = c.
    out.append(_case("no_rows",
                     Problem([1, -1], None, None, None, [1, 0], [2, 3]),
                     x=[1, 3], y=[], z=[1, -1], objective=-2.0))
    # Two rows and no columns: 0 in both ranges, objective is the constant.
    out.append(_case("no_columns",
                     Problem(np.zeros(0), np.zeros((2, 0)), [-1, -INF], [1, 0],
                             objective_constant=1.5),
                     x=[], y=[0, 0], z=[], objective=1.5))
    # min a  s.t.  a >= 1 and a zero row with 0 <= 0*a <= 5 (an empty row inside a nonempty A).
    out.append(_case("empty_row",
                     Problem([1], [[1], [0]], [1, 0], [INF, 5]),
                     x=[1], y=[1, 0], z=[0], objective=1.0))
    # a + b <= 1 and a + b >= 3 cannot both hold.
    out.append(_case("infeasible_rows",
                     Problem([1, 1], [[1, 1], [1, 1]], [-INF, 3], [1, INF]),
                     status="primal_infeasible"))
    # An empty row that asks for 0 >= 1 beside a normal one.
    out.append(_case("infeasible_empty_row",
                     Problem([1, 0], [[1, 1], [0, 0]], [0, 1], [4, INF]),
                     status="primal_infeasible"))
    # min -a  s.t.  a - b <= 1,  a, b >= 0: a = 1 + b grows without bound.
    out.append(_case("unbounded",
                     Problem([-1, 0], [[1, -1]], [-INF], [1]),
                     status="dual_infeasible"))
    # No rows, a free column with a cost: unbounded in closed form.
    out.append(_case("unbounded_no_rows",
                     Problem([1, 0], None, None, None, [-INF, 0], [INF, 1]),
                     status="dual_infeasible"))
    return out
