"""Helpers on 128-bit blocks stored as (..., 4) uint32 arrays (little-endian words; bit 0 = LSB of word 0).

A tree node carries its control bit t in the LSB; the seed fed to the PRG is the node with that bit cleared.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .xp import get_xp

_ONE32 = np.uint32(1)
_NOT_ONE32 = np.uint32(0xFFFFFFFE)


def lsb(block: Any) -> Any:
    """The control bit (LSB of word 0) as uint32 0/1, shape (...)."""
    return block[..., 0] & _ONE32


def clear_lsb(block: Any) -> Any:
    """A copy of ``block`` with the LSB cleared."""
    out = block.copy()
    out[..., 0] &= _NOT_ONE32
    return out


def with_lsb(block: Any, bit: Any) -> Any:
    """A copy of ``block`` with its LSB replaced by ``bit`` (uint32 0/1, shape (...))."""
    out = block.copy()
    out[..., 0] = (out[..., 0] & _NOT_ONE32) | bit.astype(out.dtype)
    return out


def select(cond: Any, a: Any, b: Any) -> Any:
    """Per element: ``a`` where ``cond`` (shape (...)) is 1, else ``b``; blocks of shape (..., 4)."""
    xp = get_xp(a)
    return xp.where(cond.astype(bool)[..., None], a, b)


def mask_by(bit: Any, block: Any) -> Any:
    """``block`` where ``bit`` is 1, zeros where it is 0."""
    return block * bit.astype(block.dtype)[..., None]


def get_bit(block: Any, pos: Any) -> Any:
    """Bit ``pos`` (0..127, per element) of each block, as uint32 0/1."""
    xp = get_xp(block)
    pos = pos.astype(xp.uint32)
    word = xp.take_along_axis(block, (pos >> np.uint32(5)).astype(xp.int64)[..., None], axis=-1)[..., 0]
    return (word >> (pos & np.uint32(31))) & _ONE32


def unit(pos: Any, xp: Any) -> Any:
    """Blocks e_pos (only bit ``pos`` set), shape pos.shape + (4,)."""
    pos = pos.astype(np.uint64)
    words = xp.arange(4, dtype=np.uint64)
    hit = (pos[..., None] >> np.uint64(5)) == words
    return (hit.astype(np.uint32) << (pos[..., None] & np.uint64(31)).astype(np.uint32)).astype(np.uint32)


def parity_range(block: Any, lo: Any, hi: Any) -> Any:
    """Parity of bits lo..hi inclusive of each block (uint32 0/1); an empty range (lo > hi) gives 0."""
    xp = get_xp(block)
    base = xp.arange(4, dtype=np.int64) * 32
    lo_rel = xp.clip(lo.astype(np.int64)[..., None] - base, 0, 32)
    hi_rel = xp.clip(hi.astype(np.int64)[..., None] - base + 1, 0, 32)  # exclusive end within each word
    full = np.uint64(0xFFFFFFFF)
    upto_hi = (full >> (np.uint64(32) - hi_rel.astype(np.uint64))) & full  # bits [0, hi_rel)
    below_lo = (full >> (np.uint64(32) - lo_rel.astype(np.uint64))) & full  # bits [0, lo_rel)
    upto_hi = xp.where(hi_rel == 0, np.uint64(0), upto_hi)
    below_lo = xp.where(lo_rel == 0, np.uint64(0), below_lo)
    m = (upto_hi & ~below_lo).astype(np.uint32)
    masked = block & m
    v = masked[..., 0] ^ masked[..., 1] ^ masked[..., 2] ^ masked[..., 3]
    for k in (16, 8, 4, 2, 1):
        v = v ^ (v >> np.uint32(k))
    return v & _ONE32


def low_u64(block: Any, which: int) -> Any:
    """Words 2*which, 2*which+1 of each block as one uint64 (``which`` 0 or 1)."""
    lo = block[..., 2 * which].astype(np.uint64)
    hi = block[..., 2 * which + 1].astype(np.uint64)
    return lo | (hi << np.uint64(32))
