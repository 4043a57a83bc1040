"""Wire formats: n-bit packing of ring elements and the length-prefixed frame.

Packing: W words of n bits become ceil(W*n/64) little-endian uint64 words (8*ceil(W*n/64) bytes); element i
occupies bits [i*n, (i+1)*n) of the stream. NumPy arrays are packed here, CuPy arrays by ``gpu_wire``'s kernels, to
the same words.

Frame: header (magic 'SF', version 3, type, sequence number u64, payload length u32, checksum of the payload u64
(``checksum``: XXH3-64)), then the payload. A receiver checks magic, version, sequence and checksum and names the first
thing that is wrong; a peer of another wire version gets :class:`WireVersionError`.

Messages: a payload larger than the channel's chunk size travels as consecutive frames, each with its own sequence
number and checksum; every frame but the last has :data:`FLAG_MORE` set in its type byte. A message that fits one chunk
is one frame, byte for byte as before (so small frames are unchanged).
"""
from __future__ import annotations

import struct
from typing import Any

import numpy as np
import xxhash

from .ring import check_bits
from .xp import get_xp, is_cupy

HEADER = struct.Struct("<2sBBQIQ")
MAGIC = b"SF"
VERSION = 3  # 2: a home-made Fletcher-style checksum replaced CRC32; 3: XXH3-64 (a u64 field) replaced it
HEADER_BYTES = HEADER.size
MAX_PAYLOAD = 1 << 31
FLAG_MORE = 0x80  # type-byte flag: more frames of this message follow


class FrameError(ConnectionError):
    """A frame was truncated, corrupted, out of sequence or of the wrong type."""


class WireVersionError(FrameError):
    """The peer frames its messages in another wire version (an older or newer real_backend)."""


