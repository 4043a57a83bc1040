"""Reproducible random words for the dealer: ChaCha20 in counter mode keyed by a 256-bit dealer seed.

Stream ``stream_id`` draws blocks with counter 0, 1, ... and nonce (stream_id low 32 bits, high 32 bits, 0), so
each key-generation call can own a stream and the whole batch is reproducible from one seed. NumPy and CuPy
produce the same words.
"""
from __future__ import annotations

import hashlib
from types import ModuleType
from typing import Any

import numpy as np

from .chacha import SIGMA32, chacha_block


def seed_words(seed: int | bytes | str) -> np.ndarray:
    """Derive the 8 key words of a dealer seed (SHA-256 of its canonical bytes)."""
    if isinstance(seed, int):
        raw = seed.to_bytes(32, "little", signed=False) if seed >= 0 else None
        if raw is None:
            raise ValueError(f"dealer seed={seed} must be a non-negative integer, bytes or str")
    elif isinstance(seed, str):
        raw = seed.encode()
    elif isinstance(seed, bytes):
        raw = seed
    else:
        raise ValueError(f"dealer seed of type {type(seed).__name__} not supported; allowed: int, bytes, str")
    return np.frombuffer(hashlib.sha256(raw).digest(), dtype="<u4").copy()


class RandomStream:
    """Uniform uint32/uint64 words from one (key, stream id): ChaCha20 counter mode."""

    def __init__(self, key_words: np.ndarray, stream_id: int, xp: ModuleType = np) -> None:
        self._key = np.asarray(key_words, dtype=np.uint32)
        self._stream = int(stream_id)
        self._counter = 0
        self.xp = xp

    def words32(self, count: int) -> Any:
        """The next ``count`` uint32 words of the stream (on ``xp``)."""
        xp = self.xp
        nblk = (count + 15) // 16
        if self._counter + nblk > 2**32:
            raise OverflowError("random stream exhausted (2^32 blocks); use another stream id")
        st = np.zeros((1, 16), dtype=np.uint32)
        st[0, 0:4] = SIGMA32
        st[0, 4:12] = self._key
        st[0, 13] = self._stream & 0xFFFFFFFF
        st[0, 14] = (self._stream >> 32) & 0xFFFFFFFF
        state = xp.tile(xp.asarray(st), (nblk, 1))
        state[:, 12] = xp.arange(self._counter, self._counter + nblk, dtype=xp.uint32)
        self._counter += nblk
        return chacha_block(state, 20).reshape(-1)[:count]

    def words64(self, count: int) -> Any:
        """The next ``count`` uniform uint64 words."""
        w = self.words32(2 * count)
        return w.view(self.xp.uint64) if w.flags.c_contiguous else self.xp.ascontiguousarray(w).view(self.xp.uint64)

    def ring(self, count: int, n_bits: int) -> Any:
        """``count`` uniform elements of Z_2^n_bits (uint64)."""
        mask = np.uint64((1 << n_bits) - 1)
        return self.words64(count) & mask

    def bits(self, count: int) -> Any:
        """``count`` uniform bits as uint64 0/1."""
        return self.words64(count) & np.uint64(1)

    def seeds(self, count: int) -> Any:
        """``count`` uniform 128-bit seeds, shape (count, 4) uint32."""
        return self.words32(4 * count).reshape(count, 4)
