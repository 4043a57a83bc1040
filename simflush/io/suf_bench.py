"""Importer of the SUF bench JSON (``bench_suf_transformer --json``; spec §5.1).

``read_bench`` keeps what calibration and validation need: the configuration that was run (model,
T, B, layers), the measured ``timing.online_time_s``, the ``pfss.*`` and ``communication.*``
counters (both parties summed, as the bench writes them) and, if present, ``online_profile``
(timers summed over both party threads, divided by the online iterations), and the SUF env flags the
``preprocessing`` block echoes. A missing, mistyped, out-of-range field, or one that contradicts the
model (``n_bits``, ``n_layers_run``), is a ConfigError naming the file, the line and the field.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from models.specs import MODELS, get_model

from ..errors import ConfigError
from ..jsonfile import json_key_line, parse_json_object, read_input, validate_fields

Count = Annotated[StrictInt, Field(ge=0)]
Size = Annotated[StrictInt, Field(gt=0)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]

# the bench JSON's echoes of SUF env flags (``preprocessing``) -> the knob they echo
ECHOES = {"gelu_const": "SUF_GELU_CONST", "per_element_masks": "SUF_PER_ELEMENT_MASKS",
          "open_pack_effbits": "SUF_OPEN_PACK_EFFBITS"}


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Timing(_Loose):
    online_time_s: Seconds


class _Pfss(_Loose):
    open_flushes: Count
    num_flushes: Count
    opened_words: Count
    total_hatx_words: Count
    num_jobs: Count | None = None               # read by `reconcile --bench-json` where present
    opened_words_beaver: Count | None = None
    opened_words_mask: Count | None = None


class _Communication(_Loose):
    net_bytes: Count


class _Preprocessing(_Loose):
    gelu_const: StrictBool | None = None
    per_element_masks: StrictBool | None = None
    open_pack_effbits: StrictBool | None = None
    open_pack_device_min_words: Count | None = None


class BenchSchema(_Loose):
    """What simflush reads of a bench JSON: types, ranges and consistency with the model zoo."""

    system: str
    backend: Literal["gpu", "cpu"]
    model: str
    seq_len: Size
    batch_size: Size
    n_layers: Size | None = None
    n_layers_run: Size
    n_iters: Size
    n_bits: StrictInt
    timing: _Timing
    pfss: _Pfss
    communication: _Communication
    preprocessing: _Preprocessing | None = None
    online_profile: dict[str, Seconds | str | StrictBool | None] | None = None


@dataclass(frozen=True)
class BenchRun:
    """One bench JSON. Counters are summed over both parties and all layers run (as the bench)."""

    path: str
    sha256: str
    system: str
    backend: str
    model: str
    seq_len: int
    batch: int
    layers: int
    iterations: int
    n_bits: int
    online_time_s: float
    pfss: dict
    communication: dict
    online_profile: dict = field(default_factory=dict)   # *_ns per online iteration, both threads summed
    device_min_words: int | None = None                   # preprocessing.open_pack_device_min_words
    profiled: bool = False                                # online_profile timers were on
    echoed_knobs: dict = field(default_factory=dict)      # SUF env knob -> "0"/"1" the preprocessing block echoes

    def knobs(self, overrides: list[str] = ()) -> list[str]:
        """``NAME=VALUE`` knobs of the run: the echoed flags, unless ``overrides`` (``--set``) name them,
        then the overrides."""
        given = {o.partition("=")[0] for o in overrides}
        return [f"{k}={v}" for k, v in self.echoed_knobs.items() if k not in given] + list(overrides)


def _check_model(bench: BenchSchema, text: str, where: str) -> None:
    """The run's sizes against the model zoo's (the n_bits of the ring, the layers there are)."""
    def bad(key: str, value, expected: str):
        raise ConfigError(f"{where}:{json_key_line(text, key)}: field {key} = {value!r}: expected {expected}")
    try:
        spec = get_model(bench.model)
    except KeyError:
        bad("model", bench.model, f"one of {', '.join(MODELS)}")
    if bench.n_bits != spec.n_bits:
        bad("n_bits", bench.n_bits, f"{spec.n_bits} (the ring of {spec.name})")
    if bench.n_layers is not None and bench.n_layers != spec.n_layers:
        bad("n_layers", bench.n_layers, f"{spec.n_layers} (the layers of {spec.name})")
    if bench.n_layers_run > spec.n_layers:
        bad("n_layers_run", bench.n_layers_run, f"1..{spec.n_layers} (the layers of {spec.name})")
    if bench.seq_len > spec.max_seq:
        bad("seq_len", bench.seq_len, f"1..{spec.max_seq} ({spec.name}'s max_seq)")


def read_bench(path: Path) -> BenchRun:
    """Parse a SUF bench JSON; ConfigError ``FILE:LINE: field F ...`` on anything missing, mistyped or out of range."""
    path = Path(path)
    raw, text = read_input(path, "bench JSON")
    doc = parse_json_object(text, str(path), "a SUF bench JSON")
    bench = validate_fields(BenchSchema, doc, text, str(path))
    _check_model(bench, text, str(path))
    profile = doc.get("online_profile") or {}
    timers = {k: v for k, v in profile.items() if k.endswith("_ns")}
    profiled = any(timers.values())
    pre = bench.preprocessing or _Preprocessing()
    echoed = {knob: str(int(getattr(pre, echo))) for echo, knob in ECHOES.items() if getattr(pre, echo) is not None}
    return BenchRun(
        path=str(path), sha256=hashlib.sha256(raw).hexdigest(), system=bench.system, backend=bench.backend,
        model=bench.model, seq_len=bench.seq_len, batch=bench.batch_size, layers=bench.n_layers_run,
        iterations=bench.n_iters, n_bits=bench.n_bits, online_time_s=float(bench.timing.online_time_s),
        pfss=dict(doc["pfss"]), communication=dict(doc["communication"]),
        online_profile=timers if profiled else {}, device_min_words=pre.open_pack_device_min_words,
        profiled=profiled, echoed_knobs=echoed)
