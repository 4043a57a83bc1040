"""Channel: framing, counters, timeouts, handshake, corruption; TCP on 127.0.0.1 only."""
import itertools
import socket
import time
from functools import partial

import numpy as np
import pytest
from conftest import run_parties

from real_backend import wire
from real_backend.channel import Channel, HandshakeError, PeerError, accept, config_hash, connect, listen
from real_backend.opening import open_shares
from real_backend.ring import Ring


def tcp_pair(timeout_s=5.0, **kw):
    srv = listen("127.0.0.1:0")
    port = srv.getsockname()[1]
    c1 = connect(f"127.0.0.1:{port}", timeout_s, **kw)
    c0 = accept(srv, timeout_s, **kw)
    srv.close()
    return c0, c1


def test_tcp_survives_10k_frames_with_counters():
    c0, c1 = tcp_pair()
    frames = 10_000
    payload = np.arange(4, dtype=np.uint64)

    def p0():
        for i in range(frames):
            payload[0] = i
            c0.send(payload)
        return c0.recv_array()[0]

    def p1():
        total = 0
        for i in range(frames):
            got = c1.recv_array()
            assert got[0] == i
            total += int(got[0])
        c1.send(np.array([total], np.uint64))
        return total

    r0, r1 = run_parties(p0, p1)
    assert r0 == r1 == frames * (frames - 1) // 2
    assert c0.stats.frames_sent == frames and c1.stats.frames_recv == frames
    assert c0.stats.bytes_sent == frames * 32 and c0.stats.wire_bytes_sent == frames * (32 + wire.HEADER_BYTES)
    c0.close(), c1.close()


