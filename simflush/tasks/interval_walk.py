"""How the real backend walks an interval key (``real_backend.gates.poly``, ``kernels.interval_eval``): its
truth-table leaf, and the ChaCha calls one element's walk makes, which is what a gate built that way costs.

One DCF key on the n-bit line is walked at every point y - q_j of an element (q_j the breakpoints shifted by
2^(n-1), ascending) and then at y; each walk starts at the deepest node it shares with the point before, so it
expands only the levels below the first bit in which the two differ. A leaf of ``leaf_bits`` turns the last levels
into one PRF call a point. The calls depend on y only through the borrows of y - q_j; their mean over y uniform on
the ring (a masked input is) is taken on a fixed sample of y, so the figure is the same on every call.
"""
from functools import cache

import numpy as np

from .gates import Gate
from .lut_pieces import gate_pieces

TABLE_LEAF_MIN_POINTS = 64   # from this many breakpoints a truth-table leaf pays for its key bytes
SAMPLES = 32                 # values of y the mean is taken over


def shifted_points(breakpoints: tuple[int, ...], n_bits: int) -> list[int]:
    """Signed breakpoints on the line shifted by 2^(n-1), where the key compares."""
    half = 1 << (n_bits - 1)
    return [(p + half) % (1 << n_bits) for p in breakpoints]


def shared_low_bits(shifted: list[int], n_bits: int) -> int:
    """The low bits in which no two points y - q_j of an element differ: the points' common trailing zeros."""
    return min([n_bits - 1] + [(q & -q).bit_length() - 1 for q in shifted if q])


def leaf_bits(shifted: list[int], n_bits: int) -> int:
    """The truth-table leaf's bits: up to 8 of the shared low bits, where there are many points and 4 such bits."""
    low = shared_low_bits(shifted, n_bits)
    return min(8, low) if len(shifted) >= TABLE_LEAF_MIN_POINTS and low >= 4 else 0


def walk_calls(shifted: list[int], n_bits: int, leaf: int, samples: int = SAMPLES) -> float:
    """Mean ChaCha calls of one element's walk over all its points (tree levels expanded, plus a leaf call a point
    when there is a leaf)."""
    if not shifted:
        return 0.0
    depth = n_bits - leaf
    mask = np.uint64((1 << n_bits) - 1)
    y = np.random.default_rng(0).integers(0, 1 << n_bits, size=(samples, 1), dtype=np.uint64)
    x = np.concatenate([(y - np.array(shifted, dtype=np.uint64)[None, :]) & mask, y], axis=1)
    restart = np.minimum(n_bits - _bit_length(x[:, 1:] ^ x[:, :-1]), depth)   # the first differing bit's depth
    per_y = depth + (depth - restart).sum(axis=1) + (x.shape[1] if leaf else 0)
    return float(per_y.mean())


def _bit_length(v: np.ndarray) -> np.ndarray:
    out = np.zeros(v.shape, dtype=np.int64)
    for s in (32, 16, 8, 4, 2, 1):
        high = v >= np.uint64(1 << s)
        out += high * s
        v = np.where(high, v >> np.uint64(s), v)
    return out + (v > 0)


def gate_walk(gate: Gate, n_bits: int, f: int) -> tuple[float, int]:
    """(ChaCha calls, points) of one element's walk of ``gate`` (a ``lut_pieces.PIECEWISE_KINDS`` gate, with its call
    site's parameters) built as one interval key in Z_2^n_bits."""
    return _gate_walk(gate, gate.params, n_bits, f)


@cache
def _gate_walk(gate: Gate, params, n_bits: int, f: int) -> tuple[float, int]:
    # keyed by the parameters too: gates that differ only in them compare equal
    (breaks, _), _ = gate_pieces(gate, f, n_bits)
    shifted = shifted_points(breaks, n_bits)
    return walk_calls(shifted, n_bits, leaf_bits(shifted, n_bits)), len(shifted) + 1
