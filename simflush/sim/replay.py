"""Layer replay: the schedule of a run, kept from the first layer that ran it, replayed in later layers.

All layers of a model are the same runs (``models.layer.transformer_layer``), and the executor's
decisions never depend on time, so a run that starts from an idle executor (``idle``) makes the same
waves and flushes in every layer. The engine steps such a run's tasks once, keeps its ``RunScript``,
and for the same run of a later layer that starts idle too, replays the script instead of stepping
the tasks and the executor again.

Only the schedule is replayed, never the times: a replayed run charges every wait, open, PFSS flush
and background flush through the same SimPy code, with one event per wave as a live wave has, so the
two parties' events interleave as they would live and every time is the float a live run gives.
(Shifting the first layer's times would not be exact: ``a + (b - a) != b`` in floating point, and the
link, the GPU and the wait for the peer carry state from one layer into the next.)

A ``ScheduleCache`` keeps the scripts past one simulation, for the next configuration with the same
schedule (a sweep's): that one replays its first layer too.
"""

from dataclasses import dataclass, field, replace

from ..executor.actions import Flush
from ..executor.executor import PhaseExecutor
from ..executor.records import FlushRecord
from ..io.bench_json import Tally
from .charges import FlushCharges
from .symbolic import SymbolicContext

LocalCharge = tuple[str, int, float]   # a priced local op, its words and its seconds


@dataclass(frozen=True, slots=True)
class FlushStep:
    """One flush of a run: the executor's ``Flush`` (its records those of the layer it ran in), the
    ``fss_direct`` work of the waves before it, the background jobs it waits for, what it charges."""

    flush: Flush
    direct: tuple[tuple[float, float], ...]
    needs: tuple[int, ...]
    charges: FlushCharges
    local: tuple[LocalCharge, ...] = ()   # priced local ops of the waves before it (SIGMA's runtime)

    def records_for(self, layer: int) -> list[FlushRecord]:
        """Its records as the same flush of ``layer`` has them before a driver times them."""
        return [r.untimed(layer) for r in self.flush.records]


@dataclass(slots=True)
class RunScript:
    """A run's schedule, in order: ``FlushStep``s and, between them, the waves (a list of each wave's
    task count); the ``fss_direct`` work after its last flush."""

    steps: list[list[int] | FlushStep] = field(default_factory=list)
    end: tuple[tuple[float, float], ...] = ()
    end_local: tuple[LocalCharge, ...] = ()
    _tally: Tally | None = field(default=None, repr=False, compare=False)  # made by tally()

    def tally(self) -> Tally:
        """The counts of its flushes, as every layer that runs it has them (made once: a sweep's configurations
        that share the schedule read it again, ``trace.bench_of``)."""
        if self._tally is None:
            self._tally = Tally.of(r for step in self.steps if isinstance(step, FlushStep) for r in step.flush.records)
        return self._tally

    def add_wave(self, tasks: int) -> None:
        if self.steps and isinstance(self.steps[-1], list):
            self.steps[-1].append(tasks)
        else:
            self.steps.append([tasks])


def idle(executor: PhaseExecutor, ctx: SymbolicContext) -> bool:
    """Nothing reserved, pending or flushed, no direct work waiting: a run started now is stepped as
    by a fresh executor (the open collector's generation number only tells handles of different
    flushes apart)."""
    return executor.idle() and not ctx.direct_work


def schedule_key(config):
    """What a run's script depends on: ``config`` but its network and deployment (they only change when
    things happen: flush decisions never depend on time) and its layer count (every layer runs the same
    runs; a script is relabelled for each, ``FlushStep.records_for``). Any other field of ``SimConfig``, one
    added later too, is part of the key."""
    return replace(config, network=None, deploy="", layers=0)


class ScheduleCache:
    """The scripts of the last ``capacity`` schedules simulated, per party, by ``schedule_key``: a
    configuration with the same key replays every layer's runs (the engine fills the entry while it steps
    the first layer). Keys are compared by equality (settings and cost profiles are not hashable); the
    least recently used entry goes first."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._entries: list[tuple[object, tuple[dict[int, RunScript], dict[int, RunScript]]]] = []

    def scripts(self, config) -> tuple[dict[int, RunScript], dict[int, RunScript]]:
        """Party 0's and party 1's scripts for ``config``, by run index: empty ones to fill if it is new."""
        key = schedule_key(config)
        for index, (known, scripts) in enumerate(self._entries):
            if known == key:
                self._entries.append(self._entries.pop(index))
                return scripts
        scripts = ({}, {})
        self._entries.append((key, scripts))
        del self._entries[:-self.capacity]
        return scripts
