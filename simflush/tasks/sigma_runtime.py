"""SIGMA's GPU protocols as tasks: the exchanges, keys and local work of GPU-MPC's code, in its order.

Every ``reconstructInPlace`` (and every LLAMA CPU ``reconstruct``/``sync``) of the code is one open of
its bit-packed payload: a ``PACK`` local op turns the values into the u64 words that go on the wire
(``sigma_sizes``), the open carries those words, and ``UNPACK`` adds the peer's share back. Each
protocol first copies its key part to the GPU (``KEY_H2D``, in u64 words), as the code does right
before use. DPF evaluations are ``fss_direct`` (inline GPU kernels, as in the code) or, for the what-if,
PFSS jobs (``via_batch``). Independent exchanges (a LUT's U and V, nExp's two LUT branches, the rsqrt
syncs, rotary on Q and K, Llama's two up-projections) go through ``together``: in program order as the
code issues them, or (``merge``) reserved in the same wave so that one flush carries them.
Sources: ../shared/reference/sigma_protocols.md §2-§3; docs/sigma.md.
"""

import math
from collections.abc import Generator
from dataclasses import dataclass
from functools import cache
from typing import Any

from .context import Batch, Context, OpenKind
from .gates import Gate, GateKind
from .local_ops import LocalOp
from .need import Need
from .primitives import Task, _await
from .sigma_sizes import (
    WORD_BYTES,
    cpu_rsqrt_key_bytes,
    cpu_wire_bytes,
    dpf_aes_calls,
    dpf_key_bytes,
    gapars_key_bytes,
    gpu_wire_bytes,
    lut_aes_calls,
    lut_key_bytes,
    relu_key_bytes,
    select_key_bytes,
    trfloor_key_bytes,
    type_bits,
)

FRAC_BITS = 12
ROTARY_SHIFT = FRAC_BITS - 3    # gpuRotEmb: GapARS by f - 3
LUT_INPUT_SHIFT = FRAC_BITS - 6  # GeLU/SiLU and the inverse index at 6 fractional bits

# The local (communication-free) ops of SIGMA's tasks (``local_ops``' SIGMA_* entries: sized by the caller's
# ``words``): cost presets price them by name. KEY_H2D is the synchronous cudaMemcpy of a key part, PACK
# compressKernel, LUT_READS the 2^b table words per element of a full-domain LUT evaluation.
KEY_H2D, PACK, UNPACK = LocalOp.SIGMA_KEY_H2D, LocalOp.SIGMA_PACK, LocalOp.SIGMA_UNPACK
KERNEL, REDUCE, LUT_READS = LocalOp.SIGMA_KERNEL, LocalOp.SIGMA_REDUCE, LocalOp.SIGMA_LUT_READS
CPU_COPY, CPU_RSQRT = LocalOp.SIGMA_CPU_COPY, LocalOp.SIGMA_CPU_RSQRT


@dataclass(frozen=True)
class Ring:
    """How one protocol call evaluates: the ring width ``bits``, and the two what-if settings."""

    bits: int
    merge: bool = False        # independent exchanges share a flush
    via_batch: bool = False    # DPF evaluations go through the PFSS batch


@cache
def _gate(kind: GateKind, aes_calls: float) -> Gate:
    """A descriptor for a DPF evaluation of ``aes_calls`` half-PRG calls per element (sets its cost)."""
    return Gate(kind, r=1, ell=1, degree=0, suf_kind=-1, prg_per_elem=aes_calls)


def key(ctx: Context, elems: int, bytes_per_elem: float) -> None:
    """Copy ``elems`` elements' key of ``bytes_per_elem`` bytes to the GPU."""
    ctx.local(KEY_H2D, words=math.ceil(elems * bytes_per_elem / WORD_BYTES))


