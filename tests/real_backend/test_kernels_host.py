"""The FSS kernels' CUDA source run on the host (``g++`` with a shim for the CUDA names it uses), one thread after
another, against the array code: CI has no GPU, so this is where a change to the interval walk (shared prefixes,
the folded leaf's reused block), the DCF walk or a gate's fused epilogue (GapARS, TrFloor, ReLU) is checked before
device time. The ``gpu`` tests run the same kernels on a device."""

import ctypes
from itertools import pairwise

import numpy as np
import pytest
from conftest import host_library, pointer

from real_backend import dcf, engine, kernels
from real_backend.dealer import Dealer
from real_backend.gates import GapARS, ReLU, TrFloor
from real_backend.gates.poly import PiecewisePoly
from real_backend.ring import Ring
from real_backend.rng import RandomStream, seed_words
from real_backend.tape import Tape, TapeEntry
from simflush.tasks import gates as task_gates
from simflush.tasks.interval_walk import PATH_LEVELS, leaf_index
from simflush.tasks.lut_pieces import gate_pieces

SHIM = r"""
#include <cstdint>
struct dim { long long x; };
static dim blockIdx, threadIdx, blockDim = {1};
struct uint4 { unsigned int x, y, z, w; };
static inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return uint4{a, b, c, d}; }
static inline int __clzll(unsigned long long v) { return v ? __builtin_clzll(v) : 64; }
static inline int __clz(unsigned v) { return v ? __builtin_clz(v) : 32; }
static inline int __popc(unsigned v) { return __builtin_popcount(v); }
static inline int __ffs(unsigned v) { return __builtin_ffs(v); }
template <typename T> static inline T __ldg(const T* p) { return *p; }
#define __global__
#define __device__
#define __forceinline__ inline
#include "kernels.cu"
/* every thread of a launch, one after another */
extern "C" void run_interval(const uint4* root, const uint4* levels, const u64* leaf, const u64* hatx,
                             const long long* order, const u64* shifted, const u64* dcoef, const u64* first,
                             const u64* rout, int n_bits, int leaf_bits, int fold, int keep, int m1, int r,
                             u64 out_mask, int party, int rounds, u64* out, long long n) {
  for (blockIdx.x = 0; blockIdx.x < n + 2; ++blockIdx.x)
    interval_eval(root, levels, leaf, hatx, order, shifted, dcoef, first, rout, n_bits, leaf_bits, fold, keep, m1, r,
                  out_mask, party, rounds, out, n);
}
#define THREADS(call) for (blockIdx.x = 0; blockIdx.x < n + 2; ++blockIdx.x) call
#define KEY const uint4* root, const uint4* scw, const unsigned char* tr, const u64* vcw, const u64* fcw
extern "C" void run_gapars(KEY, const u64* hatx, const u64* R, const u64* W, const u64* rout, int n_bits, int shift,
                           int party, int rounds, u64* out, long long n) {
  THREADS(gapars_eval(root, scw, tr, vcw, fcw, hatx, R, W, rout, n_bits, shift, party, rounds, out, n));
}
extern "C" void run_trfloor(KEY, const uint4* d_root, const uint4* d_scw, const unsigned char* d_tr, const u64* d_vcw,
                            const u64* d_fcw, const u64* hatx, const u64* R, const u64* R1s, const u64* rout,
                            int n_bits, int shift, int party, int rounds, u64* out, long long n) {
  THREADS(trfloor_eval(root, scw, tr, vcw, fcw, d_root, d_scw, d_tr, d_vcw, d_fcw, hatx, R, R1s, rout, n_bits, shift,
                       party, rounds, out, n));
}
extern "C" void run_relu(KEY, const u64* hatx, const u64* r, const u64* r1, const u64* r1r, const u64* rout,
                         int n_bits, int party, int rounds, u64* out, long long n) {
  THREADS(relu_eval(root, scw, tr, vcw, fcw, hatx, r, r1, r1r, rout, n_bits, party, rounds, out, n));
}
extern "C" void run_dcf(const uint4* root, const uint4* scw, const unsigned char* tr, const u64* vcw, const u64* fcw,
                        const u64* xs, int n_bits, int leaf_bits, int fold, int k, u64 out_mask, int party, int rounds,
                        u64* out, long long n) {
  for (blockIdx.x = 0; blockIdx.x < n + 2; ++blockIdx.x)
    dcf_lt(root, scw, tr, vcw, fcw, xs, n_bits, leaf_bits, fold, k, out_mask, party, rounds, out, n);
}
"""


@pytest.fixture(scope="module")
def host_kernels(tmp_path_factory):
    return host_library(tmp_path_factory, {"kernels.cu": kernels._SRC}, SHIM)




def _key_arrays(key):
    return [key.root, key.scw, key.tr, key.vcw, key.fcw]


