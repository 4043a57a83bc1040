"""The interval gate on the GPU: the fused kernel (paths shared between breakpoints; elements in batch order, or sorted
so that a warp's threads restart alike) against one DCF walk per point; and the kernel's cost over a grid.

    python benchmarks/interval_bench.py [--elems 393216] [--gates GeLUConst,nExp] [--folds 0,2] [--json OUT]
    python benchmarks/interval_bench.py --grid --out FILE.jsonl [--n-bits 48] [--fold 0]

CUDA-event medians of 5 evaluations after a warm-up, one party, for each interval fold (knob ``interval_fold``);
prints the ChaCha calls an element's walk makes and what the ``real-h200`` profile's kernel fit
(``CostModel.interval_gate_s``, fitted on the fold-0 grid) predicts for it.
``--grid``: the fused kernel (as a PFSS job runs it: sorted where the gate sorts) on synthetic breakpoint sets of
three shapes (consecutive integers; 64 apart, which gets a truth-table leaf from 64 points; spread at random over the
line) with 16, 256 and 4,096 points, and on SUF's coefficient gates, at element counts from 128 to 196,608; a JSON
line each with the ChaCha calls an element's walk makes (``simflush.tasks.interval_walk``) and the seconds (median of
3 after a warm-up). What ``simflush calibrate --interval-bench`` reads for the cost of gates the traces lack.
"""

import argparse
import json
import time

import numpy as np
from real_backend_bench import cuda_median

from real_backend import dcf, kernels
from real_backend.dealer import Dealer
from real_backend.gates.poly import PiecewisePoly
from real_backend.ring import Ring
from simflush.sim.cost import load_cost
from simflush.tasks import gates as task_gates
from simflush.tasks.lut_pieces import gate_pieces

GATES = {"GeLUConst": task_gates.GELU_CONST, "nExp": task_gates.NEXP, "Recip": task_gates.RECIP,
         "RsqrtInit": task_gates.RSQRT_INIT, "RsqrtInitValue": task_gates.RSQRT_INIT_VALUE}


