"""The SimPy engine: two party processes, a link, GPU(s); the executor decides, this charges time.

Each task instance runs as a SimPy process that, on every wave tick of its party, takes one step
and reports its Need to the party's executor. Ticks wake the task processes in insertion order
(SimPy resumes the waiters of one event in the order they started waiting), so the wave order of
spec §1.2 is kept exactly. Flush decisions never look at the clock, so a run's tasks are stepped once
per simulation and later layers replay its schedule, charging its times anew (``sim.replay``).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from itertools import repeat

import simpy

from models.layer import RunSpec
from models.specs import ModelSpec

from ..errors import ConfigError, SufRuntimeError
from ..executor.actions import FlushResult, OpenOp, Wave
from ..executor.executor import RunConfig, TaskRunner, next_action
from ..executor.records import FlushRecord, RunSpan
from ..limits import max_flushes_per_run
from ..networks import Network
from ..profiles import Settings
from ..registry import Registry
from ..sigma_workload import layer_workload, tallied_ops
from ..tasks.context import Sym
from ..tasks.need import Need
from .charges import OpenCharges, PfssCharges, direct_charges, flush_charges
from .clock import join, side_by_side, skip
from .cost import CostModel
from .gpu import SharedGPU
from .inflight import InFlight
from .link import Link
from .replay import FlushStep, LocalCharge, RunScript, ScheduleCache, idle
from .symbolic import SymbolicContext

# Runaway guard: an online iteration simulated past this (11.6 days) comes from absurd inputs (a network
# of 1e-300 Gbit/s, a cost of 1e30 s), not from a model.
MAX_SIMULATED_S = 1e6


@dataclass(frozen=True)
class Deployment:
    """Where the two parties run: ``shared_gpu``: on one GPU (the SUF bench), else one GPU each."""

    name: str
    shared_gpu: bool


DEPLOYMENTS: Registry[Deployment] = Registry("deployment")
DEPLOYMENTS.register(Deployment("colocated", shared_gpu=True))
DEPLOYMENTS.register(Deployment("two-gpu", shared_gpu=False))


@dataclass(frozen=True)
class SimConfig:
    model: ModelSpec
    seq_len: int
    batch: int
    layers: int
    settings: Settings
    cost: CostModel
    network: Network
    policy: str = "suf"          # a name of POLICIES
    deploy: str = "colocated"    # a name of DEPLOYMENTS


@dataclass
class PartyResult:
    party: int
    records: list[FlushRecord]
    spans: list[RunSpan]
    end_s: float = 0.0
    steps: int = 0
    replayed: int = 0  # runs replayed from an earlier layer's schedule (sim.replay)
    # simulated with ``records=False``: the replayed runs, whose records ``records`` leaves out
    replays: list[tuple[RunSpan, RunScript]] = field(default_factory=list)
    local_words: dict[str, int] = field(default_factory=dict)  # priced local ops: words, summed


@dataclass
class SimResult:
    config: SimConfig
    runs_per_layer: list[RunSpec]
    parties: list[PartyResult] = field(default_factory=list)

    @property
    def online_time_s(self) -> float:
        """Wall time of one online iteration: from both parties' start until the later one ends."""
        return max(p.end_s for p in self.parties)


class WaveBus:
    """Steps one party's tasks, each in its own SimPy process, once per wave tick."""

    def __init__(self, env: simpy.Environment):
        self.env = env
        self._tick = env.event()
        self._needs: list[Need] = []
        self._error: BaseException | None = None
        self.steps = 0

    def attach(self, runners: list[TaskRunner]):
        """Process body: start one process per task and let them all begin waiting for a tick."""
        for runner in runners:
            self.env.process(self._task_process(runner, self._tick))
        yield self.env.timeout(0)

    def _task_process(self, runner: TaskRunner, first_tick: simpy.Event):
        tick = first_tick
        while True:
            yield tick
            try:
                need = runner.step()
            except Exception as exc:  # a cap SUF would throw on, raised inside a task's step
                self._error = self._error or exc
                return
            self._needs.append(need)
            if runner.done:
                return
            tick = self._tick

    def step(self, live: list[TaskRunner]):
        """Process body: one wave over ``live``; returns their Needs in insertion order."""
        self._needs = []
        tick, self._tick = self._tick, self.env.event()
        tick.succeed()
        yield tick  # resumes after the task processes, which started waiting on it first
        if self._error is not None:
            raise self._error
        self.steps += len(live)
        return self._needs

    def replayed(self, waves: list[int]):
        """Process body: replayed waves of these task counts (``sim.replay``): nothing stepped, but the one
        event a wave is while another event is due now, so that the other party's events interleave with
        them as with live waves. With none due, that event would be the next one processed, and nothing
        else waits on the event that resumed this party: going on at once does the same in the same order
        (and nothing can become due while this party goes on, so the waves left go the same way). A timeout
        of 0 is such an event (a tick triggered now, with fewer calls)."""
        self.steps += sum(waves)
        env = self.env
        for _ in waves:
            if env.peek() > env.now:
                return
            yield env.timeout(0)


