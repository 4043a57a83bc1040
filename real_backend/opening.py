"""Opening shares: SUF's ping-pong (P0 sends then receives; P1 receives then sends), packed to n bits.

Packing runs on the host (the bytes cross PCIe once, unpacked). Each party sends 8*ceil(W*n/64) bytes for W words of n bits; one open is one round.
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np

from . import wire
from .channel import Channel
from .ring import Ring
from .xp import get_xp, to_numpy


def exchange(chan: Channel, mine: np.ndarray, duplex: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    """Exchange one uint64 array; returns the peer's array.

    Ping-pong by default (SUF: P0 sends then receives, P1 receives then sends); with ``duplex`` both parties
    send at once (a sender thread) and receive, as SIGMA's exchanges do. ``out``: receive into this buffer (the
    peer's array must have the same size in bytes; the result is a view of it)."""
    mine = np.ascontiguousarray(mine, dtype=np.uint64)
    if duplex:
        err: list = []
        sender = threading.Thread(target=lambda: _send_catching(chan, mine, err))
        sender.start()
        try:
            peer = chan.recv_array(out=out)
        finally:
            sender.join()
        if err:
            raise err[0]
    elif chan.party == 0:
        chan.send(mine)
        peer = chan.recv_array(out=out)
    else:
        peer = chan.recv_array(out=out)
        chan.send(mine)
    chan.stats.rounds += 1
    return peer


def _send_catching(chan: Channel, data: np.ndarray, err: list) -> None:
    try:
        chan.send(data)
    except Exception as e:  # re-raised by the caller's thread
        err.append(e)


def open_shares(chan: Channel, share: Any, n_bits: int, xor: bool = False, duplex: bool = False) -> Any:
    """Reconstruct a shared array (additive mod 2^n, or XOR when ``xor``); result on the share's array module."""
    xp = get_xp(share)
    flat = share.reshape(-1)
    mine = wire.pack(to_numpy(flat), n_bits)
    # The peer sends as many packed words as we do; receive them into the channel's reused buffer.
    peer = exchange(chan, mine, duplex, out=chan.scratch(mine.nbytes))
    theirs = xp.asarray(wire.unpack(peer, flat.shape[0], n_bits))  # may be a view of the scratch buffer
    out = xp.empty(flat.shape, dtype=xp.uint64)  # a fresh result: the scratch buffer is reused by the next open
    if xor:
        xp.bitwise_xor(flat, theirs, out=out)
    else:
        xp.add(flat, theirs, out=out)
        if n_bits < 64:
            xp.bitwise_and(out, Ring(n_bits).mask, out=out)
    return out.reshape(share.shape)
