"""Gate interface of the masked-wire model (BGI19): every wire carries a public masked value hatx = x + r_in.

A gate is a *PFSS job*: the dealer makes a key pair for N elements (``keygen``), and each party turns its key and
the public masked input into its share of the masked output (``eval``), with no communication. Opening that
output (one exchange) gives the next gate its public masked input.

Who holds what: party p holds only ``GateKeys.key<p>`` (each gate's docstring lists its ``parts``) and the public
masked inputs; the masks ``r_in`` and ``r_out`` stay with the dealer (it masks the inputs, and in a circuit one gate's
r_out is the next gate's r_in). What crosses the wire: only the opened output shares (additive mod 2^n, XOR for
DReLU), packed to n bits by ``opening.open_shares``; keys go from the dealer to each party before the online phase.

Keys are one-time: evaluating a key a second time raises :class:`KeyReuseError`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..dealer import Dealer
from ..ring import Ring, check_words, reduced_inputs


class KeyReuseError(RuntimeError):
    """An FSS key was evaluated twice (keys are one-time)."""


@dataclass
class GateKey:
    """One party's key batch: gate ``kind``, ``party`` (0/1), ``n_elems`` and ``parts``, the named arrays (ring words,
    shape (N,) unless the gate says otherwise) and FSS keys (``DpfKey``/``DcfKey``) that the gate's docstring lists.
    ``used`` is set by the first successful ``Gate.eval``."""

    kind: str
    party: int
    n_elems: int
    parts: dict[str, Any]
    used: bool = field(default=False)

    def check_unused(self) -> None:
        """Raise KeyReuseError if this key was already evaluated."""
        if self.used:
            raise KeyReuseError(f"{self.kind} key of party {self.party} ({self.n_elems} elements) was already used; "
                                "FSS keys are one-time")


@dataclass
class GateKeys:
    """What the dealer makes: both parties' keys (``key0`` for party 0, ``key1`` for party 1), and the masks it keeps:
    ``r_in`` (one array, or a pair for two-input gates) and ``r_out``. Iterating gives (key0, key1)."""

    key0: GateKey
    key1: GateKey
    r_in: Any
    r_out: Any

    def __iter__(self) -> Iterator[GateKey]:
        return iter((self.key0, self.key1))


class Gate(ABC):
    """A masked-wire FSS gate. Subclasses set ``kind`` and implement ``_keygen`` and ``_eval``."""

    kind: str = ""

    def keygen(self, dealer: Dealer, n: int, r_in: Any = None) -> GateKeys:
        """Keys for ``n`` elements. ``r_in``: the input mask (drawn by the dealer when None)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n={n!r} elements: must be a positive integer")
        stream = dealer.stream()
        with dealer.timed() as t:
            keys = self._keygen(dealer, stream, int(n), r_in)
        dealer.record(self.kind, int(n), self.key_bytes_per_elem(), t.seconds)
        return keys

    def eval(self, party: int, key: GateKey, hatx: Any, reduced: bool = False) -> Any:
        """Party ``party``'s share of the masked output for public masked input ``hatx``; ``reduced``: the caller
        guarantees that hatx's values are in range (a ring result), so they are not scanned
        (``ring.reduced_inputs``)."""
        if party not in (0, 1):
            raise ValueError(f"party={party!r}; allowed: 0, 1")
        if key.kind != self.kind:
            raise ValueError(f"key of kind {key.kind!r} given to a {self.kind!r} gate")
        if key.party != party:
            raise ValueError(f"key of party {key.party} evaluated by party {party}")
        key.check_unused()
        with reduced_inputs() if reduced else nullcontext():
            out = self._eval(party, key, hatx, key.parts)
        key.used = True  # only a successful evaluation spends the key; bad input leaves it usable
        return out

    @abstractmethod
    def _keygen(self, dealer: Dealer, stream: Any, n: int, r_in: Any) -> GateKeys: ...

    @abstractmethod
    def _eval(self, party: int, key: GateKey, hatx: Any, parts: dict[str, Any]) -> Any: ...

    @abstractmethod
    def key_bytes_per_elem(self) -> float:
        """Bytes of one party's key per element (FSS keys with t bits packed; ring words as 8-byte u64)."""

    @abstractmethod
    def prg_calls_per_elem(self) -> int:
        """ChaCha block calls per element in one party's evaluation."""

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_") and np.ndim(v) == 0)
        return f"{type(self).__name__}({fields})"


@dataclass
class PfssJob:
    """One PFSS job: a gate, one party's key batch and the public masked input."""

    gate: Gate
    key: GateKey
    hatx: Any

    def run(self, party: int) -> Any:
        """Evaluate the job for ``party``; returns that party's output share."""
        return self.gate.eval(party, self.key, self.hatx)


def check_hatx(hatx: Any, bits: int, n_elems: int, what: str = "hatx") -> Any:
    """Validate a public masked input: uint64, shape (n_elems,), values below 2^bits."""
    return check_words(hatx, bits, n_elems, what)


def draw_mask(stream: Any, ring: Ring, n: int, r_in: Any, what: str = "r_in") -> Any:
    """The input mask: ``r_in`` if given (checked), else uniform in ``ring``."""
    if r_in is None:
        return stream.ring(n, ring.n)
    return check_hatx(stream.xp.asarray(r_in), ring.n, n, what)


def share_each(dealer: Dealer, stream: Any, ring: Ring, values: dict[str, Any]) -> tuple[dict, dict]:
    """Additive shares of each named key value: (party 0's parts, party 1's parts), in ``values``' order."""
    shares = {k: dealer.share(v, ring, stream) for k, v in values.items()}
    return {k: v[0] for k, v in shares.items()}, {k: v[1] for k, v in shares.items()}


def pair(kind: str, n: int, parts0: dict[str, Any], parts1: dict[str, Any], r_in: Any, r_out: Any) -> GateKeys:
    """Assemble a GateKeys from both parties' parts."""
    return GateKeys(GateKey(kind, 0, n, parts0), GateKey(kind, 1, n, parts1), r_in, r_out)


def sign_of_bit(ring: Ring, bit: Any) -> Any:
    """1 - 2*bit in the ring (1 or -1), for a 0/1 uint64 array."""
    return ring.sub(np.uint64(1), ring.mul(np.uint64(2), bit))
