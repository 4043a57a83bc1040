"""A simulation as timeline events: one lane per party for the network, the GPU and the CPU.

Opens go on the network lane, PFSS evaluations on the GPU lane, materialize/finalize on the CPU lane;
runs get a lane of their own. Events that overlap on one lane (background or concurrent flushes)
are spread over numbered sub-lanes, so that every lane holds non-overlapping events.
"""

from dataclasses import dataclass

from ..sim.engine import SimResult

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


def _raw_events(result: SimResult) -> list[Event]:
    events = []
    for p in result.parties:
        for s in p.spans:
            events.append(Event(p.party, "runs", s.run, s.run, s.layer, s.start_s, s.end_s - s.start_s,
                                {"section": s.section}))
        for r in p.records:
            args = {"branch": r.branch, "words": r.words, "concurrent": r.concurrent}
            if r.event == "OPEN":
                args.update(kind=r.open_kind, wire_bytes=r.wire_bytes)
                events.append(Event(p.party, "network", f"OPEN {r.open_kind} {r.words}", r.run, r.layer,
                                    r.start_s, r.duration_s, args))
            else:
                args.update(gates="+".join(r.gates), jobs=r.jobs)
                events.append(Event(p.party, "gpu", f"PFSS {'+'.join(r.gates)} {r.words}", r.run, r.layer,
                                    r.start_s, r.eval_s, args))
                if r.finish_s > 0:
                    events.append(Event(p.party, "cpu", f"{r.finish} {r.words}", r.run, r.layer,
                                        r.start_s + r.eval_s, r.finish_s, args))
    return events


def timeline_events(result: SimResult) -> list[Event]:
    """All events, each on a lane where it overlaps no other event."""
    out = []
    ends: dict[tuple[int, str], list[float]] = {}
    for e in sorted(_raw_events(result), key=lambda e: (e.party, e.lane, e.start_s)):
        subs = ends.setdefault((e.party, e.lane), [])
        slot = next((i for i, end in enumerate(subs) if end <= e.start_s + 1e-15), len(subs))
        if slot == len(subs):
            subs.append(0.0)
        subs[slot] = e.start_s + e.duration_s
        lane = e.lane if slot == 0 else f"{e.lane}#{slot}"
        out.append(Event(e.party, lane, e.name, e.run, e.layer, e.start_s, e.duration_s, e.args))
    return out
