"""The SimPy engine: two party processes, a link, GPU(s); the executor decides, this charges time.

Each task instance runs as a SimPy process that, on every wave tick of its party, takes one step
and reports its Need to the party's executor. Ticks wake the task processes in insertion order
(SimPy resumes the waiters of one event in the order they started waiting), so the wave order of
spec §1.2 is kept exactly. Flush decisions never look at the clock.
"""

from dataclasses import dataclass, field

import simpy

from models.layer import RunSpec
from models.specs import ModelSpec

from ..errors import ConfigError, SufRuntimeError
from ..executor.actions import Flush, FlushResult, OpenOp, PfssOp, Wave
from ..executor.executor import RunConfig, TaskRunner, next_action
from ..executor.records import FlushRecord, PfssFinish
from ..limits import max_flushes_per_run
from ..profiles import Settings
from ..registry import Registry
from ..sigma_workload import layer_workload, tallied_ops
from ..tasks.context import Sym, deps_of
from ..tasks.need import Need
from .cost import CostModel, Network
from .gpu import SharedGPU
from .link import Link
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
class RunSpan:
    layer: int
    run: str
    section: str
    start_s: float
    end_s: float


@dataclass
class PartyResult:
    party: int
    records: list[FlushRecord]
    spans: list[RunSpan]
    end_s: float = 0.0
    steps: int = 0
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


