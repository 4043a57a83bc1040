"""Piecewise-polynomial coefficient selection: m intervals of the signed n-bit line -> r public coefficients.

Intervals: [-2^(n-1), p_1), [p_1, p_2), ..., [p_{m-1}, 2^(n-1)) for sorted signed breakpoints p_i.
Output: shares of the coefficient vector c_j of x's interval, plus r_out (shape (r, N), in Z_2^l).
Used for nExp, reciprocal and rsqrt initial values, SiLU/GeLU splines and GeLU-const.

One DCF key (alpha = r_in on the shifted line, payload 1) evaluated at m points: with y = hatx + 2^(n-1) and
q_i = p_i + 2^(n-1), [x < p_i] = DCF(y - q_i) - DCF(y) + [y < q_i] (an identity over the integers), and
c(x) = c_{m-1} - sum_i [x < p_i] (c_i - c_{i-1}).

The m points of an element differ only above the breakpoints' common trailing zero bits, so where there are many
breakpoints with at least 4 such bits (``simflush.tasks.interval_walk.leaf_bits``: the cost model reads the same
rule), the DCF gets a truth-table leaf over up to 8 of them (``dcf``: one PRF call instead of 8 levels a point,
1.8 kB more key an element). On the GPU one kernel walks all m points of an element, each from the deepest node it
shares with the previous one (``kernels.interval_eval``).

``fold`` = k > 0 (``simflush.tasks.interval_walk``, knob ``interval_fold``): intervals with equal rows are merged,
and a leaf over breakpoints 2^b apart takes k more bits whose PRF words share a ChaCha block, so 2^k neighbouring
points cost one leaf call, and the kernel keeps left children in the tree's lowest levels (GeLU-const at k = 2: 188
points instead of 258, about 180 calls an element instead of 850, 8 kB of leaf table instead of 2 kB).
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from simflush.tasks.interval_walk import (
    interval_points,
    kept_levels,
    leaf_bits,
    shared_low_bits,
    shifted_points,
    walk_calls,
)

from .. import dcf, engine
from ..ring import Ring, check_bits, public_share
from ..xp import get_xp
from .base import Gate, GateKeys, check_hatx, draw_mask, pair


class PiecewisePoly(Gate):
    """Select the coefficient row of x's interval. ``breakpoints``: m-1 sorted signed ints; ``coeffs``: (m, r) ints;
    ``fold``: the construction (module doc; 0: every breakpoint walked, the first one).

    Key of each party: ``dcf`` (DCF on n bits, alpha = r_in, payload 1) and additive shares of r_out (``rout``,
    shape (r, N)). The output share has shape (r, N)."""

    kind = "poly"

    def __init__(self, n_bits: int, breakpoints: Sequence[int], coeffs: Any, out_bits: int, rounds: int = 12,
                 fold: int = 0) -> None:
        self.n_bits = check_bits("n_bits", n_bits, 1, 64)
        self.out_bits = check_bits("out_bits", out_bits, 1, 64)
        bp = [int(p) for p in breakpoints]
        half = 1 << (self.n_bits - 1)
        if any(not -half <= p < half for p in bp):
            raise ValueError(f"breakpoints must lie in [-2^{self.n_bits - 1}, 2^{self.n_bits - 1}), got {bp}")
        if any(a >= b for a, b in pairwise(bp)):
            raise ValueError(f"breakpoints must be strictly increasing, got {bp}")
        c = np.asarray(coeffs)
        if c.ndim != 2 or c.shape[0] != len(bp) + 1:
            raise ValueError(f"coeffs has shape {c.shape}; {len(bp) + 1} intervals need shape ({len(bp) + 1}, r)")
        ring = Ring(self.out_bits)
        bp, rows = interval_points(bp, list(ring.from_signed(c)), fold)
        self.coeffs = np.array(rows, dtype=np.uint64).reshape(len(bp) + 1, c.shape[1])
        self.shifted = shifted_points(bp, self.n_bits)
        self.rounds = rounds
        self.shared_low_bits = shared_low_bits(self.shifted, self.n_bits)
        self.leaf_bits, self.leaf_fold = leaf_bits(self.shifted, self.n_bits, fold)
        self.kept_levels = kept_levels(fold)
        self._tables: dict[str, tuple] = {}   # the fused kernel's tables per array module, made at first use

    @property
    def m(self) -> int:
        """Number of intervals."""
        return self.coeffs.shape[0]

    def _keygen(self, dealer, stream, n, r_in) -> GateKeys:
        ring = Ring(self.out_bits)
        xp = stream.xp
        r = draw_mask(stream, Ring(self.n_bits), n, r_in)
        k0, k1 = dcf.keygen(r, xp.ones((1, n), dtype=np.uint64), self.n_bits, self.out_bits, stream, self.rounds,
                            self.leaf_bits, self.leaf_fold)
        r_out = stream.ring(self.coeffs.shape[1] * n, self.out_bits).reshape(self.coeffs.shape[1], n)
        o0, o1 = dealer.share(r_out, ring, stream)
        return pair(self.kind, n, {"dcf": k0, "rout": o0}, {"dcf": k1, "rout": o1}, r, r_out)

    def _eval(self, party, key, hatx, parts) -> Any:
        ring, nring = Ring(self.out_bits), Ring(self.n_bits)
        hatx = check_hatx(hatx, self.n_bits, key.n_elems)
        xp = get_xp(hatx)
        n = key.n_elems
        if self.m > 1:
            rows = engine.interval_rows(parts["dcf"], hatx, self.kernel_tables(xp), parts["rout"], self.out_bits)
            if rows is not None:
                return rows
        coeffs = xp.asarray(self.coeffs)
        y = nring.add(hatx, nring.const(1 << (self.n_bits - 1)))
        acc = public_share(party, xp.broadcast_to(coeffs[-1][:, None], (coeffs.shape[1], n)).copy())
        if self.m == 1:
            return ring.add(acc, parts["rout"])
        # the DCF at y (the wrap) and at y - q_i for every breakpoint, walked together (neighbours share nodes)
        dcf_at = dcf.eval_lt_points(parts["dcf"], xp.stack([y] + [nring.sub(y, np.uint64(q)) for q in self.shifted]))
        acc = ring.add(acc, ring.mul(ring.sub(coeffs[-1], coeffs[0])[:, None], dcf_at[0][None, :]))
        for i, q in enumerate(self.shifted, start=1):
            delta = ring.sub(coeffs[i], coeffs[i - 1])[:, None]
            below = public_share(party, (y < np.uint64(q)).astype(np.uint64))
            acc = ring.sub(acc, ring.mul(delta, ring.add(dcf_at[i], below)[None, :]))
        return ring.add(acc, parts["rout"])

    def kernel_tables(self, xp: Any) -> tuple[Any, Any, Any, int, int]:
        """The fused kernel's tables on ``xp``, made once: shifted breakpoints, row differences c_j - c_{j-1}, the
        rows c_{m-1} - c_0 and c_{m-1}, the levels its walk keeps children in, and the lowest bit in which
        neighbouring points can differ (``shared_low_bits``), above which the kernel sorts elements. Every gate
        sorts since its key is element-major (H200, 393,216 elements, folded: nExp 6.12 ms unsorted, 3.43 sorted;
        Recip 7.93 and 4.58; GeLU-const 22.0 and 3.63; with the level-major key few breakpoints had been faster
        unsorted, nExp's 17 6.8 against 8.9 ms)."""
        if xp.__name__ not in self._tables:
            ring = Ring(self.out_bits)
            c = self.coeffs
            self._tables[xp.__name__] = (xp.asarray(np.array(self.shifted, dtype=np.uint64)),
                                         xp.asarray(ring.sub(c[1:], c[:-1])),
                                         xp.asarray(np.stack([ring.sub(c[-1], c[0]), c[-1]])), self.kept_levels,
                                         max(0, min(self.n_bits - 10, self.shared_low_bits)))
        return self._tables[xp.__name__]

    def key_bytes_per_elem(self) -> float:
        return dcf.key_bytes(self.n_bits, 1, self.leaf_bits) + 8 * self.coeffs.shape[1]

    def walk_calls_per_elem(self) -> float:
        """The mean ChaCha calls of one element's walk as the kernel makes them (``interval_walk.walk_calls``)."""
        return walk_calls(self.shifted, self.n_bits, self.leaf_bits, fold=self.leaf_fold, keep=self.kept_levels)

    def prg_calls_per_elem(self) -> int:
        """ChaCha calls of one walk a point: an upper bound (both the array code and the GPU kernel share the nodes
        of neighbouring points, which depends on the input)."""
        return (self.n_bits - self.leaf_bits + bool(self.leaf_bits)) * self.m if self.m > 1 else 0
