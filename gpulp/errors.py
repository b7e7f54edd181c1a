"""Exception hierarchy of gpulp.

Knows: what can go wrong from the user's side (bad files, bad models, bad options, no device).
Must not know: how any of it is detected.
"""

from __future__ import annotations


class GpulpError(Exception):
    """Base class of every error gpulp raises on purpose."""


class MPSError(GpulpError, ValueError):
    """A malformed MPS/QPS file.

    Attributes
    ----------
    path : str
        The file that was being read.
    line : int or None
        1-based line number of the offending line (None when the problem is the file as a whole).
    message : str
        What was wrong or what was expected.
    """

    def __init__(self, path, line, message):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ProblemError(GpulpError, ValueError):
    """An inconsistent Problem (shapes, NaN, crossed bounds, asymmetric Q, ...)."""


class OptionsError(GpulpError, ValueError):
    """An option with a bad name or value; the message names the field."""


class DeviceError(GpulpError, RuntimeError):
    """The requested device cannot be used (no CuPy, no CUDA device, out of device memory)."""


class NonConvexError(ProblemError):
    """The quadratic objective is not convex (Q is not positive semidefinite)."""
