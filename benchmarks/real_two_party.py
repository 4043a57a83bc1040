"""Both parties for real on one machine (NumPy, or one GPU with --gpu): keygen, online time, key bytes, and checks.

    python benchmarks/real_two_party.py --model bert-tiny --layers 2 [--seq-len 128] [--gpu] [--repeat 2] [--json OUT]

It deals both tapes, runs the two parties side by side in this process, and checks that the reconstructed output
equals the plaintext fixed-point run (``simflush.plain``, on NumPy) bit for bit and that both parties' flushes equal
the simulated schedule. Figures go in docs/real_backend.md with the card they came from.
"""

import argparse
import json
import time

import numpy as np

from models.specs import get_model
from models.weights import random_hidden_states, random_weights
from real_backend.dealer import Dealer
from real_backend.twoparty import run_two_party
from simflush.plain.layer import plaintext_output
from simflush.profiles import resolve
from simflush.sim.schedule import flush_schedule
from simflush.tasks.values import FixedPoint


def model_arguments(p: argparse.ArgumentParser) -> None:
    """The options of a real run's benchmark (this one's and ``real_profile``'s)."""
    p.add_argument("--model", default="bert-tiny")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--n-bits", type=int, default=48)
    p.add_argument("--set", action="append", default=[], metavar="K=V", help="a runtime knob (repeatable)")
    p.add_argument("--gpu", action="store_true")
    p.add_argument("--json")


def model_setup(args: argparse.Namespace):
    """The model, ring, settings, random weights and input, and array module that those options name."""
    spec = get_model(args.model)
    fixed = FixedPoint(args.n_bits, spec.frac_bits)
    settings = resolve("suf-gpu-bench", spec, dict(pair.split("=", 1) for pair in args.set))
    weights, x = random_weights(spec, 0, args.layers), random_hidden_states(spec, args.seq_len, 0)
    xp = np
    if args.gpu:
        import cupy as xp
    return spec, fixed, settings, weights, x, xp


def main() -> None:
    p = argparse.ArgumentParser()
    model_arguments(p)
    p.add_argument("--repeat", type=int, default=2, help="deal and run this many times; the last run is reported")
    args = p.parse_args()
    spec, fixed, settings, weights, x, xp = model_setup(args)
    online = []
    for _ in range(args.repeat):   # the first run also allocates the GPU memory pool: report the last
        dealer = Dealer(b"benchmark seed (fixed: a benchmark, not a deployment)", use_gpu=args.gpu)
        start = time.perf_counter()
        run = run_two_party(spec, weights, x, settings, fixed, args.layers, dealer, xp=xp)
        total = time.perf_counter() - start
        online.append([p.online_s for p in run.parties])
    output = xp.asnumpy(run.output) if args.gpu else run.output
    bit_exact = bool(np.array_equal(output, plaintext_output(spec, weights, x, settings, fixed, args.layers)))
    schedule = flush_schedule(spec, args.seq_len, 1, settings, args.layers)
    doc = {"model": spec.name, "knobs": args.set, "seq_len": args.seq_len, "layers": args.layers, "n_bits": args.n_bits,
           "gpu": args.gpu, "keygen_s": run.keygen_s, "online_s": online[-1], "online_s_every_run": online,
           "total_s": total, "key_bytes_per_party": list(run.key_bytes), "bit_exact": bit_exact,
           "schedule_equal": [p.schedule == schedule for p in run.parties], "flushes": len(schedule)}
    if args.gpu:
        import cupy
        doc["card"] = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print(json.dumps(doc))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=2)


if __name__ == "__main__":
    main()
