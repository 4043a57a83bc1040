"""Opening shares: SUF's ping-pong (P0 sends then receives; P1 receives then sends), packed to n bits.

Each party sends 8*ceil(W*n/64) bytes for W words of n bits; one open is one round. NumPy shares are packed on the
host (``open_shares`` unpacks each frame as it arrives). CuPy shares stay on the GPU but for their packed bytes
(``ChannelOpen``): packed by a kernel, copied once to pinned host memory, sent; received into pinned memory, copied
up once, unpacked and combined by a kernel. Small opens (``gpu_wire.ZERO_COPY_MAX_BYTES``) skip both copies: the
kernels write and read the pinned buffers through the device's mapping of them (``gpu_wire.Staging``).
"""
from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import gpu_wire, wire
from .channel import Channel
from .ring import Ring
from .xp import get_xp, is_cupy


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

    CuPy shares: ``ChannelOpen``. Host (NumPy) shares: frames are cut at whole groups of 64 packed values (8*n
    bytes), so each received frame is unpacked and added to our share on the channel's pool thread right after its
    checksum check, while later frames are still arriving; the reconstruction is then mostly off the critical path."""
    if is_cupy(get_xp(share)):
        return ChannelOpen(chan, duplex)(share, n_bits, xor).public
    flat = share.reshape(-1)
    count = flat.shape[0]
    mine = wire.pack(flat, n_bits)
    scratch = chan.scratch(mine.nbytes)  # the peer sends as many packed words as we do
    align = 8 * n_bits  # bytes of one group of 64 packed values
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


Seconds = Callable[[], float]   # a timer's reading, taken when called (a GPU span is read once the GPU has done it)


@dataclass
class Opened:
    """One open's result: the public words and where the open's time went (seconds)."""

    public: Any           # both parties' words combined (mod 2^n, or XOR), on the share's array module
    pack: Seconds | None  # pack + unpack-and-combine, the PCIe copies of CuPy words included (small opens: the
    #                       kernels' reads and writes of the mapped pinned buffers; SUF's open_pack_ns;
    #                       on CuPy the GPU's time of that work, not of the work queued before it: ``_timer``);
    #                       None when nothing was packed (an in-process exchange)
    comm_s: float         # the exchange, waiting for the peer included (SUF's open_comm_ns)
    wait_s: float = 0.0   # the host's wait for its packed words before the exchange: packing them and, on CuPy,
    #                       the GPU finishing the work queued before the open (which a host-bound run does not wait for)

    @property
    def pack_s(self) -> float | None:
        """``pack`` read now (on CuPy: waits for the unpack, if the GPU has not done it yet)."""
        return None if self.pack is None else self.pack()


_STAGING: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # channel -> its gpu_wire.Staging


def _staging(chan: Channel) -> gpu_wire.Staging:
    """The channel's transfer buffers for opens of CuPy words (made at its first such open)."""
    return _STAGING.get(chan) or _STAGING.setdefault(chan, gpu_wire.Staging())


