"""GPU benchmark of real_backend at 2^20 elements (run on a GPU machine).

Usage: python benchmarks/real_backend_bench.py [--out DIR] [--elems N]
       python benchmarks/real_backend_bench.py --net-only [--profile] [--out DIR] [--chunk-bytes B] [--check-threads T]
                                              [--spin-us S]
       python benchmarks/real_backend_bench.py --net-only --libraries   (one process: frame checksum candidates,
                                                                      dealer ChaCha20 stream on both CPU paths)
       python benchmarks/real_backend_bench.py --gpu-open [--out DIR] [--n-bits 37] [--words 1048576] [--label L]
                                              [--spin-us S]
                                              (opens of CuPy shares, two processes over loopback, one GPU)
Writes bench.jsonl (net.jsonl for --net-only, gpu_open.jsonl for --gpu-open) to DIR and prints a table. --net-only
needs no GPU. Kernel times: CUDA events, median of repeats after warm-up, over fresh keys generated on the GPU (the
kernels are re-run on one key batch: the one-time check lives in the gate layer).
"""
from __future__ import annotations

import argparse
import faulthandler
import json
import multiprocessing as mp
import os
import queue
import socket
import sys
import threading
import time
import zlib
from functools import partial

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from real_backend import beaver, gpu_wire, kernels, wire
from real_backend import gates as G
from real_backend.channel import SPIN_S, accept, connect, listen
from real_backend.dealer import Dealer
from real_backend.opening import ChannelOpen, exchange, open_shares
from real_backend.ring import Ring
from real_backend.xp import get_xp


def cuda_median(fn, reps=20, warm=3):
    import cupy as cp

    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        a, b = cp.cuda.Event(), cp.cuda.Event()
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(cp.cuda.get_elapsed_time(a, b) / 1e3)
    return float(np.median(ts))


OPEN_WORDS = 1 << 20  # the "8 MB open": 2^20 uint64 words = 8 MiB = 8,388,608 bytes sent by each party


def _timed(fn, reps, warm=2):
    ts = []
    for i in range(reps + warm):
        t0 = time.perf_counter()
        fn()
        if i >= warm:
            ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def _raw_recv_into(sock, mv):
    got = 0
    while got < len(mv):
        k = sock.recv_into(mv[got:])
        if k == 0:
            raise EOFError("peer closed")
        got += k


def _raw_small_pp(sock, party, reps, spin_s=0.0):
    """Median round trip of an 8-byte ping-pong on ``sock`` (the socket floor of a 1-word open): sendall and a
    blocking recv_into with no Python timeout (one syscall each); with ``spin_s``, non-blocking receives for up to
    that long before the blocking one (what ``Channel(spin_s=...)`` does)."""
    saved = sock.gettimeout()
    sock.settimeout(None)
    msg, buf = np.zeros(1, dtype=np.uint64), bytearray(8)
    mv_msg, mv_buf = memoryview(msg).cast("B"), memoryview(buf)

    def recv():
        if spin_s:
            end = time.perf_counter() + spin_s
            while True:
                try:
                    if sock.recv_into(mv_buf, 8, socket.MSG_DONTWAIT) == 8:
                        return
                    break  # a partial read (never seen on loopback): the blocking loop below finishes it
                except BlockingIOError:
                    if time.perf_counter() >= end:
                        break
        _raw_recv_into(sock, mv_buf)

    def pp():
        if party == 0:
            sock.sendall(mv_msg)
            recv()
        else:
            recv()
            sock.sendall(mv_msg)

    try:
        return _timed(pp, reps, warm=50)
    finally:
        sock.settimeout(saved)


def _channel(party, port_q, **chan_kw):
    """Party 0 listens on a free loopback port and tells party 1 on ``port_q``."""
    if party == 0:
        srv = listen("127.0.0.1:0")
        port_q.put(srv.getsockname()[1])
        return accept(srv, 30, **chan_kw)
    return connect(f"127.0.0.1:{port_q.get()}", 30, **chan_kw)


def _two_processes(target, args, timeout_s):
    """Run ``target(party, port_q, res_q, *args)`` as party 0 and party 1 (spawned); party 0's result. A party still
    running after ``timeout_s`` prints every thread's stack and exits, and the bench stops with an error."""
    ctx = mp.get_context("spawn")
    pq, rq = ctx.Queue(), ctx.Queue()
    ps = [ctx.Process(target=_guarded, args=(target, timeout_s, p, pq, rq, *args)) for p in (0, 1)]
    for p in ps:
        p.start()
    try:
        res = dict(rq.get(timeout=timeout_s + 5) for _ in ps)
    except queue.Empty:
        raise SystemExit(f"error: a bench party did not finish in {timeout_s} s (its stacks are above)") from None
    finally:
        for p in ps:
            p.join(timeout=10)
    return res[0]


