"""Per party of each run in a folder of real runs: where its online time lies, from the run's trace: the opens (and
within them the host's wait for its packed words, ``wait_s``, and the exchange, ``comm_s``, waiting for the peer
included), the PFSS flushes and the gaps between flushes (local work and the host).

    python validation/real_backend_h200/s13_2026-12-03/open_split.py DIR [DIR ...]
"""
import sys
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

from simflush.executor.records import FlushKind
from simflush.io.trace_schema import read_trace

print(f"{'run':34s} party online_ms opens_ms  wait_ms  comm_ms pfss_ms gaps_ms")
for folder in sys.argv[1:]:
    for path in sorted(Path(folder).glob("*.trace.json.gz")):
        trace = read_trace(path)
        for party in (0, 1):
            flushes = sorted((f for f in trace.flushes if f.party == party), key=lambda f: f.start_s)
            spent = defaultdict(float)
            for f in flushes:
                spent[f.kind] += f.duration_s
                if f.kind == FlushKind.OPEN:
                    for name in ("wait_s", "comm_s"):
                        spent[name] += f.timers.get(name, float("nan"))
            gaps = sum(max(0.0, b.start_s - a.start_s - a.duration_s) for a, b in pairwise(flushes))
            print(f"{path.name.removesuffix('.trace.json.gz'):34s} {party:5d} {trace.meta.online_time_s * 1e3:9.1f} "
                  f"{spent[FlushKind.OPEN] * 1e3:8.1f} {spent['wait_s'] * 1e3:8.1f} {spent['comm_s'] * 1e3:8.1f} "
                  f"{spent[FlushKind.PFSS] * 1e3:7.1f} {gaps * 1e3:7.1f}")
