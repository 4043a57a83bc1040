"""Closed forms of SIGMA's protocols (``--runtime sigma-gpu``): each protocol call as its list of exchanges.

An exchange is one ``Step`` opening the packed u64 wire words of its payload (``tasks.sigma_sizes``);
under ``sigma_merge`` the independent exchanges of one protocol (a LUT's U and V, nExp's two branches,
an rsqrt sync and the exchange before it, rotary's Q and K, Llama's up1 and up2) are one step carrying
all of them. Written from ../shared/reference/sigma_protocols.md §2-§3 apart from the tasks, so that
``tests/test_sigma_checklist.py`` can hold the two against each other. DPFs are inline (no PFSS flush)
and are not counted here.
"""

import math

from models.layer import TaskSpec

from ...tasks.sigma_sizes import WORD_BYTES, cpu_wire_bytes, gpu_wire_bytes
from .forms import Block, Step

F = 12
Payload = tuple[int, int, int]  # (wire bytes, elements, bits) of one reconstruct


def _gpu(elems: int, bits: int, width: int = 64) -> Payload:
    return gpu_wire_bytes(elems, bits, width), elems, bits


def _cpu(elems: int, bits: int) -> Payload:
    return cpu_wire_bytes(elems, bits), elems, bits


def _step(label: str, *payloads: Payload) -> Step:
    words = sum(math.ceil(b / WORD_BYTES) for b, _, _ in payloads)
    return Step(label, "O(" + " + ".join(f"{e:,}×{bits}b" for _, e, bits in payloads) + ")", "M", words)


def _sequence(label: str, merge: bool, *groups: tuple[Payload, ...]) -> Block:
    """Exchanges in order; each group is independent payloads (one step merged, else one step each)."""
    steps = []
    for i, group in enumerate(groups):
        if merge or len(group) == 1:
            steps.append(_step(f"exchange {i + 1}", *group))
        else:
            steps += [_step(f"exchange {i + 1}.{j + 1}", p) for j, p in enumerate(group)]
    return Block(label, 1, "", tuple(steps))


def trfloor(e: int, n: int, s: int) -> list[tuple[Payload, ...]]:
    return [(_gpu(e, 1),), (_gpu(e, n - s),), (_gpu(e, 1),), (_gpu(e, n),)]


def gapars(e: int, out_bits: int) -> list[tuple[Payload, ...]]:
    width = 8 if out_bits <= 8 else 16 if out_bits <= 16 else 64
    return [(_gpu(e, 1),), (_gpu(e, out_bits, width),)]


def lut(e: int, n: int, masked: bool = True) -> list[tuple[Payload, ...]]:
    return [(_gpu(e, 1), _gpu(e, n))] + ([(_gpu(e, n),)] if masked else [])


def matmul(p: dict, n: int) -> list[tuple[Payload, ...]]:
    out = p["batches"] * p["m"] * (p["m"] + 1) // 2 if p["lower"] else p["batches"] * p["m"] * p["n"]
    return [(_gpu(out, n),), *trfloor(out, n, p["shift"])]


def activation(p: dict, n: int) -> list[tuple[Payload, ...]]:
    e, clip = p["elems"], 10 if p["silu"] else 8
    mux = _gpu(e, clip, 16 if clip > 8 else 8)
    return [*gapars(e, n - 2 * F + 7), (_gpu(e, 2),), (mux,), *lut(e, n, masked=False), (_gpu(e, n),)]