def _guarded(target, timeout_s, *args):
    faulthandler.dump_traceback_later(timeout_s, exit=True)
    target(*args)


def _net_party(party, port_q, res_q, words, reps, profile, chan_kw):
    ch = _channel(party, port_q, **chan_kw)
    big = np.arange(words, dtype=np.uint64)
    small = np.arange(1, dtype=np.uint64)
    n37 = np.arange(words, dtype=np.uint64) & np.uint64(2**37 - 1)
    out = {}
    out["open_8MB"] = _timed(lambda: open_shares(ch, big, 64), reps["open_8MB"])
    out["open_1word"] = _timed(lambda: open_shares(ch, small, 64), reps["open_1word"])
    small_out = np.empty(1, dtype=np.uint64)
    out["exchange_1word"] = _timed(lambda: exchange(ch, small, out=small_out), reps["open_1word"])
    out["raw_socket_pp_8B"] = _raw_small_pp(ch.sock, party, reps["open_1word"])
    out["raw_socket_pp_8B_spin"] = _raw_small_pp(ch.sock, party, reps["open_1word"], SPIN_S)
    out["open_8MB_duplex"] = _timed(lambda: open_shares(ch, big, 64, duplex=True), reps["open_8MB"])
    out["open_1M_words_37bit_packed"] = _timed(lambda: open_shares(ch, n37, 37), 5)
    if profile:
        # Breakdown: the same 8 MiB ping-pong with one cost at a time.
        sock = ch.sock
        rbuf = np.empty(words, dtype=np.uint64)
        mv_big, mv_buf = memoryview(big).cast("B"), memoryview(rbuf).cast("B")

        def raw_pp():
            if party == 0:
                sock.sendall(mv_big)
                _raw_recv_into(sock, mv_buf)
            else:
                _raw_recv_into(sock, mv_buf)
                sock.sendall(mv_big)

        def raw_duplex():
            th = threading.Thread(target=sock.sendall, args=(mv_big,))
            th.start()
            _raw_recv_into(sock, mv_buf)
            th.join()

        out["raw_socket_pp"] = _timed(raw_pp, reps["open_8MB"])
        out["raw_socket_duplex"] = _timed(raw_duplex, reps["open_8MB"])
        real_check = wire.checksum
        wire.checksum = lambda b: 0  # counterfactual: frames without the integrity check (both ends agree on 0)
        try:
            out["open_8MB_no_check"] = _timed(lambda: open_shares(ch, big, 64), reps["open_8MB"])
            out["open_8MB_duplex_no_check"] = _timed(lambda: open_shares(ch, big, 64, duplex=True), reps["open_8MB"])
        finally:
            wire.checksum = real_check
        # single-process costs of the pieces (this party alone, while the peer does the same)
        res = np.empty_like(big)
        out["crc32_8MiB"] = _timed(lambda: zlib.crc32(mv_big), 5)
        out["checksum_8MiB"] = _timed(lambda: wire.checksum(mv_big), 5)
        out["reconstruct_add_8MiB"] = _timed(lambda: np.add(big, rbuf, out=res), 5)
        out["pack_37bit_1M"] = _timed(lambda: wire.pack(n37, 37), 3)
        packed = wire.pack(n37, 37)
        out["unpack_37bit_1M"] = _timed(lambda: wire.unpack(packed, words, 37), 3)
    ch.close()
    res_q.put((party, out))


def net_bench(profile=False, words=OPEN_WORDS, reps=None, **chan_kw):
    """Two processes over 127.0.0.1; returns party 0's median times (s).

    Per direction (GB/s) = bytes one party sends (8 MiB) / wall time of the whole open on party 0, from the call of
    ``open_shares`` to its return (packing, both directions, checksums and the reconstruction included). Small
    messages: ``small_open_rtt`` is the 1-word ``open_shares``, ``exchange_1word`` the channel's ping-pong of one word
    alone (``exchange`` into a reused buffer), ``raw_socket_pp_8B`` the floor under both (8 bytes each way on the same
    socket, blocking sendall / recv_into, no frame), ``raw_socket_pp_8B_spin`` that floor with the channel's default
    spin (``channel.SPIN_S``)."""
    reps = reps or {"open_8MB": 20, "open_1word": 2000}
    return _two_processes(_net_party, (words, reps, profile, chan_kw), 300)


