"""LP presolve with primal-dual postsolve.

    pre = presolve(problem, max_passes=20)     # never modifies `problem`
    pre.status   # "reduced", "solved", "infeasible" or "unbounded" (pre.reason says why)
    pre.problem  # the reduced Problem (same sense; the objective constant absorbs removed columns)
    x, y, z = pre.postsolve(x_red, y_red, z_red)   # -> primal-dual point of the original problem

Reductions (driver.py runs the cheap ones to a fixed point, then the others, in every pass):
empty rows, empty columns, fixed columns, singleton rows (to column bounds), forcing rows,
dominated columns, doubleton equations, free column singletons, column singletons in equations
(their bounds move to the row), redundant rows and row sides, implied-free column singletons,
parallel rows, parallel columns. Each pushes undo records; postsolve restores x, the row duals y
and the reduced costs z (HiGHS's signs, in the problem's own sense) so that the answer passes
gpulp.verify.kkt_check on the original. The reductions are those of an LP: integrality flags of
the surviving columns are carried along but not respected. A QP comes back unchanged.
Tolerances: see work.py; implied (tightened) bounds: see reductions.py.

Knows: the Problem class. Must not know: the solver, scaling or any device.
"""

from .driver import PresolveResult, presolve

__all__ = ["presolve", "PresolveResult"]
