"""Flush policies: which flush the executor does in a wave (pure decisions, no clock).

A policy sees the executor's state after a wave (``WaveState``) and returns a ``Plan``; the
executor turns the plan into batch operations. Policies are registered by name in ``POLICIES`` so
that the CLI can select them (``--policy``); ``suf`` reproduces the SUF snapshot (spec §1.3-§1.5).
"""

from dataclasses import dataclass
from enum import StrEnum

from ..limits import LazyLimits
from ..registry import Registry
from ..tasks.context import Batch
from .batches import OpenCollector, PfssSuperBatch
from .records import FlushBranch


@dataclass
class WaveState:
    """The executor after one wave: what the tasks asked for, and its collector and batches (read only)."""

    progressed: bool            # some task returned Need.NONE
    want_open: bool
    want_coeff: bool
    want_trunc: bool
    opens: OpenCollector
    coeff: PfssSuperBatch
    trunc: PfssSuperBatch       # the executor's own trunc batch (empty when tasks share coeff)
    planner: bool               # a phase planner is installed and allowed for this run
    planner_flushed: bool       # the planner already ran in this run (it runs at most once)
    overlap_pfss_open: bool     # R.overlap_pfss_open (a dedicated PFSS channel exists)
    opportunistic_overlap: bool  # do_flush_open may flush PFSS work beside the open (spec §1.5)
    lazy: LazyLimits

    def batch(self, which: Batch) -> PfssSuperBatch:
        return self.coeff if which is Batch.COEFF else self.trunc

    def batches_with_work(self) -> tuple[Batch, ...]:
        """The member batches with pending or flushed work, coeff first."""
        return tuple(b for b in Batch if self.batch(b).has_work())


class PlanKind(StrEnum):
    OPEN = "open"        # do_flush_open
    PFSS = "pfss"        # do_flush_pfss of each of Plan.batches, in order
    PLANNER = "planner"  # finalize_phase: flush_eval + finalize_all of both member batches
    OVERLAP = "overlap"  # do_flush_open with a PFSS thread flushing Plan.batches (or the planner)


@dataclass(frozen=True)
class Plan:
    """One flush decision. ``batches``: for PFSS, the batches to flush; for OVERLAP, those the PFSS
    thread flushes (the executor skips any without work), ignored when ``planner``: the thread runs
    finalize_phase instead. ``opportunistic`` (OPEN): do_flush_open flushes batches with work beside
    the open (spec §1.5). ``background`` (PFSS): the driver starts the flush and goes on."""

    kind: PlanKind
    branch: FlushBranch
    batches: tuple[Batch, ...] = ()
    planner: bool = False
    opportunistic: bool = False
    background: bool = False


class FlushPolicy:
    """Base of the registered policies: two hooks, called by ``PhaseExecutor.run`` after each wave.

    - ``budget(s)`` runs after a wave in which some task progressed. It returns the flush to do now,
      or None: no flush, the next wave runs.
    - ``demand(s)`` runs after a wave in which no task progressed. It returns the flush that unblocks
      a task; None means nothing can, and the executor raises ``SufRuntimeError`` (deadlock), as SUF
      throws.

    At most one plan per wave; after it, the executor steps the next wave. A hook only reads ``s``: it
    must not change the state, the collector or the batches (the executor alone takes and completes
    them), and must decide from ``s`` and its own settings only (no clock), so that every driver gets
    the same schedule. The executor records planner use: a demand plan of kind PLANNER, or with
    ``planner``, sets ``planner_flushed`` for the rest of the run.
    """

    name = "base"
    description = ""

    @classmethod
    def create(cls, budget: LazyLimits | None = None) -> "FlushPolicy":
        """An instance for a simulation; ``budget`` holds the ``--set budget_*`` thresholds, which only
        the budget policy reads."""
        return cls()

    def budget(self, s: WaveState) -> Plan | None:
        raise NotImplementedError

    def demand(self, s: WaveState) -> Plan | None:
        raise NotImplementedError


POLICIES: Registry[type[FlushPolicy]] = Registry("policy")


