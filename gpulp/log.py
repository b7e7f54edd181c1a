"""Logging: the "gpulp" logger, the iteration table and phase timers.

The library never prints: `verbose=True` attaches a stream handler for the duration of a solve.
Knows: formats and cadence. Must not know: the algorithm.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time

logger = logging.getLogger("gpulp")

HEADER = (f"{'iter':>9} {'time':>8} {'pres':>9} {'dres':>9} {'gap':>9} "
          f"{'primal obj':>15} {'dual obj':>15} {'step':>9} {'weight':>9} {'rst':>5}")


def format_row(s) -> str:
    return (f"{s.iteration:>9d} {s.time:>8.2f} {s.primal_residual:>9.2e} {s.dual_residual:>9.2e} "
            f"{s.gap:>9.2e} {s.primal_objective:>15.8e} {s.dual_objective:>15.8e} "
            f"{s.step:>9.2e} {s.primal_weight:>9.2e} {s.restarts:>5d}")


class IterationTable:
    """Logs the header once, then a row per sync window at most every `interval` seconds
    (the first window always), and the last row on `close`."""

    def __init__(self, interval: float = 2.0):
        self.interval = interval
        self._last_t = -1e300
        self._last_logged = None
        self._header = False

    def __call__(self, stats):
        now = time.perf_counter()
        if now - self._last_t >= self.interval:
            self._emit(stats)
            self._last_t = now
        self._last = stats

    def _emit(self, stats):
        if not self._header:
            logger.info(HEADER)
            self._header = True
        logger.info(format_row(stats))
        self._last_logged = stats

    def close(self):
        last = getattr(self, "_last", None)
        if last is not None and last is not self._last_logged:
            self._emit(last)


class Timers(dict):
    """Phase name -> seconds; `with timers.phase("scale"):` adds to a phase."""

    @contextlib.contextmanager
    def phase(self, name):
        t = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - t

    def summary(self) -> str:
        return "  ".join(f"{k} {v:.3f}s" for k, v in self.items())


@contextlib.contextmanager
def verbose_handler(enabled: bool, stream=None):
    """Attach a plain handler to the gpulp logger while `enabled`."""
    if not enabled:
        yield
        return
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
