"""The flush schedule alone, without time: one party's runs driven by the clock-free driver.

Decisions never depend on time, so this gives exactly the engine's records (less their times), much
faster; the checklist's cross-checks and reconcile use it.
"""

from models.specs import ModelSpec

from ..errors import SufRuntimeError
from ..executor.driver import drive
from ..executor.executor import RunConfig, TaskRunner
from ..executor.records import FlushRecord
from ..limits import max_flushes_per_run
from ..profiles import Settings
from ..sigma_workload import layer_workload
from ..tasks.context import Sym
from .symbolic import SymbolicContext


def flush_schedule(model: ModelSpec, seq_len: int, batch: int, settings: Settings, layers: int = 1,
                   policy: str = "suf") -> list[FlushRecord]:
    """Every flush of party 0 over ``layers`` layers, in order (party 1's are the same)."""
    executor = settings.party_executor(0, policy)
    ctx = SymbolicContext(executor)
    runs, build_task = layer_workload(model, seq_len, batch, settings)
    for layer in range(layers):
        for spec in runs:
            try:
                runners = [TaskRunner(build_task(ctx, t, Sym)) for t in spec.tasks]
                drive(executor, runners, RunConfig(layer, spec.name, max_flushes_per_run(spec.section), spec.planner))
            except SufRuntimeError as exc:
                exc.run = exc.run or f"L{layer}/{spec.name}"
                raise
    return executor.records