def fss(ctx: Context, ring: Ring, kind: GateKind, aes_calls: float, x: Any) -> Task:
    """Evaluate a DPF of ``aes_calls`` per element on the masked ``x`` (inline, or as a PFSS job)."""
    gate = _gate(kind, aes_calls)
    if not ring.via_batch:
        return ctx.fss_direct(gate, x)
    job = ctx.pfss(Batch.COEFF, gate, x)
    yield Need.NONE
    return (yield from _await(ctx, job, Need.PFSS_COEFF))


def _reconstruct(ctx: Context, x: Any, elems: int, nbytes: int) -> Task:
    packed = ctx.local(PACK, x, words=math.ceil(nbytes / WORD_BYTES))
    handle = ctx.open(packed, OpenKind.MASK)
    yield Need.NONE
    opened = yield from _await(ctx, handle, Need.OPEN)
    return ctx.local(UNPACK, opened, words=elems)


def exchange(ctx: Context, x: Any, bits: int, width: int = 64) -> Task:
    """``reconstructInPlace`` of ``x`` (``bits`` per value in a ``width``-bit type): one blocking exchange."""
    elems = ctx.words(x)
    return _reconstruct(ctx, x, elems, gpu_wire_bytes(elems, bits, width))


def cpu_exchange(ctx: Context, x: Any, bits: int) -> Task:
    """LLAMA's CPU ``reconstruct``: unpacked, whole bytes per value."""
    elems = ctx.words(x)
    return _reconstruct(ctx, x, elems, cpu_wire_bytes(elems, bits))


def sync(ctx: Context) -> Task:
    """LLAMA's ``peer->sync()``: a one-byte barrier (one u64 word in this model)."""
    return _reconstruct(ctx, ctx.local(KERNEL, words=1), 1, 1)


def together(ring: Ring, *branches: Generator) -> Task:
    """Run independent ``branches``: one after another (SIGMA's code), or, when ``ring.merge``, stepped
    in lockstep so that their exchanges are reserved before anyone blocks, and share a flush. Returns
    their results in order."""
    if not ring.merge:
        results = []
        for branch in branches:
            results.append((yield from branch))
        return results
    results: list[Any] = [None] * len(branches)
    live = dict(enumerate(branches))
    while live:
        needs, finished = [], False
        for i, branch in list(live.items()):
            try:
                needs.append(next(branch))
            except StopIteration as stop:
                results[i], finished = stop.value, True
                del live[i]
        if live:  # blocked only when every branch is; an open comes first, as in SUF's demand order
            yield Need.NONE if finished or Need.NONE in needs else min(needs, key=lambda need: need.value)
    return results


# -- truncations, comparisons, LUT ------------------------------------------------------------------

def trfloor(ctx: Context, ring: Ring, x: Any, shift: int) -> Task:
    """ARS without gap (``TrFloor``): TR (1 bit, then n - s bits) and SignExt (1 bit, then n bits)."""
    n, e = ring.bits, ctx.words(x)
    key(ctx, e, trfloor_key_bytes(n, shift))
    bit = yield from fss(ctx, ring, GateKind.FAITHFUL_ARS, dpf_aes_calls(shift), x)
    bit = yield from exchange(ctx, bit, 1)
    y = yield from exchange(ctx, ctx.local(KERNEL, x, bit, words=e), n - shift)
    bit = yield from fss(ctx, ring, GateKind.FAITHFUL_ARS, dpf_aes_calls(n - shift), y)
    bit = yield from exchange(ctx, bit, 1)
    return (yield from exchange(ctx, ctx.local(KERNEL, y, bit, words=e), n))


