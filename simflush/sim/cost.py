"""Cost models: how long flushes and local work take (never *which* flush: that is the executor's).

A ``CostModel`` is one deployment's calibrated parameters (a cost preset, JSON in
``simflush/presets``); the link between the parties is a ``simflush.networks.Network``. Units: seconds, bytes,
words.
"""

import json
import math
import warnings
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Annotated

from pydantic import ConfigDict, Field, create_model

from ..errors import ConfigError
from ..jsonfile import json_key_line, parse_json_object, read_input, validate_fields
from ..presets import COST_PRESETS
from ..tasks.interval_walk import IntervalBuild

LOCAL_OP_TABLES = ("local_floor_s", "local_s_per_word")  # optional: only runtimes with priced local ops
# optional: only a profile of a backend that builds gates as one interval key (``simflush calibrate --interval-bench``)
INTERVAL_FIELDS = ("interval_floor_s", "interval_s_per_call", "interval_s_per_point", "interval_s_per_call_elem",
                   "interval_s_per_point_elem")
# optional: only a profile calibrated with ``--step-floors family``
FAMILY_FLOOR_FIELDS = ("step_floor_s_per_family",)
COST_SCHEMA_VERSION = 3  # 3: opens split into pack and per-wire-byte copy; run gaps per hidden element


