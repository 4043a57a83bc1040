"""Two-party self-test: ``python -m real_backend.selftest [--gpu] [--n-bits N] [--elems E]``.

The dealer (this process) makes keys for every gate and a Beaver matmul triple from one seed; two party
processes connect over TCP on 127.0.0.1, check each other's configuration, evaluate every gate on the public
masked inputs, open the masked outputs (ping-pong), and report. This process unmasks the opened outputs and
checks them against the plaintext functions. Exit status 0 when every check passes, 1 otherwise.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import pickle
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import beaver
from . import gates as G
from .channel import accept, config_hash, connect, listen
from .dealer import Dealer
from .opening import open_shares
from .ring import Ring
from .xp import convert_tree, module, to_numpy


@dataclass
class PartyRun:
    """What a party reports for one gate (or the Beaver matmul): the opened masked output and its online cost."""

    opened: np.ndarray
    time_s: float
    bytes_sent: int
    rounds: int


def build_gates(n: int, f: int) -> dict[str, tuple[G.Gate, int]]:
    """The gates of the self-test with their input bit widths."""
    lut_bits = min(13, n)
    xs = np.arange(1 << lut_bits)
    table = np.round(np.exp(-xs / 2**6) * 2**f).astype(np.int64)
    bps = [-(1 << (f + 2)), 0, 1 << (f + 2)] if n > f + 3 else [0]
    coeffs = np.arange((len(bps) + 1) * 2).reshape(-1, 2) * 3 - 4
    return {"drelu": (G.DReLU(n), n), "relu": (G.ReLU(n), n), "gapars": (G.GapARS(n, f), n),
            "trfloor": (G.TrFloor(n, f), n), "lut": (G.LUT(lut_bits, n, table), lut_bits),
            "poly": (G.PiecewisePoly(n, bps, coeffs, n), n), "select": (G.Select(n), n), "b2a": (G.B2A(n), n)}


def plaintext(name: str, gate: G.Gate, x: Any, n: int, f: int) -> Any:
    """Expected outputs (signed int64 or bits) for input x (signed int64; for select/b2a a (bits, x) pair)."""
    if name == "drelu":
        return (x >= 0).astype(np.uint64)
    if name == "relu":
        return np.maximum(x, 0)
    if name in ("gapars", "trfloor"):
        return x >> f
    if name == "lut":
        return Ring(n).to_signed(gate.table[x])
    if name == "poly":
        breakpoints = [p - (1 << (n - 1)) for p in gate.shifted]
        return Ring(n).to_signed(gate.coeffs[np.searchsorted(breakpoints, x, side="right")].T)
    if name == "select":
        return x[0].astype(np.int64) * x[1]
    return x.astype(np.int64)  # b2a


def _party(party: int, blob: bytes, port_q: Any, out_q: Any, timeout_s: float) -> None:
    job = pickle.loads(blob)
    n, xp = job["n"], module(job["gpu"])
    try:
        if party == 0:
            srv = listen("127.0.0.1:0")
            port_q.put(srv.getsockname()[1])
            chan = accept(srv, timeout_s)
            srv.close()
        else:
            chan = connect(f"127.0.0.1:{port_q.get(timeout=timeout_s)}", timeout_s)
        chan.handshake(job["cfg"])
        report: dict[str, PartyRun] = {}
        for name, (gate, key, hatx) in job["gates"].items():
            key, hatx = convert_tree(key, xp), convert_tree(hatx, xp)
            b0, r0, t0 = chan.stats.bytes_sent, chan.stats.rounds, time.perf_counter()
            share = gate.eval(party, key, hatx)
            if name == "lut":
                uv = open_shares(chan, share, n)
                share = gate.finish(party, key, uv)
            opened = open_shares(chan, share, 1 if name == "drelu" else n, xor=name == "drelu")
            report[name] = PartyRun(to_numpy(opened), time.perf_counter() - t0, chan.stats.bytes_sent - b0,
                                    chan.stats.rounds - r0)
        tri, x, w = convert_tree(job["beaver"], xp)
        b0, t0 = chan.stats.bytes_sent, time.perf_counter()
        e, f = beaver.mask(tri, x, w, n)
        ef = open_shares(chan, xp.concatenate([e.reshape(-1), f.reshape(-1)]), n)
        z = beaver.finalise(tri, ef[: e.size].reshape(e.shape), ef[e.size:].reshape(f.shape), n)
        report["beaver_matmul"] = PartyRun(to_numpy(open_shares(chan, z, n)), time.perf_counter() - t0,
                                           chan.stats.bytes_sent - b0, 2)
        chan.close()
        out_q.put((party, report, None))
    except Exception as e:  # reported to the parent, which exits non-zero
        out_q.put((party, None, f"{type(e).__name__}: {e}"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpu", action="store_true", help="dealer and parties on CuPy")
    ap.add_argument("--n-bits", type=int, default=37, help="ring bit width (default 37)")
    ap.add_argument("--frac-bits", type=int, default=12, help="fixed-point fraction bits (default 12)")
    ap.add_argument("--elems", type=int, default=4096, help="elements per gate (default 4096)")
    ap.add_argument("--seed", type=int, default=1, help="dealer seed")
    ap.add_argument("--timeout-s", type=float, default=60.0, help="per-receive timeout")
    a = ap.parse_args(argv)
    n, f, m = a.n_bits, a.frac_bits, a.elems
    if not 16 <= n <= 64 or not 1 <= f <= n - 4 or m < 1:
        print(f"error: need 16 <= --n-bits <= 64 (got {n}), 1 <= --frac-bits <= n-4 (got {f}), --elems >= 1 (got {m})",
              file=sys.stderr)
        return 2
    dealer = Dealer(a.seed, use_gpu=a.gpu)
    xp, ring, rng = dealer.xp, Ring(n), np.random.default_rng(a.seed)
    lim = 1 << (n - 3)
    x = rng.integers(-lim, lim, m)
    x[:4] = [0, -1, lim - 1, -lim]
    bits = rng.integers(0, 2, m).astype(np.uint64)
    jobs: list[dict] = [{}, {}]
    expect, masks = {}, {}
    for name, (gate, in_bits) in build_gates(n, f).items():
        keys = gate.keygen(dealer, m)
        if name == "select":
            inp = (bits, x)
            hatx = (bits ^ to_numpy(keys.r_in[0]), ring.add(ring.from_signed(x), to_numpy(keys.r_in[1])))
        elif name == "b2a":
            inp, hatx = bits, bits ^ to_numpy(keys.r_in)
        else:
            inp = x & ((1 << in_bits) - 1) if name == "lut" else x
            hatx = Ring(in_bits).add(Ring(in_bits).from_signed(np.asarray(inp)), to_numpy(keys.r_in))
        expect[name], masks[name] = plaintext(name, gate, inp, n, f), to_numpy(keys.r_out)
        for p, k in enumerate(keys):
            jobs[p][name] = (gate, convert_tree(k, np), hatx)
    shp = (max(1, m // 64), 64, 32)
    xa, wa = ring.from_signed(rng.integers(-100, 100, shp[:2])), ring.from_signed(rng.integers(-100, 100, shp[1:]))
    t0, t1 = beaver.triples(dealer, "matmul", shp[:2], shp[1:], n)
    x0 = rng.integers(0, 2**63, shp[:2], dtype=np.uint64) & ring.mask
    w0 = rng.integers(0, 2**63, shp[1:], dtype=np.uint64) & ring.mask
    bvr = [(t0, x0, w0), (t1, ring.sub(xa, x0), ring.sub(wa, w0))]
    cfg = config_hash("selftest", {"n_bits": n, "frac_bits": f, "elems": m, "gpu": a.gpu}, dealer.seed_id)
    ctx = mp.get_context("spawn")
    port_q, out_q = ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=_party, args=(p, pickle.dumps({"n": n, "gpu": a.gpu, "cfg": cfg, "gates": jobs[p],
             "beaver": convert_tree(bvr[p], np)}), port_q, out_q, a.timeout_s)) for p in (0, 1)]
    for pr in procs:
        pr.start()
    results: dict[int, Any] = {}
    failed = False
    for _ in procs:
        party, rep, err = out_q.get(timeout=a.timeout_s * 4)
        results[party] = rep
        if err:
            print(f"party {party} failed: {err}", file=sys.stderr)
            failed = True
    for pr in procs:
        pr.join(a.timeout_s)
    if failed:
        return 1
    rows, ok_all = [], True
    for name, (gate, _) in build_gates(n, f).items():
        r0, r1 = results[0][name], results[1][name]
        opened = r0.opened
        got = (opened ^ masks[name]) if name == "drelu" else ring.to_signed(ring.sub(opened, masks[name]))
        ok = bool((r0.opened == r1.opened).all() and (got == expect[name]).all())
        ok_all &= ok
        rows.append((name, ok, r0.time_s, r0.bytes_sent, r0.rounds, gate.key_bytes_per_elem(),
                     gate.prg_calls_per_elem(), dealer.stats[gate.kind].time_s))
    bm = results[0]["beaver_matmul"]
    ok = bool((ring.to_signed(bm.opened) == ring.to_signed(beaver.matmul(xa, wa, ring))).all())
    ok_all &= ok
    rows.append((f"beaver_matmul {shp[0]}x{shp[1]}x{shp[2]}", ok, bm.time_s, bm.bytes_sent, bm.rounds, float("nan"), 0,
                 dealer.stats["beaver_matmul"].time_s))
    print(f"real_backend selftest: n={n} f={f} elems={m} array module={xp.__name__} dealer seed id={dealer.seed_id}")
    print(f"{'gate':<26}{'ok':>4}{'online_s (P0)':>15}{'bytes_sent (P0)':>17}{'rounds':>8}{'key_B/elem':>12}"
          f"{'prg/elem':>10}{'keygen_s':>10}")
    for name, ok, ts, bs, rd, kb, pc, kg in rows:
        print(f"{name:<26}{'yes' if ok else 'NO':>4}{ts:>15.4f}{bs:>17}{rd:>8}{kb:>12.1f}{pc:>10}{kg:>10.4f}")
    print("ALL CHECKS PASSED" if ok_all else "SOME CHECKS FAILED")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
