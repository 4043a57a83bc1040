"""``PhaseExecutor``: SUF's wave loop (spec §1.2-§1.4), as a generator of driver actions.

``run(tasks, config)`` yields ``Wave`` (step every unfinished task once, in insertion order, and
send back their Needs) and ``Flush`` (perform it and send back a ``FlushResult``). The decisions
never depend on time: the same generator serves the SimPy driver and a real one.
"""

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import SufRuntimeError
from ..limits import MAX_FLUSHES_PER_RUN, ExecutorLimits, transformer_limits
from ..tasks.context import MATMUL_OPS, Batch, OpenKind
from ..tasks.need import Need
from .actions import Flush, FlushResult, OpenOp, PfssOp, Wave
from .batches import OpenCollector, PfssSuperBatch, WireFormat
from .policies import FlushPolicy, Plan, PlanKind, WaveState
from .records import FlushKind, FlushRecord, PfssFinish


class TaskRunner:
    """One task instance: a generator stepped once per wave; ``done`` once it has returned."""

    __slots__ = ("done", "gen", "value")

    def __init__(self, gen: Generator):
        self.gen = gen
        self.done = False
        self.value: Any = None

    def step(self) -> Need:
        try:
            return next(self.gen)
        except StopIteration as stop:
            self.done = True
            self.value = stop.value
            return Need.NONE


def next_action(actions: Generator, reply: Any) -> Wave | Flush | None:
    """Send ``reply`` (None to start) to a ``PhaseExecutor.run`` generator and return its next action,
    or None once the run is over: the loop every driver writes around ``run``."""
    try:
        return actions.send(reply)
    except StopIteration:
        return None


@dataclass(frozen=True)
class RunConfig:
    """One ``run()``: its label, flush cap (``max_flushes_``) and whether a planner is installed."""

    layer: int
    name: str
    max_flushes: int = MAX_FLUSHES_PER_RUN
    planner: bool = True


class FlushGuard:
    """SUF's ``flush_guard`` of one ``run()``: +1 per open flush, planner flush and ``flush_eval``,
    +1 per materialize/clear; ``SufRuntimeError`` past ``max_flushes`` (spec §1.4)."""

    __slots__ = ("count", "max_flushes")

    def __init__(self, max_flushes: int):
        self.max_flushes = max_flushes
        self.count = 0

    def bump(self) -> None:
        if self.count + 1 > self.max_flushes:
            raise SufRuntimeError(f"PhaseExecutor: flush guard exceeded max_flushes {self.max_flushes}")
        self.count += 1


GPU_LIMITS = transformer_limits("gpu")


