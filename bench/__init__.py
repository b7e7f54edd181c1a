"""The gpulp benchmark: run solvers on instance sets under the protocol of shared/BENCH.md.

    python -m bench run --solvers gpulp-cpu,highs-ipm --set netlib --tol 1e-4 --time-limit 60 --out DIR
    python -m bench report DIR [--baseline highs-ipm]

Modules: solvers (the solver adapters), sets (instance sets and loading), worker (one pair in
its own process: load, solve, verify), harness (processes, timeouts, references, judging, rows),
report (report.md and figures).

Knows: how gpulp is measured. Must not know: gpulp's internals; it calls gpulp.solve only.
Importing it imports neither highspy, matplotlib nor cupy.
"""
