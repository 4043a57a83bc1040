"""Opening shares: SUF's ping-pong (P0 sends then receives; P1 receives then sends), packed to n bits.

Packing runs on the host (the bytes cross PCIe once, unpacked). Each party sends 8*ceil(W*n/64) bytes for W words of n bits; one open is one round.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import wire
from .channel import Channel
from .ring import Ring
from .xp import get_xp, to_numpy


def exchange(chan: Channel, mine: np.ndarray) -> np.ndarray:
    """Ping-pong exchange of one uint64 array; returns the peer's array."""
    mine = np.ascontiguousarray(mine, dtype=np.uint64)
    if chan.party == 0:
        chan.send(mine)
        peer = chan.recv_array()
    else:
        peer = chan.recv_array()
        chan.send(mine)
    chan.stats.rounds += 1
    return peer


def open_shares(chan: Channel, share: Any, n_bits: int, xor: bool = False) -> Any:
    """Reconstruct a shared array (additive mod 2^n, or XOR when ``xor``); result on the share's array module."""
    xp = get_xp(share)
    flat = share.reshape(-1)
    peer = exchange(chan, wire.pack(to_numpy(flat), n_bits))
    theirs = xp.asarray(wire.unpack(peer, flat.shape[0], n_bits))
    out = (flat ^ theirs) if xor else Ring(n_bits).add(flat, theirs)
    return out.reshape(share.shape)
