"""Beaver triples on plain additive shares: elementwise, matmul and row-broadcast.

Protocol (for z = x * y, '*' elementwise, matmul or row-broadcast):
1. The dealer gives shares of a, b and c = a * b.
2. Each party masks: E_p = x_p - a_p, F_p = y_p - b_p; both are opened (one exchange): E = x - a, F = y - b.
3. Each party finalises locally: z_p = [p = 0] E*F + E*b_p + a_p*F + c_p.
uint64 matmul wraps mod 2^64 on NumPy and CuPy; on CuPy, short-and-wide products use split-K (batched
partial products summed in uint64), exact mod 2^64.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .dealer import Dealer
from .ring import Ring, check_bits
from .xp import get_xp, is_cupy

KINDS = ("elementwise", "matmul", "rowbcast")


def matmul(a: Any, b: Any, ring: Ring) -> Any:
    """a @ b mod 2^n for uint64 2-D arrays; split-K on CuPy when M is small and K large."""
    xp = get_xp(a, b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul shapes {a.shape} @ {b.shape} do not match")
    m, k = a.shape
    split = 1
    if is_cupy(xp) and m <= 256:
        split = next((s for s in (16, 8, 4, 2) if k % s == 0 and k // s >= 64), 1)
    if split == 1:
        return ring.reduce(xp.matmul(a, b))
    parts = xp.matmul(a.reshape(m, split, k // split).transpose(1, 0, 2), b.reshape(split, k // split, -1))
    return ring.reduce(parts.sum(axis=0, dtype=np.uint64))


def _product(kind: str, ring: Ring) -> Callable[[Any, Any], Any]:
    if kind == "matmul":
        return lambda a, b: matmul(a, b, ring)
    return lambda a, b: ring.mul(a, b)  # elementwise, or (M, N) * (M, 1) broadcast over rows


def _check_shapes(kind: str, sx: tuple, sy: tuple) -> None:
    ok = {"elementwise": sx == sy, "matmul": len(sx) == 2 and len(sy) == 2 and sx[1] == sy[0],
          "rowbcast": len(sx) == 2 and sy == (sx[0], 1)}[kind]
    if not ok:
        raise ValueError(f"shapes {sx} and {sy} do not fit a {kind} triple")


@dataclass
class Triple:
    """One party's share of a triple (a, b, c = a*b) for ``kind``."""

    kind: str
    party: int
    a: Any
    b: Any
    c: Any
    used: bool = False


def triples(dealer: Dealer, kind: str, shape_x: tuple, shape_y: tuple, n_bits: int) -> tuple[Triple, Triple]:
    """Dealer: a triple pair of ``kind`` for operands of shapes ``shape_x``, ``shape_y`` in Z_2^n_bits."""
    if kind not in KINDS:
        raise ValueError(f"triple kind {kind!r} unknown; allowed: {KINDS}")
    check_bits("n_bits", n_bits, 1, 64)
    _check_shapes(kind, tuple(shape_x), tuple(shape_y))
    ring = Ring(n_bits)
    st = dealer.stream()
    with dealer.timed() as t:
        a = st.ring(int(np.prod(shape_x)), n_bits).reshape(shape_x)
        b = st.ring(int(np.prod(shape_y)), n_bits).reshape(shape_y)
        c = _product(kind, ring)(a, b)
        (a0, a1), (b0, b1), (c0, c1) = (dealer.share(v, ring, st) for v in (a, b, c))
    words = a.size + b.size + c.size
    dealer.record(f"beaver_{kind}", 1, 8 * words, t.seconds)
    return Triple(kind, 0, a0, b0, c0), Triple(kind, 1, a1, b1, c1)


def mask(triple: Triple, x: Any, y: Any, n_bits: int) -> tuple[Any, Any]:
    """Step 2: this party's (E_p, F_p) = (x_p - a_p, y_p - b_p), to be opened."""
    if x.shape != triple.a.shape or y.shape != triple.b.shape:
        raise ValueError(f"operand shapes {x.shape}, {y.shape} do not match the triple's {triple.a.shape}, "
                         f"{triple.b.shape}")
    ring = Ring(n_bits)
    return ring.sub(x, triple.a), ring.sub(y, triple.b)


def finalise(triple: Triple, e: Any, f: Any, n_bits: int) -> Any:
    """Step 3: this party's share of x*y from the opened E, F. A triple is one-time."""
    if triple.used:
        raise RuntimeError(f"{triple.kind} Beaver triple of party {triple.party} was already used; "
                           "triples are one-time")
    triple.used = True
    ring = Ring(n_bits)
    prod = _product(triple.kind, ring)
    z = ring.add(ring.add(prod(e, triple.b), prod(triple.a, f)), triple.c)
    return ring.add(z, prod(e, f)) if triple.party == 0 else z
