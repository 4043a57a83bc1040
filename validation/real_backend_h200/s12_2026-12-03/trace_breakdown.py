"""Per party of each run of the 2026-12-03 set: online time and where it lies (opens, PFSS flushes, the gaps
between flushes: the local work and the host), from the runs' traces.

    python validation/real_backend_h200/s12_2026-12-03/trace_breakdown.py
"""
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

from simflush.executor.records import FlushKind
from simflush.io.trace_schema import read_trace

SET = Path(__file__).resolve().parents[1] / "calibration_2026-12-03"

print(f"{'run':22s} party online_ms opens_ms pfss_ms gaps_ms")
for path in sorted(SET.glob("*.trace.json.gz")):
    trace = read_trace(path)
    for party in (0, 1):
        flushes = sorted((f for f in trace.flushes if f.party == party), key=lambda f: f.start_s)
        spent = defaultdict(float)
        for f in flushes:
            spent[f.kind] += f.duration_s
        gaps = sum(max(0.0, b.start_s - a.start_s - a.duration_s) for a, b in pairwise(flushes))
        print(f"{path.name.removesuffix('.trace.json.gz'):22s} {party:5d} {trace.meta.online_time_s * 1e3:9.1f} "
              f"{spent[FlushKind.OPEN] * 1e3:8.1f} {spent[FlushKind.PFSS] * 1e3:7.1f} {gaps * 1e3:7.1f}")
