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
from ..tasks.context import MATMUL_OPS, Batch
from ..tasks.need import Need
from .actions import Flush, FlushResult, OpenOp, PfssOp, Wave
from .batches import OpenCollector, PfssSuperBatch, WireFormat
from .policies import FlushPolicy, Plan, WaveState
from .records import FlushRecord


class TaskRunner:
    """One task instance: a generator stepped once per wave; ``done`` once it has returned."""

    __slots__ = ("gen", "done", "value", "label")

    def __init__(self, gen: Generator, label: str = ""):
        self.gen = gen
        self.done = False
        self.value: Any = None
        self.label = label

    def step(self) -> Need:
        try:
            return next(self.gen)
        except StopIteration as stop:
            self.done = True
            self.value = stop.value
            return Need.NONE


@dataclass(frozen=True)
class RunConfig:
    """One ``run()``: its label, flush cap (``max_flushes_``) and whether a planner is installed."""

    layer: int
    name: str
    max_flushes: int = MAX_FLUSHES_PER_RUN
    planner: bool = True


class PhaseExecutor:
    """One party's executor: owns the open collector and the two PFSS batches for its lifetime."""

    def __init__(self, party: int, policy: FlushPolicy, wire: WireFormat,
                 limits: ExecutorLimits = transformer_limits("gpu"), *, overlap_pfss_open: bool = True,
                 opportunistic_overlap: bool = True, share_trunc_batch: bool = True, device_pipeline: bool = False,
                 device_pipeline_materialize: bool = True):
        self.party = party
        self.policy = policy
        self.wire = wire
        self.limits = limits
        self.overlap_pfss_open = overlap_pfss_open
        self.opportunistic_overlap = overlap_pfss_open and opportunistic_overlap
        self.share_trunc_batch = share_trunc_batch
        self.device_pipeline = device_pipeline
        self.device_pipeline_materialize = device_pipeline_materialize
        self.opens = OpenCollector(limits.open_max_pending_words)
        self.coeff = PfssSuperBatch("coeff", limits.pfss_max_pending_jobs, limits.pfss_max_pending_hatx)
        self.trunc = PfssSuperBatch("trunc", limits.pfss_max_pending_jobs, limits.pfss_max_pending_hatx)
        self.records: list[FlushRecord] = []
        self.branches: dict[tuple[str, str], int] = {}
        self.run_flushes = 0  # flushes of the current run() so far

    def batch_for(self, which: Batch) -> PfssSuperBatch:
        """The batch a task's ``R.pfss_coeff`` / ``R.pfss_trunc`` points to."""
        if which is Batch.COEFF or self.share_trunc_batch:
            return self.coeff
        return self.trunc

    # -- the wave loop -------------------------------------------------------------------------

    def run(self, tasks: Iterable[TaskRunner], config: RunConfig) -> Generator[Any, Any, None]:
        runners = list(tasks)
        self.run_flushes = 0
        guard = [0]
        planner_flushed = False
        allow_planner = config.planner and (not self.device_pipeline or self.device_pipeline_materialize)
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
            planner_flushed = planner_flushed or plan.planner or plan.kind == "planner"

    # -- turning a plan into batch operations ----------------------------------------------------

    def _bump(self, guard: list[int], config: RunConfig, by: int = 1) -> None:
        if guard[0] + 1 > config.max_flushes:
            raise SufRuntimeError(f"PhaseExecutor: flush guard exceeded max_flushes {config.max_flushes}")
        guard[0] += by

    def _batches_with_work(self, names: Iterable[str]) -> list[PfssSuperBatch]:
        return [getattr(self, n) for n in names if getattr(self, n).has_work()]

    def _pfss_op(self, batch: PfssSuperBatch, finish: str) -> PfssOp:
        jobs = batch.take() if batch.has_pending() else []
        materialize = not self.device_pipeline or self.device_pipeline_materialize
        return PfssOp(batch.name, jobs, finish if materialize or finish == "finalize" else "clear")

    def _perform(self, plan: Plan, config: RunConfig, guard: list[int]) -> Generator[Any, Any, None]:
        flush = Flush(plan.branch)
        if plan.kind in ("open", "overlap"):
            self._bump(guard, config)
            flush.open = self._open_op()
            if plan.kind == "overlap":
                names = ("coeff", "trunc") if plan.planner else plan.batches
                finish = "finalize" if plan.planner else "materialize"
                flush.pfss = [self._pfss_op(b, finish) for b in self._batches_with_work(names)]
            elif plan.opportunistic:
                flush.pfss = [self._pfss_op(b, "materialize")
                              for b in self._batches_with_work(("coeff", "trunc"))]
            flush.concurrent = bool(flush.pfss)
        elif plan.kind == "planner":
            self._bump(guard, config)
            flush.pfss = [self._pfss_op(b, "finalize") for b in self._batches_with_work(("coeff", "trunc"))]
        elif plan.kind == "pfss":
            for name in plan.batches:
                batch = getattr(self, name)
                if batch.has_pending():
                    self._bump(guard, config)
                self._bump(guard, config)
                flush.pfss.append(self._pfss_op(batch, "materialize"))
            flush.background = plan.background
        else:
            raise ValueError(f"unknown plan kind {plan.kind!r}")
        records = self._records_for(flush, config)
        result: FlushResult | None = yield flush
        self._commit(flush, result or FlushResult())
        self.run_flushes += 1
        for record in records:
            self.branches[(record.event, record.branch)] = self.branches.get((record.event, record.branch), 0) + 1
        self.records.extend(records)

    def _open_op(self) -> OpenOp:
        """The open flush's requests and words by local-work kind: "B" (elementwise and row-broadcast
        Beaver), "Bmm" (matmul Beaver: its differences are made by a batched GPU kernel) and "M"."""
        requests = self.opens.take()
        by_kind = {"B": 0, "Bmm": 0, "M": 0}
        for r in requests:
            by_kind["Bmm" if r.tag in MATMUL_OPS else r.kind.value] += r.words
        words = sum(by_kind.values())
        return OpenOp(requests, words, by_kind, self.wire.wire_bytes(words), self.wire.negotiation_exchanges)

    def _records_for(self, flush: Flush, config: RunConfig) -> list[FlushRecord]:
        records = []
        if flush.open is not None:
            op = flush.open
            records.append(FlushRecord(config.layer, config.name, "OPEN", flush.branch, op.words,
                                       op.words_by_kind["B"] + op.words_by_kind["Bmm"], op.words_by_kind["M"],
                                       op.wire_bytes, words_matmul=op.words_by_kind["Bmm"],
                                       concurrent=flush.concurrent))
        for op in flush.pfss:
            if op.jobs:
                records.append(FlushRecord(
                    config.layer, config.name, "PFSS", flush.branch,
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
            batch = getattr(self, op.batch)
            if op.jobs:
                outputs = (result.outputs or {}).get(index) or [j.hatx for j in op.jobs]
                batch.complete_eval(outputs)
            if batch.has_flushed():
                batch.clear()
