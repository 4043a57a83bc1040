"""Two-party channel: framed messages over a stream socket, with counters, timeouts and optional shaping.

``Channel.pair()`` gives two connected channels in one process (a socketpair: tests, one-process runs);
``listen`` + ``accept`` (party 0) and ``connect`` (party 1) link two processes or hosts at ``host:port``. Every frame
carries a sequence number and a checksum (``wire.checksum``); every receive has a timeout; a closed or silent peer
raises :class:`PeerError` naming the problem. ``handshake`` refuses a peer whose configuration hash or wire version
differs.

Shaping (``latency_s``, ``bandwidth_Bps``) delays each send by latency + bytes/bandwidth to emulate LAN/WAN.
Counters (``stats``) are per party: bytes and frames this party sent and received, and rounds (opens).

Bulk path: a payload over ``chunk_bytes`` is sent as a message of several frames (``wire.FLAG_MORE``), so the
two processes work as a pipeline: while the receiver copies chunk k out of the kernel and checks it, the sender
checksums-and-sends chunk k+1. Checksums of large chunks run on a small per-channel thread pool (xxhash releases the
GIL), so the integrity check overlaps the socket copies on both ends. Header and payload leave in one ``sendmsg``
(no copy, one syscall); a receiver can pass ``out`` (a reused buffer) so nothing is allocated per message.

Small messages: the socket is blocking, with the kernel's send and receive timeouts (``SO_SNDTIMEO`` /
``SO_RCVTIMEO``), so no syscall pays Python's poll() first. A frame's first read takes its header and up to
``SMALL_READ`` payload bytes in one ``recv_into`` (with ``out``, never more than the message's remaining bytes); bytes
of the next frame that come along are kept for the next read. The first read of a message spins: non-blocking reads
for up to ``spin_s`` (default ``SPIN_S``), then a blocking one for the rest of ``timeout_s``. The spin saves the
wake-up of a blocked process when the peer answers within it, and costs up to ``spin_s`` of one core per message
that waits longer (figures in docs/real_backend.md); ``spin_s=0`` turns it off. A spinning thread keeps taking the
GIL back, so the other threads of its process barely run until it blocks. Hence only a thread that also made the
channel's last send spins (ping-pong; in a duplex exchange the sender is another thread, which must run), the later
reads of a message do not (pool threads check and consume its frames), and ``pair()`` does not spin (its two parties
are threads of one process).
"""
from __future__ import annotations

import hashlib
import json
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import wire

FRAME_DATA = 1
FRAME_HELLO = 2
CHUNK_BYTES = 1 << 19  # frames of a bulk message (512 KiB)
POOL_CHECK_MIN = 1 << 16  # checksums of frames at least this large run on the channel's thread pool
SPIN_S = 50e-6  # default receive spin (docs/real_backend.md: a 1-word open with and without it)
SMALL_READ = 4096  # payload bytes a frame's first read may take along with its header


class PeerError(ConnectionError):
    """The peer closed the connection, did not answer within the timeout, or could not be reached."""


class HandshakeError(ConnectionError):
    """The peer runs a different configuration (or the same party number)."""


@dataclass
class CommStats:
    """Per-party communication counters (bytes exclude frame headers; ``wire_bytes`` include them).

    ``frames_*`` count frames on the wire: a bulk message of B bytes is ceil(B / chunk_bytes) frames."""

    bytes_sent: int = 0
    bytes_recv: int = 0
    wire_bytes_sent: int = 0
    frames_sent: int = 0
    frames_recv: int = 0
    rounds: int = 0


