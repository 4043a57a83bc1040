"""The real backend's interval kernel, fitted on ``benchmarks/interval_bench.py --grid``: what a profile charges the
gates its traces lack (``CostModel.interval_gate_s``; ``simflush calibrate --interval-bench``).

Each grid line is one kernel timed alone on N elements of one breakpoint set, with the ChaCha calls and points of one
element's walk (``tasks.interval_walk``). At each element count but the largest, the kernel's time is its threads'
latency: floor + seconds a call + seconds a point, fitted on every synthetic shape (least squares on the relative
error, no negative term). At the largest count the GPU is full and the time is work: seconds a call and a point of
each element, fitted on the shapes whose neighbouring threads walk alike (consecutive and 64-apart points; random
points make a warp's threads restart at different levels, which the walk's mean does not see). SUF's own gates in the
grid are left out of both fits: they check it (docs/validation.md).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ...errors import ConfigError

SHAPES = ("consecutive", "spaced64", "random")   # the grid's synthetic breakpoint sets (label: SHAPE-POINTS)
ALIKE = ("consecutive", "spaced64")              # ... whose warps restart alike
FIELDS = {"gate": str, "n_bits": int, "points": int, "elements": int, "calls_per_elem": float, "seconds": float,
          "card": str}


def shape_of(label: str) -> str:
    """The synthetic shape of a grid line's gate, or 'gate' for one of SUF's gates."""
    head = label.split("-", 1)[0]
    return head if head in SHAPES else "gate"


def read_grid(path: Path) -> list[dict]:
    """The grid's lines, each checked: a JSON object with FIELDS of their types, times and counts positive."""
    rows = []
    for line_no, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{line_no}: not JSON ({exc.msg})") from None
        for name, kind in FIELDS.items():
            value = row.get(name) if isinstance(row, dict) else None
            if not _is(value, kind):
                expected = "a string" if kind is str else f"a positive {kind.__name__}"
                raise ConfigError(f"{path}:{line_no}: field {name}: {value!r}; expected {expected}")
        rows.append(row)
    if not rows:
        raise ConfigError(f"{path}: no grid lines (benchmarks/interval_bench.py --grid writes them)")
    if len({(r["n_bits"], r["card"]) for r in rows}) > 1:
        raise ConfigError(f"{path}: the lines mix rings or cards; one grid is one ring on one card")
    counts = sorted({r["elements"] for r in rows})
    if len(counts) < 2:
        raise ConfigError(f"{path}: elements: one count ({counts[0]}); the fit needs a full GPU's and a smaller one")
    return rows


def _is(value: object, kind: type) -> bool:
    """``value`` is a ``kind`` (an int counts as a float), and a number is positive."""
    if isinstance(value, bool) or not (isinstance(value, kind) or (kind is float and isinstance(value, int))):
        return False
    return kind is str or value > 0


def _relative_nonneg_fit(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares on the relative error with every coefficient >= 0 (a negative one is dropped and the rest
    refitted)."""
    keep = list(range(X.shape[1]))
    while True:
        coef = np.zeros(X.shape[1])
        sol = np.linalg.lstsq(X[:, keep] / y[:, None], np.ones_like(y), rcond=None)[0]
        coef[keep] = sol
        if (sol >= 0).all():
            return coef
        keep = [k for k, c in zip(keep, sol, strict=True) if c >= 0]


def fit_interval_kernel(rows: list[dict]) -> dict:
    """The ``CostModel`` interval fields from the grid's lines."""
    counts = sorted({r["elements"] for r in rows})
    full = counts[-1]
    out: dict = {"interval_floor_s": {}, "interval_s_per_call": {}, "interval_s_per_point": {}}
    for n in counts[:-1]:
        at = [r for r in rows if r["elements"] == n and shape_of(r["gate"]) in SHAPES]
        if len(at) < 3:
            raise ConfigError(f"interval grid: {len(at)} synthetic lines at {n} elements; the fit needs 3")
        X = np.array([[1.0, r["calls_per_elem"], r["points"]] for r in at])
        floor, per_call, per_point = _relative_nonneg_fit(X, np.array([r["seconds"] for r in at]))
        out["interval_floor_s"][str(n)] = float(floor)
        out["interval_s_per_call"][str(n)] = float(per_call)
        out["interval_s_per_point"][str(n)] = float(per_point)
    at = [r for r in rows if r["elements"] == full and shape_of(r["gate"]) in ALIKE]
    if len(at) < 2:
        raise ConfigError(f"interval grid: {len(at)} consecutive or spaced lines at {full} elements; the fit needs 2")
    X = np.array([[r["calls_per_elem"] * full, r["points"] * full] for r in at])
    out["interval_s_per_call_elem"], out["interval_s_per_point_elem"] = map(
        float, _relative_nonneg_fit(X, np.array([r["seconds"] for r in at])))
    return out


def grid_provenance(path: Path, rows: list[dict]) -> dict:
    return {"file": Path(path).name, "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
            "card": rows[0]["card"], "n_bits": rows[0]["n_bits"], "lines": len(rows),
            "elements": sorted({r["elements"] for r in rows})}
