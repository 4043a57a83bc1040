"""nExp/Recip/GeLU interval kernel on the element-major key: unsorted vs sorted at the gate's shared_low_bits bit."""
import cupy as cp
import numpy as np
from real_backend_bench import cuda_median

from real_backend import kernels
from real_backend.dealer import Dealer
from real_backend.gates.poly import PiecewisePoly
from simflush.tasks import gates as tg
from simflush.tasks.lut_pieces import gate_pieces

n, N = 48, 393216
for name, g in (("nExp", tg.NEXP), ("Recip", tg.RECIP), ("GeLUConst", tg.GELU_CONST)):
    (breaks, rows), _ = gate_pieces(g, 12, n)
    gate = PiecewisePoly(n, list(breaks), np.array(rows, dtype=np.int64), n, fold=2)
    key = gate.keygen(Dealer(1, use_gpu=True), N).key0
    ik = kernels.interval_key(key.parts["dcf"])
    hatx = cp.asarray(np.random.default_rng(0).integers(0, 2**n, N, dtype=np.uint64))
    *t, _ = gate.kernel_tables(cp)
    bit = max(0, min(n - 10, gate.shared_low_bits))
    res = []
    for b in (None, bit):
        def call(b=b, ik=ik, hatx=hatx, t=t, rout=key.parts["rout"]):
            return kernels.interval_eval(ik, hatx, *t, b, rout, n)

        res.append(1e3 * cuda_median(call, reps=5, warm=1))
    print(f"{name:10s} m={gate.m:4d} sort_bit={bit:3d} unsorted {res[0]:7.2f} ms  sorted {res[1]:7.2f} ms", flush=True)
