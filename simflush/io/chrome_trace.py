"""Chrome trace event JSON (opened by Perfetto and chrome://tracing) of one or more traces.

One process per trace (a configuration), one thread per party and lane; complete events ("X") in
microseconds.
"""

import json

from .timeline import timeline_events
from .trace_schema import Trace

REQUIRED = ("name", "ph", "ts", "pid", "tid")


def chrome_trace(traces: list[tuple[str, Trace]]) -> dict:
    """``traces``: (label, trace) pairs; returns the trace document."""
    events: list[dict] = []
    for pid, (label, trace) in enumerate(traces):
        events.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "ts": 0, "args": {"name": label}})
        tids: dict[tuple[int, str], int] = {}
        for e in timeline_events(trace):
            key = (e.party, e.lane)
            if key not in tids:
                tids[key] = len(tids) + 1
                events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tids[key], "ts": 0,
                               "args": {"name": f"P{e.party} {e.lane}"}})
            events.append({"name": e.name, "cat": e.run, "ph": "X", "pid": pid, "tid": tids[key],
                           "ts": e.start_s * 1e6, "dur": e.duration_s * 1e6,
                           "args": {"layer": e.layer, **e.args}})
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def validate_chrome_trace(doc: dict) -> list[str]:
    """Problems found: missing fields, negative durations, events on a track that partially overlap."""
    problems = []
    tracks: dict[tuple, list[tuple[float, float]]] = {}
    for i, ev in enumerate(doc.get("traceEvents", [])):
        missing = [k for k in REQUIRED if k not in ev]
        if missing:
            problems.append(f"event {i}: missing {', '.join(missing)}")
            continue
        if ev["ph"] == "X":
            if ev.get("dur", -1) < 0:
                problems.append(f"event {i}: negative or missing dur")
            tracks.setdefault((ev["pid"], ev["tid"]), []).append((ev["ts"], ev["ts"] + ev.get("dur", 0)))
    for track, spans in tracks.items():
        stack: list[float] = []
        for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
            while stack and stack[-1] <= start + 1e-6:
                stack.pop()
            if stack and end > stack[-1] + 1e-6:
                problems.append(f"track {track}: event at {start:.3f} us overlaps its parent without nesting")
            stack.append(end)
    return problems


def write_chrome_trace(path: str, traces: list[tuple[str, Trace]]) -> None:
    with open(path, "w") as fh:
        json.dump(chrome_trace(traces), fh)