def net_row(net):
    nb = 8 * OPEN_WORDS
    row = {"kind": "net", "open_8MB_s": net["open_8MB"], "per_direction_GBps": nb / net["open_8MB"] / 1e9,
           "small_open_rtt_s": net["open_1word"], "exchange_1word_s": net["exchange_1word"],
           "raw_socket_pp_8B_s": net["raw_socket_pp_8B"], "raw_socket_pp_8B_spin_s": net["raw_socket_pp_8B_spin"],
           "open_8MB_duplex_s": net["open_8MB_duplex"],
           "duplex_per_direction_GBps": nb / net["open_8MB_duplex"] / 1e9,
           "open_1M_words_37bit_s": net["open_1M_words_37bit_packed"],
           "note": "two processes over 127.0.0.1; ping-pong (SUF) and duplex (both send at once); "
                   "per direction = 8 MiB one party sends / wall time of the whole open (party 0, median)"}
    for k in ("raw_socket_pp", "raw_socket_duplex", "open_8MB_no_check", "open_8MB_duplex_no_check", "crc32_8MiB",
              "checksum_8MiB",
              "reconstruct_add_8MiB", "pack_37bit_1M", "unpack_37bit_1M"):
        if k in net:
            row[k + "_s"] = net[k]
    return row


def print_net(row):
    nb = 8 * OPEN_WORDS
    print(f"{'what':34s} {'ms':>8s} {'GB/s/dir':>9s}")
    for k, v in row.items():
        if k.endswith("_s") and isinstance(v, float):
            small = v < 1e-3
            rate = "" if small or not ("8MB" in k or "raw_socket" in k) else f"{nb / v / 1e9:9.2f}"
            print(f"{k:34s} {v * 1e3:8.3f} {rate or (f'{v * 1e6:6.1f} µs' if small else '')}")


def checksum_bench(sizes=(8 << 20, 4 << 10)):
    """Seconds per call of the frame checksum (``wire.checksum``, XXH3-64) and the standard alternatives, one
    core: best of 5 batches (a batch of calls adds up to about 0.1 s)."""
    import timeit

    candidates = {"xxh3_64 (wire.checksum)": wire.checksum, "zlib.crc32": zlib.crc32}
    try:
        import google_crc32c

        candidates["crc32c (google-crc32c)"] = google_crc32c.value  # takes bytes only: given bytes below
    except ImportError:
        pass
    rows = []
    for size in sizes:
        data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
        for name, fn in candidates.items():
            number = max(1, int(0.1 / max(size / 2e9, 1e-7)))
            t = min(timeit.repeat(partial(fn, data), number=number, repeat=5)) / number
            rows.append({"kind": "checksum", "what": name, "bytes": size, "s": t, "GBps": size / t / 1e9})
    return rows


