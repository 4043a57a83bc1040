"""Flush policies: which flush the executor does in a wave (pure decisions, no clock).

A policy sees the executor's state after a wave (``WaveState``) and returns a ``Plan``; the
executor turns the plan into batch operations. Policies are registered by name so that the CLI
can select them (``--policy``); ``suf`` reproduces the SUF snapshot (spec §1.3-§1.5).
"""

from dataclasses import dataclass, replace

from ..limits import LazyLimits
from .batches import OpenCollector, PfssSuperBatch


@dataclass
class WaveState:
    progressed: bool
    want_open: bool
    want_coeff: bool
    want_trunc: bool
    opens: OpenCollector
    coeff: PfssSuperBatch
    trunc: PfssSuperBatch       # the executor's own trunc batch (empty when tasks share coeff)
    planner: bool               # a phase planner is installed and allowed for this run
    planner_flushed: bool
    overlap_pfss_open: bool     # R.overlap_pfss_open (a dedicated PFSS channel exists)
    opportunistic_overlap: bool  # do_flush_open may flush PFSS work beside the open (spec §1.5)
    lazy: LazyLimits


@dataclass(frozen=True)
class Plan:
    """``kind``: "open" (do_flush_open), "pfss" (do_flush_pfss of each of ``batches``), "planner"
    (finalize_phase), "overlap" (open + PFSS thread flushing ``batches``, or the planner if
    ``planner``). ``opportunistic``: do_flush_open may flush batches with work beside the open."""

    kind: str
    branch: str
    batches: tuple[str, ...] = ()
    planner: bool = False
    opportunistic: bool = False
    background: bool = False     # the driver starts it and moves on (pfss_eager)


class FlushPolicy:
    """Base: a named policy. ``budget`` runs in waves with progress, ``demand`` in stalled waves."""

    name = "base"
    description = ""

    def budget(self, s: WaveState) -> Plan | None:
        raise NotImplementedError

    def demand(self, s: WaveState) -> Plan | None:
        raise NotImplementedError


class SufPolicy(FlushPolicy):
    """The SUF snapshot's ``run_lazy``: budget flags, then the demand priority order."""

    name = "suf"
    description = "SUF snapshot: overlap, open, planner (once per run), coeff, trunc, last chance"

    def budget(self, s: WaveState) -> Plan | None:
        lazy = s.lazy
        if lazy.open_pending_words and s.opens.pending_words >= lazy.open_pending_words:
            return Plan("open", "budget", opportunistic=s.opportunistic_overlap)
        if (lazy.coeff_pending_jobs and s.coeff.pending_jobs >= lazy.coeff_pending_jobs) or (
                lazy.hatx_pending_words and s.coeff.pending_hatx >= lazy.hatx_pending_words):
            return Plan("pfss", "budget", ("coeff",))
        if lazy.trunc_pending_jobs and s.trunc.pending_jobs >= lazy.trunc_pending_jobs:
            return Plan("pfss", "budget", ("trunc",))
        return None

    def demand(self, s: WaveState) -> Plan | None:
        want_pfss = s.want_coeff or s.want_trunc
        if (s.overlap_pfss_open and s.want_open and want_pfss and s.opens.has_pending()
                and (s.coeff.has_work() or s.trunc.has_work())):
            use_planner = s.planner and not s.planner_flushed
            wanted = tuple(b for b, w in (("coeff", s.want_coeff), ("trunc", s.want_trunc)) if w)
            return Plan("overlap", "overlap", () if use_planner else wanted, planner=use_planner)
        if s.want_open and s.opens.has_pending():
            return Plan("open", "demand_open", opportunistic=s.opportunistic_overlap)
        if s.planner and want_pfss and not s.planner_flushed:
            return Plan("planner", "planner")
        if s.want_coeff and s.coeff.has_work():
            return Plan("pfss", "demand_coeff", ("coeff",))
        if s.want_trunc and s.trunc.has_work():
            return Plan("pfss", "demand_trunc", ("trunc",))
        if s.opens.has_pending():
            return Plan("open", "lastchance", opportunistic=s.opportunistic_overlap)
        for batch in ("coeff", "trunc"):
            if getattr(s, batch).has_work():
                return Plan("pfss", "lastchance", (batch,))
        return None


def _with_work(s: WaveState) -> tuple[str, ...]:
    return tuple(b for b in ("coeff", "trunc") if getattr(s, b).has_work())


class HavePfssWorkPolicy(SufPolicy):
    """The have_pfss_work patch: the deadlock path overlaps the open flush with a PFSS flush whenever
    a PFSS batch has pending or flushed work, whether or not a task asked for PFSS, and the PFSS
    thread flushes every batch that has work (through the planner while it is unused)."""

    name = "have_pfss_work"
    description = "overlap the open flush with any pending PFSS work, wanted or not"

    def demand(self, s: WaveState) -> Plan | None:
        if s.want_open and s.opens.has_pending() and _with_work(s):
            use_planner = s.planner and not s.planner_flushed
            return Plan("overlap", "overlap", () if use_planner else _with_work(s), planner=use_planner)
        return super().demand(s)


class BudgetPolicy(SufPolicy):
    """SUF's lazy-limit flushes with thresholds of one's own (``--set budget_*``), so that a batch
    is flushed as soon as it reaches a size, in a wave where tasks still progress."""

    name = "budget"
    description = "SUF order plus budget flushes at thresholds set by budget_open_words etc."

    def __init__(self, lazy: LazyLimits = LazyLimits()):
        self.lazy = lazy

    def budget(self, s: WaveState) -> Plan | None:
        return super().budget(_replace_lazy(s, self.lazy))


class PfssEagerPolicy(SufPolicy):
    """Start a PFSS flush as soon as a job is pending, in the background: the party goes on stepping
    and flushing opens while the GPU evaluates; whoever uses a result waits for it in time."""

    name = "pfss_eager"
    description = "flush PFSS jobs as soon as they are pending, concurrently with what comes next"

    def budget(self, s: WaveState) -> Plan | None:
        pending = tuple(b for b in ("coeff", "trunc") if getattr(s, b).has_pending())
        if pending:
            return Plan("pfss", "eager", pending, background=True)
        return super().budget(s)

    def demand(self, s: WaveState) -> Plan | None:
        return self.budget(s) or super().demand(s)


def _replace_lazy(s: WaveState, lazy: LazyLimits) -> WaveState:
    return replace(s, lazy=lazy)


POLICIES: dict[str, type[FlushPolicy]] = {p.name: p for p in (SufPolicy, HavePfssWorkPolicy, BudgetPolicy,
                                                               PfssEagerPolicy)}


def get_policy(name: str, lazy: LazyLimits | None = None) -> FlushPolicy:
    """A policy by name; ``lazy`` gives the budget policy its thresholds."""
    from ..errors import ConfigError

    if name not in POLICIES:
        raise ConfigError(f"unknown policy {name!r}; allowed: {', '.join(POLICIES)}")
    if name == BudgetPolicy.name and lazy is not None:
        return BudgetPolicy(lazy)
    return POLICIES[name]()
