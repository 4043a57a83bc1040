"""Truncations by s bits: GapARS (with slack, SIGMA Thm 3) and TrFloor (faithful: TR + sign correction).

Notation: hatx = x + r mod 2^n; H = hatx >> s, L = hatx mod 2^s, R = r >> s, r_l = r mod 2^s;
c = [L < r_l] (the carry of the low bits); w = [hatx < r] (the wrap of x + r).
Logical shift: x >> s = H - R - c + w*2^(n-s) (mod 2^n).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import dcf, engine
from ..ring import Ring, check_bits, public_share
from .base import Gate, GateKeys, check_hatx, draw_mask, pair, share_each, sign_of_bit


def _low(ring_bits: int, v: Any) -> Any:
    return Ring(ring_bits).reduce(v)


def _carry_keys(stream: Any, r: Any, shift: int, n_bits: int, rounds: int) -> tuple[dcf.DcfKey, dcf.DcfKey]:
    """DCF keys on the s low bits with payload 1: additive shares in Z_2^n of the carry c = [L < r_l]."""
    ones = stream.xp.ones((1, r.shape[0]), dtype=np.uint64)
    return dcf.keygen(_low(shift, r), ones, shift, n_bits, stream, rounds)


def _high_minus_carry(ring: Ring, party: int, public: Any, parts: dict[str, Any], c: Any) -> Any:
    """Share of (public high part) - R - c: the truncate-reduce core of both gates."""
    return ring.sub(ring.sub(public_share(party, public), parts["R"]), c)


class GapARS(Gate):
    """Arithmetic shift right by s, exact for signed x in [-2^(n-2), 2^(n-2)) (outside it the result may be off).

    x' = x + 2^(n-2) is non-negative with MSB 0, so its wrap is w = MSB(r) * (1 - MSB(hatx')) (local);
    the carry c comes from one DCF on the s low bits with payload 1. Output: share of ARS(x, s) + r_out.
    Key of each party: ``dcf`` (DCF on s bits, payload 1: the carry c) and additive shares of R (``R``),
    MSB(r)*2^(n-s) (``W``) and r_out (``rout``).
    """

    kind = "gapars"

    def __init__(self, n_bits: int, shift: int, rounds: int = 12) -> None:
        self.n_bits = check_bits("n_bits", n_bits, 3, 64)
        self.shift = check_bits("shift", shift, 1, self.n_bits - 2)
        self.rounds = rounds

    def _keygen(self, dealer, stream, n, r_in) -> GateKeys:
        ring, s = Ring(self.n_bits), self.shift
        r = draw_mask(stream, ring, n, r_in)
        k0, k1 = _carry_keys(stream, r, s, self.n_bits, self.rounds)
        r_out = stream.ring(n, self.n_bits)
        vals = {"R": r >> np.uint64(s), "W": ring.reduce(ring.msb(r) << np.uint64(self.n_bits - s)), "rout": r_out}
        p0, p1 = share_each(dealer, stream, ring, vals)
        return pair(self.kind, n, {"dcf": k0, **p0}, {"dcf": k1, **p1}, r, r_out)

    def _eval(self, party, key, hatx, parts) -> Any:
        ring, s = Ring(self.n_bits), self.shift
        hatx = check_hatx(hatx, self.n_bits, key.n_elems)
        fused = engine.gapars(parts, hatx, self.n_bits, s, party)
        if fused is not None:
            return fused
        hp = ring.add(hatx, ring.const(1 << (self.n_bits - 2)))
        c = engine.dcf_lt(parts["dcf"], _low(s, hp))[0]
        public = ring.sub(hp >> np.uint64(s), ring.const(1 << (self.n_bits - 2 - s)))
        y = _high_minus_carry(ring, party, public, parts, c)
        y = ring.add(y, ring.mul(np.uint64(1) - ring.msb(hp), parts["W"]))
        return ring.add(y, parts["rout"])

    def key_bytes_per_elem(self) -> float:
        return dcf.key_bytes(self.shift, 1) + 3 * 8

    def prg_calls_per_elem(self) -> int:
        return self.shift


class TrFloor(Gate):
    """Faithful arithmetic shift right by s for every x: ARS(x) = (x >> s) - MSB(x)*2^(n-s).

    With X1 = MSB(hatx), R1 = MSB(r), d = [hatx' < r'] on the n-1 low bits, the identity
    w - MSB(x) = -X1 + X1*R1 + X1*d + (1-2X1)*d*R1 leaves only d and d*R1 secret: one DCF on n-1 bits with payload
    (2^(n-s), 2^(n-s)*R1), next to the s-bit carry DCF of truncate-reduce.
    Key of each party: ``carry`` (DCF on s bits, payload 1), ``sign`` (DCF on n-1 bits, the 2-word payload above)
    and additive shares of R (``R``), R1*2^(n-s) (``R1s``) and r_out (``rout``).
    """

    kind = "trfloor"

    def __init__(self, n_bits: int, shift: int, rounds: int = 12) -> None:
        self.n_bits = check_bits("n_bits", n_bits, 2, 64)
        self.shift = check_bits("shift", shift, 1, self.n_bits - 1)
        self.rounds = rounds

    def _keygen(self, dealer, stream, n, r_in) -> GateKeys:
        ring, s, nb = Ring(self.n_bits), self.shift, self.n_bits
        xp = stream.xp
        r = draw_mask(stream, ring, n, r_in)
        c0, c1 = _carry_keys(stream, r, s, nb, self.rounds)
        top = ring.const(1 << (nb - s))
        r1s = ring.mul(ring.msb(r), top)
        payload = xp.stack([xp.full(n, top, dtype=np.uint64), r1s])
        d0, d1 = dcf.keygen(_low(nb - 1, r), payload, nb - 1, nb, stream, self.rounds)
        r_out = stream.ring(n, nb)
        p0, p1 = share_each(dealer, stream, ring, {"R": r >> np.uint64(s), "R1s": r1s, "rout": r_out})
        return pair(self.kind, n, {"carry": c0, "sign": d0, **p0}, {"carry": c1, "sign": d1, **p1}, r, r_out)

    def _eval(self, party, key, hatx, parts) -> Any:
        ring, s, nb = Ring(self.n_bits), self.shift, self.n_bits
        hatx = check_hatx(hatx, nb, key.n_elems)
        fused = engine.trfloor(parts, hatx, nb, s, party)
        if fused is not None:
            return fused
        c = engine.dcf_lt(parts["carry"], _low(s, hatx))[0]
        dd = engine.dcf_lt(parts["sign"], _low(nb - 1, hatx))
        x1 = ring.msb(hatx)
        public = ring.sub(hatx >> np.uint64(s), ring.mul(x1, ring.const(1 << (nb - s))))
        y = _high_minus_carry(ring, party, public, parts, c)
        y = ring.add(y, ring.mul(x1, ring.add(parts["R1s"], dd[0])))
        y = ring.add(y, ring.mul(sign_of_bit(ring, x1), dd[1]))
        return ring.add(y, parts["rout"])

    def key_bytes_per_elem(self) -> float:
        return dcf.key_bytes(self.shift, 1) + dcf.key_bytes(self.n_bits - 1, 2) + 3 * 8

    def prg_calls_per_elem(self) -> int:
        return self.shift + self.n_bits - 1