def test_open_is_ping_pong_packed_and_counted():
    ring = Ring(37)
    c0, c1 = Channel.pair(timeout_s=5)
    x = np.arange(1000, dtype=np.uint64)
    s0 = np.random.default_rng(0).integers(0, 2**37, 1000, dtype=np.uint64)
    s1 = ring.sub(x, s0)
    r0, r1 = run_parties(lambda: open_shares(c0, s0, 37), lambda: open_shares(c1, s1, 37))
    assert (r0 == x).all() and (r1 == x).all()
    assert c0.stats.bytes_sent == 8 * -(-1000 * 37 // 64) == c1.stats.bytes_sent
    assert c0.stats.rounds == c1.stats.rounds == 1
    d0, d1 = run_parties(lambda: open_shares(c0, s0, 37, duplex=True), lambda: open_shares(c1, s1, 37, duplex=True))
    assert (d0 == x).all() and (d1 == x).all()


def test_dead_peer_reported_within_timeout():
    c0, c1 = tcp_pair(timeout_s=0.5)
    t0 = time.monotonic()
    with pytest.raises(PeerError, match=r"no data from peer within 0\.5 s"):
        c0.recv()
    assert time.monotonic() - t0 < 3
    c1.close()
    with pytest.raises(PeerError, match="peer closed the connection"):
        c0.recv()


def test_handshake_refuses_config_mismatch():
    c0, c1 = tcp_pair()
    h0 = config_hash("bert-tiny", {"n_bits": 37}, "seed-a")
    h1 = config_hash("bert-tiny", {"n_bits": 37}, "seed-b")
    errs = []

    def side(c, h):
        try:
            c.handshake(h)
        except HandshakeError as e:
            errs.append(str(e))

    run_parties(lambda: side(c0, h0), lambda: side(c1, h1))
    assert len(errs) == 2 and all("configuration mismatch" in e for e in errs)
    a, b = Channel.pair(timeout_s=2)
    run_parties(lambda: a.handshake(h0), lambda: b.handshake(h0))  # equal configs pass


def test_corrupted_truncated_and_out_of_sequence_frames():
    a, b = socket.socketpair()
    rx = Channel(b, 1, timeout_s=1)
    payload = b"\x01" * 16
    good = wire.frame_header(1, 0, payload)
    a.sendall(good + payload[:-1] + b"\x02")
    with pytest.raises(wire.FrameError, match="checksum mismatch"):
        rx.recv()
    rx2 = Channel(*(lambda s: (s[1], 1))(pair := socket.socketpair()), timeout_s=1)
    pair[0].sendall(wire.frame_header(1, 5, payload) + payload)
    with pytest.raises(wire.FrameError, match="sequence number 5, expected 0"):
        rx2.recv()
    rx3 = Channel(*(lambda s: (s[1], 1))(pair3 := socket.socketpair()), timeout_s=1)
    pair3[0].sendall(b"XX" + good[2:])
    with pytest.raises(wire.FrameError, match="corrupted frame header"):
        rx3.recv()
    rx4 = Channel(*(lambda s: (s[1], 1))(pair4 := socket.socketpair()), timeout_s=1)
    pair4[0].sendall(good + payload[:5])
    pair4[0].close()
    with pytest.raises(PeerError, match="truncated frame"):
        rx4.recv()


def test_shaping_adds_latency():
    a, b = Channel.pair(timeout_s=2, latency_s=0.05, bandwidth_Bps=1e6)
    t0 = time.monotonic()
    run_parties(lambda: a.send(np.zeros(5000, np.uint64)), lambda: b.recv())
    assert time.monotonic() - t0 >= 0.05 + 40_000 / 1e6 * 0.9


def test_bad_addresses_and_parties():
    with pytest.raises(ValueError, match="not 'host:port'"):
        connect("localhost", 0.1)
    with pytest.raises(ValueError, match="party=2"):
        Channel(socket.socketpair()[0], 2)
    with pytest.raises(PeerError, match="could not connect"):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        connect(f"127.0.0.1:{port}", 0.3)


def test_bulk_message_is_pipelined_frames_with_seq_and_crc():
    a, b = Channel.pair(timeout_s=5, chunk_bytes=4096)
    data = np.random.default_rng(1).integers(0, 2**63, 5000, dtype=np.uint64)  # 40000 bytes -> 10 frames
    _, got = run_parties(lambda: a.send(data), lambda: b.recv_array())
    assert (got == data).all()
    assert a.stats.frames_sent == b.stats.frames_recv == 10 and a.stats.bytes_sent == b.stats.bytes_recv == 40000
    assert a.stats.wire_bytes_sent == 40000 + 10 * wire.HEADER_BYTES
    buf = np.empty(5000, np.uint64)
    seen = []
    _, got = run_parties(lambda: a.send(data), lambda: b.recv_array(out=buf, on_frame=lambda o, k: seen.append((o, k))))
    assert got.base is not None and (buf == data).all() and sorted(seen)[-1] == (36864, 3136) and len(seen) == 10
    with pytest.raises(wire.FrameError, match="exceeds the expected 39992 bytes"):
        run_parties(lambda: a.send(data), lambda: b.recv(out=np.empty(39992, np.uint8)))
    a.close(), b.close()


def test_corrupted_frame_inside_bulk_message_is_named():
    s0, s1 = socket.socketpair()
    rx = Channel(s1, 1, timeout_s=1, chunk_bytes=1 << 16)
    chunk = bytes(range(256)) * 256  # 64 KiB: checksums of these frames run on the pool
    frames = [wire.frame_header(1 | wire.FLAG_MORE, 0, chunk), chunk,
              wire.frame_header(1 | wire.FLAG_MORE, 1, chunk), chunk[:-1] + b"\x00",
              wire.frame_header(1, 2, chunk), chunk]
    t = __import__("threading").Thread(target=lambda: s0.sendall(b"".join(frames)))
    t.start()
    with pytest.raises(wire.FrameError, match="frame 1: payload checksum mismatch"):
        rx.recv(out=np.empty(3 * len(chunk), np.uint8))
    t.join()
    rx.close(), s0.close()


@pytest.mark.parametrize("n_bits,xor", [(64, False), (37, False), (1, True), (13, False)])
def test_chunked_open_reconstructs_per_frame(n_bits, xor, monkeypatch):
    import real_backend.channel as C

    monkeypatch.setattr(C, "POOL_CHECK_MIN", 1)  # every frame's checksum and reconstruction on the pool threads
    ring = Ring(n_bits)
    c0, c1 = Channel.pair(timeout_s=5, chunk_bytes=1000)  # frames of whole 64-value groups: 8*n bytes each
    x = np.random.default_rng(n_bits).integers(0, 2**n_bits, 3001, dtype=np.uint64)
    s0 = np.random.default_rng(7).integers(0, 2**n_bits, 3001, dtype=np.uint64)
    s1 = (x ^ s0) if xor else ring.sub(x, s0)
    for duplex in (False, True):
        r0, r1 = run_parties(partial(open_shares, c0, s0, n_bits, xor, duplex),
                             partial(open_shares, c1, s1, n_bits, xor, duplex))
        assert (r0 == x).all() and (r1 == x).all()
    assert c0.stats.frames_sent > (3 if n_bits > 1 else 1)


def test_open_survives_a_peer_that_cuts_frames_elsewhere():
    ring = Ring(37)
    c0, c1 = Channel.pair(timeout_s=5, chunk_bytes=1000)
    x = np.arange(2000, dtype=np.uint64) * np.uint64(12345) & ring.mask
    s0 = np.random.default_rng(3).integers(0, 2**37, 2000, dtype=np.uint64)
    s1 = ring.sub(x, s0)

    def odd_peer():  # ping-pong by hand, frames cut at 8-byte words, not at 64-value groups
        peer = c1.recv_array()
        c1.send(wire.pack(s1, 37), align=8)
        return peer

    r0, _ = run_parties(lambda: open_shares(c0, s0, 37), odd_peer)
    assert (r0 == x).all()


@pytest.mark.parametrize("n_bits", [1, 7, 8, 13, 31, 32, 37, 50, 63, 64])
def test_pack_matches_bitwise_reference(n_bits):
    for count in (0, 1, 63, 64, 65, 300):
        v = np.random.default_rng(count + n_bits).integers(0, 2**63, count, dtype=np.uint64) * np.uint64(3)
        ref = 0
        for i, x in enumerate(int(a) & ((1 << n_bits) - 1) for a in v):
            ref |= x << (i * n_bits)
        nw = wire.packed_words(count, n_bits)
        want = np.array([(ref >> (64 * k)) & (2**64 - 1) for k in range(nw)], dtype=np.uint64)
        got = wire.pack(v, n_bits)
        assert got.shape == (nw,) and (got == want).all()
        assert (wire.unpack(got, count, n_bits) == (v & Ring(n_bits).mask)).all()


def test_checksum_is_xxh3_64():
    import xxhash
    for payload in (b"", b"x" * 100, bytes(range(256)) * 40):
        assert wire.checksum(payload) == xxhash.xxh3_64_intdigest(payload)
    assert wire.checksum(b"abc") == 0x78AF5F94892F3950  # XXH3-64 of "abc", seed 0 (reference implementation)
    assert wire.checksum(memoryview(np.arange(600, dtype=np.uint64)).cast("B")) == wire.checksum(
        np.arange(600, dtype=np.uint64).tobytes())


def test_handshake_refuses_a_peer_of_the_old_wire_version():
    import struct
    import zlib
    a, b = socket.socketpair()
    rx = Channel(b, 1, timeout_s=2)
    hello = b'{"party": 0, "config": "abc"}'
    old = struct.pack("<2sBBQII", b"SF", 2, 2, 0, len(hello), zlib.crc32(hello))  # a version-2 peer's HELLO
    a.sendall(old + hello)
    with pytest.raises(HandshakeError, match="party 1: the peer speaks wire version 2, this side 3"):
        rx.handshake("abc")
    rx.close(), a.close()


def test_checksum_catches_every_single_word_change_and_swaps():
    rng = np.random.default_rng(7)
    payload = rng.integers(0, 2**63, size=4099, dtype=np.uint64).tobytes() + b"tail!"
    ref = wire.checksum(payload)
    assert wire.checksum(payload) == ref
    data = bytearray(payload)
    for pos in rng.integers(0, len(data), size=200):
        data[pos] ^= 1 << int(rng.integers(0, 8))
        assert wire.checksum(bytes(data)) != ref
        data[pos] = payload[pos]
    swapped = payload[8:16] + payload[:8] + payload[16:]
    assert wire.checksum(swapped) != ref
    assert wire.checksum(payload[:-1]) != ref


# -- the small-message path: header and payload in one read, bytes of the next frame kept, the receive spin --------
def _frame(seq, payload, ftype=1):
    return wire.frame_header(ftype, seq, payload) + payload


@pytest.mark.parametrize("spin_s", [0.0, 50e-6, 0.05])
def test_small_message_written_in_pieces_with_delays(spin_s):
    import threading

    a, b = socket.socketpair()
    rx = Channel(b, 1, timeout_s=2, spin_s=spin_s)
    msgs = [np.arange(1, dtype=np.uint64) + 7, np.arange(3, dtype=np.uint64) + 9, np.arange(2, dtype=np.uint64)]
    raw = b"".join(_frame(i, m.tobytes()) for i, m in enumerate(msgs))
    cuts = [0, 5, 23, 24, 27, 32, 40, 57, 60, len(raw)]  # inside headers, at their ends, inside payloads

    def writer():
        for lo, hi in itertools.pairwise(cuts):
            a.sendall(raw[lo:hi])
            time.sleep(0.02)

    t = threading.Thread(target=writer)
    t.start()
    out = np.empty(1, np.uint64)
    assert rx.recv_array(out=out)[0] == 7 and out[0] == 7
    assert (rx.recv_array() == msgs[1]).all()
    assert (rx.recv(out=np.empty(16, np.uint8)).view(np.uint64) == msgs[2]).all()
    t.join()
    assert rx.stats.frames_recv == 3 and rx.stats.bytes_recv == 48
    rx.close(), a.close()


def test_back_to_back_messages_in_one_read_keep_the_next_ones_bytes():
    a, b = socket.socketpair()
    rx = Channel(b, 1, timeout_s=2)
    big = bytes(range(256)) * 20  # 5120 bytes: over SMALL_READ, so the first read ends inside it
    more = 1 | wire.FLAG_MORE
    a.sendall(_frame(0, b"A" * 8) + _frame(1, b"B" * 16) + _frame(2, big) + _frame(3, b"C" * 8)
              # a message of three 8-byte frames, read into 24 bytes: the first read takes all three frames
              + _frame(4, b"d" * 8, more) + _frame(5, b"e" * 8, more) + _frame(6, b"f" * 8)
              + _frame(7, b"G" * 8) + _frame(8, b"H" * 8) + _frame(9, b"I" * 8))
    time.sleep(0.05)  # everything is in the receive buffer: an unbounded read would take it all
    assert rx.recv().tobytes() == b"A" * 8  # read ahead: takes B and more along
    assert rx.recv(out=np.empty(16, np.uint8)).tobytes() == b"B" * 16
    assert rx.recv().tobytes() == big
    assert rx.recv(out=np.empty(8, np.uint8)).tobytes() == b"C" * 8
    assert rx.recv(out=np.empty(24, np.uint8)).tobytes() == b"d" * 8 + b"e" * 8 + b"f" * 8
    # a message shorter than ``out``: the read took bytes of the next one, which must survive the error
    with pytest.raises(wire.FrameError, match="message of 8 bytes, expected 16"):
        rx.recv(out=np.empty(16, np.uint8))
    assert rx.recv().tobytes() == b"H" * 8
    # with ``out`` of the message's size the read stops at its end: the next frame is still in the socket
    assert rx.recv(out=np.empty(8, np.uint8)).tobytes() == b"I" * 8
    a.sendall(_frame(10, b"J" * 8) + _frame(11, b"K" * 8))
    time.sleep(0.05)
    assert rx.recv(out=np.empty(8, np.uint8)).tobytes() == b"J" * 8
    assert b.recv(100, socket.MSG_DONTWAIT) == _frame(11, b"K" * 8)
    assert rx.stats.frames_recv == 11
    rx.close(), a.close()


def test_corrupted_small_frame_read_in_one_call_is_named():
    a, b = socket.socketpair()
    rx = Channel(b, 1, timeout_s=1)
    frame = bytearray(_frame(0, b"\x05" * 8))
    frame[-1] ^= 0x10
    a.sendall(bytes(frame))
    with pytest.raises(wire.FrameError, match="frame 0: payload checksum mismatch"):
        rx.recv(out=np.empty(8, np.uint8))
    rx2 = Channel(*(lambda s: (s[1], 1))(pair := socket.socketpair()), timeout_s=1)
    pair[0].sendall(_frame(0, b"x" * 8, ftype=2))
    with pytest.raises(wire.FrameError, match="frame 0 has type 2, expected 1"):
        rx2.recv(out=np.empty(8, np.uint8))
    rx.close(), a.close(), rx2.close(), pair[0].close()


def _sent_once(c, peer):
    """Make ``c``'s receiving thread its sender (so its receives spin): one message to ``peer``, read there."""
    c.send(b"s" * 8)
    assert peer.recv().tobytes() == b"s" * 8


def test_silent_peer_times_out_after_timeout_s_spin_included():
    import threading

    c0, c1 = tcp_pair(timeout_s=0.5, spin_s=0.4)
    _sent_once(c0, c1)  # this thread sends and receives: it spins 0.4 s, then the kernel waits the other 0.1 s
    t0, cpu0 = time.monotonic(), time.thread_time()
    with pytest.raises(PeerError, match=r"no data from peer within 0\.5 s"):
        c0.recv(out=np.empty(8, np.uint8))
    assert 0.45 <= time.monotonic() - t0 < 0.8  # not 0.4 s more
    assert time.thread_time() - cpu0 > 0.1  # it spun
    # the last send came from another thread (a duplex exchange's sender): no spin, and the kernel waits 0.5 s
    th = threading.Thread(target=c0.send, args=(b"t" * 8,))
    th.start(), th.join()
    t0, cpu0 = time.monotonic(), time.thread_time()
    with pytest.raises(PeerError, match=r"no data from peer within 0\.5 s"):
        c0.recv(out=np.empty(8, np.uint8))
    assert 0.45 <= time.monotonic() - t0 < 0.8
    assert time.thread_time() - cpu0 < 0.05  # it did not spin
    assert c1.recv().tobytes() == b"t" * 8
    _sent_once(c0, c1)
    c1.send(b"u" * 8)
    assert c0.recv().tobytes() == b"u" * 8  # back to spinning, and still in step
    # a peer silent in the middle of a message: that read does not spin, and still waits the whole 0.5 s
    c1.sock.sendall(_frame(1, b"w" * 16)[:27])
    t0, cpu0 = time.monotonic(), time.thread_time()
    with pytest.raises(PeerError, match=r"no data from peer within 0\.5 s"):
        c0.recv(out=np.empty(16, np.uint8))
    assert 0.45 <= time.monotonic() - t0 < 0.8
    assert time.thread_time() - cpu0 < 0.05
    c0.close(), c1.close()


def test_closed_peer_during_the_spin_raises_at_once():
    import threading

    c0, c1 = tcp_pair(timeout_s=5, spin_s=2.0)
    _sent_once(c0, c1)
    threading.Timer(0.05, c1.close).start()
    t0 = time.monotonic()
    with pytest.raises(PeerError, match="peer closed the connection"):
        c0.recv(out=np.empty(8, np.uint8))
    assert time.monotonic() - t0 < 1.0  # well inside the spin
    a, b = socket.socketpair()
    rx = Channel(b, 1, timeout_s=5, spin_s=2.0)
    rx.send(b"v" * 8)  # rx's receives now spin
    assert a.recv(100) == _frame(0, b"v" * 8)  # read, or closing ``a`` would reset the connection
    a.sendall(_frame(0, b"z" * 8)[:27])

    def close_it():
        a.shutdown(socket.SHUT_WR)
        a.close()

    threading.Timer(0.05, close_it).start()
    t0 = time.monotonic()
    with pytest.raises(PeerError, match=r"truncated frame while receiving frame 0 \(27/32 bytes\)"):
        rx.recv(out=np.empty(8, np.uint8))
    assert time.monotonic() - t0 < 1.0
    a2, b2 = socket.socketpair()
    rx2 = Channel(b2, 1, timeout_s=5)
    a2.sendall(_frame(0, b"z" * 8)[:10])  # a part of the header only
    a2.close()
    with pytest.raises(PeerError, match=r"truncated frame while receiving frame 0 \(10/24 bytes\)"):
        rx2.recv(out=np.empty(8, np.uint8))
    c0.close(), rx.close(), rx2.close()


def test_spin_off_and_spin_values():
    with pytest.raises(ValueError, match="spin_s"):
        Channel(socket.socketpair()[0], 0, timeout_s=1, spin_s=-1e-6)
    with pytest.raises(ValueError, match="spin_s"):
        Channel(socket.socketpair()[0], 0, timeout_s=1, spin_s=1.0)
    for spin_s in (0.0, 100e-6):
        c0, c1 = tcp_pair(spin_s=spin_s)
        assert c0.spin_s == spin_s and c0.sock.gettimeout() is None  # blocking: the kernel times out

        def pp(c, first):
            buf = np.empty(1, np.uint64)
            for i in range(500):
                if first:
                    c.send(np.array([i], np.uint64))
                    assert c.recv_array(out=buf)[0] == i + 1
                else:
                    got = c.recv_array(out=buf)[0]
                    c.send(np.array([got + 1], np.uint64))
            return c.stats.frames_recv

        assert run_parties(partial(pp, c0, True), partial(pp, c1, False)) == (500, 500)
        c0.close(), c1.close()