class ChannelOpen:
    """Opens over a channel, for the real run's driver and for CuPy shares: this party's words packed to n bits, one
    exchange (ping-pong, or duplex), the peer's words unpacked and combined with ours.

    CuPy words: packed on the GPU, copied once into the channel's reused pinned send buffer, sent; the peer's
    received into a pinned buffer, copied up once, unpacked and combined in one kernel (``gpu_wire``); opens of at
    most the staging's ``zero_copy_max`` packed bytes make neither copy (``gpu_wire.Staging``). ``staging``: these
    transfer buffers instead of the channel's own (the bench's ``Staging(zero_copy_max=0)`` times the copied path).
    NumPy words: packed on the host, received into the channel's scratch buffer."""

    def __init__(self, chan: Channel, duplex: bool = False, staging: gpu_wire.Staging | None = None) -> None:
        self.chan, self.duplex, self._own = chan, duplex, staging

    @property
    def staging(self) -> gpu_wire.Staging:
        """The transfer buffers of this opener's CuPy opens (by default the channel's, shared by its openers)."""
        return _staging(self.chan) if self._own is None else self._own

    def prepare(self, words: int, n_bits: int, xp: Any) -> None:
        """Before the clock, what the run's opens (``words`` the largest, on array module ``xp``) would otherwise
        pay at their first use, as a compiled runtime pays it at start-up: the transfer buffers grown to that open's
        packed bytes and, on CuPy, the device's views of the pinned ones made and the wire's kernels loaded (one word
        packed into the send buffer and unpacked from the receive buffer here, as a small open does; nothing is
        sent)."""
        nbytes = 8 * wire.packed_words(words, n_bits)
        if not is_cupy(xp):
            self.chan.scratch(nbytes)
            return
        staging = self.staging
        staging.reserve(nbytes)
        one = xp.zeros(1, dtype=xp.uint64)
        packed = staging.pack_down(one, n_bits)
        staging.combine(staging.receive_buffer(packed.nbytes).view(np.uint64), one, n_bits)
        xp.cuda.get_current_stream().synchronize()

    def __call__(self, mine: Any, n_bits: int, xor: bool = False) -> Opened:
        return self.complete(self.stage(mine, n_bits), xor)

    def stage(self, mine: Any, n_bits: int) -> Staged:
        """This party's words packed and, for CuPy words, in the pinned send buffer: what goes before the wire. GPU
        work queued between this and ``complete`` (an overlap flush's PFSS jobs) runs while the words are on it."""
        entered = time.monotonic()
        flat = mine.reshape(-1)
        xp = get_xp(flat)
        timer = _timer(xp)
        if is_cupy(xp):
            staging = self.staging
            packed = staging.pack_down(flat, n_bits)   # waits for the pack kernel (and the copy down, if any)
            out = staging.receive_buffer(packed.nbytes)   # waits for the last open's reads of it, if not done
        else:
            packed = wire.pack(flat, n_bits)
            out = self.chan.scratch(packed.nbytes)   # the peer sends as many packed words as we do
        return Staged(mine.shape, flat, n_bits, packed, out, timer(), time.monotonic() - entered)

    def complete(self, staged: Staged, xor: bool = False) -> Opened:
        """The exchange, then the peer's words unpacked and combined with ours (on CuPy: queued after the GPU work
        queued since ``stage``, which the unpack's timer does not hold)."""
        flat, n_bits = staged.flat, staged.n_bits
        xp = get_xp(flat)
        sent = time.monotonic()
        theirs = exchange(self.chan, staged.packed, self.duplex, out=staged.out)
        comm_s = time.monotonic() - sent
        timer = _timer(xp)
        if is_cupy(xp):
            public = self.staging.combine(theirs, flat, n_bits, xor)   # releases the receive buffer after the kernel
        else:
            public = np.empty(flat.shape[0], dtype=np.uint64)
            _combine(flat, wire.unpack(theirs, flat.shape[0], n_bits), public, xor, Ring(n_bits).mask, n_bits)
        packing, unpacking = staged.pack, timer()
        return Opened(public.reshape(staged.shape), lambda: packing() + unpacking(), comm_s, staged.wait_s)


@dataclass
class Staged:
    """An open between ``ChannelOpen.stage`` and ``complete``."""

    shape: tuple
    flat: Any
    n_bits: int
    packed: Any        # the packed words to send (on CuPy: a view of the pinned send buffer)
    out: Any           # where the peer's packed words are received
    pack: Seconds      # the packing's share of the open's pack
    wait_s: float      # the host's time in ``stage`` (``Opened.wait_s``)


def _timer(xp: Any) -> Callable[[], Seconds]:
    """Started now; called, ends the span there and returns its reading. On CuPy the span is between two CUDA
    events on the current stream, so it holds the GPU's time of that work alone (a host timer would also hold the
    earlier kernels still queued when it started: a flush's local work, not the open's), and nothing waits for the
    GPU until the reading is taken: the run reads its opens' spans when it ends (``RealContext.finish_timing``), so
    an open costs the host no sync beyond the wait for its packed bytes (its copy down; on a small open, its pack
    kernel, which writes the pinned send buffer itself)."""
    if not is_cupy(xp):
        start = time.monotonic()

        def stop_host() -> Seconds:
            seconds = time.monotonic() - start
            return lambda: seconds
        return stop_host
    begin = xp.cuda.Event()
    begin.record()

    def stop() -> Seconds:
        end = xp.cuda.Event()
        end.record()

        def read() -> float:
            end.synchronize()
            return xp.cuda.get_elapsed_time(begin, end) / 1e3
        return read
    return stop


def open_in_process(exchange: Callable[[Any], Any], mine: Any, n_bits: int) -> Opened:
    """An open through an in-process exchange of unpacked words (``twoparty.MemoryLink``: no wire, nothing packed)."""
    sent = time.monotonic()
    theirs = exchange(mine)
    comm = time.monotonic() - sent
    return Opened(Ring(n_bits).add(mine, theirs), None, comm)


def _combine(mine: np.ndarray, theirs: np.ndarray, out: np.ndarray, xor: bool, mask: np.uint64, n_bits: int) -> None:
    if xor:
        np.bitwise_xor(mine, theirs, out=out)
    else:
        np.add(mine, theirs, out=out)
        if n_bits < 64:
            np.bitwise_and(out, mask, out=out)
