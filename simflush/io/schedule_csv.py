"""One row per flush of one layer, in order: the golden CSV's first six columns, then simflush's."""

import csv
import io

from ..sim.engine import SimResult

COLUMNS = ["seq", "run", "event", "open_kind", "words_or_hatx", "wire_bytes_per_party",
           "branch", "gates", "p0_start_us", "p0_dur_us", "p1_start_us", "p1_dur_us"]


def schedule_rows(result: SimResult, layer: int) -> list[dict]:
    p0, p1 = ([r for r in p.records if r.layer == layer] for p in result.parties)
    t0 = min((r.start_s for r in p0 + p1), default=0.0)  # times relative to the layer's first flush
    rows = []
    for seq, (a, b) in enumerate(zip(p0, p1, strict=True)):
        rows.append({"seq": seq, "run": a.run, "event": a.event, "open_kind": a.open_kind,
                     "words_or_hatx": a.words, "wire_bytes_per_party": a.wire_bytes, "branch": a.branch,
                     "gates": "+".join(a.gates), "p0_start_us": round((a.start_s - t0) * 1e6, 1),
                     "p0_dur_us": round(a.duration_s * 1e6, 1), "p1_start_us": round((b.start_s - t0) * 1e6, 1),
                     "p1_dur_us": round(b.duration_s * 1e6, 1)})
    return rows


def schedule_csv(result: SimResult, layer: int) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(schedule_rows(result, layer))
    return out.getvalue()
