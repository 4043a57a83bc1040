"""Each FSS gate's function on cleartext ring arrays: what a correct key pair's two outputs add up to.

Inputs are read as signed n-bit integers (SUF's ``to_signed``; docs/notes/suf_gate_facts.md C2), piecewise tables are
looked up on that signed value, and outputs are reduced to the ring. The tables are ``tasks.tables``'; docs/accuracy.md
says where this follows SUF's and SIGMA's code and where it chooses.
"""

from typing import Any

from ..tasks.gates import Gate, GateKind
from ..tasks.lut_pieces import pieces_for
from ..tasks.tables import Lut, PiecewisePoly
from ..tasks.values import GateOutput, RingArray

PIECEWISE = {GateKind.RSQRT_INIT, GateKind.NEXP, GateKind.RECIP, GateKind.GELU_CONST, GateKind.GELU_SPLINE,
             GateKind.SILU}


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
        if kind in PIECEWISE:
            return self._piecewise(gate, x)
        if kind is GateKind.NEXP_LUT:
            return self._nexp_lut(gate, x)
        if kind in LUT_OUT_SCALES:
            return self._lut_pieces(gate, x)
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

    def _piecewise(self, gate: Gate, x: RingArray) -> GateOutput:
        """The coefficients (or value) of the piece holding x; no piece (nExp below 0): all zero. A table built for
        Qf inputs reads an input at in_scale_bits > f with its breakpoints scaled up (coefficients stay Qf)."""
        (table,) = gate.params.build_tables(f=self.f)
        assert isinstance(table, PiecewisePoly)
        xp = self.xp
        up = (gate.params.in_scale_bits or self.f) - table.in_scale_bits
        breaks = xp.asarray([b << up for b in table.breakpoints], dtype=xp.float64 if not self.a.exact else xp.int64)
        rows = [table.below or (0,) * len(table.coeffs[0]), *table.coeffs, table.above]
        coeffs = self._array((id(table), "coeffs"), rows)   # (pieces + 2, r): below, the pieces, above
        piece = xp.searchsorted(breaks, self.a.signed(x.data), side="right")
        picked = coeffs[piece]
        return GateOutput(tuple(RingArray(picked[:, k], table.out_scale_bits, x.rows) for k in range(picked.shape[1])))

    def _lut(self, table: Lut, index: Any) -> Any:
        return self._array((id(table), "entries"), table.entries)[index]

    def _nexp_lut(self, gate: Gate, x: RingArray) -> GateOutput:
        """t clipped to [0, 2^16) (SIGMA's ReLU with a u16 output), then msb[t >> 8] and lsb[t mod 2^8], both Qf."""
        msb_table, lsb_table = gate.params.build_tables(f=self.f)[::-1]
        t = self.xp.clip(self.a.signed(x.data), 0, (1 << 16) - 1).astype(self.xp.int64)
        parts = (self._lut(msb_table, t >> 8), self._lut(lsb_table, t & 255))
        return GateOutput(tuple(RingArray(p, self.f, x.rows) for p in parts))

    def _lut_pieces(self, gate: Gate, x: RingArray) -> GateOutput:
        """GeLU, inverse and rsqrt LUTs as the piecewise constants ``tasks.lut_pieces`` defines them."""
        breaks, rows = pieces_for(gate.name, self.f, gate.params.in_scale_bits or self.f, gate.params.row_len,
                                  self.a.n_bits)
        xp = self.xp
        table = self._array((gate.name, breaks[0], breaks[-1], len(breaks), "rows"), rows)
        edges = xp.asarray(breaks, dtype=xp.int64 if self.a.exact else xp.float64)
        picked = table[xp.searchsorted(edges, self.a.signed(x.data), side="right")]
        scales = LUT_OUT_SCALES[gate.kind](self.f)
        return GateOutput(tuple(RingArray(picked[:, k], scales[k], x.rows) for k in range(len(scales))))


# the output scales of the piecewise LUT gates: (DReLU bit, delta) for GeLU, 1/x and 1/sqrt(x) at f
LUT_OUT_SCALES = {GateKind.GELU_LUT: lambda f: (0, f), GateKind.INV_LUT: lambda f: (f,),
                  GateKind.RSQRT_LUT: lambda f: (f,)}