@dataclass(frozen=True)
class CostModel:
    """Per-party costs of one deployment, in seconds (see docs/cost_model.md).

    Where each term is charged (``simflush.sim.engine``):

    - before a flush: ``step_before_s`` = floor + per-word cost of the words the task computes for
      the open (Beaver differences, masked values), by the run's task family (trunc, layernorm, ...);
    - open: ``open_local_s`` = floor + pack/unpack (host, or GPU above the device-packing threshold)
      + the exchange (per wire byte) + the host's scatter below the threshold, around a ping-pong
      over the network;
    - PFSS: ``pfss_floor_for`` (host launch and orchestration) and ``gpu_stage_s`` (the input copied to
      the GPU after a host-packed open), then ``pfss_work_s`` of GPU work (processor-shared when the
      parties share a GPU), then ``pfss_finish_s`` (materialize/finalize);
    - after a flush: ``step_after_s`` = the same per-word cost of the opened words and PFSS outputs it
      consumes, plus a Beaver matmul's product per output element and ``gpu_stage_s`` of its differences;
    - between two runs: ``run_gap_s`` (public-weight matmul: kernel and copies; reshapes and residual
      adds of the hidden state).

    ``fits`` keeps, per fitted group, the estimates, standard errors, covariance and fit quality;
    ``provenance`` says where the numbers come from (``simflush calibrate``).
    """

    name: str
    open_floor_s: float                 # per open flush: bookkeeping, staging, the ring's round trip
    open_s_per_wire_byte: float         # exchange of the packed bytes through the ring, with the peer
    open_host_scatter_s_per_word: float  # adding the peer's share on the host (the GPU path does it on device)
    open_wait_per_s_apart: float        # waiting for the peer, per second each party worked alone since the last open
    open_host_pack_s_per_word: float    # bit-width pack + unpack on the host, per opened word
    open_device_pack_floor_s: float     # the same on the GPU (W >= device-pack threshold): H2D/D2H syncs
    open_device_pack_s_per_word: float  # ... and its per-word part
    pfss_floor_s: float                 # per flush_eval: launch and host orchestration (not shared)
    pfss_s_per_elem: dict               # gate name -> GPU work per hatx word (shared when colocated)
    gpu_stage_s_per_word: float         # copying a word a host-packed open left on the host to the GPU
    pfss_kind_floor_s: dict             # gate name -> extra per-flush floor of that gate kind
    pfss_finish_floor_s: float          # materialize / finalize per flush
    pfss_finish_s_per_elem: dict        # gate name -> materialize / finalize per hatx word
    step_floor_s: float                 # local compute before each flush
    step_s_per_word: dict               # task family -> local work per word opened or evaluated ("*": others)
    step_s_per_matmul_out: float        # a Beaver matmul's product: combining and copying back, per output element
    run_gap_floor_s: float              # between two runs: the fixed part (a run with no work before it)
    run_gap_s_per_flop: float           # public-weight matmul before a run: its kernel, per flop
    run_gap_s_per_matmul_elem: float    # ... and copying its input and output to and from the GPU
    run_gap_s_per_elem: float           # reshapes, residual adds, copies, per hidden-state element (B*T*D)
    # task family -> its own floor before each flush, in place of step_floor_s (``calibrate --step-floors family``:
    # a host-bound backend's steps cost their launches, which differ by family, not their words); empty: none
    step_floor_s_per_family: dict = field(default_factory=dict)
    local_floor_s: dict = field(default_factory=dict)     # local op name -> per call (a kernel launch and sync)
    local_s_per_word: dict = field(default_factory=dict)  # local op name -> per word it produces (unpriced: 0)
    # The real backend's interval kernel, for the gates its traces lack (``interval_gate_s``): by element count
    # (str), the kernel's floor and its seconds per ChaCha call and per point of one element's walk; and, the GPU
    # full, seconds per call and per point of each element
    interval_floor_s: dict = field(default_factory=dict)
    interval_s_per_call: dict = field(default_factory=dict)
    interval_s_per_point: dict = field(default_factory=dict)
    interval_s_per_call_elem: float = 0.0
    interval_s_per_point_elem: float = 0.0
    fits: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @staticmethod
    def packed_on_device(open_words: int, device_min_words: int) -> bool:
        """SUF packs an open on the GPU at or above the threshold (0: never), and keeps its values there."""
        return bool(device_min_words) and open_words >= device_min_words

    def open_pack_s(self, words: int, device_min_words: int) -> float:
        """Pack + unpack of an open of ``words``: on the GPU at or above the device-packing threshold."""
        if self.packed_on_device(words, device_min_words):
            return self.open_device_pack_floor_s + self.open_device_pack_s_per_word * words
        return self.open_host_pack_s_per_word * words

    def open_local_s(self, words: int, wire_bytes: int, device_min_words: int) -> float:
        """One party's open flush on the in-process ring: floor, pack/unpack, exchange, scatter."""
        scatter = 0.0 if self.packed_on_device(words, device_min_words) else self.open_host_scatter_s_per_word * words
        return (self.open_floor_s + self.open_pack_s(words, device_min_words) + self.open_s_per_wire_byte * wire_bytes
                + scatter)

    def pfss_work_s(self, gate: str, hatx_words: int) -> float:
        return self._per_gate(self.pfss_s_per_elem, "PFSS slope", gate) * hatx_words

    @property
    def prices_interval_gates(self) -> bool:
        return bool(self.interval_s_per_call)

    @property
    def traced_interval_build(self) -> IntervalBuild | None:
        """How the interval keys of the traces this profile was fitted on were built (a profile calibrated on the
        real backend's traces records it), or None."""
        ran = self.provenance.get("interval_build")
        return IntervalBuild(ran["ring_bits"], ran["fold"]) if ran else None

    def interval_gate_s(self, calls: float, points: int, elems: int) -> tuple[float, float]:
        """One job of an interval key whose walk makes ``calls`` ChaCha calls over ``points`` points an element, on
        ``elems`` elements: (the time it takes beyond its GPU work, its GPU work). Below a full GPU the kernel's
        time is its threads' latency (the grid's fit at the nearest element counts, interpolated in log elements),
        which the other party's kernels do not slow; a full GPU's time is the work, which they share."""
        work = elems * (calls * self.interval_s_per_call_elem + points * self.interval_s_per_point_elem)
        counts = sorted(int(n) for n in self.interval_s_per_call)
        lo = max([n for n in counts if n <= elems], default=counts[0])
        hi = min([n for n in counts if n >= elems], default=counts[-1])
        w = 0.0 if hi == lo else (math.log(max(elems, lo)) - math.log(lo)) / (math.log(hi) - math.log(lo))

        def at(table: dict) -> float:
            return (1 - w) * table[str(lo)] + w * table[str(hi)]
        latency = at(self.interval_floor_s) + calls * at(self.interval_s_per_call) + points * at(
            self.interval_s_per_point)
        return max(0.0, latency - work), work

    def gpu_stage_s(self, words: int, open_words: int, device_min_words: int) -> float:
        """Copying ``words`` opened by an open of ``open_words`` to the GPU (a PFSS job's input, a Beaver
        matmul's differences); none if that open was packed on the device, which keeps them there."""
        return 0.0 if self.packed_on_device(open_words, device_min_words) else self.gpu_stage_s_per_word * words

    def pfss_floor_for(self, gates: list[str]) -> float:
        return self.pfss_floor_s + sum(self.pfss_kind_floor_s.get(g, 0.0) for g in gates)

    def pfss_finish_s(self, gates: list[str], hatx_words: list[int]) -> float:
        """Materialize/finalize of one flush whose jobs are ``gates`` with ``hatx_words`` each."""
        slopes = (self._per_gate(self.pfss_finish_s_per_elem, "finish slope", g) for g in gates)
        return self.pfss_finish_floor_s + sum(s * h for s, h in zip(slopes, hatx_words, strict=True))

    def step_s_per_word_of(self, family: str) -> float:
        return self.step_s_per_word.get(family, self.step_s_per_word["*"])

    def step_before_s(self, family: str, open_words: int) -> float:
        """Local compute of a ``family`` task before a flush whose open has ``open_words`` (0: PFSS only)."""
        floor = self.step_floor_s_per_family.get(family, self.step_floor_s)
        return floor + self.step_s_per_word_of(family) * open_words

    def step_after_s(self, family: str, opened_words: int, hatx_words: int, outs: float) -> float:
        """Local compute after a flush: consuming opened words and PFSS outputs, a matmul's product
        (``outs`` output elements)."""
        return self.step_s_per_word_of(family) * (opened_words + hatx_words) + self.step_s_per_matmul_out * outs

    def run_gap_s(self, flops: int, matmul_elems: int, hidden_elems: int) -> float:
        """Local work between two runs: a floor, the public matmul (its flops and the elements it
        copies; 0 if none), and the reshapes/residual adds of ``hidden_elems`` hidden-state elements."""
        return (self.run_gap_floor_s + self.run_gap_s_per_flop * flops
                + self.run_gap_s_per_matmul_elem * matmul_elems + self.run_gap_s_per_elem * hidden_elems)

    def local_s(self, op: str, words: int) -> float:
        """A named local op (``Context.local``) of ``words`` words; ops the preset does not price cost 0."""
        return self.local_floor_s.get(op, 0.0) + self.local_s_per_word.get(op, 0.0) * words

    def priced_local_ops(self) -> frozenset[str]:
        return frozenset(self.local_floor_s) | frozenset(self.local_s_per_word)

    def _per_gate(self, table: dict, what: str, gate: str) -> float:
        try:
            return table[gate]
        except KeyError:
            raise ConfigError(f"cost preset {self.name!r} has no {what} for gate {gate!r}; "
                              f"it has: {', '.join(sorted(table))}") from None

    def to_json(self) -> str:
        """The profile file; local-op tables, the interval kernel and per-family step floors are left out when empty
        (a SUF profile reads as before)."""
        doc = {k: v for k, v in asdict(self).items()
               if v or k not in LOCAL_OP_TABLES + INTERVAL_FIELDS + FAMILY_FLOOR_FIELDS}
        return json.dumps({"schema_version": COST_SCHEMA_VERSION, **doc}, indent=2, sort_keys=True)

    def foreign_use(self, runtime_profile: str, device: str | None = None) -> list[str]:
        """Why this profile may not fit a run of ``runtime_profile`` on ``device`` (empty if it does)."""
        out = []
        mine = self.provenance.get("runtime_profile")
        if mine and mine != runtime_profile:
            out.append(f"cost profile {self.name!r} was calibrated on runtime profile {mine!r}, "
                       f"applied to {runtime_profile!r}")
        dev = self.provenance.get("device")
        if device and dev and dev != device:
            out.append(f"cost profile {self.name!r} was calibrated on device {dev!r}, applied to {device!r}")
        return out


