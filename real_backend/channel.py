"""Two-party channel: framed messages over a stream socket, with counters, timeouts and optional shaping.

``Channel.pair()`` gives two connected channels in one process (a socketpair: tests, one-process runs);
``connect_tcp`` links two processes or hosts (``host:port``; party 0 listens, party 1 connects). Every frame
carries a sequence number and a CRC32 (see ``wire``); every receive has a timeout; a closed or silent peer raises
:class:`PeerError` naming the problem. ``handshake`` refuses a peer whose configuration hash differs.

Shaping (``latency_s``, ``bandwidth_Bps``) delays each send by latency + bytes/bandwidth to emulate LAN/WAN.
Counters (``stats``) are per party: bytes and frames this party sent and received, and rounds (opens).
"""
from __future__ import annotations

import hashlib
import json
import socket
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import wire

FRAME_DATA = 1
FRAME_HELLO = 2


class PeerError(ConnectionError):
    """The peer closed the connection, did not answer within the timeout, or could not be reached."""


class HandshakeError(ConnectionError):
    """The peer runs a different configuration (or the same party number)."""


@dataclass
class CommStats:
    """Per-party communication counters (bytes exclude frame headers; ``wire_bytes`` include them)."""

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
                 bandwidth_Bps: float | None = None) -> None:
        if party not in (0, 1):
            raise ValueError(f"party={party!r}; allowed: 0, 1")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s={timeout_s!r} must be > 0")
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
    def pair(cls, **kw: Any) -> tuple["Channel", "Channel"]:
        """Two connected in-process channels (party 0, party 1)."""
        a, b = socket.socketpair()
        return cls(a, 0, **kw), cls(b, 1, **kw)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Channel":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- frames ---------------------------------------------------------------------------------------------
    def send(self, payload: Any, ftype: int = FRAME_DATA) -> None:
        """Send one frame; ``payload``: bytes or a contiguous NumPy array (sent without a copy)."""
        view = memoryview(payload).cast("B") if not isinstance(payload, bytes) else memoryview(payload)
        header = wire.frame_header(ftype, self._send_seq, view)
        delay = self.latency_s + (len(view) / self.bandwidth_Bps if self.bandwidth_Bps else 0.0)
        if delay > 0:
            time.sleep(delay)
        try:
            self.sock.sendall(header)
            self.sock.sendall(view)
        except (socket.timeout, OSError) as e:
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
            except socket.timeout as e:
                raise PeerError(f"party {self.party}: no data from peer within {self.timeout_s} s (frame {self._recv_seq})") from e
            except OSError as e:
                raise PeerError(f"party {self.party}: receive failed: {e}") from e
            if k == 0:
                what = "truncated frame" if got else "peer closed the connection"
                raise PeerError(f"party {self.party}: {what} while receiving frame {self._recv_seq} ({got}/{len(buf)} bytes)")
            got += k

    def recv(self, ftype: int = FRAME_DATA) -> np.ndarray:
        """Receive one frame's payload (a uint8 array); checks type, sequence number and CRC."""
        self._recv_into(memoryview(self._hdr))
        got_type, length, crc = wire.parse_header(bytes(self._hdr), self._recv_seq)
        if got_type != ftype:
            raise wire.FrameError(f"frame {self._recv_seq} has type {got_type}, expected {ftype}")
        payload = np.empty(length, dtype=np.uint8)  # not zero-filled: recv_into writes every byte
        self._recv_into(memoryview(payload))
        wire.check_payload(payload, crc, self._recv_seq)
        self._recv_seq += 1
        self.stats.frames_recv += 1
        self.stats.bytes_recv += length
        return payload

    def recv_array(self, dtype: Any = np.uint64) -> np.ndarray:
        """Receive one frame as a flat NumPy array of ``dtype``."""
        payload = self.recv()
        if payload.size % np.dtype(dtype).itemsize:
            raise wire.FrameError(f"frame of {payload.size} bytes is not a whole number of {np.dtype(dtype)} items")
        return payload.view(dtype)

    # -- handshake ------------------------------------------------------------------------------------------
    def handshake(self, cfg_hash: str) -> None:
        """Exchange configuration hashes (P0 sends first); raise HandshakeError if they differ."""
        mine = json.dumps({"party": self.party, "config": cfg_hash}).encode()
        if self.party == 0:
            self.send(mine, FRAME_HELLO)
            peer = json.loads(self.recv(FRAME_HELLO).tobytes())
        else:
            peer = json.loads(self.recv(FRAME_HELLO).tobytes())
            self.send(mine, FRAME_HELLO)
        if peer.get("party") == self.party:
            raise HandshakeError(f"both ends claim to be party {self.party}; one must be 0 and the other 1")
        if peer.get("config") != cfg_hash:
            raise HandshakeError(f"configuration mismatch: this party runs {cfg_hash[:16]}, the peer runs {str(peer.get('config'))[:16]} "
                                 "(model, settings or dealer seed differ)")


def parse_address(address: str) -> tuple[str, int]:
    """'host:port' -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"address {address!r} is not 'host:port' with a port 0..65535")
    return host, int(port)


def listen(address: str) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 picks a free one; read it from getsockname())."""
    host, port = parse_address(address)
    srv = socket.create_server((host, port))
    return srv


def accept(server: socket.socket, timeout_s: float = 10.0, **kw: Any) -> Channel:
    """Party 0: accept the peer on a listening socket."""
    server.settimeout(timeout_s)
    try:
        conn, _ = server.accept()
    except socket.timeout as e:
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
