"""Lookup table T: Z_2^b -> Z_2^l (b <= 13), SIGMA's construction (1-bit DPF, full-domain evaluation).

PFSS job (``eval``): with the DPF key for alpha = r_in, party p expands all 2^b bits t_j and computes
u_p = (-1)^p sum_j t_j and v_p = (-1)^p sum_j t_j T[(hatx - j) mod 2^b]; then u = sigma and v = sigma*T[x] for one
hidden sign sigma = +-1. The job outputs shares of (u + r_u, v + r_v). After those two words are opened, ``finish``
(a masked multiply, local) gives shares of u*v + r_out = T[x] + r_out. So a LUT costs one PFSS job, one open of
2 words and one local step.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import dpf, engine
from ..ring import Ring, check_bits
from ..xp import get_xp
from .base import Gate, GateKey, GateKeys, check_hatx, draw_mask, pair
from .linear import MaskedMul


class LUT(Gate):
    """Masked b-bit input -> shares of (u + r_u, v + r_v); ``finish`` turns the opened pair into T[x] + r_out.

    Key of each party: ``dpf`` (DPF on b bits, alpha = r_in), additive shares of r_u and r_v (``ru``, ``rv``) and
    ``finish``, a MaskedMul key for the masked inputs (hat u, hat v) (its ``r_out`` is the gate's). ``eval`` returns a
    (2, N) share; opening it puts 2 words per element on the wire."""

    kind = "lut"

    def __init__(self, in_bits: int, out_bits: int, table: Any, rounds: int = 12) -> None:
        self.in_bits = check_bits("in_bits", in_bits, 1, 13)
        self.out_bits = check_bits("out_bits", out_bits, 1, 64)
        tab = np.asarray(table)
        if tab.shape != (1 << self.in_bits,):
            raise ValueError(f"LUT table has shape {tab.shape}; a {self.in_bits}-bit domain needs "
                             f"({1 << self.in_bits},)")
        self.table = Ring(self.out_bits).from_signed(tab)
        self.rounds = rounds
        self._finisher = MaskedMul(self.out_bits)

    def _keygen(self, dealer, stream, n, r_in) -> GateKeys:
        ring = Ring(self.out_bits)
        r = draw_mask(stream, Ring(self.in_bits), n, r_in)
        k0, k1 = dpf.keygen(r, self.in_bits, stream, self.rounds)
        ru, rv = stream.ring(n, self.out_bits), stream.ring(n, self.out_bits)
        fin = self._finisher._keygen(dealer, stream, n, (ru, rv))
        (u0, u1), (v0, v1) = dealer.share(ru, ring, stream), dealer.share(rv, ring, stream)
        parts0 = {"dpf": k0, "ru": u0, "rv": v0, "finish": fin.key0}
        parts1 = {"dpf": k1, "ru": u1, "rv": v1, "finish": fin.key1}
        return pair(self.kind, n, parts0, parts1, r, fin.r_out)

    def _eval(self, party, key, hatx, parts) -> Any:
        ring = Ring(self.out_bits)
        hatx = check_hatx(hatx, self.in_bits, key.n_elems)
        xp = get_xp(hatx)
        table = xp.asarray(self.table)
        u, v = engine.lut_sums(parts["dpf"], hatx, table, ring)
        if party:
            u, v = ring.neg(u), ring.neg(v)
        return xp.stack([ring.add(u, parts["ru"]), ring.add(v, parts["rv"])])

    def finish(self, party: int, key: GateKey, uv_hat: Any) -> Any:
        """Local step after the open: public (hat u, hat v) (shape (2, N)) -> share of T[x] + r_out."""
        fin = key.parts["finish"]
        return self._finisher.eval(party, fin, (uv_hat[0], uv_hat[1]))

    def key_bytes_per_elem(self) -> float:
        return dpf.key_bytes(self.in_bits) + 2 * 8 + self._finisher.key_bytes_per_elem()

    def prg_calls_per_elem(self) -> int:
        return (1 << dpf.tree_depth(self.in_bits)) - 1