def packed_words(count: int, n_bits: int) -> int:
    """uint64 words that ``count`` n-bit values occupy on the wire."""
    return -(-count * n_bits // 64)


def _layout(n_bits: int) -> list[tuple[int, int, int]]:
    """For the 64 values of one packed group (n words): (word, bit offset, straddles into word+1) per value."""
    return [((j * n_bits) >> 6, (j * n_bits) & 63, int((j * n_bits) % 64 + n_bits > 64)) for j in range(64)]


def pack(values: Any, n_bits: int) -> Any:
    """Pack a flat uint64 array of n-bit values into ceil(len*n/64) uint64 words (n = 64: no copy); CuPy arrays are
    packed on the GPU (``gpu_wire``), to the same words.

    On the host, 64 values of n bits fill exactly n words, so the array is handled as G groups: transposed to
    (64, G), each of the 64 value slots is shifted into its (at most two) word rows of an (n, G) array (contiguous
    rows, no Python loop over elements), and the result is transposed back. Multiples of 8 bits are a byte slice."""
    check_bits("n_bits", n_bits, 1, 64)
    if is_cupy(get_xp(values)):
        from . import gpu_wire
        return gpu_wire.pack(values, n_bits)
    v = np.ascontiguousarray(values, dtype=np.uint64).reshape(-1)
    if n_bits == 64:
        return v
    count = v.shape[0]
    nwords = packed_words(count, n_bits)
    if count == 0:
        return np.zeros(0, dtype=np.uint64)
    mask = np.uint64((1 << n_bits) - 1)
    groups = -(-count // 64)
    if n_bits % 8 == 0:  # little-endian bytes: the low n/8 bytes of each value, back to back
        out = np.zeros(groups * n_bits, dtype=np.uint64)
        nb = n_bits // 8
        out.view(np.uint8)[: count * nb].reshape(count, nb)[:] = v.view(np.uint8).reshape(count, 8)[:, :nb]
        return out[:nwords]
    g = np.zeros((groups, 64), dtype=np.uint64)
    np.bitwise_and(v, mask, out=g.reshape(-1)[:count])
    vt = np.ascontiguousarray(g.T)  # vt[j, g] = value g*64+j: contiguous rows
    ot = np.zeros((n_bits, groups), dtype=np.uint64)
    tmp = np.empty(groups, dtype=np.uint64)
    for j, (w, off, straddle) in enumerate(_layout(n_bits)):
        np.left_shift(vt[j], np.uint64(off), out=tmp)
        ot[w] |= tmp
        if straddle:
            np.right_shift(vt[j], np.uint64(64 - off), out=tmp)
            ot[w + 1] |= tmp
    return np.ascontiguousarray(ot.T).reshape(-1)[:nwords]


def check_packed(words: Any, count: int, n_bits: int) -> None:
    """Raise FrameError unless ``words`` is exactly the packed size of ``count`` n-bit values."""
    if words.shape[0] != packed_words(count, n_bits):
        raise FrameError(f"packed payload has {words.shape[0]} words; {count} values of {n_bits} bits need "
                         f"{packed_words(count, n_bits)}")


def unpack(words: Any, count: int, n_bits: int) -> Any:
    """Inverse of :func:`pack`: the first ``count`` n-bit values (NumPy: group-transposed like ``pack``; CuPy: on
    the GPU)."""
    check_bits("n_bits", n_bits, 1, 64)
    check_packed(words, count, n_bits)
    if n_bits == 64:
        return words
    if is_cupy(get_xp(words)):
        from . import gpu_wire
        return gpu_wire.unpack(words, count, n_bits)
    return _unpack_np(words, count, n_bits) if count else np.zeros(0, dtype=np.uint64)


def _unpack_np(words: np.ndarray, count: int, n_bits: int) -> np.ndarray:
    groups = -(-count // 64)
    mask = np.uint64((1 << n_bits) - 1)
    g = np.zeros((groups, n_bits), dtype=np.uint64)
    g.reshape(-1)[: words.shape[0]] = words
    wt = np.ascontiguousarray(g.T)  # wt[w, g] = word w of group g: contiguous rows
    vt = np.empty((64, groups), dtype=np.uint64)
    tmp = np.empty(groups, dtype=np.uint64)
    for j, (w, off, straddle) in enumerate(_layout(n_bits)):
        np.right_shift(wt[w], np.uint64(off), out=vt[j])
        if straddle:
            np.left_shift(wt[w + 1], np.uint64(64 - off), out=tmp)
            vt[j] |= tmp
    vt &= mask
    return np.ascontiguousarray(vt.T).reshape(-1)[:count]


def checksum(payload: bytes | memoryview) -> int:
    """64-bit integrity check of a payload: XXH3-64 (``xxhash``), seed 0.

    A standard, well-tested fast hash, several times faster than CRC32 and the earlier home-made sum at 8 MiB and
    at 4 KiB (figures in docs/real_backend.md); it releases the GIL, so the channel's pool threads overlap it with
    the socket copies. TCP checksums the bytes in transit; this catches corrupted or mis-framed payloads end to end.
    """
    return xxhash.xxh3_64_intdigest(payload)


def frame_header(ftype: int, seq: int, payload: bytes | memoryview, digest: int | None = None) -> bytes:
    """The header of a frame carrying ``payload`` (``digest``: its ``checksum`` if already computed)."""
    if len(payload) >= MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the frame limit of {MAX_PAYLOAD}")
    return HEADER.pack(MAGIC, VERSION, ftype, seq, len(payload), checksum(payload) if digest is None else digest)


def parse_header(raw: bytes, expect_seq: int) -> tuple[int, int, int]:
    """Check a header; return (type, payload length, digest). Raises FrameError naming the problem."""
    magic, version, ftype, seq, length, digest = HEADER.unpack(raw)
    if magic == MAGIC and version != VERSION:
        raise WireVersionError(f"the peer speaks wire version {version}, this side {VERSION} (frame checksum and "
                               "header changed); run the same real_backend on both parties")
    if magic != MAGIC:
        raise FrameError(f"corrupted frame header (magic {magic!r}, version {version}); expected {MAGIC!r}, {VERSION}")
    if seq != expect_seq:
        raise FrameError(f"frame sequence number {seq}, expected {expect_seq} (lost, duplicated or corrupted frame)")
    if length >= MAX_PAYLOAD:
        raise FrameError(f"frame announces {length} payload bytes, over the limit {MAX_PAYLOAD}")
    return ftype, length, digest


def check_payload(payload: Any, digest: int, seq: int) -> None:
    """Raise FrameError if the payload's checksum differs from the header's."""
    if checksum(payload) != digest:
        raise FrameError(f"frame {seq}: payload checksum mismatch (corrupted frame)")
