"""simflush's trace schema: one record per flush and one per executor run, per party.

The common record of a run. Measured traces (the SUF runtime's ``[trace]`` lines,
``simflush.io.suf_trace``; later the real backend) and simulated ones (``simflush.sim.trace``) are
written in this one form, and every exporter (bench JSON, schedule CSV, timelines, plots, Chrome trace)
and the calibration and validation read it, so a measured trace of any backend gets them all. A trace
file is JSON::

    {"schema": "simflush-trace", "schema_version": 3,
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
- ``finish``: PFSS: ``finalize`` (planner path) or ``materialize``. ``batch``: PFSS: the executor batch
  flushed (``coeff`` or ``trunc``), ``""`` if unknown. ``concurrent``: ran beside another flush.
- ``device``: OPEN packed on the GPU (SUF ``dev=1``).
- ``start_s``, ``duration_s``: the flush's whole interval; ``timers``: its sub-timers in seconds
  (``pack_s`` for opens; ``eval_s`` and ``finish_s`` for PFSS).
- ``line``: the source line the record was completed on (0 for simulated traces): errors cite it.
- ``RunEvent.section``: the run's section of the layer (``attention``, ``mlp``, ...), ``""`` if unknown.
- ``TraceMeta``: ``settings`` (the runtime knobs in effect, by SUF env name), ``policy``, ``deploy``,
  ``network`` and ``cost_preset`` echo the configuration where the source knows it (simulated runs).

Versions 2 and 3 are read (3 added ``batch``, ``concurrent``, ``section`` and the configuration echo,
all with defaults, so a version-2 file reads as one whose source did not say).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import ConfigError

TRACE_SCHEMA = "simflush-trace"
TRACE_SCHEMA_VERSION = 3  # 2: flushes carry words_matmul; 3: batch, concurrent, run sections, config echo
READABLE_VERSIONS = (2, 3)


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
    batch: str = ""
    concurrent: bool = False
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
    section: str = ""


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
    settings: dict[str, str] = field(default_factory=dict)   # runtime knobs in effect (SUF env names)
    policy: str = ""
    deploy: str = ""
    network: str = ""
    cost_preset: str = ""


@dataclass
class Trace:
    meta: TraceMeta
    runs: list[RunEvent]
    flushes: list[FlushEvent]

    @property
    def timed(self) -> bool:
        return bool(self.flushes) and all(f.start_s is not None for f in self.flushes)

    def last_iteration(self) -> Trace:
        """The records of the trace's last iteration (the steady one of a measured run; a simulated
        trace has one): what the per-iteration exporters (bench JSON, schedule, plots) read."""
        last = max((r.iteration for r in self.runs), default=0)
        if all(r.iteration == last for r in self.runs) and all(f.iteration == last for f in self.flushes):
            return self
        return Trace(self.meta, [r for r in self.runs if r.iteration == last],
                     [f for f in self.flushes if f.iteration == last])

    def end_s(self, party: int) -> float | None:
        """When ``party``'s last run ended, on the trace's clock (a simulated run starts at 0)."""
        return max((r.end_s for r in self.runs if r.party == party and r.end_s is not None), default=None)

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
    if doc.get("schema_version") not in READABLE_VERSIONS:
        raise ConfigError(f"{path}: field 'schema_version': {doc.get('schema_version')!r}, "
                          f"this simflush reads {' and '.join(map(str, READABLE_VERSIONS))}")
    for key in ("meta", "runs", "flushes"):
        if key not in doc:
            raise ConfigError(f"{path}: missing field {key!r}")
    meta = _build(TraceMeta, doc["meta"], f"{path}: meta")
    runs = [_build(RunEvent, r, f"{path}: runs[{i}]") for i, r in enumerate(doc["runs"])]
    flushes = [_build(FlushEvent, f, f"{path}: flushes[{i}]") for i, f in enumerate(doc["flushes"])]
    return Trace(meta, runs, flushes)
