"""A real two-party run as a trace in simflush's schema (``simflush.io.trace_schema``), and its bench document.

Times are each party's monotonic clock (one host: both parties share it) from the first run's start; each flush's
start and duration come from the driver's flush clock (``context.performer``; CUDA events on a GPU), each run's from
``ValueRun``; an open's ``pack_s`` timer is its pack + unpack part, ``comm_s`` its exchange on the host's clock (waiting
for the peer included) and ``wait_s`` the host's wait for its packed words (on a GPU: the GPU finishing the work queued
before the open); on a GPU run its opens are marked ``device`` (packed there).
Every exporter that reads a simulated or a SUF trace reads this one (bench JSON, schedule CSV, timelines).
"""

from typing import Any

from models.layer import transformer_layer
from models.specs import ModelSpec
from simflush.executor.records import FlushKind
from simflush.io.trace_schema import FlushEvent, RunEvent, Trace, TraceMeta
from simflush.profiles import REAL_BACKEND_GPU_KNOBS, Settings


def real_trace(spec: ModelSpec, seq_len: int, settings: Settings, n_bits: int, parties: tuple[Any, Any], device: str,
               policy: str = "suf", network: str = "loopback", deploy: str = "colocated") -> Trace:
    """Both parties' runs and flushes (``twoparty.PartyResult``s), party 0's first; ``deploy``: both parties on one
    GPU (colocated) or each on its own (two-gpu)."""
    index = {r.name: i for i, r in enumerate(transformer_layer(spec, seq_len, 1, settings.layer))}
    t0 = min(span.start_s for p in parties for span in p.spans)
    online = max(span.end_s for p in parties for span in p.spans) - t0
    layers = 1 + max(span.layer for span in parties[0].spans)
    meta = TraceMeta(source="real_backend", system="real_backend", backend="gpu" if device else "cpu",
                     model=spec.name, seq_len=seq_len, batch=1, layers=layers, iterations=1,
                     runtime_profile=settings.profile, device=device, n_bits=n_bits, online_time_s=online,
                     traced=True, settings=settings.env | (REAL_BACKEND_GPU_KNOBS if device else {}),
                     policy=policy, chains=settings.layer.chains,
                     network=network, deploy=deploy)
    runs, flushes = [], []
    for p in parties:
        for s in p.spans:
            runs.append(RunEvent(p.party, 0, s.layer, index[s.run], s.run, s.start_s - t0, s.end_s - t0,
                                 section=s.section))
        for r in p.records:
            is_open = r.event == FlushKind.OPEN
            timers = {"pack_s": r.pack_s, "comm_s": r.comm_s, "wait_s": r.wait_s} if is_open else {"eval_s": r.eval_s}
            flushes.append(FlushEvent(
                p.party, 0, r.layer, index[r.run], r.run, r.event, r.open_kind, r.words, r.words_beaver, r.words_mask,
                r.wire_bytes, r.words_matmul, r.jobs, r.branch, tuple(r.gates), r.finish, r.batch, r.concurrent,
                is_open and bool(device), r.start_s - t0, r.duration_s, timers))
    return Trace(meta, runs, flushes)


def online_profile(parties: tuple[Any, Any], trace: Trace) -> dict[str, int]:
    """SUF's ``online_profile`` for one iteration: each timer summed over both parties (as SUF's party threads add
    into one counter), in ns; the layer sections from the runs' spans."""
    out: dict[str, float] = {}
    for p in parties:
        for name, seconds in p.profile.items():
            out[name] = out.get(name, 0.0) + seconds
    for run in trace.runs:
        key = f"{run.section}_ns"
        out[key] = out.get(key, 0.0) + (run.end_s - run.start_s)
    return {name: round(seconds * 1e9) for name, seconds in sorted(out.items())}
