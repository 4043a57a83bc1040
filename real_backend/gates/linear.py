"""Gates that are local given dealer correlations on public masked inputs: Select, B2A and the masked multiply.

Bits travel XOR-masked (hatb = b xor r_b); b = hatb + (1 - 2 hatb) r_b over the integers.
"""
from __future__ import annotations

from typing import Any


from ..ring import Ring, check_bits, public_share
from .base import Gate, GateKeys, check_hatx, pair, share_each, sign_of_bit


def _split_pair(hatx: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(hatx, (tuple, list)) or len(hatx) != 2:
        raise ValueError(f"{what} takes a pair of public masked inputs, got {type(hatx).__name__}")
    return hatx[0], hatx[1]


class Select(Gate):
    """(hatb, hatx) -> share of b*x + r_out. ``r_in`` is the pair (r_b bit, r_x). Key: 4 ring words."""

    kind = "select"

    def __init__(self, n_bits: int) -> None:
        self.n_bits = check_bits("n_bits", n_bits, 1, 64)

    def _keygen(self, dealer, stream, n, r_in) -> GateKeys:
        ring = Ring(self.n_bits)
        if r_in is None:
            r_in = (stream.bits(n), stream.ring(n, self.n_bits))
        rb, rx = (check_hatx(stream.xp.asarray(v), bits, n, "r_in") for v, bits in zip(_split_pair(r_in, "select r_in"), (1, self.n_bits)))
        r_out = stream.ring(n, self.n_bits)
        p0, p1 = share_each(dealer, stream, ring, {"rb": rb, "rx": rx, "rbrx": ring.mul(rb, rx), "rout": r_out})
        return pair(self.kind, n, p0, p1, (rb, rx), r_out)

    def _eval(self, party, key, hatx, parts) -> Any:
        ring = Ring(self.n_bits)
        hb, hx = _split_pair(hatx, "select")
        hb, hx = check_hatx(hb, 1, key.n_elems, "hatb"), check_hatx(hx, self.n_bits, key.n_elems, "hatx")
        y = ring.sub(public_share(party, ring.mul(hb, hx)), ring.mul(hb, parts["rx"]))
        y = ring.add(y, ring.mul(sign_of_bit(ring, hb), ring.sub(ring.mul(hx, parts["rb"]), parts["rbrx"])))
        return ring.add(y, parts["rout"])

    def key_bytes_per_elem(self) -> float:
        return 4 * 8

    def prg_calls_per_elem(self) -> int:
        return 0


class B2A(Gate):
    """hatb (XOR-masked bit) -> share of b + r_out in Z_2^n. Key: 2 ring words."""

    kind = "b2a"

    def __init__(self, n_bits: int) -> None:
        self.n_bits = check_bits("n_bits", n_bits, 1, 64)

    def _keygen(self, dealer, stream, n, r_in) -> GateKeys:
        ring = Ring(self.n_bits)
        rb = stream.bits(n) if r_in is None else check_hatx(stream.xp.asarray(r_in), 1, n, "r_in")
        r_out = stream.ring(n, self.n_bits)
        p0, p1 = share_each(dealer, stream, ring, {"rb": rb, "rout": r_out})
        return pair(self.kind, n, p0, p1, rb, r_out)

    def _eval(self, party, key, hatx, parts) -> Any:
        ring = Ring(self.n_bits)
        hb = check_hatx(hatx, 1, key.n_elems, "hatb")
        return ring.add(ring.add(public_share(party, hb), ring.mul(sign_of_bit(ring, hb), parts["rb"])), parts["rout"])

    def key_bytes_per_elem(self) -> float:
        return 2 * 8

    def prg_calls_per_elem(self) -> int:
        return 0


class MaskedMul(Gate):
    """(hatx, haty) -> share of x*y + r_out (masked-wire Beaver multiply). Key: 4 ring words."""

    kind = "mul"

    def __init__(self, n_bits: int) -> None:
        self.n_bits = check_bits("n_bits", n_bits, 1, 64)

    def _keygen(self, dealer, stream, n, r_in) -> GateKeys:
        ring = Ring(self.n_bits)
        if r_in is None:
            r_in = (stream.ring(n, self.n_bits), stream.ring(n, self.n_bits))
        rx, ry = (check_hatx(stream.xp.asarray(v), self.n_bits, n, "r_in") for v in _split_pair(r_in, "mul r_in"))
        r_out = stream.ring(n, self.n_bits)
        p0, p1 = share_each(dealer, stream, ring, {"rx": rx, "ry": ry, "rxry": ring.mul(rx, ry), "rout": r_out})
        return pair(self.kind, n, p0, p1, (rx, ry), r_out)

    def _eval(self, party, key, hatx, parts) -> Any:
        ring = Ring(self.n_bits)
        hx, hy = _split_pair(hatx, "mul")
        hx, hy = check_hatx(hx, self.n_bits, key.n_elems, "hatx"), check_hatx(hy, self.n_bits, key.n_elems, "haty")
        y = ring.sub(public_share(party, ring.mul(hx, hy)), ring.add(ring.mul(hx, parts["ry"]), ring.mul(hy, parts["rx"])))
        return ring.add(ring.add(y, parts["rxry"]), parts["rout"])

    def key_bytes_per_elem(self) -> float:
        return 4 * 8

    def prg_calls_per_elem(self) -> int:
        return 0
