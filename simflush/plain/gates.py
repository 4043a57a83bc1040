"""Each FSS gate's function on cleartext ring arrays: what a correct key pair's two outputs add up to.

Inputs are read as signed n-bit integers (SUF's ``to_signed``; docs/notes/suf_gate_facts.md C2), piecewise tables are
looked up on that signed value, and outputs are reduced to the ring. The tables are ``tasks.tables``'; docs/accuracy.md
says where this follows SUF's and SIGMA's code and where it chooses.
"""

from typing import Any

from ..tasks.gates import Gate, GateKind
from ..tasks.lut_pieces import PIECEWISE_KINDS, gate_pieces
from ..tasks.values import GateOutput, RingArray


class GateEvaluator:
    """Evaluates gates with one arithmetic (``values.RingArith`` or ``UnboundedArith``) at ``frac_bits``; keeps each
    table as an array of the arithmetic's module."""

    def __init__(self, arith: Any, frac_bits: int):
        self.a = arith
        self.xp = arith.xp
        self.f = frac_bits
        self._arrays: dict[Any, Any] = {}

    def __call__(self, gate: Gate, x: RingArray) -> RingArray | GateOutput:
        kind = gate.kind
        if kind in (GateKind.GAPARS, GateKind.FAITHFUL_ARS):
            return self._trunc(gate, x)
        if kind is GateKind.RELU:
            v = self.a.signed(x.data)
            return RingArray(self.xp.where(v >= 0, x.data, self.a.const(0)).astype(self.a.dtype), x.scale, x.rows)
        if kind is GateKind.DRELU:
            return GateOutput((self._bit(x),))
        if kind in PIECEWISE_KINDS:
            return self._pieces(gate, x)
        raise ValueError(f"gate {gate.name} has no value definition")

    # -- helpers ------------------------------------------------------------------------------------------------

    def _array(self, key: Any, values: Any) -> Any:
        if key not in self._arrays:
            self._arrays[key] = self.a.encode(values)
        return self._arrays[key]

    def _bit(self, x: RingArray) -> RingArray:
        return RingArray((self.a.signed(x.data) >= 0).astype(self.a.dtype), 0, x.rows)

    def _trunc(self, gate: Gate, x: RingArray) -> RingArray:
        """GapARS: floor((v + 2^(n-2)) / 2^s) - 2^(n-2-s) on the n-bit ring (exact for |v| < 2^(n-2), wrong beyond,
        as the construction is); FaithfulARS: floor(v / 2^s) for any signed v."""
        s = gate.params.shift
        if s is None:
            raise ValueError(f"{gate.name} evaluated without a shift")
        a, n = self.a, self.a.n_bits
        if gate.kind is GateKind.GAPARS and a.exact:
            biased = a.wrap(x.data + a.const(1 << (n - 2)))
            out = a.wrap((biased >> self.xp.uint64(s)) - a.const(1 << (n - 2 - s)))
        else:
            out = a.floor_shift(a.signed(x.data), s)
        return RingArray(out, x.scale - s + gate.params.halvings, x.rows)

    def _pieces(self, gate: Gate, x: RingArray) -> GateOutput:
        """The row of the interval holding x (``tasks.lut_pieces.gate_pieces``), one part per output."""
        (breaks, rows), scales = gate_pieces(gate, self.f, self.a.n_bits)
        xp = self.xp
        table = self._array((id(rows), "rows"), rows)   # (intervals, parts): below, the pieces, above
        edges = xp.asarray(breaks, dtype=xp.int64 if self.a.exact else xp.float64)
        picked = table[xp.searchsorted(edges, self.a.signed(x.data), side="right")]
        return GateOutput(tuple(RingArray(picked[:, k], scales[k], x.rows) for k in range(len(scales))))