def dealer_stream_bench(sizes=(4 << 20, 256 << 10, 4 << 10)):
    """Seconds per ``RandomStream.words32`` draw of ``sizes`` bytes on the CPU: the ``cryptography`` (OpenSSL)
    ChaCha20 and the NumPy block function, which give the same words. Best of 5 batches of about 0.1 s."""
    import timeit

    from real_backend import rng

    rows = []
    paths = (("cryptography", True), ("numpy", False)) if rng.HAVE_LIBRARY_CHACHA else (("numpy", False),)
    saved = rng.HAVE_LIBRARY_CHACHA
    try:
        for name, library in paths:
            rng.HAVE_LIBRARY_CHACHA = library
            for size in sizes:
                stream = rng.RandomStream(rng.seed_words(1), 0)
                draw = partial(stream.words32, size // 4)
                number = max(1, int(0.1 / timeit.timeit(draw, number=1)))
                t = min(timeit.repeat(draw, number=number, repeat=5)) / number
                rows.append({"kind": "dealer_stream", "what": name, "bytes": size, "s": t, "MBps": size / t / 1e6})
    finally:
        rng.HAVE_LIBRARY_CHACHA = saved
    return rows


def net_main(argv=None):
    ap = argparse.ArgumentParser(description="network part only (no GPU needed)")
    ap.add_argument("--out", default=".")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--chunk-bytes", type=int, default=None)
    ap.add_argument("--check-threads", type=int, default=None)
    ap.add_argument("--spin-us", type=float, default=None, help="the channels' receive spin (Channel spin_s), µs")
    ap.add_argument("--label", default="")
    ap.add_argument("--libraries", action="store_true",
                    help="only time the frame checksum candidates and the dealer stream's two CPU paths")
    a = ap.parse_args(argv)
    if a.libraries:
        for r in checksum_bench():
            print(f"checksum {r['what']:26s} {r['bytes']:>8d} B {r['s'] * 1e6:10.2f} µs {r['GBps']:7.2f} GB/s")
        for r in dealer_stream_bench():
            print(f"dealer stream {r['what']:21s} {r['bytes']:>8d} B {r['s'] * 1e6:10.2f} µs {r['MBps']:7.0f} MB/s")
        return
    spin = None if a.spin_us is None else a.spin_us * 1e-6
    kw = {k: v for k, v in (("chunk_bytes", a.chunk_bytes), ("check_threads", a.check_threads), ("spin_s", spin))
          if v is not None}
    row = net_row(net_bench(profile=a.profile, **kw))
    row.update({"cpus": os.cpu_count(), "label": a.label, **kw})
    with open(os.path.join(a.out, "net.jsonl"), "a") as fh:
        fh.write(json.dumps(row) + "\n")
    print(f"cpus: {os.cpu_count()}  {a.label} {kw}")
    print_net(row)


SMALL_OPEN_TARGET_S, BIG_OPEN_TARGET_S = 80e-6, 8e-3   # issue 13: a 1-word round trip; 2^20 words at 37 bits
SWEEP_WORDS = (16, 256, 4096, 65536)   # opens of these sizes timed too


def _gpu_open_party(party, port_q, res_q, words, n_bits, reps, chan_kw):
    """One party of ``gpu_open_bench``: the opens (both parties), then the pieces alone (party 0; party 1 waits)."""
    import cupy as cp

    ch = _channel(party, port_q, **chan_kw)
    mask = Ring(n_bits).mask
    share = (cp.arange(words, dtype=cp.uint64) * cp.uint64(0x9E3779B97F4A7C15 + party)) & mask
    small = share[:1].copy()
    opener = ChannelOpen(ch)   # small opens zero-copy (gpu_wire.ZERO_COPY_MAX_BYTES)
    copier = ChannelOpen(ch, staging=gpu_wire.Staging(zero_copy_max=0))   # every open through the two copies
    out = {}

    def opens(x, count, through=opener):
        rows = []
        for i in range(count + 3):
            t0 = time.perf_counter()
            done = through(x, n_bits)
            cp.cuda.get_current_stream().synchronize()   # the public words on the GPU (the open queues their unpack)
            if i >= 3:
                rows.append((time.perf_counter() - t0, done.pack_s, done.comm_s))
        return [float(np.median(c)) for c in zip(*rows, strict=True)]

    out["open_s"], out["open_pack_s"], out["open_comm_s"] = opens(share, reps)
    out["small_open_s"], out["small_open_pack_s"], out["small_open_comm_s"] = opens(small, 100 * reps)
    out["copied_small_open_s"], out["copied_small_open_pack_s"], _ = opens(small, 100 * reps, copier)
    out["zero_copy_max_bytes"] = opener.staging.zero_copy_max
    out["zero_copy_unmapped"] = opener.staging.unmapped   # why the small opens were copied after all, or None
    for size in SWEEP_WORDS:   # from the small open's fixed cost to the per-byte one
        out[f"open_{size}_s"] = opens(share[:size].copy(), 5 * reps)[0]
    host_share = cp.asnumpy(share)
    out["host_open_s"] = _timed(lambda: open_shares(ch, host_share, n_bits), 5)   # the NumPy path, packed on the host
    staging = gpu_wire.Staging(zero_copy_max=0)   # the pieces are the copies, at any --words
    packed = gpu_wire.pack(share, n_bits)
    host = staging.down(packed)
    recv = staging.receive_buffer(host.nbytes)
    out["socket_s"] = _timed(lambda: exchange(ch, host, out=recv), reps)   # the packed bytes, host to host
    if party == 0:
        theirs = recv.view(np.uint64)
        dev = staging.up(theirs)
        out["pack_kernel_s"] = cuda_median(lambda: gpu_wire.pack(share, n_bits), reps)
        out["d2h_s"] = cuda_median(lambda: staging.down(packed), reps)
        out["h2d_s"] = cuda_median(lambda: staging.up(theirs), reps)
        out["unpack_add_s"] = cuda_median(lambda: gpu_wire.unpack(dev, words, n_bits, mine=share), reps)
    exchange(ch, np.zeros(1, dtype=np.uint64))   # party 1 waits here while party 0 times the pieces
    ch.close()
    res_q.put((party, out))


def gpu_open_bench(words=OPEN_WORDS, n_bits=37, reps=20, **chan_kw):
    """Opens of CuPy shares between two processes over 127.0.0.1 on one GPU (``opening.ChannelOpen``): party 0's
    medians (s) of the whole open (from the call to the public words on the GPU) for ``words`` words and for one
    word, of its ``pack_s`` / ``comm_s`` split, of the one-word open through the copies too (``copied_small_*``:
    ``gpu_wire.Staging(zero_copy_max=0)``; the default one is zero-copy), of today's host-packed open of the same
    words, and of the pieces
    (CUDA events, party 0 alone): pack kernel, D2H into pinned memory, H2D, unpack + add kernel; the socket piece is
    the exchange of the packed bytes between pinned host buffers (both parties)."""
    return _two_processes(_gpu_open_party, (words, n_bits, reps, chan_kw), 120)


def gpu_open_main(argv=None):
    ap = argparse.ArgumentParser(description="opens of CuPy shares on one GPU, two processes over loopback")
    ap.add_argument("--out", default=".")
    ap.add_argument("--n-bits", type=int, default=37)
    ap.add_argument("--words", type=int, default=OPEN_WORDS)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--label", default="")
    ap.add_argument("--spin-us", type=float, default=None, help="the channels' receive spin (Channel spin_s), µs")
    a = ap.parse_args(argv)
    try:
        import cupy as cp
    except ImportError:
        raise SystemExit("error: --gpu-open needs CuPy and a GPU") from None
    chan_kw = {} if a.spin_us is None else {"spin_s": a.spin_us * 1e-6}
    card = cp.cuda.runtime.getDeviceProperties(0)["name"]
    row = {"kind": "gpu_open", "card": card.decode() if isinstance(card, bytes) else card, "cpus": os.cpu_count(),
           "n_bits": a.n_bits, "words": a.words, "packed_bytes": 8 * wire.packed_words(a.words, a.n_bits),
           "label": a.label, "spin_us": a.spin_us, **gpu_open_bench(a.words, a.n_bits, a.reps, **chan_kw)}
    with open(os.path.join(a.out, "gpu_open.jsonl"), "a") as fh:
        fh.write(json.dumps(row) + "\n")
    print(f"card: {row['card']}  cpus: {row['cpus']}  {a.words} words at {a.n_bits} bits "
          f"({row['packed_bytes']} bytes a party)  {a.label}")
    if row["zero_copy_unmapped"]:
        print(f"zero-copy off (the small opens were copied): {row['zero_copy_unmapped']}")
    checks = {"open_s": BIG_OPEN_TARGET_S, "small_open_s": SMALL_OPEN_TARGET_S,
              "copied_small_open_s": SMALL_OPEN_TARGET_S}
    for k, v in row.items():
        if k.endswith("_s"):
            verdict = "" if k not in checks else "met" if v <= checks[k] else "MISSED"
            target = f"  target <= {checks[k] * 1e3:g} ms: {verdict}" if verdict else ""
            print(f"{k:24s} {v * 1e3:9.3f} ms{target}")


def _plain_matmul(a, b, ring):
    """The reference for split-K: one uint64 matmul, reduced."""
    return ring.reduce(get_xp(a, b).matmul(a, b))


def _short(v):
    """A row value for the printed table: floats rounded (small) or in 4 significant digits (large)."""
    if not isinstance(v, float):
        return v
    return round(v, 6) if v < 1e3 else f"{v:.4g}"


def main():
    ap = argparse.ArgumentParser(description="GPU benchmark of real_backend (--net-only: the channel, no GPU)")
    ap.add_argument("--out", default=".")
    ap.add_argument("--elems", type=int, default=1 << 20)
    a = ap.parse_args()
    try:
        import cupy as cp
    except ImportError:
        raise SystemExit("error: this benchmark needs CuPy and a GPU (--net-only runs without them)") from None
    N = a.elems
    props = cp.cuda.runtime.getDeviceProperties(0)
    card = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    rows = [{"kind": "env", "card": card, "sms": props["multiProcessorCount"], "cupy": cp.__version__,
             "numpy": np.__version__, "elems": N}]
    dealer = Dealer(5, use_gpu=True)
    rng = cp.random.default_rng(0)

    def drelu_case(n, rounds=12):
        g = G.DReLU(n, rounds)
        keys = g.keygen(dealer, N)
        hat = (rng.integers(0, 2**62, N, dtype=cp.uint64) & Ring(n).mask).astype(cp.uint64)
        k = keys.key0.parts
        t = cuda_median(lambda: kernels.dpf_lt(k["dpf"], hat, n - 1, c=k["c"], msb_shift=n - 1))
        return {"kind": "eval", "gate": f"drelu{n}", "rounds": rounds, "s": t, "evals_per_s": N / t,
                "prg_calls_per_elem": g.prg_calls_per_elem(), "key_bytes_per_elem": g.key_bytes_per_elem()}

    for n, ref in ((37, 1.42e9), (50, 0.87e9)):
        r = drelu_case(n)
        r["ratio_to_reference_walk"] = r["evals_per_s"] / ref
        rows.append(r)
    rows.append(drelu_case(37, 20))
    for n in (37,):
        g = G.DReLU(n)
        g.keygen(dealer, N)
        ts = []
        for _ in range(5):
            with dealer.timed() as tm:
                g.keygen(dealer, N)
            ts.append(tm.seconds)
        t = float(np.median(ts))
        rows.append({"kind": "keygen", "gate": f"drelu{n}", "s": t, "keys_per_s": N / t})
    # DCF-based gates: time the fused DCF walks they launch.
    dcf_gates = (("relu37", G.ReLU(37), 37), ("trfloor50_s12", G.TrFloor(50, 12), 50),
                 ("gapars50_s12", G.GapARS(50, 12), 50))
    for name, gate, n in dcf_gates:
        keys = gate.keygen(dealer, N)
        hat = rng.integers(0, 2**62, N, dtype=cp.uint64) & Ring(n).mask
        t = cuda_median(partial(gate._eval, 0, keys.key0, hat, keys.key0.parts), reps=10)
        rows.append({"kind": "eval", "gate": name, "s": t, "evals_per_s": N / t,
                     "prg_calls_per_elem": gate.prg_calls_per_elem(), "key_bytes_per_elem": gate.key_bytes_per_elem(),
                     "note": "whole gate incl. CuPy epilogue ops"})
    for b in (8, 13):
        tab = np.random.default_rng(b).integers(0, 2**37, 1 << b)
        g = G.LUT(b, 37, tab)
        keys = g.keygen(dealer, N)
        hat = rng.integers(0, 1 << b, N, dtype=cp.uint64)
        ctab = cp.asarray(g.table)
        t = cuda_median(partial(kernels.lut_eval, keys.key0.parts["dpf"], hat, ctab, 37), reps=5, warm=1)
        rows.append({"kind": "eval", "gate": f"lut{b}", "s": t, "evals_per_s": N / t,
                     "prg_calls_per_elem": g.prg_calls_per_elem(), "key_bytes_per_elem": g.key_bytes_per_elem()})
    ring = Ring(50)
    for m, k, n in ((128, 768, 768), (128, 3072, 768), (128, 768, 3072)):
        A = rng.integers(0, 2**62, (m, k), dtype=cp.uint64) & ring.mask
        B = rng.integers(0, 2**62, (k, n), dtype=cp.uint64) & ring.mask
        t = cuda_median(partial(beaver.matmul, A, B, ring))
        t0 = cuda_median(partial(_plain_matmul, A, B, ring))
        rows.append({"kind": "matmul", "shape": f"{m}x{k}x{n}", "s_splitk": t, "s_plain": t0})
    rows.append(net_row(net_bench(profile=True)))
    with open(os.path.join(a.out, "bench.jsonl"), "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    print(f"card: {card}  elems: {N}")
    for r in rows[1:]:
        print(json.dumps({k: _short(v) for k, v in r.items()}))


if __name__ == "__main__":
    if "--net-only" in sys.argv:
        net_main([x for x in sys.argv[1:] if x != "--net-only"])
    elif "--gpu-open" in sys.argv:
        gpu_open_main([x for x in sys.argv[1:] if x != "--gpu-open"])
    else:
        main()
