"""gpulp: LP and convex QP by restarted Halpern PDHG, on the GPU (CuPy) or the CPU (NumPy/Numba).

Public API: solve, linprog, read_mps, write_mps, Problem, Result, Status, and the errors.
Importing gpulp never imports CuPy.
"""

from .errors import DeviceError, GpulpError, MPSError, NonConvexError, OptionsError, ProblemError
from .linprog import linprog  # a function: binding it here keeps the submodule from shadowing it
from .problem import Problem
from .result import Result, Status

__version__ = "0.1.0"

__all__ = ["solve", "linprog", "read_mps", "write_mps", "Problem", "Result", "Status",
           "GpulpError", "MPSError", "ProblemError", "OptionsError", "DeviceError",
           "NonConvexError", "example_path", "__version__"]


def __getattr__(name):
    # Lazy so that `import gpulp` stays light (no numba compile, no scipy.optimize).
    if name in ("read_mps", "write_mps"):
        from . import mps
        return getattr(mps, name)
    if name == "solve":
        from .solver import solve
        return solve
    raise AttributeError(f"module 'gpulp' has no attribute {name!r}")


def example_path(name: str = "portfolio") -> str:
    """Path of an example MPS file shipped with the package (`gpulp/examples/<name>.mps`)."""
    from importlib import resources
    ref = resources.files("gpulp.examples").joinpath(f"{name}.mps")
    if not ref.is_file():
        raise FileNotFoundError(f"no example named {name!r}")
    return str(ref)
