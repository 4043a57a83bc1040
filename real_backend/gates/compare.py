"""DReLU (SIGMA Fig 3: one DPF comparison on n-1 bits) and ReLU (one DCF on n-1 bits with a 2-word payload).

Notation: hatx = x + r mod 2^n; X1 = MSB(hatx), R1 = MSB(r); x' = low n-1 bits; d = [hatx' < r'].
Then MSB(x) = X1 xor R1 xor d, and DReLU(x) = 1 - MSB(x) (DReLU(0) = 1).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import dcf, dpf, engine
from ..ring import Ring, check_bits, public_share
from .base import Gate, GateKeys, check_hatx, draw_mask, pair, share_each, sign_of_bit


class _SignGate(Gate):
    """DReLU and ReLU: an n-bit masked input (2 <= n <= 64) whose sign comes from an FSS key on its n-1 low bits."""

    def __init__(self, n_bits: int, rounds: int = 12) -> None:
        self.n_bits = check_bits("n_bits", n_bits, 2, 64)
        self.rounds = rounds

    @property
    def low(self) -> Ring:
        """Z_2^(n-1): the low bits x' that the FSS key compares."""
        return Ring(self.n_bits - 1)


class DReLU(_SignGate):
    """Masked input (n-bit) -> XOR share of DReLU(x) xor r_out (a bit, uint64 0/1).

    Key of each party: ``dpf`` (DPF on n-1 bits, alpha = r mod 2^(n-1)) and ``c``, an XOR share of
    R1 xor 1 xor r_out. The output is an XOR share: the open XORs the two parties' bits.
    """

    kind = "drelu"

    def _keygen(self, dealer, stream, n, r_in) -> GateKeys:
        ring = Ring(self.n_bits)
        r = draw_mask(stream, ring, n, r_in)
        k0, k1 = dpf.keygen(self.low.reduce(r), self.n_bits - 1, stream, self.rounds)
        r_out = stream.bits(n)
        c0, c1 = dealer.xor_share(ring.msb(r) ^ np.uint64(1) ^ r_out, stream)
        return pair(self.kind, n, {"dpf": k0, "c": c0}, {"dpf": k1, "c": c1}, r, r_out)

    def _eval(self, party, key, hatx, parts) -> Any:
        hatx = check_hatx(hatx, self.n_bits, key.n_elems)
        return engine.drelu(parts["dpf"], hatx, parts["c"], self.n_bits)

    def key_bytes_per_elem(self) -> float:
        return dpf.key_bytes(self.n_bits - 1) + 1 / 8

    def prg_calls_per_elem(self) -> int:
        return dpf.tree_depth(self.n_bits - 1)


class ReLU(_SignGate):
    """Masked input (n-bit) -> additive share of ReLU(x) + r_out, in one PFSS job.

    With P = d(1-2R1) and Q = d(1-2R1)r from a DCF on n-1 bits (payload (1-2R1, (1-2R1)r)), and s = 1-2X1:
    ReLU(x) = (1-X1)(hatx - r) - s*hatx*(R1 + P) + s*(R1*r + Q).
    Key of each party: ``dcf`` (DCF on n-1 bits, payload (1-2R1, (1-2R1)r)) and additive shares of R1 (``r1``),
    r (``r``), R1*r (``r1r``) and r_out (``rout``).
    """

    kind = "relu"

    def _keygen(self, dealer, stream, n, r_in) -> GateKeys:
        ring = Ring(self.n_bits)
        r = draw_mask(stream, ring, n, r_in)
        r1 = ring.msb(r)
        sr = sign_of_bit(ring, r1)
        xp = stream.xp
        payload = xp.stack([sr, ring.mul(sr, r)])
        k0, k1 = dcf.keygen(self.low.reduce(r), payload, self.n_bits - 1, self.n_bits, stream, self.rounds)
        r_out = stream.ring(n, self.n_bits)
        p0, p1 = share_each(dealer, stream, ring, {"r1": r1, "r": r, "r1r": ring.mul(r1, r), "rout": r_out})
        return pair(self.kind, n, {"dcf": k0, **p0}, {"dcf": k1, **p1}, r, r_out)

    def _eval(self, party, key, hatx, parts) -> Any:
        ring = Ring(self.n_bits)
        hatx = check_hatx(hatx, self.n_bits, key.n_elems)
        fused = engine.relu(parts, hatx, self.n_bits, party)
        if fused is not None:
            return fused
        pq = engine.dcf_lt(parts["dcf"], self.low.reduce(hatx))
        x1 = ring.msb(hatx)
        s = sign_of_bit(ring, x1)
        not_x1 = np.uint64(1) - x1
        y = ring.mul(not_x1, ring.sub(public_share(party, hatx), parts["r"]))
        y = ring.sub(y, ring.mul(ring.mul(s, hatx), ring.add(parts["r1"], pq[0])))
        y = ring.add(y, ring.mul(s, ring.add(parts["r1r"], pq[1])))
        return ring.add(y, parts["rout"])

    def key_bytes_per_elem(self) -> float:
        return dcf.key_bytes(self.n_bits - 1, 2) + 4 * 8

    def prg_calls_per_elem(self) -> int:
        return self.n_bits - 1
