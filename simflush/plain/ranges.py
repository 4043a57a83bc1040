"""The range check (issue #11, item 7): where a configuration overflows its ring, and which ring would suffice.

It runs the same layers with ``UnboundedArith`` (float64, no wrapping) before the fixed-point run: every intermediate
then has the magnitude it would have in an unbounded ring at its fixed-point scale (a LayerNorm variance at Q3f, a
Horner product at Q3f, ...). A value needs floor(log2 |v|) + 2 bits as a signed word; a GapARS input one more, since
the construction is exact only for |v| < 2^(n-2). The largest need over all intermediates is the smallest n_bits
that holds this input; the magnitudes are those of this input (another input can need more).
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.specs import ModelSpec
from models.weights import ModelWeights

from ..profiles import Settings
from ..tasks.values import FixedPoint, UnboundedArith
from .layer import run_model

GAPARS_INPUT = "GapARS input"


@dataclass(frozen=True)
class RangeRow:
    run: str          # the executor run (SUF's run name)
    value: str        # what produced the value: a local op, a Beaver product, a gate's output or input
    scale: int        # its frac bits
    peak: float       # the largest |value| as an integer word (real * 2^scale)
    bits: int         # bits it needs in the ring (sign included; a GapARS input one more)
    n_bits: int       # the ring's

    @property
    def overflows(self) -> bool:
        return self.bits > self.n_bits

    @property
    def real_peak(self) -> float:
        return self.peak / 2.0**self.scale


def bits_needed(peak: float, gapars_input: bool) -> int:
    """Signed bits for |v| <= peak (a GapARS input: |v| < 2^(n-2))."""
    bits = (math.floor(math.log2(peak)) + 2) if peak >= 1 else 1
    return bits + 1 if gapars_input else bits


@dataclass(frozen=True)
class RangeReport:
    rows: tuple[RangeRow, ...]       # every intermediate, largest need first
    n_bits: int
    frac_bits: int

    @property
    def overflows(self) -> tuple[RangeRow, ...]:
        return tuple(r for r in self.rows if r.overflows)

    @property
    def n_bits_needed(self) -> int:
        return max(r.bits for r in self.rows)

    def warning(self) -> str | None:
        """One line per overflow site, or None when the ring holds every intermediate."""
        if not self.overflows:
            return None
        sites = "; ".join(f"{r.run} {r.value} at Q{r.scale} needs {r.bits} bits" for r in self.overflows[:4])
        more = f" (and {len(self.overflows) - 4} more)" if len(self.overflows) > 4 else ""
        return (f"the {self.n_bits}-bit ring overflows: {sites}{more}; n_bits >= {self.n_bits_needed} holds "
                "every intermediate of this input")


def range_check(spec: ModelSpec, weights: ModelWeights, x: np.ndarray, settings: Settings, fixed: FixedPoint,
                layers: int | None = None, xp: Any = np) -> RangeReport:
    """The probe run of ``layers`` layers on ``x``: every intermediate's need against ``fixed.n_bits``."""
    _, magnitudes = run_model(spec, weights, x, settings, fixed, UnboundedArith, xp, layers)
    rows = [RangeRow(run, value, scale, peak, bits_needed(peak, value == GAPARS_INPUT), fixed.n_bits)
            for (run, value), (peak, scale) in magnitudes.largest.items()]
    rows.sort(key=lambda r: (-r.bits, r.run, r.value))
    return RangeReport(tuple(rows), fixed.n_bits, fixed.frac_bits)
