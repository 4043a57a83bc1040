"""Gates that are local given dealer correlations on public masked inputs: Select, B2A and the masked multiply.

Bits travel XOR-masked (hatb = b xor r_b); b = hatb + (1 - 2 hatb) r_b over the integers.
"""
from __future__ import annotations

from abc import abstractmethod
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


class _PairGate(_LocalGate):
    """A local gate on two public masked inputs (hat a, hat b), of bit widths ``widths()``: ``r_in`` is the pair of
    their masks (r_a, r_b), and each party's key holds additive shares of r_a, r_b, r_a*r_b and r_out, under the part
    names ``mask_parts`` (r_a, r_b, r_a*r_b) and ``rout``."""

    key_words = 4
    mask_parts: tuple[str, str, str]
    input_names: tuple[str, str]

    @abstractmethod
    def widths(self) -> tuple[int, int]:
        """Bit widths of the two inputs."""

    def _keygen(self, dealer, stream, n, r_in) -> GateKeys:
        widths = self.widths()
        if r_in is None:
            r_in = tuple(stream.ring(n, bits) for bits in widths)
        ra, rb = _checked_pair(r_in, widths, ("r_in", "r_in"), n, f"{self.kind} r_in", stream.xp)
        a, b, ab = self.mask_parts
        return self._deal(dealer, stream, n, (ra, rb), {a: ra, b: rb, ab: Ring(self.n_bits).mul(ra, rb)})

    def _inputs(self, hatx: Any, n_elems: int) -> tuple:
        """The checked pair of public masked inputs."""
        return _checked_pair(hatx, self.widths(), self.input_names, n_elems, self.kind)


class Select(_PairGate):
    """(hatb, hatx) -> share of b*x + r_out. ``r_in`` is the pair (r_b bit, r_x).

    Key of each party: additive shares of r_b, r_x, r_b*r_x and r_out (parts ``rb``, ``rx``, ``rbrx``, ``rout``)."""

    kind = "select"
    mask_parts = ("rb", "rx", "rbrx")
    input_names = ("hatb", "hatx")

    def widths(self) -> tuple[int, int]:
        return 1, self.n_bits

    def _eval(self, party, key, hatx, parts) -> Any:
        ring = Ring(self.n_bits)
        hb, hx = self._inputs(hatx, key.n_elems)
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


class MaskedMul(_PairGate):
    """(hatx, haty) -> share of x*y + r_out (masked-wire Beaver multiply). ``r_in`` is the pair (r_x, r_y).

    Key of each party: additive shares of r_x, r_y, r_x*r_y and r_out (parts ``rx``, ``ry``, ``rxry``, ``rout``)."""

    kind = "mul"
    mask_parts = ("rx", "ry", "rxry")
    input_names = ("hatx", "haty")

    def widths(self) -> tuple[int, int]:
        return self.n_bits, self.n_bits

    def _eval(self, party, key, hatx, parts) -> Any:
        ring = Ring(self.n_bits)
        hx, hy = self._inputs(hatx, key.n_elems)
        cross = ring.add(ring.mul(hx, parts["ry"]), ring.mul(hy, parts["rx"]))
        y = ring.sub(public_share(party, ring.mul(hx, hy)), cross)
        return ring.add(ring.add(y, parts["rxry"]), parts["rout"])
