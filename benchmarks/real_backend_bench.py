"""GPU benchmark of real_backend at 2^20 elements (run on a GPU machine).

Usage: python benchmarks/real_backend_bench.py [--out DIR] [--elems N]
Writes bench.jsonl to DIR and prints a table. Kernel times: CUDA events, median of repeats after warm-up, over
fresh keys generated on the GPU (the kernels are re-run on one key batch: the one-time check lives in the gate layer).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from real_backend import beaver, kernels  # noqa: E402
from real_backend import gates as G  # noqa: E402
from real_backend.channel import accept, connect, listen  # noqa: E402
from real_backend.dealer import Dealer  # noqa: E402
from real_backend.opening import open_shares  # noqa: E402
from real_backend.ring import Ring  # noqa: E402


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


def _net_party(party, port_q, res_q, words, reps):
    if party == 0:
        srv = listen("127.0.0.1:0")
        port_q.put(srv.getsockname()[1])
        ch = accept(srv, 30)
    else:
        ch = connect(f"127.0.0.1:{port_q.get()}", 30)
    big = np.arange(words, dtype=np.uint64)
    small = np.arange(1, dtype=np.uint64)
    out = {}
    for name, arr, n in (("open_8MB", big, 64), ("open_1word", small, 64)):
        ts = []
        for i in range(reps[name] + 2):
            t0 = time.perf_counter()
            open_shares(ch, arr, n)
            if i >= 2:
                ts.append(time.perf_counter() - t0)
        out[name] = float(np.median(ts))
    ts = []
    for i in range(reps["open_8MB"] + 2):
        t0 = time.perf_counter()
        open_shares(ch, big, 64, duplex=True)
        if i >= 2:
            ts.append(time.perf_counter() - t0)
    out["open_8MB_duplex"] = float(np.median(ts))
    ts = []
    n37 = np.arange(words, dtype=np.uint64) & np.uint64(2**37 - 1)
    for i in range(7):
        t0 = time.perf_counter()
        open_shares(ch, n37, 37)
        if i >= 2:
            ts.append(time.perf_counter() - t0)
    out["open_1M_words_37bit_packed"] = float(np.median(ts))
    ch.close()
    res_q.put((party, out))


def net_bench():
    ctx = mp.get_context("spawn")
    pq, rq = ctx.Queue(), ctx.Queue()
    words = 1 << 20
    reps = {"open_8MB": 20, "open_1word": 2000}
    ps = [ctx.Process(target=_net_party, args=(p, pq, rq, words, reps)) for p in (0, 1)]
    for p in ps:
        p.start()
    res = dict(rq.get(timeout=300) for _ in ps)
    for p in ps:
        p.join()
    return res[0]


def main():
    import cupy as cp

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=".")
    ap.add_argument("--elems", type=int, default=1 << 20)
    a = ap.parse_args()
    N = a.elems
    props = cp.cuda.runtime.getDeviceProperties(0)
    card = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    rows = [{"kind": "env", "card": card, "sms": props["multiProcessorCount"], "cupy": cp.__version__, "numpy": np.__version__, "elems": N}]
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
        rows.append({"kind": "keygen", "gate": f"drelu{n}", "s": float(np.median(ts)), "keys_per_s": N / float(np.median(ts))})
    # DCF-based gates: time the fused DCF walks they launch.
    for name, gate, n in (("relu37", G.ReLU(37), 37), ("trfloor50_s12", G.TrFloor(50, 12), 50), ("gapars50_s12", G.GapARS(50, 12), 50)):
        keys = gate.keygen(dealer, N)
        hat = rng.integers(0, 2**62, N, dtype=cp.uint64) & Ring(n).mask
        t = cuda_median(lambda: gate._eval(0, keys.key0, hat, keys.key0.parts), reps=10)
        rows.append({"kind": "eval", "gate": name, "s": t, "evals_per_s": N / t, "prg_calls_per_elem": gate.prg_calls_per_elem(),
                     "key_bytes_per_elem": gate.key_bytes_per_elem(), "note": "whole gate incl. CuPy epilogue ops"})
    for b in (8, 13):
        tab = np.random.default_rng(b).integers(0, 2**37, 1 << b)
        g = G.LUT(b, 37, tab)
        keys = g.keygen(dealer, N)
        hat = rng.integers(0, 1 << b, N, dtype=cp.uint64)
        ctab = cp.asarray(g.table)
        t = cuda_median(lambda: kernels.lut_eval(keys.key0.parts["dpf"], hat, ctab, 37), reps=5, warm=1)
        rows.append({"kind": "eval", "gate": f"lut{b}", "s": t, "evals_per_s": N / t, "prg_calls_per_elem": g.prg_calls_per_elem(),
                     "key_bytes_per_elem": g.key_bytes_per_elem()})
    ring = Ring(50)
    for m, k, n in ((128, 768, 768), (128, 3072, 768), (128, 768, 3072)):
        A = rng.integers(0, 2**62, (m, k), dtype=cp.uint64) & ring.mask
        B = rng.integers(0, 2**62, (k, n), dtype=cp.uint64) & ring.mask
        t = cuda_median(lambda: beaver.matmul(A, B, ring))
        t0 = cuda_median(lambda: ring.reduce(cp.matmul(A, B)))
        rows.append({"kind": "matmul", "shape": f"{m}x{k}x{n}", "s_splitk": t, "s_plain": t0})
    net = net_bench()
    rows.append({"kind": "net", "open_8MB_s": net["open_8MB"], "per_direction_GBps": 8 * 2**20 / net["open_8MB"] / 1e9,
                 "small_open_rtt_s": net["open_1word"],
                 "open_8MB_duplex_s": net["open_8MB_duplex"], "duplex_per_direction_GBps": 8 * 2**20 / net["open_8MB_duplex"] / 1e9, "open_1M_words_37bit_s": net["open_1M_words_37bit_packed"],
                 "note": "two processes over loopback TCP; ping-pong (SUF) and duplex (both send at once); per direction = 8 MiB / open time"})
    with open(os.path.join(a.out, "bench.jsonl"), "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    print(f"card: {card}  elems: {N}")
    for r in rows[1:]:
        print(json.dumps({k: (round(v, 6) if isinstance(v, float) and v < 1e3 else (f"{v:.4g}" if isinstance(v, float) else v)) for k, v in r.items()}))


if __name__ == "__main__":
    main()
