"""Each FSS gate's function on cleartext ring arrays: what a correct key pair's two outputs add up to.

Inputs are read as signed n-bit integers (SUF's ``to_signed``; docs/notes/suf_gate_facts.md C2), piecewise tables are
looked up on that signed value, and outputs are reduced to the ring. The tables are ``tasks.tables``'; docs/accuracy.md
says where this follows SUF's and SIGMA's code and where it chooses.
"""

from typing import Any

from ..tasks.gates import Gate, GateKind
from ..tasks.tables import Lut, PiecewisePoly, inverse_lut, rsqrt_lut
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
        if kind is GateKind.INV_LUT:
            return self._inv_lut(gate, x)
        if kind is GateKind.GELU_LUT:
            return self._gelu_lut(gate, x)
        if kind is GateKind.RSQRT_LUT:
            return self._rsqrt_lut(gate, x)
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

    def _inv_lut(self, gate: Gate, x: RingArray) -> GateOutput:
        """1/x of the row sum: index floor(x / 2^(s - 6)) mod 2^bits (GapARS to scale 6; k 2^6 wraps to entry 0)."""
        table = inverse_lut(self.f, gate.params.row_len)
        s = gate.params.in_scale_bits
        index = (self.a.signed(x.data).astype(self.xp.int64) >> (s - 6)) & ((1 << table.in_bits) - 1)
        return GateOutput((RingArray(self._lut(table, index), self.f, x.rows),))

    def _gelu_lut(self, gate: Gate, x: RingArray) -> GateOutput:
        """DReLU(x) as an arithmetic bit, and delta[min(|floor(x / 2^(f-6))|, 255)] = ReLU - GeLU at scale 6."""
        (table,) = gate.params.build_tables(f=self.f)
        y = self.a.signed(x.data).astype(self.xp.int64) >> (self.f - 6)
        delta = self._lut(table, self.xp.minimum(self.xp.abs(y), 255))
        return GateOutput((self._bit(x), RingArray(delta, self.f, x.rows)))

    def _rsqrt_lut(self, gate: Gate, x: RingArray) -> GateOutput:
        """1/sqrt(v) through SIGMA's 13-bit float of v: exponent k = floor(log2 v), the next 7 bits the mantissa."""
        xp = self.xp
        s = gate.params.in_scale_bits
        table = rsqrt_lut(self.f, 1, s)
        v = xp.maximum(self.a.signed(x.data), 1).astype(xp.int64)
        k = xp.frexp(v.astype(xp.float64))[1].astype(xp.int64) - 1
        mantissa = xp.where(k >= 7, v >> xp.maximum(k - 7, 0), v << xp.maximum(7 - k, 0)) & 127
        return GateOutput((RingArray(self._lut(table, (mantissa << 6) | xp.minimum(k, 63)), self.f, x.rows),))
