"""How the real backend walks an interval key (``real_backend.gates.poly``, ``kernels.interval_eval``): its
breakpoints, its truth-table leaf, and the ChaCha calls one element's walk makes, which is what a gate built that way
costs.

One DCF key on the n-bit line is walked at every point y - q_j of an element (q_j the breakpoints shifted by
2^(n-1), ascending) and then at y; each walk starts at the deepest node it shares with the point before, so it
expands only the levels below the first bit in which the two differ, one fewer where that bit is in the tree's
lowest ``kept_levels`` and the point is below the one before (that walk kept the child it parts to); the kernel keeps
only the path's lowest ``PATH_LEVELS`` levels, so a walk that parts above them starts at the root again. A leaf of
``leaf_bits`` turns the last levels into one PRF call a point. The calls depend on y only through the borrows of
y - q_j; their mean over y uniform on the ring (a masked input is) is taken on a fixed sample of y, so the figure is
the same on every call.

The **fold** (knob ``interval_fold`` = k > 0, the construction since 2026-12-02; 0 is the first one): neighbouring
intervals with equal rows become one (a breakpoint between equal rows adds nothing to the sum), and where the
points are 2^b apart for a b-bit leaf, the leaf takes k more bits, so that 2^k neighbouring points share one leaf
node, and its PRF words are laid out so that they share one ChaCha block too: one call serves them all, for 2^k
times the leaf's key bytes (GeLU-const at k = 2: 187 points in 47 leaf nodes, 8 kB a key instead of 2 kB); and the
kernel keeps left children in the tree's lowest levels (``kept_levels``).
"""
from dataclasses import dataclass
from functools import cache

import numpy as np

from .gates import Gate
from .lut_pieces import gate_pieces

TABLE_LEAF_MIN_POINTS = 64   # from this many breakpoints a truth-table leaf pays for its key bytes
SAMPLES = 32                 # values of y the mean is taken over
MAX_FOLD = 3                 # 2^3 points' words fill one ChaCha block (8 words)
SIBLING_LEVELS = 4           # a folded key's walk keeps the left child it computed in this many lowest tree levels
# the kernel's path window: a walk keeps its path's nodes at this many lowest tree levels and its leaf node; a point
# that parts from the one before above them walks from the root. The calls that adds an element (48 bits, fold 2,
# 4,096 values of y): GeLU-const 0 (of 180), nExp 0.04 (of 236), Recip 5.4 (of 295), RsqrtInit 0.07 (of 245); 20
# levels would add Recip 77. SIGMA's RsqrtLUT, whose high octaves' points are far apart, pays 3.3 % (574 of 17,570;
# 29 % unfolded)
PATH_LEVELS = 24


@dataclass(frozen=True)
class IntervalBuild:
    """How a backend builds its interval keys: the ring it walks them in and the fold (module doc)."""

    ring_bits: int
    fold: int = 0


def merged_pieces(breakpoints: list[int], rows: list) -> tuple[list[int], list]:
    """The breakpoints and rows with each breakpoint between two equal rows dropped (the same function)."""
    keep = [i for i in range(len(breakpoints)) if list(rows[i]) != list(rows[i + 1])]
    return [breakpoints[i] for i in keep], [rows[0]] + [rows[i + 1] for i in keep]


def shifted_points(breakpoints: tuple[int, ...], n_bits: int) -> list[int]:
    """Signed breakpoints on the line shifted by 2^(n-1), where the key compares."""
    half = 1 << (n_bits - 1)
    return [(p + half) % (1 << n_bits) for p in breakpoints]


def shared_low_bits(shifted: list[int], n_bits: int) -> int:
    """The low bits in which no two points y - q_j of an element differ: the points' common trailing zeros."""
    return min([n_bits - 1] + [(q & -q).bit_length() - 1 for q in shifted if q])


def leaf_bits(shifted: list[int], n_bits: int, fold: int = 0) -> tuple[int, int]:
    """The truth-table leaf's (bits, fold): up to 8 of the shared low bits b, where there are many points and 4 such
    bits; with ``fold`` > 0 and most neighbouring points 2^b apart, ``fold`` bits more, folded (module doc)."""
    if not 0 <= fold <= MAX_FOLD:
        raise ValueError(f"interval fold {fold!r} not allowed; allowed: 0..{MAX_FOLD}")
    low = shared_low_bits(shifted, n_bits)
    if len(shifted) < TABLE_LEAF_MIN_POINTS or low < 4:
        return 0, 0
    b = min(8, low)
    gaps = np.diff(np.array(sorted(shifted), dtype=object))
    dense = fold and 2 * sum(int(g) == 1 << b for g in gaps) >= len(gaps)
    k = min(fold, n_bits - 1 - b) if dense else 0
    return b + k, k


