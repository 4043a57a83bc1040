"""Reproducible random words for the dealer: ChaCha20 in counter mode keyed by a 256-bit dealer seed.

Stream ``stream_id`` draws blocks with counter 0, 1, ... and nonce (stream_id low 32 bits, high 32 bits, 0), so
each key-generation call can own a stream and the whole batch is reproducible from one seed.

Three paths give the same words (tests compare them, with the RFC 8439 vectors): on CuPy the CUDA kernel; on the
CPU the ``cryptography`` package's ChaCha20 (OpenSSL, RFC 8439: a 4-byte little-endian block counter then the
12-byte nonce) where it is installed, else the vectorised NumPy block function. Keys therefore do not depend on
which path ran; the library path is about 20-30x faster (docs/real_backend.md).
"""
from __future__ import annotations

import hashlib
import struct
from types import ModuleType
from typing import Any

import numpy as np

from .chacha import SIGMA32, chacha_block

try:  # optional: the device machine may lack it, and the NumPy path gives the same bits
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
except ImportError:  # pragma: no cover - depends on the environment
    Cipher = algorithms = None

HAVE_LIBRARY_CHACHA = Cipher is not None


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


def chacha20_blocks(key_words: np.ndarray, stream_id: int, counter: int, nblk: int, xp: ModuleType = np,
                    library: bool | None = None) -> Any:
    """ChaCha20 blocks ``counter .. counter + nblk - 1`` of stream ``stream_id`` under ``key_words`` (8 uint32),
    as ``16 * nblk`` uint32 words on ``xp``; ``counter + nblk`` must not exceed 2^32 (no wrap into the nonce).

    ``library``: on NumPy, use the ``cryptography`` package (None: where it is installed); False: the array code.
    """
    if xp is np and (HAVE_LIBRARY_CHACHA if library is None else library):
        out = np.zeros(16 * nblk, dtype=np.uint32)
        nonce = struct.pack("<IIII", counter, stream_id & 0xFFFFFFFF, (stream_id >> 32) & 0xFFFFFFFF, 0)
        key = np.asarray(key_words, dtype="<u4").tobytes()
        view = memoryview(out).cast("B")
        Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor().update_into(view, view)  # keystream ^ 0
        return out
    st = np.zeros((1, 16), dtype=np.uint32)
    st[0, 0:4] = SIGMA32
    st[0, 4:12] = key_words
    st[0, 13] = stream_id & 0xFFFFFFFF
    st[0, 14] = (stream_id >> 32) & 0xFFFFFFFF
    state = xp.tile(xp.asarray(st), (nblk, 1))
    state[:, 12] = xp.arange(counter, counter + nblk, dtype=xp.uint32)
    return chacha_block(state, 20).reshape(-1)


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
        words = chacha20_blocks(self._key, self._stream, self._counter, nblk, xp)
        self._counter += nblk
        return words[:count]

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
