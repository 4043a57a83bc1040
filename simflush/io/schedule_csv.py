"""One row per flush of one layer of a trace's last iteration, in order: the golden CSV's first six
columns, then simflush's (times relative to the layer's first flush)."""

import csv
import io

from ..errors import ConfigError
from .trace_schema import Trace

COLUMNS = ["seq", "run", "event", "open_kind", "words_or_hatx", "wire_bytes_per_party",
           "branch", "gates", "p0_start_us", "p0_dur_us", "p1_start_us", "p1_dur_us"]


def schedule_rows(trace: Trace, layer: int) -> list[dict]:
    trace = trace.last_iteration()
    if not trace.timed:
        raise ConfigError(f"{trace.meta.source}: the trace has no timestamps: no schedule times to show")
    p0, p1 = ([r for r in trace.flushes if r.party == party and r.layer == layer] for party in (0, 1))
    t0 = min((r.start_s for r in p0 + p1), default=0.0)  # times relative to the layer's first flush
    rows = []
    for seq, (a, b) in enumerate(zip(p0, p1, strict=True)):
        rows.append({"seq": seq, "run": a.run, "event": a.kind, "open_kind": a.open_kind,
                     "words_or_hatx": a.words, "wire_bytes_per_party": a.wire_bytes, "branch": a.branch,
                     "gates": "+".join(a.gates), "p0_start_us": round((a.start_s - t0) * 1e6, 1),
                     "p0_dur_us": round(a.duration_s * 1e6, 1), "p1_start_us": round((b.start_s - t0) * 1e6, 1),
                     "p1_dur_us": round(b.duration_s * 1e6, 1)})
    return rows


def schedule_csv(trace: Trace, layer: int) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(schedule_rows(trace, layer))
    return out.getvalue()
