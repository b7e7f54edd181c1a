"""Applications built on gpulp's relaxation and the integer rounding layer (gpulp.rounding).

- `gpulp.apps.portfolio`: mean-variance (QP, factor or dense covariance) and CVaR (LP) portfolios
  with budget, long-only or bounded shorts, sector limits, turnover, round lots, minimum position
  size and cardinality; `portfolio.optimize(...) -> PortfolioResult`;
  `python -m gpulp.apps.portfolio` runs a synthetic round-lot example end to end.
- `gpulp.apps.knapsack`: multi-resource allocation of a budget over items with values, resource
  use, group limits and 0/1 or bounded integer choices; `knapsack.solve(...) -> KnapsackResult`;
  `python -m gpulp.apps.knapsack` runs a random instance.

Both build a gpulp.Problem, solve its continuous relaxation with gpulp (on the GPU or the CPU,
`device=`), and round, repair and improve it with gpulp.rounding; every integer answer is
verified integral and feasible in float64.

Knows: the two models and gpulp's public API. Must not know: devices or kernels.
"""

__all__ = ["portfolio", "knapsack"]


def __getattr__(name):
    # lazy, so that `python -m gpulp.apps.portfolio` does not import the module twice
    if name in __all__:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
