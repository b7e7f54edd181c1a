"""Test and benchmark instances built in code.

`instances.tiny` holds hand-solved LPs with their exact answers; `instances.generators` holds the
seeded large-scale generators (CVaR portfolio, multi-resource allocation, transportation,
factor-model mean-variance QP) used by `bench/`. `python -m instances KIND --size NNZ --seed S
--out FILE.mps[.gz]` writes one generated instance as MPS.

Knows: gpulp.Problem. Must not know: any solver.
"""