def warn_if_foreign(cost: CostModel, runtime_profile: str, device: str | None = None) -> list[str]:
    """Issue a ``UserWarning`` per mismatch of ``CostModel.foreign_use``; return the messages."""
    messages = cost.foreign_use(runtime_profile, device)
    for message in messages:
        warnings.warn(message, stacklevel=2)
    return messages


Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]
Rate = Annotated[float, Field(allow_inf_nan=False, strict=True)]   # a fitted slope; may be negative


def _cost_schema():
    """The pydantic schema of a cost profile: every CostModel field, times finite and >= 0, tables of
    names to finite seconds (``open_wait_per_s_apart`` is a dimensionless fitted rate: finite)."""
    fields_ = {}
    for f in fields(CostModel):
        kind = {"str": str, "dict": dict}.get(f.type if isinstance(f.type, str) else f.type.__name__)
        if f.name in ("fits", "provenance"):
            kind = dict
        elif kind is dict:
            kind = dict[str, Seconds]
        elif kind is None:
            kind = Rate if f.name == "open_wait_per_s_apart" else Seconds
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:
            default = Field(default_factory=f.default_factory)
        else:
            default = ...   # required
        fields_[f.name] = (kind, default)
    return create_model("CostProfile", __config__=ConfigDict(extra="forbid", strict=True), **fields_)


def load_cost(name_or_path: str) -> CostModel:
    """A built-in preset by name (``suf-h100``) or a JSON file written by ``CostModel.to_json``; every
    field is checked (type, finite, >= 0) so no NaN, infinity or negative cost enters a simulation."""
    path = Path(name_or_path)
    if path.suffix == ".json" and (path.exists() or path.is_symlink()):
        text, where = read_input(path, "cost profile")[1], str(path)
    else:
        try:
            preset = COST_PRESETS.get(name_or_path)
        except ConfigError as exc:
            raise ConfigError(f"{exc} or a path to a .json profile") from None
        text, where = preset.read_text(), f"preset {name_or_path}"
    data = parse_json_object(text, where, "a cost profile")
    version = data.pop("schema_version", None)
    if version != COST_SCHEMA_VERSION:
        raise ConfigError(f"{where}:{json_key_line(text, 'schema_version')}: field 'schema_version' is {version!r}, "
                          f"this simflush reads {COST_SCHEMA_VERSION} (recalibrate with `simflush calibrate`)")
    profile = validate_fields(_COST_SCHEMA, data, text, where)
    if "*" not in profile.step_s_per_word:
        raise ConfigError(f"{where}:{json_key_line(text, 'step_s_per_word')}: field step_s_per_word: "
                          "expected a '*' entry (the families without their own)")
    return CostModel(**dict(profile))


_COST_SCHEMA = _cost_schema()
