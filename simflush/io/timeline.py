"""A trace (simulated or measured, with timestamps) as timeline events: one lane per party for the
network, the GPU and the CPU.

Opens go on the network lane, PFSS evaluations on the GPU lane, materialize/finalize on the CPU lane;
runs get a lane of their own. Events that overlap on one lane (background or concurrent flushes)
are spread over numbered sub-lanes, so that every lane holds non-overlapping events.
"""

from dataclasses import dataclass

from ..errors import ConfigError
from ..executor.records import FlushKind
from .trace_schema import Trace

LANES = ("runs", "network", "gpu", "cpu")


@dataclass(frozen=True)
class Event:
    party: int
    lane: str          # one of LANES, with a "#k" suffix for the k-th sub-lane
    name: str
    run: str
    layer: int
    start_s: float
    duration_s: float
    args: dict


def _raw_events(trace: Trace) -> list[Event]:
    """Runs, then flushes: the sort in ``timeline_events`` is stable, and each lane holds one of the two."""
    if not trace.timed:
        raise ConfigError(f"{trace.meta.source}: the trace has no timestamps: nothing to put on a timeline")
    events = []
    for s in trace.runs:
        events.append(Event(s.party, "runs", s.run, s.run, s.layer, s.start_s, s.end_s - s.start_s,
                            {"section": s.section}))
    for r in trace.flushes:
        args = {"branch": r.branch, "words": r.words, "concurrent": r.concurrent}
        if r.kind == FlushKind.OPEN:
            args.update(kind=r.open_kind, wire_bytes=r.wire_bytes)
            events.append(Event(r.party, "network", f"OPEN {r.open_kind} {r.words}", r.run, r.layer,
                                r.start_s, r.duration_s, args))
        else:
            eval_s, finish_s = r.timers.get("eval_s", r.duration_s), r.timers.get("finish_s", 0.0)
            args.update(gates="+".join(r.gates), jobs=r.jobs)
            events.append(Event(r.party, "gpu", f"PFSS {'+'.join(r.gates)} {r.words}", r.run, r.layer,
                                r.start_s, eval_s, args))
            if finish_s > 0:
                events.append(Event(r.party, "cpu", f"{r.finish} {r.words}", r.run, r.layer,
                                    r.start_s + eval_s, finish_s, args))
    return events


def timeline_events(trace: Trace) -> list[Event]:
    """All events, each on a lane where it overlaps no other event."""
    out = []
    ends: dict[tuple[int, str], list[float]] = {}
    for e in sorted(_raw_events(trace), key=lambda e: (e.party, e.lane, e.start_s)):
        subs = ends.setdefault((e.party, e.lane), [])
        slot = next((i for i, end in enumerate(subs) if end <= e.start_s + 1e-15), len(subs))
        if slot == len(subs):
            subs.append(0.0)
        subs[slot] = e.start_s + e.duration_s
        lane = e.lane if slot == 0 else f"{e.lane}#{slot}"
        out.append(Event(e.party, lane, e.name, e.run, e.layer, e.start_s, e.duration_s, e.args))
    return out
