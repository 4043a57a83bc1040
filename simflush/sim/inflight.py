"""One party's background PFSS flushes (``pfss_eager``) of the current run, numbered in the order started.

Jobs are numbered, not keyed by their ``PfssSlot``, so that a replayed layer (``sim.replay``), whose tasks
are not stepped and have no slots of their own, waits for the same flushes as the layer it replays.
"""

import simpy

from ..executor.actions import Flush
from ..tasks.context import deps_of


class InFlight:
    def __init__(self) -> None:
        self._procs: dict[int, simpy.Process] = {}    # job number -> the flush evaluating it
        self._numbers: dict[object, int] = {}          # PfssSlot -> job number
        self._started = 0

    def add(self, slots: list, proc: simpy.Process) -> None:
        """``proc`` evaluates the jobs of ``slots``, numbered next."""
        for slot in slots:
            self._procs[self._started] = proc
            self._numbers[slot] = self._started
            self._started += 1

    def needed_by(self, flush: Flush) -> tuple[int, ...]:
        """The in-flight jobs that ``flush``'s opens were computed from (their ``Sym.deps``)."""
        if not self._procs or flush.open is None:
            return ()
        deps = deps_of(*(request.value for request in flush.open.requests))
        return tuple(sorted(n for n in map(self._numbers.get, deps) if n in self._procs))

    def take(self, numbers: tuple[int, ...] | None) -> list[simpy.Process]:
        """Forget the jobs ``numbers`` (None: all of them); their flushes that have not ended yet."""
        if numbers is None:
            numbers = tuple(self._procs)
        procs = dict.fromkeys(self._procs.pop(n) for n in numbers)
        return [p for p in procs if not p.processed]