def _interval_on_host(lib, gate, key, hatx):
    shifted, dcoef, first, keep, _ = gate.kernel_tables(np)
    n = key.n_elems
    r = first.shape[1]
    out = np.full((r, n), 0xDEADBEEF, dtype=np.uint64)
    k = kernels.interval_key(key.parts["dcf"])
    order = np.random.default_rng(n).permutation(n)   # threads take elements out of order, as sorted on a GPU
    arrays = [k.root, k.levels, k.leaf, hatx, order, shifted, dcoef, first, key.parts["rout"]]
    lib.run_interval(*[pointer(a) for a in arrays], ctypes.c_int(gate.n_bits), ctypes.c_int(k.leaf_bits),
                     ctypes.c_int(k.leaf_fold), ctypes.c_int(keep), ctypes.c_int(len(gate.shifted)), ctypes.c_int(r),
                     ctypes.c_uint64((1 << gate.out_bits) - 1 if gate.out_bits < 64 else 2**64 - 1),
                     ctypes.c_int(key.party), ctypes.c_int(k.rounds), pointer(out), ctypes.c_longlong(n))
    return out


def _check_interval(lib, breaks, rows, fold, spread, seed, name):
    """The kernel's shares of a 48-bit interval gate at every breakpoint, one below it, the line's ends and 200
    random points in [-spread, spread) are the array code's bit for bit, and they reconstruct x's row; returns the
    gate and its masked inputs."""
    n = 48
    ring = Ring(n)
    gate = PiecewisePoly(n, list(breaks), np.array(rows, dtype=np.int64), n, fold=fold)
    bps = np.array(breaks, dtype=np.int64)
    xs = np.concatenate([bps, bps - 1, [-(1 << (n - 1)), (1 << (n - 1)) - 1, 0, -1],
                         np.random.default_rng(fold).integers(-spread, spread, 200)])
    keys = gate.keygen(Dealer(seed), xs.size)
    hat = ring.add(ring.from_signed(xs), keys.r_in)
    outs = []
    for key in (keys.key0, keys.key1):
        got = _interval_on_host(lib, gate, key, hat)
        assert (got == gate.eval(key.party, key, hat)).all(), f"{name} fold {fold} party {key.party}"
        outs.append(got)
    recon = ring.sub(ring.add(outs[0], outs[1]), keys.r_out)
    want = ring.from_signed(np.array(rows, dtype=np.int64))[np.searchsorted(bps, xs, side="right")].T
    assert (recon == want).all(), f"{name} fold {fold}"
    return gate, hat


@pytest.mark.parametrize("fold", [0, 2])
def test_the_interval_kernel_source_gives_the_array_codes_shares(host_kernels, fold):
    """GeLU-const (257 breakpoints 2^8 apart: a leaf, folded or not, whose block the kernel reuses) and nExp."""
    for gate_kind in (task_gates.GELU_CONST, task_gates.NEXP):
        (breaks, rows), _ = gate_pieces(gate_kind, 12, 48)
        _check_interval(host_kernels, breaks, rows, fold, 2**20, 5 + fold, gate_kind.name)


def _walks_above_the_window(gate, hat):
    """How many of the elements' walks part from the point before above the kernel's path window, below the root."""
    n, depth = gate.n_bits, gate.n_bits - gate.leaf_bits
    y = (hat + np.uint64(1 << (n - 1))) & np.uint64((1 << n) - 1)
    points = [(y - np.uint64(q)) & np.uint64((1 << n) - 1) for q in gate.shifted] + [y]
    return sum(sum(0 < n - int(d).bit_length() < depth - PATH_LEVELS for d in a ^ b) for a, b in pairwise(points))


@pytest.mark.parametrize("fold", [0, 2])
def test_the_interval_kernel_walks_from_the_root_where_points_part_above_its_path_window(host_kernels, fold):
    """Recip's breakpoints (an octave apart, no leaf: 48 levels) and 126 breakpoints 1.5x apart (a leaf of 8 bits: 40
    levels): many walks part from the point before above the lowest PATH_LEVELS levels and walk from the root
    again, and the shares are still the array code's."""
    spread = [256 * round(1.5**i) for i in range(64)]
    synthetic = sorted({-b for b in spread} | set(spread))
    for name, breaks, rows in [("Recip", *gate_pieces(task_gates.RECIP, 12, 48)[0]),
                               ("1.5x apart", synthetic, np.arange(len(synthetic) + 1)[:, None] * 7 - 300)]:
        gate, hat = _check_interval(host_kernels, breaks, rows, fold, 2**46, 9 + fold, name)
        assert gate.n_bits - gate.leaf_bits > PATH_LEVELS
        assert _walks_above_the_window(gate, hat) > 20, name


