"""The dealer: all correlated randomness for a batch of gates from one seed (reproducible), on the GPU when asked.

Each key-generation call draws from its own ChaCha20 stream (stream ids 0, 1, ... in call order), so the same
seed and the same sequence of calls give the same keys on NumPy and CuPy. The dealer records, per gate kind,
the number of elements, the key bytes per party and the offline time in seconds.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from .ring import Ring
from .rng import RandomStream, seed_words
from .xp import is_cupy, module


@dataclass
class OfflineStats:
    """Offline cost of one gate kind: elements keyed, key bytes per party, seconds spent."""

    elems: int = 0
    key_bytes_per_party: float = 0.0
    time_s: float = 0.0


class Dealer:
    """Trusted dealer of the masked-wire model. ``seed``: int, bytes or str; ``use_gpu``: generate on CuPy."""

    def __init__(self, seed: int | bytes | str, use_gpu: bool = False) -> None:
        self.xp = module(use_gpu)
        self._key = seed_words(seed)
        self._next_stream = 0
        self.seed_id = hashlib.sha256(self._key.tobytes()).hexdigest()[:16]
        self.stats: dict[str, OfflineStats] = {}

    def stream(self) -> RandomStream:
        """A fresh random stream (the next stream id)."""
        s = RandomStream(self._key, self._next_stream, self.xp)
        self._next_stream += 1
        return s

    def share(self, value: Any, ring: Ring, stream: RandomStream) -> tuple[Any, Any]:
        """Additive shares of ``value`` (uint64 array) in ``ring``: share0 uniform, share1 = value - share0."""
        s0 = stream.ring(int(value.size), ring.n).reshape(value.shape)
        return s0, ring.sub(ring.reduce(value), s0)

    def xor_share(self, bits: Any, stream: RandomStream) -> tuple[Any, Any]:
        """XOR shares of a 0/1 uint64 array."""
        s0 = stream.bits(int(bits.size)).reshape(bits.shape)
        return s0, s0 ^ bits

    def record(self, kind: str, elems: int, key_bytes_per_elem: float, seconds: float) -> None:
        """Add one key-generation call to the offline statistics."""
        st = self.stats.setdefault(kind, OfflineStats())
        st.elems += elems
        st.key_bytes_per_party += key_bytes_per_elem * elems
        st.time_s += seconds

    def sync(self) -> None:
        """Wait for queued GPU work (so that recorded times are real)."""
        if is_cupy(self.xp):
            self.xp.cuda.Device().synchronize()

    def timed(self) -> _Timer:
        """Context manager measuring wall time with a GPU sync at the end."""
        return _Timer(self)


class _Timer:
    def __init__(self, dealer: Dealer) -> None:
        self.dealer = dealer
        self.seconds = 0.0

    def __enter__(self) -> _Timer:
        self.dealer.sync()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.dealer.sync()
        self.seconds = time.perf_counter() - self._t0
