"""Importer of the SUF bench JSON (``bench_suf_transformer --json``; spec §5.1).

``read_bench`` keeps what calibration and validation need: the configuration that was run (model,
T, B, layers), the measured ``timing.online_time_s``, the ``pfss.*`` and ``communication.*``
counters (both parties summed, as the bench writes them) and, if present, ``online_profile``
(timers summed over both party threads, divided by the online iterations). A missing or mistyped
field is a ConfigError naming the file, the line and the field.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..jsonfile import json_key_line, parse_json_object

REQUIRED = {
    "system": str, "backend": str, "model": str, "seq_len": int, "batch_size": int, "n_layers_run": int,
    "n_iters": int, "n_bits": int, "timing.online_time_s": (int, float),
    "pfss.open_flushes": int, "pfss.num_flushes": int, "pfss.opened_words": int,
    "pfss.total_hatx_words": int, "communication.net_bytes": int,
}


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


def _lookup(doc: dict, dotted: str):
    node = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def read_bench(path: Path) -> BenchRun:
    """Parse a SUF bench JSON; ConfigError ``FILE:LINE: field F ...`` on anything missing or mistyped."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read bench JSON ({exc.strerror})") from None
    text = raw.decode("utf-8", errors="replace")
    doc = parse_json_object(text, str(path), "a SUF bench JSON")
    for dotted, kind in REQUIRED.items():
        value = _lookup(doc, dotted)
        line = json_key_line(text, dotted.split(".")[-1])
        if value is None:
            raise ConfigError(f"{path}:{line}: missing field {dotted!r} (needed to know what was run)")
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ConfigError(f"{path}:{line}: field {dotted!r} = {value!r} has the wrong type")
    profile = doc.get("online_profile") or {}
    profiled = any(v for k, v in profile.items() if k.endswith("_ns"))
    timers = {k: v for k, v in profile.items() if k.endswith("_ns")} if profiled else {}
    pre = doc.get("preprocessing") or {}
    return BenchRun(
        path=str(path), sha256=hashlib.sha256(raw).hexdigest(), system=doc["system"], backend=doc["backend"],
        model=doc["model"], seq_len=doc["seq_len"], batch=doc["batch_size"], layers=doc["n_layers_run"],
        iterations=doc["n_iters"], n_bits=doc["n_bits"], online_time_s=float(doc["timing"]["online_time_s"]),
        pfss=dict(doc["pfss"]), communication=dict(doc["communication"]), online_profile=timers,
        device_min_words=pre.get("open_pack_device_min_words"), profiled=profiled)