@POLICIES.register
class SufPolicy(FlushPolicy):
    """The SUF snapshot's ``run_lazy``: budget flags, then the demand priority order."""

    name = "suf"
    description = "SUF snapshot: overlap, open, planner (once per run), coeff, trunc, last chance"

    def lazy_limits(self, s: WaveState) -> LazyLimits:
        """The thresholds of the budget flushes: the executor's (SUF's lazy limits)."""
        return s.lazy

    def budget(self, s: WaveState) -> Plan | None:
        lazy = self.lazy_limits(s)
        if lazy.open_pending_words and s.opens.pending_words >= lazy.open_pending_words:
            return Plan(PlanKind.OPEN, FlushBranch.BUDGET, opportunistic=s.opportunistic_overlap)
        if (lazy.coeff_pending_jobs and s.coeff.pending_jobs >= lazy.coeff_pending_jobs) or (
                lazy.hatx_pending_words and s.coeff.pending_hatx >= lazy.hatx_pending_words):
            return Plan(PlanKind.PFSS, FlushBranch.BUDGET, (Batch.COEFF,))
        if lazy.trunc_pending_jobs and s.trunc.pending_jobs >= lazy.trunc_pending_jobs:
            return Plan(PlanKind.PFSS, FlushBranch.BUDGET, (Batch.TRUNC,))
        return None

    def overlap_batches(self, s: WaveState) -> tuple[Batch, ...] | None:
        """Demand step 1's own condition: the batches the PFSS thread flushes beside the open, or None
        for no overlap. ``demand`` asks it only when a PFSS channel exists (``overlap_pfss_open``), a
        task wants an open and opens are pending. SUF: a task also wants PFSS and a batch has work;
        the thread flushes the wanted batches."""
        if (s.want_coeff or s.want_trunc) and (s.coeff.has_work() or s.trunc.has_work()):
            return tuple(b for b, wanted in ((Batch.COEFF, s.want_coeff), (Batch.TRUNC, s.want_trunc)) if wanted)
        return None

    def demand(self, s: WaveState) -> Plan | None:
        want_pfss = s.want_coeff or s.want_trunc
        if s.overlap_pfss_open and s.want_open and s.opens.has_pending():
            batches = self.overlap_batches(s)
            if batches is not None:
                use_planner = s.planner and not s.planner_flushed
                return Plan(PlanKind.OVERLAP, FlushBranch.OVERLAP, () if use_planner else batches, planner=use_planner)
        if s.want_open and s.opens.has_pending():
            return Plan(PlanKind.OPEN, FlushBranch.DEMAND_OPEN, opportunistic=s.opportunistic_overlap)
        if s.planner and want_pfss and not s.planner_flushed:
            return Plan(PlanKind.PLANNER, FlushBranch.PLANNER)
        if s.want_coeff and s.coeff.has_work():
            return Plan(PlanKind.PFSS, FlushBranch.DEMAND_COEFF, (Batch.COEFF,))
        if s.want_trunc and s.trunc.has_work():
            return Plan(PlanKind.PFSS, FlushBranch.DEMAND_TRUNC, (Batch.TRUNC,))
        if s.opens.has_pending():
            return Plan(PlanKind.OPEN, FlushBranch.LASTCHANCE, opportunistic=s.opportunistic_overlap)
        with_work = s.batches_with_work()
        if with_work:
            return Plan(PlanKind.PFSS, FlushBranch.LASTCHANCE, with_work[:1])
        return None


@POLICIES.register
class HavePfssWorkPolicy(SufPolicy):
    """The have_pfss_work patch: SUF with a wider overlap condition (demand step 1). As in SUF, the
    PFSS thread runs the planner instead while the run has not used it."""

    name = "have_pfss_work"
    description = "overlap the open flush with any pending PFSS work, wanted or not"

    def overlap_batches(self, s: WaveState) -> tuple[Batch, ...] | None:
        """Overlap whenever a batch has pending or flushed work, whether or not a task asked for PFSS;
        the thread flushes every batch that has work."""
        return s.batches_with_work() or None


@POLICIES.register
class BudgetPolicy(SufPolicy):
    """SUF's lazy-limit flushes with thresholds of one's own (``--set budget_*``), so that a batch
    is flushed as soon as it reaches a size, in a wave where tasks still progress."""

    name = "budget"
    description = "SUF order plus budget flushes at thresholds set by budget_open_words etc."

    def __init__(self, lazy: LazyLimits | None = None):
        self.lazy = LazyLimits() if lazy is None else lazy

    @classmethod
    def create(cls, budget: LazyLimits | None = None) -> "BudgetPolicy":
        return cls(budget)

    def lazy_limits(self, s: WaveState) -> LazyLimits:
        return self.lazy


@POLICIES.register
class PfssEagerPolicy(SufPolicy):
    """Start a PFSS flush as soon as a job is pending, in the background: the party goes on stepping
    and flushing opens while the GPU evaluates; whoever uses a result waits for it in time."""

    name = "pfss_eager"
    description = "flush PFSS jobs as soon as they are pending, concurrently with what comes next"

    def budget(self, s: WaveState) -> Plan | None:
        pending = tuple(b for b in Batch if s.batch(b).has_pending())
        if pending:
            return Plan(PlanKind.PFSS, FlushBranch.EAGER, pending, background=True)
        return super().budget(s)

    def demand(self, s: WaveState) -> Plan | None:
        return self.budget(s) or super().demand(s)


@POLICIES.register
class SigmaPolicy(FlushPolicy):
    """SIGMA's GPU code: every exchange is a blocking ``reconstructInPlace``: the opens are flushed the
    moment a task waits on them, with nothing beside them (no budget, planner or overlap); a PFSS job
    likewise. With SIGMA's tasks in program order (``sigma_merge=0``) one open is pending at a time, so
    every exchange goes alone."""

    name = "sigma"
    description = "SIGMA's code: opens flushed when waited on, nothing overlapped (alone in program order)"

    def budget(self, s: WaveState) -> Plan | None:
        return None

    def demand(self, s: WaveState) -> Plan | None:
        if s.opens.has_pending():
            return Plan(PlanKind.OPEN, FlushBranch.DEMAND_OPEN)
        with_work = s.batches_with_work()
        if with_work:
            return Plan(PlanKind.PFSS, FlushBranch.DEMAND_COEFF, with_work[:1])
        return None


def get_policy(name: str, budget: LazyLimits | None = None) -> FlushPolicy:
    """A policy by name (``ConfigError`` naming the allowed ones if unknown); ``budget`` gives the
    budget policy its thresholds."""
    return POLICIES.get(name).create(budget)