@pytest.mark.parametrize("n,leaf,fold", [(20, 4, 0), (48, 8, 0), (48, 10, 2), (24, 9, 3)])
def test_the_dcf_kernel_source_gives_the_array_codes_shares(host_kernels, n, leaf, fold):
    st = RandomStream(seed_words(11), 0)
    N = 600
    alpha, x = st.ring(N, n), st.ring(N, n)
    x[: N // 3] = alpha[: N // 3] ^ np.uint64(1)          # on alpha's path, differing in the leaf's bits
    x[N // 3: N // 2] = alpha[N // 3: N // 2]
    for key in dcf.keygen(alpha, np.ones((1, N), dtype=np.uint64), n, n, st, leaf_bits=leaf, leaf_fold=fold):
        out = np.full((1, N), 0xDEADBEEF, dtype=np.uint64)
        host_kernels.run_dcf(*[pointer(a) for a in _key_arrays(key)], pointer(x), ctypes.c_int(n), ctypes.c_int(leaf),
                             ctypes.c_int(fold), ctypes.c_int(1), ctypes.c_uint64((1 << n) - 1),
                             ctypes.c_int(key.party), ctypes.c_int(key.rounds), pointer(out), ctypes.c_longlong(N))
        assert (out == dcf.eval_lt(key, x)).all(), f"n={n} leaf={leaf} fold={fold} party {key.party}"



@pytest.mark.parametrize("n,shift", [(16, 12), (37, 12), (48, 1), (48, 24), (64, 12), (64, 62)])
def test_the_fused_gate_kernels_give_the_array_codes_shares(host_kernels, n, shift):
    """GapARS, TrFloor and ReLU in one launch each (walks + epilogue) give each party the array code's share, on
    inputs at the ring's edges and at random."""
    ring = Ring(n)
    N = 300
    hat = np.random.default_rng(n + shift).integers(0, 2**63, N, dtype=np.uint64) * np.uint64(2) & ring.mask
    hat[:6] = [0, int(ring.mask), 1 << (n - 1), (1 << (n - 1)) - 1, 1 << (n - 2), 1]
    i32, m = ctypes.c_int, ctypes.c_longlong(N)
    gates = [(GapARS(n, min(shift, n - 2)), "run_gapars", ("R", "W", "rout"), ("dcf",)),
             (TrFloor(n, shift), "run_trfloor", ("R", "R1s", "rout"), ("carry", "sign")),
             (ReLU(n), "run_relu", ("r", "r1", "r1r", "rout"), ("dcf",))]
    for gate, name, words, dcfs in gates:
        keys = gate.keygen(Dealer(3 + n), N)
        for key in (keys.key0, keys.key1):
            arrays = [a for d in dcfs for a in _key_arrays(key.parts[d])] + [hat] + [key.parts[w] for w in words]
            arrays = [np.ascontiguousarray(a) for a in arrays]
            out = np.full(N, 0xDEADBEEF, dtype=np.uint64)
            sizes = [i32(n)] + ([i32(gate.shift)] if hasattr(gate, "shift") else [])
            getattr(host_kernels, name)(*[pointer(a) for a in arrays], *sizes, i32(key.party), i32(gate.rounds),
                                        pointer(out), m)
            want = gate.eval(key.party, key, hat)
            assert (out == want).all(), f"{gate.kind} n={n} party {key.party}: {(out != want).sum()} shares differ"


def test_a_loaded_tape_holds_its_interval_keys_in_the_kernels_layout_and_the_rest_as_dealt():
    """``engine.prepare_keys`` (what a GPU party's tape load runs) replaces each interval key's DCF key by its
    element-major copy, level by level and entry by entry what the level-major key holds, and leaves every other
    entry as it was."""
    n = 48
    (breaks, rows), _ = gate_pieces(task_gates.GELU_CONST, 12, n)
    poly = PiecewisePoly(n, list(breaks), np.array(rows, dtype=np.int64), n, fold=2)
    dealer = Dealer(3)
    interval = poly.keygen(dealer, 5).key0
    dealt = interval.parts["dcf"]
    other = GapARS(n, 12).keygen(dealer, 5).key0
    tape = Tape(0, "run")
    for kind, material in (("key", interval), ("key", other), ("mask", np.arange(5, dtype=np.uint64))):
        tape.append("flush", TapeEntry(kind, "g", 5, material, 0))
    before = [e.material for e in tape.streams["flush"]]
    engine.prepare_keys(tape)
    after = [e.material for e in tape.streams["flush"]]
    assert all(a is b for a, b in zip(after, before, strict=True)) and other.parts["dcf"] is not None
    ik = interval.parts["dcf"]
    assert isinstance(ik, kernels.IntervalKey) and isinstance(other.parts["dcf"], dcf.DcfKey)
    i, level = 3, 7
    assert (ik.levels[i, level, :4] == dealt.scw[level, i]).all()
    assert ik.levels[i, level, 4:6].view(np.uint64)[0] == dealt.vcw[level, 0, i]
    assert ik.levels[i, level, 6] == dealt.tr[level, i] and ik.levels[i, level, 7] == 0
    z = np.arange(1 << dealt.leaf_bits, dtype=np.uint64)
    assert (ik.leaf[i, leaf_index(z, dealt.leaf_bits, dealt.leaf_fold).astype(np.int64)] == dealt.fcw[:, i]).all()
