"""The host's clock for spans of a run in the clear: marks are monotonic seconds, filled in when marked.

A context whose work runs elsewhere brings its own clock with the same three methods (``real_backend.flush_clock``'s
CUDA events on a GPU), so that a run's span and its flushes' spans are read off one clock.
"""
from __future__ import annotations

import time
from collections.abc import Callable

Fill = Callable[[float, float], None]   # (start, end) in monotonic seconds


class HostClock:
    def mark(self) -> float:
        return time.monotonic()

    def later(self, start: float, end: float, fill: Fill) -> None:
        fill(start, end)

    def resolve(self) -> None:
        """Nothing is pending: spans were filled in when marked."""