class PhaseExecutor:
    """One party's executor: owns the open collector and the two PFSS batches for its lifetime."""

    def __init__(self, party: int, policy: FlushPolicy, wire: WireFormat,
                 limits: ExecutorLimits = GPU_LIMITS, *, overlap_pfss_open: bool = True,
                 opportunistic_overlap: bool = True, share_trunc_batch: bool = True, device_pipeline: bool = False,
                 device_pipeline_materialize: bool = True):
        self.party = party
        self.policy = policy
        self.wire = wire
        self.limits = limits
        self.overlap_pfss_open = overlap_pfss_open
        self.opportunistic_overlap = overlap_pfss_open and opportunistic_overlap
        self.share_trunc_batch = share_trunc_batch
        # SUF materializes PFSS results on the host, and allows the planner, unless a device pipeline
        # keeps them on the GPU (``!device_pipeline_ || device_pipeline_materialize_``)
        self.host_materialize = not device_pipeline or device_pipeline_materialize
        self.opens = OpenCollector(limits.open_max_pending_words)
        self.coeff = PfssSuperBatch(Batch.COEFF, limits.pfss_max_pending_jobs, limits.pfss_max_pending_hatx)
        self.trunc = PfssSuperBatch(Batch.TRUNC, limits.pfss_max_pending_jobs, limits.pfss_max_pending_hatx)
        self.records: list[FlushRecord] = []
        self.run_flushes = 0  # flushes of the current run() so far

    def batch_for(self, which: Batch) -> PfssSuperBatch:
        """The batch a task's ``R.pfss_coeff`` / ``R.pfss_trunc`` points to."""
        if which is Batch.COEFF or self.share_trunc_batch:
            return self.coeff
        return self.trunc

    def idle(self) -> bool:
        """No open reserved and no PFSS job pending or flushed (as between runs, when every task waited
        for its results)."""
        return not self.opens.has_pending() and self.coeff.empty() and self.trunc.empty()

    def _member(self, which: Batch) -> PfssSuperBatch:
        """The executor's own ``pfss_coeff_`` / ``pfss_trunc_`` (what its flushes use)."""
        return self.coeff if which is Batch.COEFF else self.trunc

    # -- the wave loop -------------------------------------------------------------------------

    def run(self, tasks: Iterable[TaskRunner], config: RunConfig) -> Generator[Wave | Flush, Any, None]:
        """One SUF ``run()`` of ``tasks`` to completion, as a generator of driver actions.

        Start it with ``send(None)``. It yields ``Wave(live)``: step each live task once, in that order,
        and send back the list of their Needs, in the same order. It yields ``Flush``: perform it, fill
        in the times of ``flush.records`` if the driver keeps time, and send back a ``FlushResult`` (None
        = symbolic: the opened values are the requests' own, the outputs the jobs' hatx). The flush's
        records are appended to ``self.records`` once its result is sent back. It returns after the
        wave in which the last task finished, and raises ``SufRuntimeError`` on a deadlock (the policy's
        ``demand`` returned None) or past ``config.max_flushes``.
        """
        runners = list(tasks)
        self.run_flushes = 0
        guard = FlushGuard(config.max_flushes)
        planner_flushed = False
        allow_planner = config.planner and self.host_materialize
        while True:
            live = [t for t in runners if not t.done]
            if not live:
                return
            needs = yield Wave(live)
            state = WaveState(
                progressed=Need.NONE in needs, want_open=Need.OPEN in needs,
                want_coeff=Need.PFSS_COEFF in needs, want_trunc=Need.PFSS_TRUNC in needs,
                opens=self.opens, coeff=self.coeff, trunc=self.trunc, planner=allow_planner,
                planner_flushed=planner_flushed, overlap_pfss_open=self.overlap_pfss_open,
                opportunistic_overlap=self.opportunistic_overlap, lazy=self.limits.lazy)
            if state.progressed:
                plan = self.policy.budget(state)
                if plan is not None:
                    yield from self._perform(plan, config, guard)
                continue
            plan = self.policy.demand(state)
            if plan is None:
                raise SufRuntimeError(
                    f"PhaseExecutor deadlock: want_open={state.want_open} want_coeff={state.want_coeff} "
                    f"want_trunc={state.want_trunc} with nothing to flush")
            yield from self._perform(plan, config, guard)
            planner_flushed = planner_flushed or plan.planner or plan.kind == PlanKind.PLANNER

    # -- turning a plan into batch operations ----------------------------------------------------

    def _pfss_op(self, batch: PfssSuperBatch, finish: PfssFinish) -> PfssOp:
        jobs = batch.take() if batch.has_pending() else []
        if not self.host_materialize and finish == PfssFinish.MATERIALIZE:
            finish = PfssFinish.CLEAR
        return PfssOp(batch.name, jobs, finish)

    def _pfss_ops_with_work(self, names: Iterable[Batch], finish: PfssFinish) -> list[PfssOp]:
        """``flush_one`` (or the planner's loop) over ``names``: the batches without work do nothing."""
        return [self._pfss_op(batch, finish) for batch in map(self._member, names) if batch.has_work()]

    def _perform(self, plan: Plan, config: RunConfig, guard: FlushGuard) -> Generator[Flush, Any, None]:
        flush = Flush(plan.branch)
        if plan.kind in (PlanKind.OPEN, PlanKind.OVERLAP):
            guard.bump()
            flush.open = self._open_op()
            if plan.kind == PlanKind.OVERLAP and plan.planner:
                flush.pfss = self._pfss_ops_with_work(Batch, PfssFinish.FINALIZE)
            elif plan.kind == PlanKind.OVERLAP:
                flush.pfss = self._pfss_ops_with_work(plan.batches, PfssFinish.MATERIALIZE)
            elif plan.opportunistic:
                flush.pfss = self._pfss_ops_with_work(Batch, PfssFinish.MATERIALIZE)
            flush.concurrent = bool(flush.pfss)
        elif plan.kind == PlanKind.PLANNER:
            guard.bump()
            flush.pfss = self._pfss_ops_with_work(Batch, PfssFinish.FINALIZE)
        elif plan.kind == PlanKind.PFSS:
            for name in plan.batches:
                batch = self._member(name)
                if batch.has_pending():
                    guard.bump()  # flush_eval
                guard.bump()      # materialize + clear
                flush.pfss.append(self._pfss_op(batch, PfssFinish.MATERIALIZE))
            flush.background = plan.background
        else:
            raise ValueError(f"unknown plan kind {plan.kind!r}")
        records = self._records_for(flush, config)
        result: FlushResult | None = yield flush
        self._commit(flush, result or FlushResult())
        self.run_flushes += 1
        self.records.extend(records)

    def _open_op(self) -> OpenOp:
        """The open flush of every pending request, its words split by kind: Beaver differences (a
        matmul's also counted apart: a batched GPU kernel makes them) and masked PFSS inputs."""
        requests = self.opens.take()
        beaver = matmul = mask = 0
        for r in requests:
            if r.tag in MATMUL_OPS:
                matmul += r.words
            elif r.kind is OpenKind.MASK:
                mask += r.words
            else:
                beaver += r.words
        words = beaver + matmul + mask
        return OpenOp(requests, words, beaver + matmul, matmul, mask, self.wire.wire_bytes(words),
                      self.wire.negotiation_exchanges)

    def _records_for(self, flush: Flush, config: RunConfig) -> list[FlushRecord]:
        records = []
        if flush.open is not None:
            op = flush.open
            records.append(FlushRecord(config.layer, config.name, FlushKind.OPEN, flush.branch, op.words,
                                       op.words_beaver, op.words_mask, op.wire_bytes, words_matmul=op.words_matmul,
                                       concurrent=flush.concurrent))
        for op in flush.pfss:
            if op.jobs:
                records.append(FlushRecord(
                    config.layer, config.name, FlushKind.PFSS, flush.branch,
                    words=sum(j.hatx_words for j in op.jobs), jobs=sum(j.jobs for j in op.jobs),
                    gates=tuple(j.gate.name for j in op.jobs), finish=op.finish, batch=op.batch,
                    concurrent=flush.concurrent))
        flush.records = records
        return records

    def _commit(self, flush: Flush, result: FlushResult) -> None:
        if flush.open is not None:
            opened = result.opened if result.opened is not None else [r.value for r in flush.open.requests]
            self.opens.complete(opened)
        for index, op in enumerate(flush.pfss):
            batch = self._member(op.batch)
            if op.jobs:
                outputs = (result.outputs or {}).get(index) or [j.hatx for j in op.jobs]
                batch.complete_eval(outputs)
            if batch.has_flushed():
                batch.clear()
