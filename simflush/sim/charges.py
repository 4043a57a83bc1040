"""The seconds a flush charges that do not depend on when it runs, worked out once per flush.

``sim.engine`` charges them around its SimPy waits; a replayed layer (``sim.replay``) reuses the amounts
of the layer it replays, which are the same floats the same expressions would give again. Only the wait
for the peer (``CostModel.open_wait_per_s_apart``) depends on the clock; the engine adds it.
"""

from dataclasses import dataclass

from models.layer import RunSpec

from ..executor.actions import Flush, OpenOp, PfssOp
from ..executor.records import PfssFinish
from ..tasks.gates import Gate
from ..tasks.interval_walk import IntervalBuild, gate_walk
from ..tasks.lut_pieces import PIECEWISE_KINDS
from ..tasks.tables import FRAC_BITS
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


def gate_job_s(cost: CostModel, gate: Gate, hatx_words: int, build: IntervalBuild) -> tuple[float, float]:
    """One PFSS job of ``gate``: (the time it takes beyond its GPU work, its GPU work). In a profile that prices the
    interval kernel (a backend that builds every piecewise gate as one interval key), a sigma gate costs that
    kernel's walk over its breakpoints as ``build`` says (ring, fold), and one of SUF's gates its traced cost scaled
    by the kernel's cost at ``build`` against the build its traces ran (the change derived, the level measured);
    other sigma gates scale SUF's measured ReLU by their PRG calls."""
    interval = cost.prices_interval_gates and gate.kind in PIECEWISE_KINDS
    if interval and gate.suf_kind < 0:
        return cost.interval_gate_s(*gate_walk(gate, build, FRAC_BITS), hatx_words)
    traced = cost.pfss_work_s(gate.cost_name, hatx_words) * gate.cost_scale
    ran = cost.traced_interval_build or build
    if interval and ran != build:
        traced *= _kernel_s(cost, gate, hatx_words, build) / _kernel_s(cost, gate, hatx_words, ran)
    return 0.0, traced


def _kernel_s(cost: CostModel, gate: Gate, hatx_words: int, build: IntervalBuild) -> float:
    return sum(cost.interval_gate_s(*gate_walk(gate, build, FRAC_BITS), hatx_words))


def direct_charges(cost: CostModel, work: list[DirectFss], build: IntervalBuild) -> tuple[tuple[float, float], ...]:
    """Per ``fss_direct`` evaluation: its floor (local) and its GPU work."""
    out = []
    for w in work:
        alone, gpu = gate_job_s(cost, w.gate, w.hatx_words, build)
        out.append((cost.pfss_floor_for([w.gate.cost_name]) + alone, gpu))
    return tuple(out)


def flush_charges(cost: CostModel, flush: Flush, spec: RunSpec, min_words: int,
                  build: IntervalBuild) -> FlushCharges:
    """What ``flush`` of a run of ``spec`` charges; ``min_words``: the device-packing threshold; ``build``: how the
    interval gates are built (ring, fold)."""
    words = flush.open.words if flush.open else 0
    matmul_words = flush.open.words_matmul if flush.open else 0
    prep = cost.step_before_s(spec.family, words)
    after = (cost.step_after_s(spec.family, words, sum(j.hatx_words for op in flush.pfss for j in op.jobs),
                               matmul_words * spec.matmul_out_per_word)
             + cost.gpu_stage_s(matmul_words, words, min_words))
    pfss = tuple(_pfss(cost, op, min_words, build) for op in flush.pfss)
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


def _pfss(cost: CostModel, op: PfssOp, min_words: int, build: IntervalBuild) -> PfssCharges:
    stage = work = finish = None
    if op.jobs:
        jobs = [gate_job_s(cost, j.gate, j.hatx_words, build) for j in op.jobs]
        stage = (cost.pfss_floor_for([j.gate.cost_name for j in op.jobs]) + sum(alone for alone, _ in jobs)
                 # the job's input comes from an open of its own size (SUF's mask open)
                 + sum(cost.gpu_stage_s(j.hatx_words, j.hatx_words, min_words) for j in op.jobs))
        work = sum(gpu for _, gpu in jobs)
    if op.finish in (PfssFinish.MATERIALIZE, PfssFinish.FINALIZE):
        finish = cost.pfss_finish_s([j.gate.cost_name for j in op.jobs], [j.hatx_words for j in op.jobs])
    return PfssCharges(stage, work, finish)