def config_hash(model: str, settings: dict, dealer_seed_id: str) -> str:
    """Hash of what both parties must agree on: model name, settings (JSON-able) and the dealer seed id."""
    blob = json.dumps({"model": model, "settings": settings, "dealer_seed_id": dealer_seed_id}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class Channel:
    """A framed, counted connection of party ``party`` to its peer over socket ``sock``.

    ``timeout_s``: a receive that gets no byte for this long (its spin included) and a send that can write no byte
    for this long raise :class:`PeerError`; a closed peer raises at once. ``spin_s``: see the module docstring. The
    channel puts ``sock`` in blocking mode with kernel timeouts; use it through the channel only."""

    def __init__(self, sock: socket.socket, party: int, timeout_s: float = 10.0, latency_s: float = 0.0,
                 bandwidth_Bps: float | None = None, chunk_bytes: int = CHUNK_BYTES, check_threads: int = 2,
                 spin_s: float = SPIN_S) -> None:
        if party not in (0, 1):
            raise ValueError(f"party={party!r}; allowed: 0, 1")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s={timeout_s!r} must be > 0")
        if not 0 <= spin_s < timeout_s:
            raise ValueError(f"spin_s={spin_s!r} must be in [0, timeout_s={timeout_s!r})")
        if not 1 <= chunk_bytes < wire.MAX_PAYLOAD:
            raise ValueError(f"chunk_bytes={chunk_bytes!r} must be in [1, {wire.MAX_PAYLOAD})")
        if check_threads < 1:
            raise ValueError(f"check_threads={check_threads!r} must be >= 1")
        self.chunk_bytes, self.check_threads = chunk_bytes, check_threads
        self._pool: ThreadPoolExecutor | None = None
        self._scratch = np.empty(0, dtype=np.uint8)
        self.sock, self.party, self.timeout_s, self.spin_s = sock, party, timeout_s, spin_s
        self.latency_s, self.bandwidth_Bps = latency_s, bandwidth_Bps
        sock.setblocking(True)  # the kernel times out instead: no poll() before every syscall
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(timeout_s))  # less the spin when it spins
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(timeout_s))
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._send_seq = 0
        self._recv_seq = 0
        self._sender: int | None = None  # the thread that made the last send (``threading.get_ident``)
        self._spin = 0.0  # the receives' spin now: spin_s while the receiving thread is the channel's sender, else 0
        self._rbuf = memoryview(bytearray(wire.HEADER_BYTES + SMALL_READ))  # a frame's header and first bytes
        self._pending = memoryview(b"")  # bytes read past the last frame: the start of the next one
        self.stats = CommStats()

    @classmethod
    def pair(cls, **kw: Any) -> tuple[Channel, Channel]:
        """Two connected in-process channels (party 0, party 1). They do not spin unless ``spin_s`` is given: the
        parties are then threads of one process, and a spinning receiver holds the GIL its peer needs."""
        kw.setdefault("spin_s", 0.0)
        a, b = socket.socketpair()
        return cls(a, 0, **kw), cls(b, 1, **kw)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.sock.close()

    def _workers(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.check_threads, thread_name_prefix=f"check-p{self.party}")
        return self._pool

    def scratch(self, nbytes: int) -> np.ndarray:
        """A reusable receive buffer of ``nbytes`` (uint8) owned by this channel; overwritten by the next call."""
        if self._scratch.size < nbytes:
            self._scratch = np.empty(nbytes, dtype=np.uint8)
        return self._scratch[:nbytes]

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- frames ---------------------------------------------------------------------------------------------
    def send(self, payload: Any, ftype: int = FRAME_DATA, align: int = 1) -> None:
        """Send one message; ``payload``: bytes or a contiguous NumPy array (sent without a copy).

        Up to ``chunk_bytes`` it is one frame; larger payloads are split into frames of ``chunk_bytes`` rounded down
        to a multiple of ``align`` (all but the last flagged ``wire.FLAG_MORE``), whose checksums are computed on the
        thread pool ahead of the socket writes. ``align`` lets a receiver decode each frame on its own (whole packed
        groups)."""
        view = memoryview(payload).cast("B")
        total = view.nbytes
        self._sender = threading.get_ident()
        if self.latency_s or self.bandwidth_Bps:
            delay = self.latency_s + (total / self.bandwidth_Bps if self.bandwidth_Bps else 0.0)
            if delay > 0:
                time.sleep(delay)
        if align < 1:
            raise ValueError(f"align={align!r} must be >= 1")
        step = max(align, self.chunk_bytes - self.chunk_bytes % align)
        if total <= step:
            self._send_frame(ftype, view, wire.frame_header(ftype, self._send_seq, view))
            return
        pieces = [view[o:o + step] for o in range(0, total, step)]
        pool = self._workers()
        digests = [pool.submit(wire.checksum, p) for p in pieces]
        last = len(pieces) - 1
        try:
            for i, piece in enumerate(pieces):
                t = ftype if i == last else ftype | wire.FLAG_MORE
                self._send_frame(t, piece, wire.frame_header(t, self._send_seq, piece, digests[i].result()))
        finally:
            for f in digests:
                f.cancel()

    def _send_frame(self, ftype: int, view: memoryview, header: bytes) -> None:
        """Header and payload in one syscall: joined into one buffer when small (``send`` costs less than
        ``sendmsg``), else gathered by ``sendmsg`` (no copy)."""
        n, hb = len(view), len(header)
        try:
            if n <= SMALL_READ:
                frame = header + view
                sent = self.sock.send(frame)
                if sent < hb + n:
                    self.sock.sendall(frame[sent:])
            else:
                sent = self.sock.sendmsg([header, view])
                if sent < hb:
                    self.sock.sendall(header[sent:])
                    self.sock.sendall(view)
                elif sent < hb + n:
                    self.sock.sendall(view[sent - hb:])
        except OSError as e:  # TimeoutError, BlockingIOError (SO_SNDTIMEO expired) included
            raise PeerError(f"party {self.party}: send of frame {self._send_seq} failed: {e}") from e
        self._send_seq += 1
        stats = self.stats
        stats.frames_sent += 1
        stats.bytes_sent += n
        stats.wire_bytes_sent += n + hb

    def _recv_some(self, buf: memoryview, first: bool = False) -> int:
        """One read of 1..len(buf) bytes (0: the peer closed), or PeerError once no byte came for ``timeout_s``.

        The first read of a message (the wait for the peer's turn) spins for ``_spin`` before its blocking read,
        which the kernel ends after the rest of ``timeout_s``. Other reads (a message's stream is flowing) do not
        spin: it would keep the GIL from the pool threads checking and consuming its frames. While the kernel's
        timeout is the rest after a spin, such a read waits the spin's share in ``select`` before it gives up."""
        sock = self.sock
        try:
            if first and self._spin:
                end = time.perf_counter() + self._spin
                while True:
                    try:
                        return sock.recv_into(buf, 0, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        if time.perf_counter() >= end:
                            break
            try:
                return sock.recv_into(buf)
            except BlockingIOError:  # SO_RCVTIMEO expired
                if first or not self._spin or not select.select([sock], [], [], self._spin)[0]:
                    raise
                return sock.recv_into(buf, 0, socket.MSG_DONTWAIT)
        except (BlockingIOError, TimeoutError) as e:  # no byte within timeout_s
            raise PeerError(f"party {self.party}: no data from peer within {self.timeout_s} s "
                            f"(frame {self._recv_seq})") from e
        except OSError as e:
            raise PeerError(f"party {self.party}: receive failed: {e}") from e

    def _recv_into(self, buf: memoryview, started: int = 0) -> None:
        """Fill ``buf``: first from the bytes kept from the last read, then from the socket. ``started``: bytes of
        this frame already received (for the error of a peer that closes mid-frame)."""
        got = 0
        if self._pending:
            got = min(len(buf), len(self._pending))
            buf[:got] = self._pending[:got]
            self._pending = self._pending[got:]
        while got < len(buf):
            k = self._recv_some(buf[got:])
            if k == 0:
                what = "truncated frame" if started + got else "peer closed the connection"
                raise PeerError(f"party {self.party}: {what} while receiving frame {self._recv_seq} "
                                f"({started + got}/{started + len(buf)} bytes)")
            got += k

    def _recv_header(self, ahead: int, first: bool) -> int:
        """Read the next frame's header into ``_rbuf[:HEADER_BYTES]``, in the same read as up to ``ahead`` (at most
        ``SMALL_READ``) bytes after it, which land in ``_rbuf[HEADER_BYTES:]``; returns how many did. ``first``: the
        message's first frame (its read may spin)."""
        hb = wire.HEADER_BYTES
        if self._pending:
            self._recv_into(self._rbuf[:hb])
            return 0
        k = self._recv_some(self._rbuf[:hb + min(ahead, SMALL_READ)], first)
        if k == 0:
            raise PeerError(f"party {self.party}: peer closed the connection while receiving frame {self._recv_seq} "
                            f"(0/{hb} bytes)")
        if k < hb:
            self._recv_into(self._rbuf[k:hb], started=k)
            return 0
        return k - hb

    def recv(self, ftype: int = FRAME_DATA, out: np.ndarray | None = None,
             on_frame: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Receive one message's payload as a uint8 array; checks type, sequence numbers and checksums of its frames.

        ``out``: a contiguous, writable array to receive into (reused buffers: no allocation); the message must have
        exactly its size in bytes. The result is then a uint8 view of ``out``. Without it, a fresh array is returned.
        ``on_frame(offset, nbytes)`` (only with ``out``) is called once per frame after that frame's checksum matched,
        on a pool thread for large frames, so the caller can consume the message while the rest of it arrives. Its
        errors are re-raised here; if any frame fails its checksum, recv raises (frames already consumed are then
        garbage)."""
        parts = self._receive(ftype, out, on_frame)
        if out is not None:
            return np.asarray(out).reshape(-1).view(np.uint8)
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint8)

    def recv_array(self, dtype: Any = np.uint64, out: np.ndarray | None = None,
                   on_frame: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Receive one message as a flat NumPy array of ``dtype`` (into ``out`` when given: see :meth:`recv`)."""
        if isinstance(out, np.ndarray) and out.dtype == dtype:  # the common case: a flat view of ``out`` itself
            self._receive(FRAME_DATA, out, on_frame)
            return out.reshape(-1)
        payload = self.recv(out=out, on_frame=on_frame)
        if payload.size % np.dtype(dtype).itemsize:
            raise wire.FrameError(f"frame of {payload.size} bytes is not a whole number of {np.dtype(dtype)} items")
        return payload.view(dtype)

    def _receive(self, ftype: int, out: np.ndarray | None,
                 on_frame: Callable[[int, int], None] | None) -> list[np.ndarray]:
        """:meth:`recv`'s work: the message's frames into ``out``, or into fresh arrays (returned) without it."""
        if on_frame is not None and out is None:
            raise ValueError("recv(on_frame=...) needs out=")
        dest = None if out is None else memoryview(out).cast("B")
        if dest is not None and dest.readonly:
            raise ValueError("recv(out=...) needs a writable buffer")
        hb, rbuf = wire.HEADER_BYTES, self._rbuf
        spin = self.spin_s if self._sender == threading.get_ident() else 0.0
        if spin != self._spin:  # the kernel waits the rest of timeout_s after the spin (set when the mode changes)
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(self.timeout_s - spin))
            except OSError as e:
                raise PeerError(f"party {self.party}: receive failed: {e}") from e
            self._spin = spin
        parts: list[np.ndarray] = []
        checks: list = []
        got = 0
        try:
            while True:
                early = self._recv_header(SMALL_READ if dest is None else len(dest) - got, not got)
                got_type, length, digest = wire.parse_header(rbuf[:hb], self._recv_seq)
                if early > length:  # the read took bytes of the next frame too: keep them for the next read
                    self._pending = memoryview(bytes(rbuf[hb + length:hb + early]))
                    early = length
                more = got_type & wire.FLAG_MORE
                if got_type & ~wire.FLAG_MORE != ftype:
                    raise wire.FrameError(f"frame {self._recv_seq} has type {got_type & ~wire.FLAG_MORE}, "
                                          f"expected {ftype}")
                if dest is not None:
                    if got + length > len(dest):
                        raise wire.FrameError(f"frame {self._recv_seq}: message exceeds the expected {len(dest)} bytes "
                                              f"({got + length} so far)")
                    piece = dest[got:got + length]
                else:
                    arr = np.empty(length, dtype=np.uint8)  # not zero-filled: every byte is written below
                    parts.append(arr)
                    piece = memoryview(arr)
                if early:
                    piece[:early] = rbuf[hb:hb + early]
                if early < length:
                    self._recv_into(piece[early:], started=hb + early)
                if length >= POOL_CHECK_MIN and (more or checks):
                    checks.append((self._workers().submit(_check_and_consume, piece, digest, on_frame, got, length),
                                   digest, self._recv_seq))
                else:
                    wire.check_payload(piece, digest, self._recv_seq)
                    if on_frame is not None:
                        on_frame(got, length)
                self._recv_seq += 1
                stats = self.stats
                stats.frames_recv += 1
                stats.bytes_recv += length
                got += length
                if not more:
                    break
            for fut, digest, seq in checks:
                if fut.result() != digest:
                    raise wire.FrameError(f"frame {seq}: payload checksum mismatch (corrupted frame)")
        finally:
            for fut, _, _ in checks:
                fut.cancel()
        if dest is not None and got != len(dest):
            raise wire.FrameError(f"message of {got} bytes, expected {len(dest)}")
        return parts

    # -- handshake ------------------------------------------------------------------------------------------
    def handshake(self, cfg_hash: str) -> None:
        """Exchange configuration hashes (P0 sends first); raise HandshakeError if they or the wire versions differ."""
        mine = json.dumps({"party": self.party, "config": cfg_hash}).encode()
        try:
            if self.party == 0:
                self.send(mine, FRAME_HELLO)
                peer = json.loads(self.recv(FRAME_HELLO).tobytes())
            else:
                peer = json.loads(self.recv(FRAME_HELLO).tobytes())
                self.send(mine, FRAME_HELLO)
        except wire.WireVersionError as e:
            raise HandshakeError(f"party {self.party}: {e}") from e
        if peer.get("party") == self.party:
            raise HandshakeError(f"both ends claim to be party {self.party}; one must be 0 and the other 1")
        if peer.get("config") != cfg_hash:
            raise HandshakeError(f"configuration mismatch: this party runs {cfg_hash[:16]}, the peer runs "
                                 f"{str(peer.get('config'))[:16]} (model, settings or dealer seed differ)")


def _check_and_consume(piece: memoryview, digest: int, on_frame: Callable[[int, int], None] | None, offset: int,
                       nbytes: int) -> int:
    """Pool job: checksum of a received frame; if it matches, hand the frame to ``on_frame`` while it is in cache."""
    got = wire.checksum(piece)
    if got == digest and on_frame is not None:
        on_frame(offset, nbytes)
    return got


def _timeval(seconds: float) -> bytes:
    """A ``struct timeval`` (two C longs: Linux, macOS) for ``SO_RCVTIMEO`` / ``SO_SNDTIMEO``; at least 1 µs (0 would
    mean "wait forever")."""
    us = max(1, round(seconds * 1e6))
    return struct.pack("@ll", us // 1_000_000, us % 1_000_000)


def parse_address(address: str) -> tuple[str, int]:
    """'host:port' -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"address {address!r} is not 'host:port' with a port 0..65535")
    return host, int(port)


def listen(address: str) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 picks a free one; read it from getsockname())."""
    host, port = parse_address(address)
    return socket.create_server((host, port))


def accept(server: socket.socket, timeout_s: float = 10.0, **kw: Any) -> Channel:
    """Party 0: accept the peer on a listening socket."""
    server.settimeout(timeout_s)
    try:
        conn, _ = server.accept()
    except TimeoutError as e:
        raise PeerError(f"party 0: no peer connected within {timeout_s} s") from e
    return Channel(conn, 0, timeout_s=timeout_s, **kw)


def connect(address: str, timeout_s: float = 10.0, **kw: Any) -> Channel:
    """Party 1: connect to party 0 at ``host:port``, retrying until ``timeout_s``."""
    host, port = parse_address(address)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=timeout_s)
            return Channel(sock, 1, timeout_s=timeout_s, **kw)
        except OSError as e:
            if time.monotonic() >= deadline:
                raise PeerError(f"party 1: could not connect to {address} within {timeout_s} s: {e}") from e
            time.sleep(0.05)