NO_RECORDS = repeat(None)  # the records of a flush whose times nobody keeps: None for each


class Simulation:
    """``replay``: run each run's schedule through the executor once and replay it in later layers
    (``sim.replay``; the same outputs, faster); False steps every layer's tasks. ``schedules``: keep the
    scripts there, and replay those of an earlier configuration with the same schedule (with ``replay``).
    ``records=False``: a replayed run adds no records, only its script to ``PartyResult.replays`` (a sweep
    reads counts, ``trace.bench_of``; a trace needs every record)."""

    def __init__(self, config: SimConfig, replay: bool = True, schedules: ScheduleCache | None = None,
                 records: bool = True):
        deployment = DEPLOYMENTS.get(config.deploy)
        self.config = config
        self.replay = replay
        self.records = records
        self.env = simpy.Environment()
        self.link = Link(self.env, config.network)
        shared = SharedGPU(self.env)
        self.gpus = [shared, shared] if deployment.shared_gpu else [SharedGPU(self.env), SharedGPU(self.env)]
        c = config
        self.runs, self.build_task = layer_workload(c.model, c.seq_len, c.batch, c.settings)
        self._inflight = [InFlight(), InFlight()]  # per party: its background flushes in the current run
        self._outs: list[PartyResult | None] = [None, None]  # per party: what its process fills in
        self._last_open_end: list[float | None] = [None, None]  # per party: when its previous open ended
        self._party_processes: list[simpy.Process] = []
        # per party: run index -> its script, from the first layer that stepped it
        self._scripts = schedules.scripts(config) if schedules is not None and replay else ({}, {})

    def run(self) -> SimResult:
        result = SimResult(self.config, self.runs)
        errors: list[BaseException] = []
        for party in (0, 1):
            pr = PartyResult(party, [], [])
            result.parties.append(pr)
            self._party_processes.append(self.env.process(self._party(party, pr, errors)))
        self.env.run(until=MAX_SIMULATED_S)
        if errors:
            raise errors[0]
        if any(process.is_alive for process in self._party_processes):
            raise ConfigError(f"the simulation ran away: one online iteration did not finish within "
                              f"{MAX_SIMULATED_S:.0e} simulated seconds; check the network "
                              f"{self.config.network.name!r} and cost profile {self.config.cost.name!r} "
                              "for absurd values")
        return result

    # -- one party ------------------------------------------------------------------------------

    def _party(self, party: int, out: PartyResult, errors: list[SufRuntimeError]):
        """Process body: the party's layers; a runtime error SUF would throw ends it, in ``errors``."""
        executor = self.config.settings.party_executor(party, self.config.policy)
        ctx = SymbolicContext(executor, self.config.cost.priced_local_ops() | tallied_ops(self.config.settings))
        self._outs[party] = out
        bus = WaveBus(self.env)
        cost = self.config.cost
        scripts = self._scripts[party]
        for layer in range(self.config.layers):
            for index, spec in enumerate(self.runs):
                yield from self._wait(cost.run_gap_s(spec.local_flops_before, spec.local_matmul_elems,
                                                       spec.hidden_elems))
                start = self.env.now
                self._inflight[party] = InFlight()
                script = scripts.get(index)
                replayed = script is not None and idle(executor, ctx)
                try:
                    if replayed:
                        yield from self._replay(party, script, layer, bus,
                                                executor.records if self.records else None)
                        out.replayed += 1
                    else:
                        keep = self.replay and script is None and idle(executor, ctx)
                        script = yield from self._step(party, executor, ctx, bus, layer, spec, keep)
                        if script is not None and idle(executor, ctx):
                            scripts[index] = script
                except SufRuntimeError as exc:
                    exc.run = exc.run or f"L{layer}/{spec.name}"
                    errors.append(exc)
                    return
                out.spans.append(RunSpan(layer, spec.name, spec.section, start, self.env.now))
                if replayed and not self.records:
                    out.replays.append((out.spans[-1], script))
        out.records = executor.records
        out.end_s = self.env.now
        out.steps = bus.steps

    def _step(self, party: int, executor, ctx: SymbolicContext, bus: WaveBus, layer: int, spec: RunSpec,
              keep: bool):
        """Process body: one run of ``spec``'s tasks, stepped by the executor; returns its schedule if
        ``keep``, else None."""
        cost, min_words = self.config.cost, self.config.settings.device_pack_min_words
        build = self.config.settings.interval_build
        script = RunScript() if keep else None
        runners = [TaskRunner(self.build_task(ctx, t, Sym)) for t in spec.tasks]
        yield from bus.attach(runners)
        actions = executor.run(runners, RunConfig(layer, spec.name, max_flushes_per_run(spec.section), spec.planner))
        action = next_action(actions, None)
        while action is not None:
            if isinstance(action, Wave):
                if script is not None:
                    script.add_wave(len(action.tasks))
                reply = yield from bus.step(action.tasks)
            else:
                step = FlushStep(action, direct_charges(cost, ctx.take_direct_work(), build),
                                 self._inflight[party].needed_by(action),
                                 flush_charges(cost, action, spec, min_words, build), self._local_charges(ctx))
                reply = yield from self._perform(party, step, action.records, reply=True)
                if script is not None:
                    script.steps.append(step)
            action = next_action(actions, reply)
        end, end_local = direct_charges(cost, ctx.take_direct_work(), build), self._local_charges(ctx)
        if script is not None:
            script.end, script.end_local = end, end_local
        yield from self._end_run(party, end, end_local)
        return script

    def _replay(self, party: int, script: RunScript, layer: int, bus: WaveBus, records: list[FlushRecord] | None):
        """Process body: the run ``script`` was kept from, in ``layer``: the same events, times charged anew;
        its records added to ``records`` (None: none made)."""
        yield from bus.replayed([0])  # the event of attaching the tasks
        for step in script.steps:
            if isinstance(step, list):
                yield from bus.replayed(step)
            elif records is None:
                yield from self._perform(party, step, NO_RECORDS)
            else:
                timed = step.records_for(layer)
                yield from self._perform(party, step, timed)
                records.extend(timed)
        yield from self._end_run(party, script.end, script.end_local)

    # -- charging a flush -----------------------------------------------------------------------------

    def _perform(self, party: int, step: FlushStep, records: Iterable[FlushRecord | None], reply: bool = False):
        """Process body: the direct FSS work before a flush, the background flushes its opens wait for,
        then the flush (its local preparation, the flush itself, then consuming the opened words: SUF's
        step work); returns the reply for the executor if ``reply`` (a replayed run has no executor)."""
        if step.direct:
            yield from self._direct_fss(party, step.direct)
        if step.local:
            yield from self._local_work(party, step.local)
        if step.needs:
            yield from self._await_inflight(party, step.needs)
        flush, charges, records = step.flush, step.charges, iter(records)
        if flush.background:
            if self.config.settings.overlap_one_thread:   # its step work and launches on the party, then the GPU's
                launches, pfss = _launches(step.charges.pfss)
                yield from self._wait(launches + sum(step.charges.pfss_before))
                step = replace(step, charges=replace(step.charges, pfss=pfss,
                                                     pfss_before=(0.0,) * len(step.charges.pfss_before)))
            return self._start_background(party, step, records, reply)
        if flush.open and not flush.concurrent:  # prep and after are folded into the open's own waits: fewer events
            yield from self._open(party, flush.open, charges.open, next(records))
            return None
        open_record = next(records) if flush.open else None
        pfss = charges.pfss
        yield from self._wait(charges.prep)
        if flush.concurrent and self.config.settings.overlap_one_thread:
            # one host thread: the jobs' launch and staging before the send, only their GPU work beside the wire
            launches, pfss = _launches(pfss)
            yield from self._wait(launches)
        evaluations = [self._pfss(party, c, next(records) if op.jobs else None)
                       for op, c in zip(flush.pfss, pfss, strict=True)]
        if flush.concurrent:
            yield from side_by_side(self.env, [self._open(party, flush.open, charges.open, open_record), *evaluations])
        else:
            for evaluation in evaluations:
                yield from evaluation
        yield from self._wait(charges.after)
        return None

    def _end_run(self, party: int, direct: tuple[tuple[float, float], ...], local: tuple[LocalCharge, ...]):
        yield from self._direct_fss(party, direct)
        yield from self._local_work(party, local)
        yield from self._await_inflight(party, None)

    def _local_charges(self, ctx: SymbolicContext) -> tuple[LocalCharge, ...]:
        """The local ops the cost model prices (SIGMA's key copies and kernels) since the last call."""
        cost = self.config.cost
        return tuple((op, words, cost.local_s(op, words)) for op, words in ctx.take_local_work())

    def _local_work(self, party: int, local: tuple[LocalCharge, ...]):
        """Process body: those ops one after another, their words tallied for the party."""
        tally = self._outs[party].local_words
        for op, words, seconds in local:
            tally[op] = tally.get(op, 0) + words
            yield from self._wait(seconds)

    def _direct_fss(self, party: int, direct: tuple[tuple[float, float], ...]):
        """FSS keys evaluated inside task steps (sigma tasks without the PFSS batch): local GPU work."""
        for floor, work in direct:
            yield from self._wait(floor)
            yield from self.gpus[party].run(work)

    def _start_background(self, party: int, step: FlushStep, records: Iterable[FlushRecord | None],
                          reply: bool) -> FlushResult | None:
        """Start a background PFSS flush; its outputs (``reply``) carry the slots whose users must wait for it."""
        charges, records = step.charges, iter(records)
        outputs = {}
        for index, op in enumerate(step.flush.pfss):
            record = next(records) if op.jobs else None
            proc = self.env.process(self._background_pfss(party, charges.pfss_before[index], charges.pfss[index],
                                                          charges.pfss_after[index], record))
            self._inflight[party].add([job.slot for job in op.jobs], proc)
            if reply:
                outputs[index] = [Sym(job.hatx_words, frozenset({job.slot})) for job in op.jobs]
        return FlushResult(outputs=outputs) if reply else None

    def _background_pfss(self, party: int, before: float, charges: PfssCharges, after: float,
                         record: FlushRecord | None):
        """The same local work around the evaluation as a synchronous PFSS flush has."""
        yield from self._wait(before)
        yield from self._pfss(party, charges, record)
        yield from self._wait(after)

    def _await_inflight(self, party: int, needs: tuple[int, ...] | None):
        """Wait for the background PFSS jobs ``needs`` (all of them at the end of a run: None)."""
        pending = self._inflight[party].take(needs)
        if pending:
            yield from join(self.env, pending)

    def _wait(self, seconds: float) -> tuple[simpy.Timeout, ...]:
        """What to ``yield from`` to wait ``seconds``: its timeout, or nothing where none is needed
        (``clock.skip``). A tuple, not a generator: most waits need no event, and creating a generator
        for each cost more than the wait (a timeout's value is None, which a tuple's iterator accepts)."""
        if seconds > 0 and not skip(self.env, seconds):
            return (self.env.timeout(seconds),)
        return ()

    def _open(self, party: int, op: OpenOp, charges: OpenCharges, record: FlushRecord | None):
        start = self.env.now + charges.lead
        # parties drift apart while each works alone; at the open one waits for the other's lead
        previous = self._last_open_end[party]
        wait = 0.0 if previous is None else self.config.cost.open_wait_per_s_apart * (start - previous)
        yield from self._wait(charges.before + wait)  # pack, then the wait for the peer
        for _ in range(op.negotiation_exchanges):
            yield from self.link.ping_pong(party, 8)
        if self.config.settings.symmetric_exchange:
            yield from self.link.exchange(party, op.wire_bytes)
        else:
            yield from self.link.ping_pong(party, op.wire_bytes - 8 * op.negotiation_exchanges)
        end = self.env.now + charges.half  # unpack and scatter
        self._last_open_end[party] = end
        yield from self._wait(charges.after)
        if record is not None:
            record.start_s, record.duration_s = start, end - start
            record.pack_s = charges.pack_s

    def _pfss(self, party: int, charges: PfssCharges, record: FlushRecord | None):
        start = self.env.now
        if charges.work is not None:
            yield from self._wait(charges.stage)
            yield from self.gpus[party].run(charges.work)
        eval_end = self.env.now
        if charges.finish is not None:
            yield from self._wait(charges.finish)
        if record is not None:
            record.start_s, record.duration_s = start, self.env.now - start
            record.eval_s, record.finish_s = eval_end - start, self.env.now - eval_end


def _launches(pfss: tuple[PfssCharges, ...]) -> tuple[float, tuple[PfssCharges, ...]]:
    """PFSS ops' launch and staging, which a party of one host thread (``overlap_one_thread``) does itself, and the
    ops' charges without them: what is left to the GPU beside the party's other work."""
    return sum(c.stage for c in pfss if c.work is not None), tuple(replace(c, stage=0.0) for c in pfss)


def simulate(config: SimConfig, replay: bool = True, schedules: ScheduleCache | None = None,
             records: bool = True) -> SimResult:
    """One online iteration of ``config``; ``replay=False`` steps every layer's tasks, ``schedules`` keeps
    and reuses scripts across configurations, ``records=False`` makes no records for replayed runs
    (``Simulation``)."""
    return Simulation(config, replay, schedules, records).run()