def per_point(gate: PiecewisePoly, key, hatx, cp):
    """The points' DCF values one walk each (the kernel before the shared walk), in chunks of 2^20 points."""
    ring = Ring(gate.n_bits)
    y = ring.add(hatx, np.uint64(1 << (gate.n_bits - 1)))
    points = [y] + [ring.sub(y, np.uint64(q)) for q in gate.shifted]
    per_chunk = max(1, (1 << 20) // hatx.size)
    for start in range(0, len(points), per_chunk):
        chunk = points[start:start + per_chunk]
        kernels.dcf_lt(dcf.tile(key, len(chunk)) if len(chunk) > 1 else key, cp.concatenate(chunk))


GRID_POINTS = (16, 256, 4096)
GRID_ELEMS = (128, 1536, 12288, 49152, 196608)
GRID_MAX_CALLS = 6e9   # a grid cell of more ChaCha calls (elements x calls an element) is skipped: ~0.3 s a run


def synthetic_breaks(shape: str, m: int, n_bits: int) -> list[int]:
    if shape == "consecutive":
        return list(range(-(m // 2), m - m // 2))
    if shape == "spaced64":
        return [64 * i for i in range(-(m // 2), m - m // 2)]
    half = 1 << (n_bits - 1)
    return sorted({int(v) for v in np.random.default_rng(m).integers(-half, half, m)})


def grid_gates(n_bits: int):
    """(label, breakpoints, rows) of every grid gate: the synthetic shapes, then SUF's coefficient gates."""
    for shape in ("consecutive", "spaced64", "random"):
        for m in GRID_POINTS:
            breaks = synthetic_breaks(shape, m, n_bits)
            yield f"{shape}-{m}", breaks, np.arange(len(breaks) + 1, dtype=np.int64)[:, None]
    for name, gate in GATES.items():
        (breaks, rows), _ = gate_pieces(gate, 12, n_bits)
        yield name, list(breaks), np.array(rows, dtype=np.int64)


def grid(n_bits: int, out: str, fold: int = 0) -> None:
    """One JSON line per (gate, elements) to ``out``: the kernel's CUDA-event median and the walk's calls."""
    import cupy as cp

    dealer = Dealer(1, use_gpu=True)
    card = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    with open(out, "a") as fh:
        for label, breaks, rows in grid_gates(n_bits):
            gate = PiecewisePoly(n_bits, breaks, rows, n_bits, fold=fold)
            calls = gate.walk_calls_per_elem()
            for N in GRID_ELEMS:
                if N * calls > GRID_MAX_CALLS:
                    continue
                start = time.perf_counter()
                key = gate.keygen(dealer, N).key0
                hatx = cp.asarray(np.random.default_rng(N).integers(0, 2**n_bits, N, dtype=np.uint64))
                tables = gate.kernel_tables(cp)
                walked = kernels.interval_key(key.parts["dcf"])   # the layout a run's tape load makes
                s = cuda_median(lambda k=walked, h=hatx, t=tables, o=key.parts["rout"]: kernels.interval_eval(
                    k, h, *t, o, n_bits), reps=3, warm=1)
                row = {"gate": label, "n_bits": n_bits, "points": gate.m, "leaf_bits": gate.leaf_bits,
                       "fold": gate.leaf_fold, "elements": N, "calls_per_elem": calls, "seconds": s, "card": card}
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                print(f"{label:16s} m={row['points']:5d} leaf={gate.leaf_bits} N={N:7d} calls={calls:9.1f} "
                      f"{s * 1e3:9.3f} ms  ({time.perf_counter() - start:.1f} s)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--elems", type=int, default=393216)
    p.add_argument("--gates", default="GeLUConst,nExp")
    p.add_argument("--n-bits", type=int, default=48)
    p.add_argument("--folds", default="0,2")
    p.add_argument("--json", help="write the table's rows here (JSON lines, with the card)")
    p.add_argument("--grid", action="store_true")
    p.add_argument("--fold", type=int, default=0, help="--grid: the fold its gates are built with")
    p.add_argument("--out", default="interval_grid.jsonl")
    args = p.parse_args()
    if args.grid:
        return grid(args.n_bits, args.out, args.fold)
    import cupy as cp

    n, N = args.n_bits, args.elems
    card = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    cost = load_cost("real-h200")
    print(f"{'gate':10s} {'fold':>4s} {'m':>4s} {'calls':>7s} {'per point ms':>13s} {'fused, unsorted':>15s} "
          f"{'fused, sorted ms':>16s} {'model ms':>9s}   ({N} elements, n={n}, {card})")
    for name in args.gates.split(","):
        (breaks, rows), _ = gate_pieces(GATES[name], 12, n)
        for fold in (int(f) for f in args.folds.split(",")):
            gate = PiecewisePoly(n, list(breaks), np.array(rows, dtype=np.int64), n, fold=fold)
            calls = gate.walk_calls_per_elem()
            key = gate.keygen(Dealer(1, use_gpu=True), N).key0
            hatx = cp.asarray(np.random.default_rng(0).integers(0, 2**n, N, dtype=np.uint64))
            old = 1e3 * cuda_median(lambda g=gate, k=key, h=hatx: per_point(g, k.parts["dcf"], h, cp), reps=2, warm=1)
            *tables, sort_bit = gate.kernel_tables(cp)
            walked = kernels.interval_key(key.parts["dcf"])   # the layout a run's tape load makes

            def walk(bit, k=walked, h=hatx, t=tables, o=key.parts["rout"]):
                return kernels.interval_eval(k, h, *t, bit, o, n)

            fused = [1e3 * cuda_median(lambda b=bit: walk(b), reps=5, warm=1) for bit in (None, sort_bit)]
            model = 1e3 * sum(cost.interval_gate_s(calls, gate.m, N))
            print(f"{name:10s} {fold:4d} {gate.m:4d} {calls:7.1f} {old:13.2f} {fused[0]:15.2f} {fused[1]:16.2f} "
                  f"{model:9.2f}", flush=True)
            if args.json:
                with open(args.json, "a") as fh:
                    fh.write(json.dumps({"gate": name, "fold": fold, "points": gate.m, "calls_per_elem": calls,
                                         "elements": N, "n_bits": n, "per_point_ms": old, "unsorted_ms": fused[0],
                                         "sorted_ms": fused[1], "model_ms": model, "card": card}) + "\n")


if __name__ == "__main__":
    main()
