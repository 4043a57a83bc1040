"""The ChaCha calls of the real backend's interval walk (``simflush.tasks.interval_walk``), which price gates built as
one interval key: the vectorised mean against a point-by-point walk that restarts as ``kernels.interval_eval`` does,
the shapes' known counts, the leaf rule the real gate uses, and the fold (merged rows, leaf calls shared)."""

import numpy as np
import pytest

from real_backend.dcf import leaf_index
from real_backend.gates.poly import PiecewisePoly
from simflush.tasks import gates as G
from simflush.tasks.gates import with_params
from simflush.tasks.interval_walk import (
    PATH_LEVELS,
    SAMPLES,
    SIBLING_LEVELS,
    IntervalBuild,
    gate_walk,
    kept_levels,
    leaf_bits,
    merged_pieces,
    shifted_points,
    walk_calls,
)
from simflush.tasks.lut_pieces import gate_pieces


def walked(shifted, n_bits, leaf, y, fold=0, keep=0):
    """One element's calls, point by point: each walk expands the levels below the first bit it differs from the
    point before in (the first point, and one that differs from it above the lowest PATH_LEVELS levels, whose nodes
    alone the kernel keeps: all of them), one fewer where the walk before went right there in the tree's lowest
    ``keep`` levels (it kept that node's left child), plus a leaf call a point, unless the point is in the leaf node
    and the ChaCha block (the dcf's leaf_index // 8) of the point before."""
    depth, calls, prev, prev_block = n_bits - leaf, 0, None, None
    for x in [(y - q) % (1 << n_bits) for q in shifted] + [y]:
        level = 0 if prev is None else min(n_bits - (x ^ prev).bit_length(), depth)
        went_right = prev is not None and level < depth and (prev >> (n_bits - 1 - level)) & 1
        kept = went_right and level >= depth - keep
        start = level if level >= depth - PATH_LEVELS else 0
        block = int(leaf_index(np.uint64(x % (1 << leaf)), leaf, fold)) // 8 if leaf else None
        calls += depth - start - kept + (1 if leaf and (level < depth or block != prev_block) else 0)
        prev, prev_block = x, block
    return calls


@pytest.mark.parametrize("breaks,n_bits,fold", [([-5, 3, 1000, 2**30], 40, 2), (list(range(-100, 100)), 48, 0),
                                                ([64 * i for i in range(-40, 40)], 48, 0),
                                                ([64 * i for i in range(-40, 40)], 48, 2),
                                                ([256 * i for i in range(-129, 128)], 48, 3),
                                                ([-(5**i) for i in range(20)] + [3**i for i in range(30)], 48, 2)])
def test_the_mean_is_the_point_by_point_walks(breaks, n_bits, fold):
    shifted = shifted_points(breaks, n_bits)
    leaf, k = leaf_bits(shifted, n_bits, fold)
    keep = kept_levels(fold)
    ys = np.random.default_rng(0).integers(0, 1 << n_bits, size=(SAMPLES, 1), dtype=np.uint64)[:, 0]
    want = np.mean([walked(shifted, n_bits, leaf, int(y), k, keep) for y in ys])
    assert walk_calls(shifted, n_bits, leaf, fold=k, keep=keep) == pytest.approx(want, rel=1e-12)


def test_the_fold_takes_bits_only_over_dense_points_and_shares_leaf_calls():
    n = 48
    dense = shifted_points([64 * i for i in range(-40, 40)], n)
    assert leaf_bits(dense, n, 0) == (6, 0) and leaf_bits(dense, n, 2) == (8, 2)
    sparse = shifted_points([64 * i * i for i in range(1, 80)], n)   # a leaf, but neighbours far apart
    assert leaf_bits(sparse, n, 2) == (6, 0)
    plain, folded = walk_calls(dense, n, 6), walk_calls(dense, n, 8, fold=2, keep=SIBLING_LEVELS)
    assert folded < plain / 2   # 4 points a leaf node and a leaf call
    with pytest.raises(ValueError, match="interval fold 4"):
        leaf_bits(dense, n, 4)


def test_merging_drops_only_breakpoints_between_equal_rows():
    breaks, rows = merged_pieces([1, 2, 3, 4], [(0,), (0,), (5,), (5,), (7,)])
    assert breaks == [2, 4] and rows == [(0,), (5,), (7,)]
    (gb, gr), _ = gate_pieces(G.GELU_CONST, 12, 48)
    kept, _ = merged_pieces(list(gb), list(gr))
    assert len(gb) == 257 and len(kept) == 187   # GeLU-const's 70 zero steps (GeLU rounds to 0 below -3.5)
    calls = {k: gate_walk(G.GELU_CONST, IntervalBuild(48, k), 12) for k in (0, 2)}
    assert calls[0][1] == 258 and calls[2][1] == 188
    assert calls[2][0] < calls[0][0] / 3


def test_consecutive_points_cost_two_calls_each_or_one_keeping_children_and_one_point_a_whole_walk_and_a_half():
    n = 48
    unit = shifted_points(list(range(1, 65536)), n)
    assert leaf_bits(unit, n) == (0, 0)
    assert walk_calls(unit, n, 0) / 65536 == pytest.approx(2.0, abs=0.01)   # a binary counter's carries
    # less the kept child of every restart in the lowest levels
    kept = walk_calls(unit, n, 0, keep=SIBLING_LEVELS) / 65536
    assert kept == pytest.approx(2.0 - (1 - 2.0**-SIBLING_LEVELS), abs=0.01)
    one = walk_calls(shifted_points([0], n), n, 0)
    assert n + 1 <= one <= 2 * n   # the point, then y: they part at a random level


def test_a_point_that_parts_above_the_path_window_walks_from_the_root():
    n = 48
    # y - q_0 and y - q_1 part at or above bit 40, y - q_1 and y at bit 47: both far above the lowest PATH_LEVELS
    assert walk_calls(shifted_points([0, 2**40], n), n, 0) == 3 * n


@pytest.mark.parametrize("fold", [0, 2])
def test_the_real_gate_takes_its_points_and_leaf_from_the_same_rule(fold):
    for gate in (G.GELU_CONST, G.NEXP, with_params(G.INV_LUT, in_scale_bits=12, row_len=128)):
        (breaks, rows), _ = gate_pieces(gate, 12, 48)
        real = PiecewisePoly(48, list(breaks), np.array(rows, dtype=np.int64), 48, fold=fold)
        assert real.m == gate_walk(gate, IntervalBuild(48, fold), 12)[1]
        assert (real.leaf_bits, real.leaf_fold) == leaf_bits(real.shifted, 48, fold)
    rows = np.arange(101)[:, None]
    assert PiecewisePoly(48, [64 * i for i in range(100)], rows, 48).leaf_bits == 6


def test_a_gates_calls_follow_its_call_site_and_ring():
    at = {n: IntervalBuild(n, 0) for n in (48, 52)}
    inv = {k: gate_walk(with_params(G.INV_LUT, in_scale_bits=12, row_len=k), at[48], 12)[0] for k in (64, 128)}
    assert inv[128] == pytest.approx(2 * inv[64], rel=0.02)   # 2^13 entries against 2^12
    rsqrt = [gate_walk(with_params(G.RSQRT_LUT, in_scale_bits=12), at[n], 12)[0] for n in (48, 52)]
    assert rsqrt[1] > rsqrt[0] * 1.1   # 128 more intervals an octave and deeper walks
