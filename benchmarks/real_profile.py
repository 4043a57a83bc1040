"""Where one party's online time goes on the real backend: per gate, opens, matmuls and the rest.

    python benchmarks/real_profile.py --model bert-base --layers 1 [--seq-len 128] [--gpu] [--set K=V]

It deals both tapes, then runs party 0 alone against an echo peer (each exchange gets this party's own words back):
the values are meaningless but the work is the online run's, kernel for kernel, and no second party shares the GPU.
Each gate evaluation and each open is timed after a device sync. The gaps between them (the local work) are split
into the host's part, queueing that work (its Python and kernel launches), and the sync's wait for the GPU to finish
it: a large host part says the gaps are host-bound, a large wait that they are the GPU's (the host part also holds
the few milliseconds before the party's online clock starts, when it puts the layers' weights on the device).
Prints one table (ms) and, with --json, writes it.
"""

import argparse
import cProfile
import json
import pstats
import time
from collections import defaultdict

from real_two_party import model_arguments, model_setup

from real_backend import context as real_context
from real_backend.dealer import Dealer
from real_backend.twoparty import deal, run_party, share_input


def main() -> None:
    p = argparse.ArgumentParser()
    model_arguments(p)
    p.add_argument("--repeat", type=int, default=2, help="online runs (the first compiles the kernels)")
    p.add_argument("--cprofile", metavar="TXT", help="write the last run's cProfile (by own time) here")
    args = p.parse_args()
    spec, fixed, settings, weights, x, xp = model_setup(args)
    sync = xp.cuda.Device().synchronize if args.gpu else (lambda: None)
    timers: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    evaluate = real_context.RealContext.evaluate

    gaps = {"host": 0.0, "wait": 0.0}   # between timed items: the host queueing work, then waiting for the GPU
    last_end = [0.0]

    def settle() -> float:
        """End the gap since the last timed item: its host part, then the wait for the GPU to finish what the host
        queued in it (on NumPy no wait). Returns when the timed item may start."""
        entry = time.perf_counter()
        sync()
        synced = time.perf_counter()
        gaps["host"] += entry - last_end[0]
        gaps["wait"] += synced - entry
        return synced

    def timed(name, work):
        start = settle()
        out = work()
        sync()
        last_end[0] = time.perf_counter()
        timers[name] += last_end[0] - start
        counts[name] += 1
        return out

    def timed_evaluate(self, stream, gate, hatx):
        return timed(f"gate {gate.name}", lambda: evaluate(self, stream, gate, hatx))

    real_context.RealContext.evaluate = timed_evaluate
    rows = []
    for rep in range(args.repeat):
        dealer = Dealer(b"profile seed (fixed: a benchmark)", use_gpu=args.gpu)
        tapes = deal(spec, weights, settings, fixed, 1, args.seq_len, args.layers, dealer)
        share = share_input(x, fixed, xp)[0]
        timers.clear()
        counts.clear()
        gaps.update(host=0.0, wait=0.0)

        def echo(mine):
            return timed("open (echo copy)", mine.copy)

        profiler = cProfile.Profile() if args.cprofile and rep == args.repeat - 1 else None
        sync()
        last_end[0] = time.perf_counter()
        if profiler:
            profiler.enable()
        result = run_party(0, spec, weights, share, settings, fixed, 1, args.seq_len, args.layers, tapes[0], echo, xp)
        settle()
        if profiler:
            profiler.disable()
            with open(args.cprofile, "w") as fh:
                for order in ("tottime", "cumulative"):
                    pstats.Stats(profiler, stream=fh).sort_stats(order).print_stats(70)
                pstats.Stats(profiler, stream=fh).sort_stats("tottime").print_callers(25)
        rows = sorted(timers.items(), key=lambda kv: -kv[1])
        total = result.online_s   # the layers' weights are loaded before the party's online clock starts
        print(f"run {rep}: online {total * 1e3:.1f} ms, flushes {len(result.records)}")
    doc = {"model": spec.name, "seq_len": args.seq_len, "layers": args.layers, "gpu": args.gpu, "knobs": args.set,
           "online_ms": total * 1e3, "profile_ms": {k: v * 1e3 for k, v in result.profile.items()},
           "timers_ms": {k: v * 1e3 for k, v in rows}, "counts": dict(counts),
           "between_timed_ms": {k: v * 1e3 for k, v in gaps.items()}}
    if args.gpu:
        doc["card"] = xp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    accounted = sum(v for _, v in rows) + result.profile.get("matmul_ns", 0.0)
    print(f"{'what':28s} {'calls':>6s} {'ms':>9s}")
    for k, v in rows:
        print(f"{k:28s} {counts[k]:6d} {v * 1e3:9.2f}")
    print(f"{'matmul (runner)':28s} {'':6s} {result.profile.get('matmul_ns', 0.0) * 1e3:9.2f}")
    print(f"{'rest (local ops, Python)':28s} {'':6s} {(total - accounted) * 1e3:9.2f}")
    print(f"{'  between timed: host':28s} {'':6s} {gaps['host'] * 1e3:9.2f}   (Python, launches; matmuls in)")
    print(f"{'  between timed: GPU wait':28s} {'':6s} {gaps['wait'] * 1e3:9.2f}   (waiting for what it queued)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=2)


if __name__ == "__main__":
    main()
