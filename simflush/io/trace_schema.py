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
  (``pack_s`` for opens; ``eval_s`` and ``finish_s`` for PFSS; the real backend's opens add ``comm_s`` and
  ``wait_s``, host readings: ``real_backend.trace_out``).
- ``line``: the source line the record was completed on (0 for simulated traces): errors cite it.
- ``RunEvent.section``: the run's section of the layer (``attention``, ``mlp``, ...), ``""`` if unknown.
- ``TraceMeta``: ``settings`` (the runtime knobs in effect, by SUF env name), ``policy``, ``chains``,
  ``deploy``, ``network`` and ``cost_preset`` echo the configuration where the source knows it (simulated and
  real-backend runs).

Versions 2 and 3 are read (3 added ``batch``, ``concurrent``, ``section`` and the configuration echo,
all with defaults, so a version-2 file reads as one whose source did not say; ``chains`` came later in 3, with
the default 1, SUF's schedule).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, create_model

from models.sigma_layer import SIGMA_MODELS
from models.specs import MODELS, get_model

from ..errors import ConfigError
from ..jsonfile import json_key_line, parse_json_object, read_input, validate_fields
from ..tasks.values import MAX_RING_BITS, MIN_RING_BITS

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
    chains: int = 1               # staggered chains each run was split into (--chains; 1: SUF's schedule)
    deploy: str = ""
    network: str = ""
    cost_preset: str = ""
    local_words_per_party: dict[str, int] = field(default_factory=dict)  # priced local ops (SIGMA: key words)


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


Count = Annotated[StrictInt, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]
_FIELD_TYPES = {  # a dataclass field's annotation -> what a file may hold there
    "int": Count, "str": str, "bool": StrictBool, "float | None": Seconds | None,
    "dict[str, float]": dict[str, Seconds], "tuple[str, ...]": list[str], "dict[str, str]": dict[str, str],
    "dict[str, int]": dict[str, Count],
}
# a bool is not a party (Literal[0, 1] would take True and False: they equal 1 and 0)
_CHECKED = {"party": Annotated[StrictInt, Field(ge=0, le=1)], "kind": Literal["OPEN", "PFSS"],
            "chains": Annotated[StrictInt, Field(ge=1)]}


def _schema_of(cls) -> type[BaseModel]:
    """The pydantic schema of a record dataclass: its fields, counts >= 0, times finite and >= 0."""
    spec = {}
    for f in fields(cls):
        kind = _CHECKED.get(f.name, _FIELD_TYPES[f.type])
        spec[f.name] = (kind, ... if f.default is MISSING and f.default_factory is MISSING else f.default
                        if f.default is not MISSING else Field(default_factory=f.default_factory))
    return create_model(cls.__name__ + "Schema", __config__=ConfigDict(extra="forbid", strict=True), **spec)


class _TraceFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    schema_: Literal["simflush-trace"] = Field(alias="schema")
    schema_version: Literal[READABLE_VERSIONS]
    meta: _schema_of(TraceMeta)
    runs: list[_schema_of(RunEvent)]
    flushes: list[_schema_of(FlushEvent)]


def _check_model(meta: TraceMeta, text: str, where: str) -> None:
    """The trace's model, layers and ring against the model zoo (where the trace names a model)."""
    if not meta.model:
        return
    def bad(key: str, value, expected: str):
        raise ConfigError(f"{where}:{json_key_line(text, ('meta', key))}: field meta.{key} = {value!r}: "
                          f"expected {expected}")
    try:
        spec = get_model(meta.model)
    except KeyError:
        bad("model", meta.model, f"one of {', '.join(MODELS)}")
    rings = {spec.n_bits} | ({SIGMA_MODELS[spec.name].bits} if spec.name in SIGMA_MODELS else set())
    if meta.system == "real_backend":   # our own backend runs any ring its range check allows
        rings = set(range(MIN_RING_BITS, MAX_RING_BITS + 1))
    if meta.n_bits and meta.n_bits not in rings:
        if meta.system == "real_backend":
            bad("n_bits", meta.n_bits, f"{MIN_RING_BITS}..{MAX_RING_BITS} (a real_backend ring)")
        where_from = f"the ring of {spec.name}" if len(rings) == 1 else f"{spec.name}'s rings under SUF and SIGMA"
        bad("n_bits", meta.n_bits, f"{' or '.join(map(str, sorted(rings)))} ({where_from})")
    if meta.layers > spec.n_layers:
        bad("layers", meta.layers, f"0..{spec.n_layers} (the layers of {spec.name})")


def read_trace(path: Path) -> Trace:
    """Read a trace file in this schema: every field checked (types, counts >= 0, finite times >= 0,
    party 0/1, the model's n_bits); one ConfigError line ``FILE:LINE: field X = V: expected ...``."""
    raw, text = read_input(path, "simflush trace JSON")
    doc = parse_json_object(text, str(path), "a simflush trace JSON")
    if doc.get("schema") != TRACE_SCHEMA:
        raise ConfigError(f"{path}:{json_key_line(text, 'schema') or 1}: field 'schema': expected {TRACE_SCHEMA!r}")
    if doc.get("schema_version") not in READABLE_VERSIONS:
        readable = " and ".join(map(str, READABLE_VERSIONS))
        raise ConfigError(f"{path}:{json_key_line(text, 'schema_version') or 1}: field 'schema_version': "
                          f"{doc.get('schema_version')!r}, this simflush reads {readable}")
    checked = validate_fields(_TraceFile, doc, text, str(path))
    meta = TraceMeta(**dict(checked.meta))
    if not meta.sha256:   # a trace its writer did not fingerprint (the real backend's) is known by its file
        meta.source, meta.sha256 = Path(path).name, hashlib.sha256(raw).hexdigest()
    _check_model(meta, text, str(path))
    runs = [RunEvent(**dict(r)) for r in checked.runs]
    flushes = [FlushEvent(**{**dict(f), "gates": tuple(f.gates)}) for f in checked.flushes]
    return Trace(meta, runs, flushes)
