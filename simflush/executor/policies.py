"""Flush policies: which flush the executor does in a wave (pure decisions, no clock).

A policy sees the executor's state after a wave (``WaveState``) and returns a ``Plan``; the
executor turns the plan into batch operations. Policies are registered by name so that the CLI
can select them (``--policy``); ``suf`` reproduces the SUF snapshot (spec §1.3-§1.5).
"""

from dataclasses import dataclass

from .batches import OpenCollector, PfssSuperBatch


@dataclass(frozen=True)
class LazyLimits:
    """Budget thresholds (``LazyLimits``); 0 disables a flag."""

    open_pending_words: int = 1 << 22
    coeff_pending_jobs: int = 1 << 14
    trunc_pending_jobs: int = 1 << 14
    hatx_pending_words: int = 1 << 22


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
    """``kind``: "open" (do_flush_open), "pfss" (do_flush_pfss of ``batches[0]``), "planner"
    (finalize_phase), "overlap" (open + PFSS thread flushing ``batches``, or the planner if
    ``planner``). ``opportunistic``: do_flush_open may flush batches with work beside the open."""

    kind: str
    branch: str
    batches: tuple[str, ...] = ()
    planner: bool = False
    opportunistic: bool = False


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


POLICIES: dict[str, type[FlushPolicy]] = {SufPolicy.name: SufPolicy}


def get_policy(name: str) -> FlushPolicy:
    from ..errors import ConfigError

    try:
        return POLICIES[name]()
    except KeyError:
        raise ConfigError(f"unknown policy {name!r}; allowed: {', '.join(sorted(POLICIES))}") from None
