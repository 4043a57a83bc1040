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
"""
from __future__ import annotations

import hashlib
import json
import socket
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
    """A framed, counted connection of party ``party`` to its peer over socket ``sock``."""

    def __init__(self, sock: socket.socket, party: int, timeout_s: float = 10.0, latency_s: float = 0.0,
                 bandwidth_Bps: float | None = None, chunk_bytes: int = CHUNK_BYTES, check_threads: int = 2) -> None:
        if party not in (0, 1):
            raise ValueError(f"party={party!r}; allowed: 0, 1")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s={timeout_s!r} must be > 0")
        if not 1 <= chunk_bytes < wire.MAX_PAYLOAD:
            raise ValueError(f"chunk_bytes={chunk_bytes!r} must be in [1, {wire.MAX_PAYLOAD})")
        if check_threads < 1:
            raise ValueError(f"check_threads={check_threads!r} must be >= 1")
        self.chunk_bytes, self.check_threads = chunk_bytes, check_threads
        self._pool: ThreadPoolExecutor | None = None
        self._scratch = np.empty(0, dtype=np.uint8)
        self.sock, self.party, self.timeout_s = sock, party, timeout_s
        self.latency_s, self.bandwidth_Bps = latency_s, bandwidth_Bps
        self.sock.settimeout(timeout_s)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._send_seq = 0
        self._recv_seq = 0
        self._hdr = bytearray(wire.HEADER_BYTES)
        self.stats = CommStats()

    @classmethod
    def pair(cls, **kw: Any) -> tuple[Channel, Channel]:
        """Two connected in-process channels (party 0, party 1)."""
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
        view = memoryview(payload).cast("B") if not isinstance(payload, bytes) else memoryview(payload)
        total = len(view)
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
        try:
            sent = self.sock.sendmsg([header, view])
            if sent < len(header):
                self.sock.sendall(header[sent:])
                self.sock.sendall(view)
            elif sent < len(header) + len(view):
                self.sock.sendall(view[sent - len(header):])
        except (TimeoutError, OSError) as e:
            raise PeerError(f"party {self.party}: send of frame {self._send_seq} failed: {e}") from e
        self._send_seq += 1
        self.stats.frames_sent += 1
        self.stats.bytes_sent += len(view)
        self.stats.wire_bytes_sent += len(view) + len(header)

    def _recv_into(self, buf: memoryview) -> None:
        got = 0
        while got < len(buf):
            try:
                k = self.sock.recv_into(buf[got:])
            except TimeoutError as e:
                raise PeerError(f"party {self.party}: no data from peer within {self.timeout_s} s "
                                f"(frame {self._recv_seq})") from e
            except OSError as e:
                raise PeerError(f"party {self.party}: receive failed: {e}") from e
            if k == 0:
                what = "truncated frame" if got else "peer closed the connection"
                raise PeerError(f"party {self.party}: {what} while receiving frame {self._recv_seq} "
                                f"({got}/{len(buf)} bytes)")
            got += k

    def recv(self, ftype: int = FRAME_DATA, out: np.ndarray | None = None,
             on_frame: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Receive one message's payload as a uint8 array; checks type, sequence numbers and checksums of its frames.

        ``out``: a contiguous, writable array to receive into (reused buffers: no allocation); the message must have
        exactly its size in bytes. The result is then a uint8 view of ``out``. Without it, a fresh array is returned.
        ``on_frame(offset, nbytes)`` (only with ``out``) is called once per frame after that frame's checksum matched,
        on a pool thread for large frames, so the caller can consume the message while the rest of it arrives. Its
        errors are re-raised here; if any frame fails its checksum, recv raises (frames already consumed are then
        garbage)."""
        if on_frame is not None and out is None:
            raise ValueError("recv(on_frame=...) needs out=")
        dest = None if out is None else memoryview(out).cast("B")
        if dest is not None and dest.readonly:
            raise ValueError("recv(out=...) needs a writable buffer")
        parts: list[np.ndarray] = []
        checks: list = []
        got = 0
        try:
            while True:
                self._recv_into(memoryview(self._hdr))
                got_type, length, digest = wire.parse_header(self._hdr, self._recv_seq)
                more = bool(got_type & wire.FLAG_MORE)
                if got_type & ~wire.FLAG_MORE != ftype:
                    raise wire.FrameError(f"frame {self._recv_seq} has type {got_type & ~wire.FLAG_MORE}, "
                                          f"expected {ftype}")
                if dest is not None:
                    if got + length > len(dest):
                        raise wire.FrameError(f"frame {self._recv_seq}: message exceeds the expected {len(dest)} bytes "
                                              f"({got + length} so far)")
                    piece = dest[got:got + length]
                else:
                    arr = np.empty(length, dtype=np.uint8)  # not zero-filled: recv_into writes every byte
                    parts.append(arr)
                    piece = memoryview(arr)
                self._recv_into(piece)
                if length >= POOL_CHECK_MIN and (more or checks):
                    checks.append((self._workers().submit(_check_and_consume, piece, digest, on_frame, got, length),
                                   digest, self._recv_seq))
                else:
                    wire.check_payload(piece, digest, self._recv_seq)
                    if on_frame is not None:
                        on_frame(got, length)
                self._recv_seq += 1
                self.stats.frames_recv += 1
                self.stats.bytes_recv += length
                got += length
                if not more:
                    break
            for fut, digest, seq in checks:
                if fut.result() != digest:
                    raise wire.FrameError(f"frame {seq}: payload checksum mismatch (corrupted frame)")
        finally:
            for fut, _, _ in checks:
                fut.cancel()
        if dest is not None:
            if got != len(dest):
                raise wire.FrameError(f"message of {got} bytes, expected {len(dest)}")
            return np.asarray(out).reshape(-1).view(np.uint8)
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint8)

    def recv_array(self, dtype: Any = np.uint64, out: np.ndarray | None = None,
                   on_frame: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Receive one message as a flat NumPy array of ``dtype`` (into ``out`` when given: see :meth:`recv`)."""
        payload = self.recv(out=out, on_frame=on_frame)
        if payload.size % np.dtype(dtype).itemsize:
            raise wire.FrameError(f"frame of {payload.size} bytes is not a whole number of {np.dtype(dtype)} items")
        return payload.view(dtype)

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