class Simulation:
    def __init__(self, config: SimConfig):
        deployment = DEPLOYMENTS.get(config.deploy)
        self.config = config
        self.env = simpy.Environment()
        self.link = Link(self.env, config.network)
        shared = SharedGPU(self.env)
        self.gpus = [shared, shared] if deployment.shared_gpu else [SharedGPU(self.env), SharedGPU(self.env)]
        c = config
        self.runs, self.build_task = layer_workload(c.model, c.seq_len, c.batch, c.settings)
        self._inflight: list[dict] = [{}, {}]  # per party: PFSS slot -> its background flush process
        self._last_open_end: list[float | None] = [None, None]  # per party: when its previous open ended
        self._party_processes: list[simpy.Process] = []

    def run(self) -> SimResult:
        result = SimResult(self.config, self.runs)
        errors: list[BaseException] = []
        for party in (0, 1):
            pr = PartyResult(party, [], [])
            result.parties.append(pr)
            self._party_processes.append(self.env.process(self._guard(self._party(party, pr), errors)))
        self.env.run(until=MAX_SIMULATED_S)
        if errors:
            raise errors[0]
        if any(process.is_alive for process in self._party_processes):
            raise ConfigError(f"the simulation ran away: one online iteration did not finish within "
                              f"{MAX_SIMULATED_S:.0e} simulated seconds; check the network "
                              f"{self.config.network.name!r} and cost profile {self.config.cost.name!r} "
                              "for absurd values")
        return result

    def _guard(self, body, errors: list):
        try:
            yield from body
        except SufRuntimeError as exc:
            errors.append(exc)

    # -- one party ------------------------------------------------------------------------------

    def _party(self, party: int, out: PartyResult):
        executor = self.config.settings.party_executor(party, self.config.policy)
        ctx = SymbolicContext(executor, self.config.cost.priced_local_ops() | tallied_ops(self.config.settings))
        bus = WaveBus(self.env)
        cost = self.config.cost
        for layer in range(self.config.layers):
            for spec in self.runs:
                label = f"L{layer}/{spec.name}"
                yield from self._wait(cost.run_gap_s(spec.local_flops_before, spec.local_matmul_elems,
                                                       spec.hidden_elems))
                start = self.env.now
                try:
                    runners = [TaskRunner(self.build_task(ctx, t, Sym)) for t in spec.tasks]
                    yield from bus.attach(runners)
                    config = RunConfig(layer, spec.name, max_flushes_per_run(spec.section), spec.planner)
                    actions = executor.run(runners, config)
                    action = next_action(actions, None)
                    while action is not None:
                        if isinstance(action, Wave):
                            reply = yield from bus.step(action.tasks)
                        else:
                            yield from self._direct_fss(party, ctx)
                            yield from self._local_work(out, ctx)
                            yield from self._await_inflight(party, action)
                            if action.background:
                                reply = self._start_background(party, action, spec.family)
                            else:
                                yield from self._flush(party, action, spec)
                                reply = None
                        action = next_action(actions, reply)
                    yield from self._direct_fss(party, ctx)
                    yield from self._local_work(out, ctx)
                    yield from self._await_inflight(party, None)
                except SufRuntimeError as exc:
                    exc.run = exc.run or label
                    raise
                out.spans.append(RunSpan(layer, spec.name, spec.section, start, self.env.now))
        out.records = executor.records
        out.end_s = self.env.now
        out.steps = bus.steps

    # -- work outside the executor's synchronous flushes ----------------------------------------------

    def _direct_fss(self, party: int, ctx: SymbolicContext):
        """FSS keys evaluated inside task steps (sigma tasks without the PFSS batch): local GPU work."""
        cost = self.config.cost
        for work in ctx.take_direct_work():
            gate = work.gate
            yield from self._wait(cost.pfss_floor_for([gate.cost_name]))
            yield from self.gpus[party].run(cost.pfss_work_s(gate.cost_name, work.hatx_words) * gate.cost_scale)

    def _local_work(self, out: PartyResult, ctx: SymbolicContext):
        """The local ops the cost model prices (SIGMA's key copies and kernels), one after another."""
        cost = self.config.cost
        for op, words in ctx.take_local_work():
            out.local_words[op] = out.local_words.get(op, 0) + words
            yield from self._wait(cost.local_s(op, words))

    def _start_background(self, party: int, flush: Flush, family: str) -> FlushResult:
        """Start a background PFSS flush; its outputs carry the slots whose users must wait for it."""
        records = iter(flush.records)
        outputs = {}
        for index, op in enumerate(flush.pfss):
            record = next(records) if op.jobs else None
            proc = self.env.process(self._background_pfss(party, op, record, family))
            for job in op.jobs:
                self._inflight[party][job.slot] = proc
            outputs[index] = [Sym(job.hatx_words, frozenset({job.slot})) for job in op.jobs]
        return FlushResult(outputs=outputs)

    def _background_pfss(self, party: int, op: PfssOp, record: FlushRecord | None, family: str):
        """The same local work around the evaluation as a synchronous PFSS flush has."""
        cost = self.config.cost
        yield from self._wait(cost.step_before_s(family, 0))
        yield from self._pfss(party, op, record)
        yield from self._wait(cost.step_after_s(family, 0, sum(j.hatx_words for j in op.jobs), 0))

    def _await_inflight(self, party: int, flush: Flush | None):
        """Wait for the background PFSS flushes that ``flush``'s opens were computed from (all of
        them at the end of a run, ``flush`` None)."""
        inflight = self._inflight[party]
        if not inflight:
            return
        if flush is None:
            needed = set(inflight)
        else:
            needed = set()
            for request in (flush.open.requests if flush.open else []):
                needed |= deps_of(request.value) & inflight.keys()
        pending = {inflight.pop(slot) for slot in needed}
        pending = [p for p in pending if not p.processed]
        if pending:
            yield self.env.all_of(pending)

    def _wait(self, seconds: float):
        if seconds > 0:
            yield self.env.timeout(seconds)

    def _flush(self, party: int, flush: Flush, spec: RunSpec):
        """Local preparation, the flush itself, then consuming the opened words (SUF's step work)."""
        cost = self.config.cost
        words = flush.open.words if flush.open else 0
        matmul_words = flush.open.words_matmul if flush.open else 0
        prep = cost.step_before_s(spec.family, words)
        after = (cost.step_after_s(spec.family, words, sum(j.hatx_words for op in flush.pfss for j in op.jobs),
                                   matmul_words * spec.matmul_out_per_word)
                 + cost.gpu_stage_s(matmul_words, words, self.config.settings.device_pack_min_words))
        records = iter(flush.records)
        open_record = next(records) if flush.open else None
        pfss_work = [(op, next(records) if op.jobs else None) for op in flush.pfss]
        if flush.concurrent:
            yield from self._wait(prep)
            procs = [self.env.process(self._open(party, flush.open, open_record))]
            procs += [self.env.process(self._pfss(party, op, rec)) for op, rec in pfss_work]
            yield self.env.all_of(procs)
            yield from self._wait(after)
        elif flush.open:  # prep and after are folded into the open's own waits: fewer events
            yield from self._open(party, flush.open, open_record, prep, after)
        else:
            yield from self._wait(prep)
            for op, rec in pfss_work:
                yield from self._pfss(party, op, rec)
            yield from self._wait(after)

    def _open(self, party: int, op: OpenOp, record: FlushRecord, before: float = 0.0, after: float = 0.0):
        start = self.env.now + before
        cost, min_words = self.config.cost, self.config.settings.device_pack_min_words
        local = cost.open_local_s(op.words, op.wire_bytes, min_words)
        # parties drift apart while each works alone; at the open one waits for the other's lead
        previous = self._last_open_end[party]
        wait = 0.0 if previous is None else cost.open_wait_per_s_apart * (start - previous)
        yield from self._wait(before + local / 2 + wait)  # pack, then the wait for the peer
        for _ in range(op.negotiation_exchanges):
            yield from self.link.ping_pong(party, 8)
        if self.config.settings.symmetric_exchange:
            yield from self.link.exchange(party, op.wire_bytes)
        else:
            yield from self.link.ping_pong(party, op.wire_bytes - 8 * op.negotiation_exchanges)
        end = self.env.now + local / 2  # unpack and scatter
        self._last_open_end[party] = end
        yield from self._wait(local / 2 + after)
        record.start_s, record.duration_s = start, end - start
        record.pack_s = cost.open_pack_s(op.words, min_words)

    def _pfss(self, party: int, op: PfssOp, record: FlushRecord | None):
        cost = self.config.cost
        start = self.env.now
        if op.jobs:
            min_words = self.config.settings.device_pack_min_words
            yield from self._wait(cost.pfss_floor_for([j.gate.cost_name for j in op.jobs])
                                  # the job's input comes from an open of its own size (SUF's mask open)
                                  + sum(cost.gpu_stage_s(j.hatx_words, j.hatx_words, min_words) for j in op.jobs))
            work = sum(cost.pfss_work_s(j.gate.cost_name, j.hatx_words) * j.gate.cost_scale for j in op.jobs)
            yield from self.gpus[party].run(work)
        eval_end = self.env.now
        if op.finish in (PfssFinish.MATERIALIZE, PfssFinish.FINALIZE):
            gates, hatx = [j.gate.cost_name for j in op.jobs], [j.hatx_words for j in op.jobs]
            yield from self._wait(cost.pfss_finish_s(gates, hatx))
        if record is not None:
            record.start_s, record.duration_s = start, self.env.now - start
            record.eval_s, record.finish_s = eval_end - start, self.env.now - eval_end


def simulate(config: SimConfig) -> SimResult:
    return Simulation(config).run()
