"""When each flush ran, without stalling the GPU to find out.

On NumPy a mark is the host's monotonic clock. On CuPy a host timer would have to synchronise the device twice a
flush to hold the work rather than its launch, and every such sync stops the host from queueing the next kernels
(in one process it also waits for the other party's queued work). So a mark is a CUDA event recorded on this thread's
current stream: the GPU stamps it when it reaches that point, and the stamps are turned into monotonic seconds once,
when the run ends (one sync), from a reference event whose host time was taken at a sync when the clock started.
A flush's span (and, through ``RealContext.clock``, each executor run's) is then the GPU's: from the moment its
stream finished the work before it to the moment it finished its own.
"""
from __future__ import annotations

import time
from typing import Any

from simflush.plain.clock import Fill, HostClock

from .xp import is_cupy


class DeviceClock:
    def __init__(self, cp: Any) -> None:
        self.cp = cp
        self.ref = cp.cuda.Event()
        self.ref.record()
        self.ref.synchronize()
        self.ref_host = time.monotonic()
        self.pending: list[tuple[Any, Any, Fill]] = []

    def mark(self) -> Any:
        event = self.cp.cuda.Event()
        event.record()
        return event

    def later(self, start: Any, end: Any, fill: Fill) -> None:
        self.pending.append((start, end, fill))

    def _host(self, event: Any) -> float:
        return self.ref_host + self.cp.cuda.get_elapsed_time(self.ref, event) / 1e3

    def resolve(self) -> None:
        """Fill in every span marked so far; returns once the stream's queued work is done (a run's time holds it)."""
        self.mark().synchronize()
        for start, end, fill in self.pending:
            fill(self._host(start), self._host(end))
        self.pending.clear()


def flush_clock(xp: Any) -> HostClock | DeviceClock:
    return DeviceClock(xp) if is_cupy(xp) else HostClock()
