"""Sweep files: a TOML grid (or list) of configurations, validated at load.

    [base]                      # settings every configuration shares (the API's keyword names)
    model = "bert-base"
    knobs = { SUF_GELU_CONST = "0" }

    [grid]                      # axes: every combination, in the file's order (last axis fastest)
    policy = ["suf", "budget"]
    net = ["lan", "wan"]
    knobs.rsqrt_iters = [1, 2, 3]

    [[configs]]                 # optional list entries; the grid is run for each one
    deploy = "colocated"
    [[configs]]
    deploy = "two-gpu"

A configuration is the API's defaults, overridden by ``[base]``, then the entry of ``[[configs]]``, then the
grid point (knobs merge the same way). Knob values are kept as strings (the form ``--set`` takes), so
``rsqrt_iters = 2`` and ``"2"`` are one configuration. ``Sweep`` iterates lazily: a sweep of a million
configurations costs no memory until it is run.
"""

import itertools
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...errors import ConfigError
from ...jsonfile import read_input

SETTING_DEFAULTS = {  # the API's keywords (simflush.api.make_config) and defaults, in compare's order
    "model": "bert-base", "seq_len": 128, "batch": 1, "layers": None, "runtime": "suf-gpu-bench",
    "net": "loopback", "cost": "suf-h100", "policy": "suf", "deploy": "colocated", "chains": 1,
}

Positive = Annotated[int, Field(gt=0, strict=True)]
KnobValue = str | Annotated[int, Field(strict=True)]


class _Settings(BaseModel):
    """One table of settings (``[base]`` or an entry of ``[[configs]]``); every field optional."""

    model_config = ConfigDict(extra="forbid", strict=True)
    model: str | None = None
    seq_len: Positive | None = None
    batch: Positive | None = None
    layers: Positive | None = None
    runtime: str | None = None
    net: str | None = None
    cost: str | None = None
    policy: str | None = None
    deploy: str | None = None
    chains: Positive | None = None
    knobs: dict[str, KnobValue] = {}


def _axis(item):
    return Annotated[list[item], Field(min_length=1)] | None


class _Grid(BaseModel):
    """``[grid]``: a non-empty list of values per axis."""

    model_config = ConfigDict(extra="forbid", strict=True)
    model: _axis(str) = None
    seq_len: _axis(Positive) = None
    batch: _axis(Positive) = None
    layers: _axis(Positive) = None
    runtime: _axis(str) = None
    net: _axis(str) = None
    cost: _axis(str) = None
    policy: _axis(str) = None
    deploy: _axis(str) = None
    chains: _axis(Positive) = None
    knobs: dict[str, Annotated[list[KnobValue], Field(min_length=1)]] = {}


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    base: _Settings = _Settings()
    grid: _Grid = _Grid()
    configs: list[_Settings] = []


def _set(table: BaseModel) -> dict:
    """The settings a table gives (fields left out are absent), knob values as strings."""
    out = {k: v for k, v in table.model_dump(exclude={"knobs"}).items() if v is not None}
    out["knobs"] = {k: str(v) for k, v in table.knobs.items()}
    return out


@dataclass(frozen=True)
class Sweep:
    """The configurations of a sweep file: ``len()`` and lazy, repeatable iteration, in a fixed order.

    Each configuration is a complete dict of ``simflush.api.make_config``'s keyword arguments (every
    setting, constant ones too; ``knobs`` a dict NAME -> string value).
    """

    source: str                         # where it came from, for messages
    base: dict
    entries: tuple[dict, ...]           # the [[configs]] entries; one empty entry where there are none
    axes: tuple[tuple[str, tuple], ...]  # (setting, values) or ("knobs.NAME", values), product order

    def __len__(self) -> int:
        n = len(self.entries)
        for _name, values in self.axes:
            n *= len(values)
        return n

    def __iter__(self) -> Iterator[dict]:
        for entry in self.entries:
            for point in itertools.product(*(values for _name, values in self.axes)):
                params = {**SETTING_DEFAULTS, **self.base, **entry,
                          "knobs": {**self.base["knobs"], **entry.get("knobs", {})}}
                for (name, _values), value in zip(self.axes, point, strict=True):
                    if name.startswith("knobs."):
                        params["knobs"][name[len("knobs."):]] = str(value)
                    else:
                        params[name] = value
                yield params


def _where(loc: tuple) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")


def load_sweep(path: Path) -> Sweep:
    """The sweep of a TOML file; a file that does not parse or fit the schema is one ConfigError naming
    the file and the key."""
    _raw, text = read_input(path, "a sweep grid")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not TOML: {exc}") from None
    if not data:  # an empty file is a mistake, not a sweep of one default configuration
        raise ConfigError(f"{path}: no settings: give a [base] table, [grid] axes or [[configs]] entries")
    try:
        doc = _File.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{path}: {_where(err['loc']) or 'top level'}: {err['msg']}"
                          f" (got {err['input']!r})" if err["type"] != "extra_forbidden"
                          else f"{path}: {_where(err['loc'])}: unknown key; allowed: "
                               f"{', '.join([*SETTING_DEFAULTS, 'knobs'])} (tables: base, grid, configs)") from None
    axes = [(k, tuple(v)) for k, v in doc.grid.model_dump(exclude={"knobs"}).items() if v is not None]
    axes += [(f"knobs.{k}", tuple(v)) for k, v in doc.grid.knobs.items()]
    entries = tuple(_set(entry) for entry in doc.configs) or ({},)
    return Sweep(str(path), _set(doc.base), entries, tuple(axes))