def max_levels(h: int, s: int, causal: bool) -> list[int]:
    levels = math.ceil(math.log2(s))
    if causal:
        return [h * (s * s // 2 ** (i + 2) + s // 2) for i in range(levels)]
    return [h * s * (s // 2 ** (i + 1)) for i in range(levels)]


def softmax(p: dict, n: int, merge: bool) -> list[tuple[Payload, ...]]:
    h, s = p["heads"], p["seq"]
    e, rows = (h * s * (s + 1) // 2 if p["causal"] else h * s * s), h * s
    reduced = n - F + 2
    groups = [g for pairs in max_levels(h, s, p["causal"]) for g in ((_gpu(pairs, 1),), (_gpu(pairs, reduced),))]
    groups += [(_gpu(e, 1),), (_gpu(e, 16, 16),)]                   # clip to [0, 2^16)
    lsb, msb = lut(e, n), gapars(e, 8) + lut(e, n)
    if merge:  # the two branches side by side
        groups += [tuple(x for g in pair for x in g) for pair in zip(lsb + [()] * (len(msb) - len(lsb)), msb,
                                                                      strict=True)]
    else:
        groups += lsb + msb
    groups += [(_gpu(e, n),), *gapars(e, n)]                         # product, GapARS(f)
    groups += gapars(rows, math.ceil(math.log2(s)) + 6) + lut(rows, n)  # inverse
    return [*groups, (_gpu(e, n),), *gapars(e, n)]                   # windowMul


def norm(p: dict, n: int) -> list[tuple[Payload, ...]]:
    rows, cols = p["rows"], p["cols"]
    e = rows * cols
    groups = trfloor(rows, n, int(math.log2(cols)) if cols & (cols - 1) == 0 else F) if p["mean"] else []
    sync = _cpu(1, 8)
    groups += [(_gpu(rows, n), sync), (_cpu(2 * rows, n),), (_cpu(rows, n),), (_cpu(rows, 13), sync),
               (_cpu(rows, n),)]
    return [*groups, (_gpu(e, n),), *gapars(e, n), (_gpu(e, n),), *gapars(e, n)]


def sigma_items(spec: TaskSpec, bits: int, merge: bool) -> tuple[str, tuple]:
    """(description, items) of one SIGMA protocol call at ring ``bits``."""
    p, kind = spec.params, spec.kind
    if kind == "sigma_matmul":
        desc, groups = f"gpuMatmul + TrFloor({p['batches']}×{p['m']}×{p['k']}×{p['n']})", matmul(p, bits)
    elif kind == "sigma_matmuls":
        parts = [matmul({**q, "shared_a": False}, bits) for q in p["parts"]]
        desc = f"{len(parts)} independent gpuMatmul + TrFloor"
        groups = [tuple(x for g in gs for x in g) for gs in zip(*parts, strict=True)] if merge else \
            [g for part in parts for g in part]
    elif kind == "sigma_activation":
        desc, groups = f"gpu{'SiLU' if p['silu'] else 'Gelu'}(n = {p['elems']:,})", activation(p, bits)
    elif kind == "sigma_softmax":
        desc, groups = f"gpuSoftmax({p['heads']} heads, s = {p['seq']})", softmax(p, bits, merge)
    elif kind == "sigma_norm":
        desc = f"gpu{'Layer' if p['mean'] else 'RMS'}Norm({p['rows']} × {p['cols']}) + CPU rsqrt"
        groups = norm(p, bits)
    elif kind == "sigma_rotary":
        desc = f"gpuRotEmb(Q, K: {p['elems']:,} each)"
        parts = [gapars(p["elems"], bits) for _ in range(p["parts"])]
        groups = [tuple(x for g in gs for x in g) for gs in zip(*parts, strict=True)] if merge else \
            [g for part in parts for g in part]
    elif kind == "sigma_scale":
        desc, groups = f"gpuScalarMul + TrFloor(n = {p['elems']:,})", trfloor(p["elems"], bits, F)
    elif kind == "sigma_mul":
        desc = f"gpuMul + TrFloor(n = {p['elems']:,})"
        groups = [(_gpu(p["elems"], bits),), *trfloor(p["elems"], bits, F)]
    else:
        raise ValueError(f"no closed form for SIGMA task kind {kind!r}")
    return desc, (_sequence(desc, merge, *groups),)
