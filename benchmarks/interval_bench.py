"""The interval gate on the GPU: the fused kernel (paths shared between breakpoints; elements in batch order, or sorted
so that a warp's threads restart alike) against one DCF walk per point.

    python benchmarks/interval_bench.py [--elems 393216] [--gates GeLUConst,nExp]

CUDA-event medians of 5 evaluations after a warm-up, one party; prints ChaCha calls per element for each way.
"""

import argparse

import numpy as np
from real_backend_bench import cuda_median

from real_backend import dcf, kernels
from real_backend.dealer import Dealer
from real_backend.gates.poly import PiecewisePoly
from real_backend.ring import Ring
from simflush.tasks import gates as task_gates
from simflush.tasks.lut_pieces import gate_pieces

GATES = {"GeLUConst": task_gates.GELU_CONST, "nExp": task_gates.NEXP, "Recip": task_gates.RECIP,
         "RsqrtInit": task_gates.RSQRT_INIT}


def per_point(gate: PiecewisePoly, key, hatx, cp):
    """The points' DCF values one walk each (the kernel before the shared walk), in chunks of 2^20 points."""
    ring = Ring(gate.n_bits)
    y = ring.add(hatx, np.uint64(1 << (gate.n_bits - 1)))
    points = [y] + [ring.sub(y, np.uint64(q)) for q in gate.shifted]
    per_chunk = max(1, (1 << 20) // hatx.size)
    for start in range(0, len(points), per_chunk):
        chunk = points[start:start + per_chunk]
        kernels.dcf_lt(dcf.tile(key, len(chunk)) if len(chunk) > 1 else key, cp.concatenate(chunk))


def main() -> None:
    import cupy as cp

    p = argparse.ArgumentParser()
    p.add_argument("--elems", type=int, default=393216)
    p.add_argument("--gates", default="GeLUConst,nExp")
    p.add_argument("--n-bits", type=int, default=48)
    args = p.parse_args()
    n, N = args.n_bits, args.elems
    print(f"{'gate':10s} {'m':>5s} {'per point ms':>13s} {'fused, unsorted':>14s} {'fused, sorted ms':>15s} "
          f"{'speed-up':>9s}   ({N} elements, n={n})")
    for name in args.gates.split(","):
        (breaks, rows), _ = gate_pieces(GATES[name], 12, n)
        gate = PiecewisePoly(n, list(breaks), np.array(rows, dtype=np.int64), n)
        key = gate.keygen(Dealer(1, use_gpu=True), N).key0
        hatx = cp.asarray(np.random.default_rng(0).integers(0, 2**n, N, dtype=np.uint64))
        old = 1e3 * cuda_median(lambda g=gate, k=key, h=hatx: per_point(g, k.parts["dcf"], h, cp), reps=2, warm=1)
        *tables, sort_bit = gate.kernel_tables(cp)

        def walk(bit, k=key, h=hatx, t=tables):
            return kernels.interval_eval(k.parts["dcf"], h, *t, bit, k.parts["rout"], n)

        fused = [1e3 * cuda_median(lambda b=bit: walk(b), reps=5, warm=1) for bit in (None, sort_bit)]
        print(f"{name:10s} {gate.m:5d} {old:13.2f} {fused[0]:14.2f} {fused[1]:15.2f} {old / fused[1]:8.1f}x")


if __name__ == "__main__":
    main()
