"""The seconds a flush charges that do not depend on when it runs, worked out once per flush.

``sim.engine`` charges them around its SimPy waits; a replayed layer (``sim.replay``) reuses the amounts
of the layer it replays, which are the same floats the same expressions would give again. Only the wait
for the peer (``CostModel.open_wait_per_s_apart``) depends on the clock; the engine adds it.
"""

from dataclasses import dataclass

from models.layer import RunSpec

from ..executor.actions import Flush, OpenOp, PfssOp
from ..executor.records import PfssFinish
from .cost import CostModel
from .symbolic import DirectFss


@dataclass(frozen=True, slots=True)
class OpenCharges:
    """An open: ``lead`` (the local work before it: where its record starts), ``before`` (that plus pack:
    half the open's local time), ``half`` (unpack and scatter after the exchange), ``after`` (half plus the
    local work after it), ``pack_s`` (its record's timer)."""

    lead: float
    before: float
    half: float
    after: float
    pack_s: float


@dataclass(frozen=True, slots=True)
class PfssCharges:
    """A PFSS op: ``stage`` (floor and input staging) and ``work`` (GPU work), None without jobs;
    ``finish`` (materialize/finalize), None for a plain clear."""

    stage: float | None
    work: float | None
    finish: float | None


@dataclass(frozen=True, slots=True)
class FlushCharges:
    """A flush: local work ``prep`` before and ``after`` it, its open's and its PFSS ops' charges; a
    background flush's ``pfss_before``/``pfss_after`` per op (the step work around each evaluation)."""

    prep: float
    after: float
    open: OpenCharges | None
    pfss: tuple[PfssCharges, ...]
    pfss_before: tuple[float, ...] = ()
    pfss_after: tuple[float, ...] = ()


def direct_charges(cost: CostModel, work: list[DirectFss]) -> tuple[tuple[float, float], ...]:
    """Per ``fss_direct`` evaluation: its floor (local) and its GPU work."""
    return tuple((cost.pfss_floor_for([w.gate.cost_name]), cost.pfss_work_s(w.gate.cost_name, w.hatx_words)
                  * w.gate.cost_scale) for w in work)


def flush_charges(cost: CostModel, flush: Flush, spec: RunSpec, min_words: int) -> FlushCharges:
    """What ``flush`` of a run of ``spec`` charges; ``min_words``: the device-packing threshold."""
    words = flush.open.words if flush.open else 0
    matmul_words = flush.open.words_matmul if flush.open else 0
    prep = cost.step_before_s(spec.family, words)
    after = (cost.step_after_s(spec.family, words, sum(j.hatx_words for op in flush.pfss for j in op.jobs),
                               matmul_words * spec.matmul_out_per_word)
             + cost.gpu_stage_s(matmul_words, words, min_words))
    pfss = tuple(_pfss(cost, op, min_words) for op in flush.pfss)
    if flush.background:
        return FlushCharges(prep, after, None, pfss, tuple(cost.step_before_s(spec.family, 0) for _ in flush.pfss),
                            tuple(cost.step_after_s(spec.family, 0, sum(j.hatx_words for j in op.jobs), 0)
                                  for op in flush.pfss))
    if flush.open is None:
        return FlushCharges(prep, after, None, pfss)
    # a concurrent flush waits prep and after around the open and the PFSS ops; otherwise the open folds them in
    before, last = (0.0, 0.0) if flush.concurrent else (prep, after)
    return FlushCharges(prep, after, _open(cost, flush.open, min_words, before, last), pfss)


def _open(cost: CostModel, op: OpenOp, min_words: int, before: float, after: float) -> OpenCharges:
    local = cost.open_local_s(op.words, op.wire_bytes, min_words)
    return OpenCharges(before, before + local / 2, local / 2, local / 2 + after, cost.open_pack_s(op.words, min_words))


def _pfss(cost: CostModel, op: PfssOp, min_words: int) -> PfssCharges:
    stage = work = finish = None
    if op.jobs:
        stage = (cost.pfss_floor_for([j.gate.cost_name for j in op.jobs])
                 # the job's input comes from an open of its own size (SUF's mask open)
                 + sum(cost.gpu_stage_s(j.hatx_words, j.hatx_words, min_words) for j in op.jobs))
        work = sum(cost.pfss_work_s(j.gate.cost_name, j.hatx_words) * j.gate.cost_scale for j in op.jobs)
    if op.finish in (PfssFinish.MATERIALIZE, PfssFinish.FINALIZE):
        finish = cost.pfss_finish_s([j.gate.cost_name for j in op.jobs], [j.hatx_words for j in op.jobs])
    return PfssCharges(stage, work, finish)
