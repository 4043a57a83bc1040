"""Cost models: how long flushes and local work take (never *which* flush: that is the executor's).

A ``CostModel`` is one deployment's calibrated parameters (a cost preset, JSON in
``simflush/presets``); a ``Network`` is the link between the parties. Units: seconds, bytes, words.
"""

import json
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path

from ..errors import ConfigError

COST_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Network:
    """A link: one-way latency = rtt/2, serialisation at ``bandwidth_Bps`` per direction."""

    name: str
    bandwidth_Bps: float      # bytes per second per direction; inf = no serialisation cost
    rtt_s: float

    def transfer_s(self, nbytes: int) -> float:
        return nbytes / self.bandwidth_Bps


NETWORKS: dict[str, Network] = {n.name: n for n in (
    # In-process ring of the SUF bench: its copy cost is inside the cost preset's open per-word terms.
    Network("loopback", float("inf"), 0.0),
    Network("lan", 9.4e9 / 8, 0.05e-3),
    Network("wan", 305e6 / 8, 60e-3),
)}


def get_network(name: str) -> Network:
    try:
        return NETWORKS[name]
    except KeyError:
        raise ConfigError(f"unknown network {name!r}; allowed: {', '.join(NETWORKS)}") from None


@dataclass(frozen=True)
class CostModel:
    """Per-party costs of one deployment (see docs/cost_model.md for the derivation)."""

    name: str
    open_floor_s: float                 # per open flush: bookkeeping, staging, the ring's round trip
    open_host_s_per_word: float         # pack + unpack + scatter on the host, per opened word
    open_device_s_per_word: float       # the same on the GPU (W >= device-pack threshold)
    open_device_floor_s: float          # extra floor of the device path (H2D/D2H)
    pfss_floor_s: float                 # per flush_eval: launch and host orchestration (not shared)
    pfss_s_per_elem: dict               # gate name -> GPU work per hatx word (shared when colocated)
    pfss_kind_floor_s: dict             # gate name -> extra per-flush floor of that gate kind
    pfss_finish_floor_s: float          # materialize / finalize per flush
    pfss_finish_s_per_elem: float
    step_floor_s: float                 # local compute between two flushes of a run
    step_s_per_open_word: float         # computing masked values / Beaver differences, per word
    step_s_per_opened_word: float       # consuming an opened word (finalize, unpack into outputs)
    matmul_floor_s: float               # public-weight matmul between runs
    matmul_s_per_flop: float
    provenance: dict = field(default_factory=dict)

    def open_local_s(self, words: int, device_min_words: int) -> float:
        if device_min_words and words >= device_min_words:
            return self.open_floor_s + self.open_device_floor_s + self.open_device_s_per_word * words
        return self.open_floor_s + self.open_host_s_per_word * words

    def pfss_work_s(self, gate: str, hatx_words: int) -> float:
        try:
            per_elem = self.pfss_s_per_elem[gate]
        except KeyError:
            raise ConfigError(f"cost preset {self.name!r} has no PFSS slope for gate {gate!r}") from None
        return per_elem * hatx_words

    def pfss_floor_for(self, gates: list[str]) -> float:
        return self.pfss_floor_s + sum(self.pfss_kind_floor_s.get(g, 0.0) for g in gates)

    def pfss_finish_s(self, hatx_words: int) -> float:
        return self.pfss_finish_floor_s + self.pfss_finish_s_per_elem * hatx_words

    def matmul_s(self, flops: int) -> float:
        return self.matmul_floor_s + self.matmul_s_per_flop * flops if flops else 0.0

    def to_json(self) -> str:
        return json.dumps({"schema_version": COST_SCHEMA_VERSION, **asdict(self)}, indent=2, sort_keys=True)


def load_cost(name_or_path: str) -> CostModel:
    """A built-in preset by name (``suf-h100``) or a JSON file written by ``CostModel.to_json``."""
    path = Path(name_or_path)
    if path.suffix == ".json" and path.exists():
        text = path.read_text()
    else:
        preset = resources.files("simflush.presets").joinpath(f"{name_or_path}.json")
        if not preset.is_file():
            names = sorted(p.name[:-5] for p in resources.files("simflush.presets").iterdir()
                           if p.name.endswith(".json"))
            raise ConfigError(f"unknown cost preset {name_or_path!r}; allowed: {', '.join(names)} "
                              "or a path to a .json profile")
        text = preset.read_text()
    data = json.loads(text)
    version = data.pop("schema_version", None)
    if version != COST_SCHEMA_VERSION:
        raise ConfigError(f"cost profile {name_or_path}: schema_version {version!r}, expected {COST_SCHEMA_VERSION}")
    known = {f.name for f in fields(CostModel)}
    missing = known - set(data)
    if missing:
        raise ConfigError(f"cost profile {name_or_path}: missing fields {', '.join(sorted(missing))}")
    return CostModel(**{k: v for k, v in data.items() if k in known})