def leaf_index(z, leaf_bits: int, fold: int):
    """The PRF word of leaf entry z (a uint64 array, NumPy or CuPy): z's low leaf_bits - fold bits above its top fold
    bits, so the 2^fold entries that differ only in those top bits are neighbouring words (``real_backend.dcf``
    builds the leaf with it, ``kernels`` has it in CUDA)."""
    low = leaf_bits - fold
    return ((z & np.uint64((1 << low) - 1)) << np.uint64(fold)) | (z >> np.uint64(low))


def leaf_block(z: np.ndarray, leaf: int, fold: int) -> np.ndarray:
    """The ChaCha block (counter - 1) that holds the PRF word of leaf entry z: 8 words a block."""
    return leaf_index(z, leaf, fold) >> np.uint64(3)


def kept_levels(fold: int) -> int:
    """The lowest tree levels in which a walk keeps its left children: none in the first construction (fold 0)."""
    return SIBLING_LEVELS if fold else 0


def walk_calls(shifted: list[int], n_bits: int, leaf: int, samples: int = SAMPLES, fold: int = 0,
               keep: int = 0) -> float:
    """Mean ChaCha calls of one element's walk over all its points (tree levels expanded: all of them where the point
    parts from the one before above the lowest ``PATH_LEVELS``, less a child kept in the lowest ``keep`` levels, plus
    a leaf call a point when there is a leaf, saved where a point has the leaf node and block of the point before)."""
    if not shifted:
        return 0.0
    depth = n_bits - leaf
    mask = np.uint64((1 << n_bits) - 1)
    y = np.random.default_rng(0).integers(0, 1 << n_bits, size=(samples, 1), dtype=np.uint64)
    x = np.concatenate([(y - np.array(shifted, dtype=np.uint64)[None, :]) & mask, y], axis=1)
    restart = np.minimum(n_bits - _bit_length(x[:, 1:] ^ x[:, :-1]), depth)   # the first differing bit's depth
    kept = (x[:, 1:] < x[:, :-1]) & (restart >= max(0, depth - keep)) & (restart < depth)
    start = np.where(restart < depth - PATH_LEVELS, 0, restart)   # above the window: from the root
    leaf_calls = 0
    if leaf:
        block = leaf_block(x & np.uint64((1 << leaf) - 1), leaf, fold)
        leaf_calls = 1 + ((restart < depth) | (block[:, 1:] != block[:, :-1])).sum(axis=1)
    per_y = depth + (depth - start - kept).sum(axis=1) + leaf_calls
    return float(per_y.mean())


def _bit_length(v: np.ndarray) -> np.ndarray:
    out = np.zeros(v.shape, dtype=np.int64)
    for s in (32, 16, 8, 4, 2, 1):
        high = v >= np.uint64(1 << s)
        out += high * s
        v = np.where(high, v >> np.uint64(s), v)
    return out + (v > 0)


def interval_points(breaks: list[int], rows: list, fold: int) -> tuple[list[int], list]:
    """The breakpoints and rows a key of ``fold`` is built on: merged where the fold is on."""
    return merged_pieces(list(breaks), list(rows)) if fold else (list(breaks), list(rows))


def gate_walk(gate: Gate, build: IntervalBuild, f: int) -> tuple[float, int]:
    """(ChaCha calls, points) of one element's walk of ``gate`` (a ``lut_pieces.PIECEWISE_KINDS`` gate, with its call
    site's parameters) built as one interval key as ``build`` says."""
    return _gate_walk(gate, gate.params, build, f)


@cache
def _gate_walk(gate: Gate, params, build: IntervalBuild, f: int) -> tuple[float, int]:
    # keyed by the parameters too: gates that differ only in them compare equal
    (breaks, rows), _ = gate_pieces(gate, f, build.ring_bits)
    breaks, _ = interval_points(breaks, rows, build.fold)
    shifted = shifted_points(breaks, build.ring_bits)
    leaf, fold = leaf_bits(shifted, build.ring_bits, build.fold)
    return walk_calls(shifted, build.ring_bits, leaf, fold=fold, keep=kept_levels(build.fold)), len(shifted) + 1
