"""simflush's trace schema: one record per flush and one per executor run, per party.

Measured traces (the SUF runtime's ``[trace]`` lines, ``simflush.io.suf_trace``; later the real
backend) and simulated ones (``from_sim_result``) are written in this one form, so calibration and
validation read a single format. A trace file is JSON::

    {"schema": "simflush-trace", "schema_version": 1,
     "meta": {...},                       # where it came from (see TraceMeta)
     "runs": [RunEvent, ...],             # one per party x iteration x layer x run
     "flushes": [FlushEvent, ...]}        # one per party x flush, in each party's order

Fields (units in the names; times are seconds on the trace's own clock, ``None`` where the source has
no timestamps, e.g. the SUF CPU trace):

- ``FlushEvent.kind``: ``OPEN`` or ``PFSS``; ``open_kind``: ``B``, ``M``, ``B+M`` (opens), ``""`` (PFSS).
- ``words``: OPEN: opened words; PFSS: hatx words. ``wire_bytes``: bytes this party sent (OPEN).
- ``branch``: the executor path that issued the flush (``planner``, ``lastchance``, ...); ``""`` if the
  source does not say (SUF prints a BRANCH line only on some paths).
- ``gates``: the PFSS gate kinds of the flush's jobs, ``()`` if unknown.
- ``finish``: PFSS: ``finalize`` (planner path) or ``materialize``.
- ``device``: OPEN packed on the GPU (SUF ``dev=1``).
- ``start_s``, ``duration_s``: the flush's whole interval; ``timers``: its sub-timers in seconds
  (``pack_s`` for opens; ``eval_s`` and ``finish_s`` for PFSS).
- ``line``: the source line the record was completed on (0 for simulated traces): errors cite it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..sim.engine import SimResult

TRACE_SCHEMA = "simflush-trace"
TRACE_SCHEMA_VERSION = 2  # 2: flushes carry words_matmul


@dataclass
class FlushEvent:
    party: int
    iteration: int
    layer: int
    run_index: int            # position of the run within its layer (0-based)
    run: str                  # run name (``LN1``, ``QKV_trunc``, ...), ``""`` if unknown
    kind: str                 # OPEN or PFSS
    open_kind: str = ""
    words: int = 0
    words_beaver: int = 0
    words_mask: int = 0
    wire_bytes: int = 0
    words_matmul: int = 0      # part of words_beaver that are matmul Beaver differences (from the schedule)
    jobs: int = 0
    branch: str = ""
    gates: tuple[str, ...] = ()
    finish: str = ""
    device: bool = False
    start_s: float | None = None
    duration_s: float | None = None
    timers: dict[str, float] = field(default_factory=dict)
    line: int = 0

    @property
    def end_s(self) -> float | None:
        return None if self.start_s is None else self.start_s + self.duration_s


@dataclass
class RunEvent:
    party: int
    iteration: int
    layer: int
    run_index: int
    run: str
    start_s: float | None = None
    end_s: float | None = None
    line: int = 0


@dataclass
class TraceMeta:
    source: str = ""              # file name it was imported from, or "simflush"
    sha256: str = ""              # of the source file
    system: str = ""              # "suf", "simflush", "real_backend"
    backend: str = ""             # "gpu" or "cpu"
    model: str = ""
    seq_len: int = 0
    batch: int = 0
    layers: int = 0               # layers per iteration
    iterations: int = 0
    runtime_profile: str = ""
    device: str = ""
    n_bits: int = 0
    online_time_s: float | None = None   # the source run's measured (or simulated) timing.online_time_s
    traced: bool = True           # the timings carry tracing overhead


@dataclass
class Trace:
    meta: TraceMeta
    runs: list[RunEvent]
    flushes: list[FlushEvent]

    @property
    def timed(self) -> bool:
        return bool(self.flushes) and all(f.start_s is not None for f in self.flushes)

    def to_json(self) -> str:
        doc = {"schema": TRACE_SCHEMA, "schema_version": TRACE_SCHEMA_VERSION, "meta": asdict(self.meta),
               "runs": [asdict(r) for r in self.runs], "flushes": [asdict(f) for f in self.flushes]}
        return json.dumps(doc, separators=(",", ":")) + "\n"


def _build(cls, raw: dict, where: str):
    names = {f.name for f in fields(cls)}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected an object")
    unknown = set(raw) - names
    if unknown:
        raise ConfigError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    try:
        obj = cls(**raw)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if isinstance(getattr(obj, "gates", None), list):
        obj.gates = tuple(obj.gates)
    return obj


def read_trace(path: Path) -> Trace:
    """Read a trace file in this schema; a clear ConfigError for another schema or version."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable simflush trace JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != TRACE_SCHEMA:
        raise ConfigError(f"{path}: field 'schema': expected {TRACE_SCHEMA!r}")
    if doc.get("schema_version") != TRACE_SCHEMA_VERSION:
        raise ConfigError(f"{path}: field 'schema_version': {doc.get('schema_version')!r}, "
                          f"this simflush reads {TRACE_SCHEMA_VERSION}")
    for key in ("meta", "runs", "flushes"):
        if key not in doc:
            raise ConfigError(f"{path}: missing field {key!r}")
    meta = _build(TraceMeta, doc["meta"], f"{path}: meta")
    runs = [_build(RunEvent, r, f"{path}: runs[{i}]") for i, r in enumerate(doc["runs"])]
    flushes = [_build(FlushEvent, f, f"{path}: flushes[{i}]") for i, f in enumerate(doc["flushes"])]
    return Trace(meta, runs, flushes)


def from_sim_result(result: SimResult) -> Trace:
    """A simulated run in the trace schema (one iteration; times are simulated seconds)."""
    cfg = result.config
    names = [spec.name for spec in result.runs_per_layer]
    index = {name: i for i, name in enumerate(names)}
    meta = TraceMeta(source="simflush", system="simflush", backend=cfg.settings.backend, model=cfg.model.name,
                     seq_len=cfg.seq_len, batch=cfg.batch, layers=cfg.layers, iterations=1,
                     runtime_profile=cfg.settings.profile, device=cfg.cost.provenance.get("device", ""),
                     n_bits=cfg.model.n_bits, online_time_s=result.online_time_s, traced=False)
    runs, flushes = [], []
    for party in result.parties:
        for span in party.spans:
            runs.append(RunEvent(party.party, 0, span.layer, index[span.run], span.run, span.start_s, span.end_s))
        for r in party.records:
            timers = ({"eval_s": r.eval_s, "finish_s": r.finish_s} if r.event == "PFSS" else {"pack_s": r.pack_s})
            flushes.append(FlushEvent(
                party.party, 0, r.layer, index[r.run], r.run, r.event, r.open_kind, r.words, r.words_beaver,
                r.words_mask, r.wire_bytes, r.words_matmul, r.jobs, r.branch, tuple(r.gates), r.finish,
                device=r.event == "OPEN" and 0 < cfg.settings.device_pack_min_words <= r.words,
                start_s=r.start_s, duration_s=r.duration_s, timers=timers))
    return Trace(meta, runs, flushes)
