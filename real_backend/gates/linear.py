"""Gates that are local given dealer correlations on public masked inputs: Select, B2A and the masked multiply.

Bits travel XOR-masked (hatb = b xor r_b); b = hatb + (1 - 2 hatb) r_b over the integers.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any

from ..ring import Ring, check_bits, public_share
from .base import Gate, GateKeys, check_hatx, pair, share_each, sign_of_bit


def _split_pair(hatx: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(hatx, (tuple, list)) or len(hatx) != 2:
        raise ValueError(f"{what} takes a pair of public masked inputs, got {type(hatx).__name__}")
    return hatx[0], hatx[1]


def _checked_pair(values: Any, widths: tuple[int, int], names: tuple[str, str], n_elems: int, what: str,
                  xp: ModuleType | None = None) -> tuple:
    """A pair of uint64 vectors (masks or masked inputs), each checked against its bit width (moved to ``xp`` first
    when given)."""
    return tuple(check_hatx(v if xp is None else xp.asarray(v), bits, n_elems, name)
                 for v, bits, name in zip(_split_pair(values, what), widths, names, strict=True))


class _LocalGate(Gate):
    """A gate without FSS keys: ``key_words`` ring words per element from the dealer, evaluated locally (no PRG)."""

    key_words: int = 0

    def __init__(self, n_bits: int) -> None:
        self.n_bits = check_bits("n_bits", n_bits, 1, 64)

    def _deal(self, dealer, stream, n: int, r_in: Any, values: dict[str, Any]) -> GateKeys:
        """Draw r_out, then give each party additive shares of ``values`` and of r_out (part ``rout``), in order."""
        r_out = stream.ring(n, self.n_bits)
        p0, p1 = share_each(dealer, stream, Ring(self.n_bits), {**values, "rout": r_out})
        return pair(self.kind, n, p0, p1, r_in, r_out)

    def key_bytes_per_elem(self) -> float:
        return self.key_words * 8

    def prg_calls_per_elem(self) -> int:
        return 0


class Select(_LocalGate):
    """(hatb, hatx) -> share of b*x + r_out. ``r_in`` is the pair (r_b bit, r_x).

    Key of each party: additive shares of r_b, r_x, r_b*r_x and r_out (parts ``rb``, ``rx``, ``rbrx``, ``rout``)."""

    kind = "select"
    key_words = 4

    def _keygen(self, dealer, stream, n, r_in) -> GateKeys:
        ring = Ring(self.n_bits)
        if r_in is None:
            r_in = (stream.bits(n), stream.ring(n, self.n_bits))
        rb, rx = _checked_pair(r_in, (1, self.n_bits), ("r_in", "r_in"), n, "select r_in", stream.xp)
        return self._deal(dealer, stream, n, (rb, rx), {"rb": rb, "rx": rx, "rbrx": ring.mul(rb, rx)})

    def _eval(self, party, key, hatx, parts) -> Any:
        ring = Ring(self.n_bits)
        hb, hx = _checked_pair(hatx, (1, self.n_bits), ("hatb", "hatx"), key.n_elems, "select")
        y = ring.sub(public_share(party, ring.mul(hb, hx)), ring.mul(hb, parts["rx"]))
        y = ring.add(y, ring.mul(sign_of_bit(ring, hb), ring.sub(ring.mul(hx, parts["rb"]), parts["rbrx"])))
        return ring.add(y, parts["rout"])


class B2A(_LocalGate):
    """hatb (XOR-masked bit) -> share of b + r_out in Z_2^n.

    Key of each party: additive shares of r_b and r_out (parts ``rb``, ``rout``)."""

    kind = "b2a"
    key_words = 2

    def _keygen(self, dealer, stream, n, r_in) -> GateKeys:
        rb = stream.bits(n) if r_in is None else check_hatx(stream.xp.asarray(r_in), 1, n, "r_in")
        return self._deal(dealer, stream, n, rb, {"rb": rb})

    def _eval(self, party, key, hatx, parts) -> Any:
        ring = Ring(self.n_bits)
        hb = check_hatx(hatx, 1, key.n_elems, "hatb")
        return ring.add(ring.add(public_share(party, hb), ring.mul(sign_of_bit(ring, hb), parts["rb"])), parts["rout"])


class MaskedMul(_LocalGate):
    """(hatx, haty) -> share of x*y + r_out (masked-wire Beaver multiply). ``r_in`` is the pair (r_x, r_y).

    Key of each party: additive shares of r_x, r_y, r_x*r_y and r_out (parts ``rx``, ``ry``, ``rxry``, ``rout``)."""

    kind = "mul"
    key_words = 4

    def _keygen(self, dealer, stream, n, r_in) -> GateKeys:
        ring = Ring(self.n_bits)
        if r_in is None:
            r_in = (stream.ring(n, self.n_bits), stream.ring(n, self.n_bits))
        rx, ry = _checked_pair(r_in, (self.n_bits, self.n_bits), ("r_in", "r_in"), n, "mul r_in", stream.xp)
        return self._deal(dealer, stream, n, (rx, ry), {"rx": rx, "ry": ry, "rxry": ring.mul(rx, ry)})

    def _eval(self, party, key, hatx, parts) -> Any:
        ring = Ring(self.n_bits)
        hx, hy = _checked_pair(hatx, (self.n_bits, self.n_bits), ("hatx", "haty"), key.n_elems, "mul")
        cross = ring.add(ring.mul(hx, parts["ry"]), ring.mul(hy, parts["rx"]))
        y = ring.sub(public_share(party, ring.mul(hx, hy)), cross)
        return ring.add(ring.add(y, parts["rxry"]), parts["rout"])