def gapars(ctx: Context, ring: Ring, x: Any, shift: int, out_bits: int) -> Task:
    """GapARS (``TrWithSlack``): a comparison bit on the low ``shift`` bits, then the ``out_bits`` output."""
    e, width = ctx.words(x), type_bits(out_bits)
    key(ctx, e, gapars_key_bytes(shift, width // 8))
    bit = yield from fss(ctx, ring, GateKind.GAPARS, dpf_aes_calls(shift), x)
    bit = yield from exchange(ctx, bit, 1)
    return (yield from exchange(ctx, ctx.local(KERNEL, x, bit, words=e), out_bits, width))


def relu(ctx: Context, ring: Ring, x: Any, bits_in: int, out_bits: int) -> Task:
    """``gpuRelu``: DReLU on ``bits_in`` bits (a comparison on ``bits_in - 1``; its bit reconstructed),
    then Select into ``out_bits`` (reconstructed)."""
    e, width = ctx.words(x), type_bits(out_bits)
    key(ctx, e, relu_key_bytes(bits_in, width // 8))
    bit = yield from fss(ctx, ring, GateKind.DRELU, dpf_aes_calls(bits_in - 1), x)
    bit = yield from exchange(ctx, bit, 1)
    return (yield from exchange(ctx, ctx.local(KERNEL, x, bit, words=e), out_bits, width))


def lut(ctx: Context, ring: Ring, x: Any, bits: int, kind: GateKind, masked: bool = True) -> Task:
    """``gpuDpfLUT`` over ``bits`` bits into n-bit values: the full-domain DPF, then U (1 bit) and V (n bits),
    independent; Select turns them into the output, reconstructed unless ``masked`` is False."""
    e, n = ctx.words(x), ring.bits
    key(ctx, e, lut_key_bytes(bits, WORD_BYTES))
    uv = yield from fss(ctx, ring, kind, lut_aes_calls(bits), x)
    ctx.local(LUT_READS, uv, words=e * 2 ** bits)
    u, v = yield from together(ring, exchange(ctx, ctx.local(KERNEL, uv, words=e), 1),
                               exchange(ctx, ctx.local(KERNEL, uv, words=e), n))
    y = ctx.local(KERNEL, u, v, words=e)
    return (yield from exchange(ctx, y, n)) if masked else y


def masked_mul(ctx: Context, ring: Ring, x: Any, y: Any, key_words_per_elem: float, out_elems: int) -> Task:
    """A masked (Beaver-style) product: local kernel with the key's shares, then its n-bit output."""
    key(ctx, out_elems, key_words_per_elem * WORD_BYTES)
    return (yield from exchange(ctx, ctx.local(KERNEL, x, y, words=out_elems), ring.bits))


# -- the protocols of a block ----------------------------------------------------------------------

def matmul(ctx: Context, ring: Ring, p: dict) -> Task:
    """``gpuMatmul`` + TrFloor: key shares of r_A, r_B and C (u64), the product reconstructed, then TrFloor."""
    b, m, k, n = p["batches"], p["m"], p["k"], p["n"]
    out = b * m * (m + 1) // 2 if p["lower"] else b * m * n
    a_elems = m * k if p["shared_a"] else b * m * k
    key(ctx, a_elems + b * k * n + out, WORD_BYTES)
    z = yield from exchange(ctx, ctx.local(KERNEL, words=out), ring.bits)
    return (yield from trfloor(ctx, ring, z, p["shift"]))


def matmuls(ctx: Context, ring: Ring, p: dict) -> Task:
    """Independent matmuls on one input (Llama's up1 and up2): sequential FC calls in the code."""
    return (yield from together(ring, *(matmul(ctx, ring, {**part, "shared_a": False}) for part in p["parts"])))


def activation(ctx: Context, ring: Ring, p: dict) -> Task:
    """``gpuGelu`` (Fig 7 as coded; SiLU: clip 2^(f+4), a 10-bit LUT, a u16 mux): 7 exchanges."""
    n, e, f = ring.bits, p["elems"], FRAC_BITS
    clip_bits = 10 if p["silu"] else 8
    x = ctx.local(KERNEL, words=e)
    y = yield from gapars(ctx, ring, x, LUT_INPUT_SHIFT, n - 2 * f + 7)
    key(ctx, e, dpf_key_bytes(n - 2 * f + 6) + 2 / 8)
    bits = yield from fss(ctx, ring, GateKind.DRELU, 3 * dpf_aes_calls(n - 2 * f + 6), y)  # DReLU + interval
    bits = yield from exchange(ctx, bits, 2)
    key(ctx, e, 8 * type_bits(clip_bits) // 8)   # SelectLin: two 4-entry tables
    clipped = yield from exchange(ctx, ctx.local(KERNEL, y, bits, words=e), clip_bits, type_bits(clip_bits))
    delta = yield from lut(ctx, ring, clipped, clip_bits, GateKind.GELU_LUT, masked=False)
    key(ctx, e, select_key_bytes(WORD_BYTES))
    return (yield from exchange(ctx, ctx.local(KERNEL, x, bits, delta, words=e), n))


def max_tree_sizes(heads: int, seq: int, causal: bool) -> list[int]:
    """Comparisons per level of ``gpuMaxpoolLog`` over rows of ``seq``: dense rows halve each level; the
    causal (lower-triangular, zero-padded) layout has heads * (s^2 / 2^(i+2) + s/2) at level i."""
    levels = (seq - 1).bit_length()
    if causal:
        return [heads * (seq * seq // 2 ** (i + 2) + seq // 2) for i in range(levels)]
    return [heads * seq * (seq >> (i + 1)) for i in range(levels)]


def nexp(ctx: Context, ring: Ring, x: Any) -> Task:
    """``gpuNExp`` (Fig 8): clip to [0, 2^16) (ReLU, u16), exp of the low byte (LUT) and of the high byte
    (GapARS to u8, LUT), independent; their product and a GapARS(f): 13 exchanges."""
    reduced = ring.bits - FRAC_BITS + 2
    clipped = yield from relu(ctx, ring, x, reduced, 16)
    lsb = lut(ctx, ring, ctx.local(KERNEL, clipped, words=ctx.words(x)), 8, GateKind.NEXP_LUT)
    lo, hi = yield from together(ring, lsb, _nexp_msb(ctx, ring, clipped))
    product = yield from masked_mul(ctx, ring, lo, hi, 3, ctx.words(x))
    return (yield from gapars(ctx, ring, product, FRAC_BITS, ring.bits))


def _nexp_msb(ctx: Context, ring: Ring, clipped: Any) -> Task:
    high = yield from gapars(ctx, ring, clipped, 8, 8)
    return (yield from lut(ctx, ring, high, 8, GateKind.NEXP_LUT))


def softmax(ctx: Context, ring: Ring, p: dict) -> Task:
    """``gpuSoftmax``: max tree, nExp, row sums, inverse (GapARS to a (log2 s + 6)-bit index, LUT),
    windowMul + GapARS(f): 2 ceil(log2 s) + 21 exchanges."""
    h, s, causal = p["heads"], p["seq"], p["causal"]
    rows, elems = h * s, h * s * (s + 1) // 2 if causal else h * s * s
    reduced = ring.bits - FRAC_BITS + 2
    scores = ctx.local(KERNEL, words=elems)
    maxima = scores
    for pairs in max_tree_sizes(h, s, causal):
        diffs = ctx.local(REDUCE, maxima, words=pairs)
        r = yield from relu(ctx, ring, diffs, reduced - 1, reduced)
        maxima = ctx.local(REDUCE, maxima, r, words=pairs)
    shifted = ctx.local(KERNEL, scores, maxima, words=elems)
    e = yield from nexp(ctx, ring, shifted)
    sums = ctx.local(REDUCE, e, words=rows)
    index_bits = (s - 1).bit_length() + 6
    index = yield from gapars(ctx, ring, sums, LUT_INPUT_SHIFT, index_bits)
    inverse = yield from lut(ctx, ring, index, index_bits, GateKind.INV_LUT)
    return (yield from window_mul(ctx, ring, e, inverse, elems, rows))


def window_mul(ctx: Context, ring: Ring, x: Any, v: Any, elems: int, vec: int) -> Task:
    """``windowMul``: x times a broadcast vector (two key words per element, one per vector entry),
    reconstructed, then GapARS(f)."""
    key(ctx, vec, WORD_BYTES)
    product = yield from masked_mul(ctx, ring, x, v, 2, elems)
    return (yield from gapars(ctx, ring, product, FRAC_BITS, ring.bits))


def norm(ctx: Context, ring: Ring, p: dict) -> Task:
    """``gpuLayerNorm`` (RMSNorm: ``mean`` False): mean by TrFloor, the masked square and its row sums
    reconstructed, LLAMA's CPU rsqrt (sync, F2BF16's three reconstructs, sync, LUT), two windowMuls."""
    rows, cols = p["rows"], p["cols"]
    elems = rows * cols
    x = ctx.local(KERNEL, words=elems)
    if p["mean"]:
        sums = ctx.local(REDUCE, x, words=rows)
        pow2 = cols & (cols - 1) == 0
        mu = yield from trfloor(ctx, ring, sums, (cols - 1).bit_length() if pow2 else FRAC_BITS)
        x = ctx.local(KERNEL, x, mu, words=elems)
    key(ctx, elems, 2 * WORD_BYTES)
    square_sums = ctx.local(REDUCE, ctx.local(KERNEL, x, words=elems), words=rows)
    inv_sqrt = yield from cpu_rsqrt(ctx, ring, square_sums)
    normed = yield from window_mul(ctx, ring, x, inv_sqrt, elems, rows)
    return (yield from window_mul(ctx, ring, normed, ctx.local(KERNEL, words=cols), elems, cols))


def cpu_rsqrt(ctx: Context, ring: Ring, square_sums: Any) -> Task:
    """The row sums of squares reconstructed on the GPU, then LLAMA's ``Rsqrt`` on the CPU: F2BF16
    (sync; 2 values, 1 value, then a 13-bit value per row) and the 13-bit LUT (sync; 1 value). A sync is
    a barrier that carries nothing, so ``merge`` sends it with the exchange before it."""
    n, rows = ring.bits, ctx.words(square_sums)
    sums, _ = yield from together(ring, exchange(ctx, square_sums, n), sync(ctx))
    key(ctx, rows, cpu_rsqrt_key_bytes(n))
    host = ctx.local(CPU_COPY, sums, words=rows)
    pair = yield from cpu_exchange(ctx, ctx.local(CPU_RSQRT, host, words=2 * rows), n)
    y = yield from cpu_exchange(ctx, ctx.local(CPU_RSQRT, pair, words=rows), n)
    y, _ = yield from together(ring, cpu_exchange(ctx, ctx.local(CPU_RSQRT, y, words=rows), 13), sync(ctx))
    y = yield from cpu_exchange(ctx, ctx.local(CPU_RSQRT, y, words=rows), n)
    return ctx.local(CPU_COPY, y, words=rows)


def rotary(ctx: Context, ring: Ring, p: dict) -> Task:
    """``gpuRotEmb`` on Q and on K: a local rotation, then GapARS(f - 3) each; independent."""
    e = p["elems"]
    parts = [gapars(ctx, ring, ctx.local(KERNEL, words=e), ROTARY_SHIFT, ring.bits) for _ in range(p["parts"])]
    return (yield from together(ring, *parts))


def scale(ctx: Context, ring: Ring, p: dict) -> Task:
    """``gpuScalarMul`` by 1/sqrt(d_head) (public), then TrFloor(f)."""
    return (yield from trfloor(ctx, ring, ctx.local(KERNEL, words=p["elems"]), FRAC_BITS))


def mul(ctx: Context, ring: Ring, p: dict) -> Task:
    """``gpuMul`` (Llama's SiLU(up1) * up2): a masked product (three key words) and TrFloor(f)."""
    e = p["elems"]
    product = yield from masked_mul(ctx, ring, ctx.local(KERNEL, words=e), ctx.local(KERNEL, words=e), 3, e)
    return (yield from trfloor(ctx, ring, product, FRAC_BITS))


PROTOCOLS = {
    "sigma_matmul": matmul, "sigma_matmuls": matmuls, "sigma_activation": activation, "sigma_softmax": softmax,
    "sigma_norm": norm, "sigma_rotary": rotary, "sigma_scale": scale, "sigma_mul": mul,
}
