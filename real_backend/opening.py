"""Opening shares: SUF's ping-pong (P0 sends then receives; P1 receives then sends), packed to n bits.

Packing runs on the host (the bytes cross PCIe once, unpacked). Each party sends 8*ceil(W*n/64) bytes for W words of
n bits; one open is one round.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from . import wire
from .channel import Channel
from .ring import Ring
from .xp import get_xp, to_numpy


def exchange(chan: Channel, mine: np.ndarray, duplex: bool = False, out: np.ndarray | None = None,
             on_frame: Callable[[int, int], None] | None = None, align: int = 8) -> np.ndarray:
    """Exchange one uint64 array; returns the peer's array.

    Ping-pong by default (SUF: P0 sends then receives, P1 receives then sends); with ``duplex`` both parties
    send at once (a sender thread) and receive, as SIGMA's exchanges do. ``out``: receive into this buffer (the
    peer's array must have the same size in bytes; the result is a view of it). ``on_frame`` and ``align``: see
    ``Channel.recv`` and ``Channel.send``."""
    mine = np.ascontiguousarray(mine, dtype=np.uint64)
    if duplex:
        err: list = []
        sender = threading.Thread(target=lambda: _send_catching(chan, mine, err, align))
        sender.start()
        try:
            peer = chan.recv_array(out=out, on_frame=on_frame)
        finally:
            sender.join()
        if err:
            raise err[0]
    elif chan.party == 0:
        chan.send(mine, align=align)
        peer = chan.recv_array(out=out, on_frame=on_frame)
    else:
        peer = chan.recv_array(out=out, on_frame=on_frame)
        chan.send(mine, align=align)
    chan.stats.rounds += 1
    return peer


def _send_catching(chan: Channel, data: np.ndarray, err: list, align: int = 8) -> None:
    try:
        chan.send(data, align=align)
    except Exception as e:  # re-raised by the caller's thread
        err.append(e)


def open_shares(chan: Channel, share: Any, n_bits: int, xor: bool = False, duplex: bool = False) -> Any:
    """Reconstruct a shared array (additive mod 2^n, or XOR when ``xor``); result on the share's array module.

    Host (NumPy) shares: frames are cut at whole groups of 64 packed values (8*n bytes), so each received frame is
    unpacked and added to our share on the channel's pool thread right after its checksum check, while later frames are
    still arriving; the reconstruction is then mostly off the critical path."""
    xp = get_xp(share)
    flat = share.reshape(-1)
    count = flat.shape[0]
    mine = wire.pack(to_numpy(flat), n_bits)
    scratch = chan.scratch(mine.nbytes)  # the peer sends as many packed words as we do
    align = 8 * n_bits  # bytes of one group of 64 packed values
    if xp is not np:
        peer = exchange(chan, mine, duplex, out=scratch, align=align)
        theirs = xp.asarray(wire.unpack(peer, count, n_bits))
        out = (flat ^ theirs) if xor else Ring(n_bits).add(flat, theirs)
        return out.reshape(share.shape)
    out = np.empty(count, dtype=np.uint64)  # a fresh result: the scratch buffer is reused by the next open
    words = scratch.view(np.uint64)
    mask = Ring(n_bits).mask
    misaligned: list = []

    def on_frame(offset: int, nbytes: int) -> None:
        if offset % align or (nbytes % align and offset + nbytes != len(scratch)):
            misaligned.append(offset)  # the peer cut frames elsewhere: reconstruct the whole array below
            return
        w0, nw = offset // 8, nbytes // 8
        v0 = w0 * 64 // n_bits
        k = min(nw * 64 // n_bits, count - v0)
        if k <= 0:
            return
        _combine(flat[v0:v0 + k], wire.unpack(words[w0:w0 + nw], k, n_bits), out[v0:v0 + k], xor, mask, n_bits)

    exchange(chan, mine, duplex, out=scratch, on_frame=on_frame, align=align)
    if misaligned:
        _combine(flat, wire.unpack(words, count, n_bits), out, xor, mask, n_bits)
    return out.reshape(share.shape)


def _combine(mine: np.ndarray, theirs: np.ndarray, out: np.ndarray, xor: bool, mask: np.uint64, n_bits: int) -> None:
    if xor:
        np.bitwise_xor(mine, theirs, out=out)
    else:
        np.add(mine, theirs, out=out)
        if n_bits < 64:
            np.bitwise_and(out, mask, out=out)
