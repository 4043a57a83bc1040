"""The part of a task context that binds tasks to one party's executor (collector and batches).

Value operations (masking, Beaver differences, local compute) are left to subclasses: symbolic
in simulation (``simflush.sim.symbolic``), share arrays in a real backend.
"""

from typing import Any

from ..tasks.context import Batch, OpenKind
from ..tasks.gates import Gate
from .batches import OpenHandle, PfssSlot
from .executor import PhaseExecutor


class ExecutorContext:
    """Implements ``open``/``pfss``/``ready``/``result`` of the ``Context`` protocol on ``executor``.

    Handles: ``open`` returns an ``OpenHandle`` of the collector's current generation, ready from that
    generation's flush until the next open flush completes (``OpenCollector``); ``pfss`` returns the
    job's ``PfssSlot``, ready from the ``flush_eval`` that evaluated it on, for good.
    """

    def __init__(self, executor: PhaseExecutor):
        self.executor = executor
        self.party = executor.party

    def words(self, x: Any) -> int:
        raise NotImplementedError

    def open(self, value: Any, kind: OpenKind, tag: str = "") -> OpenHandle:
        return self.executor.opens.reserve(value, kind, self.words(value), tag)

    def pfss(self, batch: Batch, gate: Gate, hatx: Any, jobs: int = 1) -> PfssSlot:
        return self.executor.batch_for(batch).enqueue(gate, hatx, self.words(hatx), jobs)

    def flushes_in_run(self) -> int:
        """Flushes the executor has done in the current run (staggered chains start on it)."""
        return self.executor.run_flushes

    def ready(self, handle: OpenHandle | PfssSlot) -> bool:
        if isinstance(handle, PfssSlot):
            return handle.ready
        return self.executor.opens.ready(handle)

    def result(self, handle: OpenHandle | PfssSlot) -> Any:
        """A ready handle's value; an open handle outside its generation raises ``SufRuntimeError``."""
        if isinstance(handle, PfssSlot):
            return handle.result
        return self.executor.opens.result(handle)
