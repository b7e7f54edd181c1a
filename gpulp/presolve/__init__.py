"""LP presolve with primal-dual postsolve.

    pre = presolve(problem, max_passes=20)     # never modifies `problem`
    pre.status   # "reduced", "solved", "infeasible" or "unbounded"; pre.reason says why for the last two
    pre.problem  # the reduced Problem (same sense; the objective constant absorbs removed columns)
    x, y, z = pre.postsolve(x_red, y_red, z_red)   # -> primal-dual point of the original problem

Reductions, in the order of a pass: empty rows, empty columns, fixed columns, singleton rows (to
column bounds), forcing rows, redundant rows and row sides, dominated columns, doubleton
equations, free and implied-free column singletons, parallel rows, parallel columns. Each pushes
an undo record; postsolve restores x, the row duals y and the reduced costs z (HiGHS's signs, in
the problem's own sense) so that the answer passes gpulp.verify.kkt_check on the original.
A QP comes back unchanged. Tolerances: see work.py; tightened bounds: see reductions.py.

Knows: the Problem class. Must not know: the solver, scaling or any device.
"""

from .driver import PresolveResult, presolve

__all__ = ["presolve", "PresolveResult"]
