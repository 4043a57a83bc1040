"""The ChaCha calls of the real backend's interval walk (``simflush.tasks.interval_walk``), which price gates built as
one interval key: the vectorised mean against a point-by-point walk that restarts as ``kernels.interval_eval`` does,
the shapes' known counts, and the leaf rule the real gate uses."""

import numpy as np
import pytest

from real_backend.gates.poly import PiecewisePoly
from simflush.tasks import gates as G
from simflush.tasks.gates import with_params
from simflush.tasks.interval_walk import SAMPLES, gate_walk, leaf_bits, shifted_points, walk_calls
from simflush.tasks.lut_pieces import gate_pieces


def walked(shifted, n_bits, leaf, y):
    """One element's calls, point by point: each walk expands the levels below the first bit it differs from the
    point before in (the first point: all of them), plus a leaf call a point."""
    depth, calls, prev = n_bits - leaf, 0, None
    for x in [(y - q) % (1 << n_bits) for q in shifted] + [y]:
        level = 0 if prev is None else min(n_bits - (x ^ prev).bit_length(), depth)
        calls += depth - level + (1 if leaf else 0)
        prev = x
    return calls


@pytest.mark.parametrize("breaks,n_bits", [([-5, 3, 1000, 2**30], 40), (list(range(-100, 100)), 48),
                                           ([64 * i for i in range(-40, 40)], 48)])
def test_the_mean_is_the_point_by_point_walks(breaks, n_bits):
    shifted = shifted_points(breaks, n_bits)
    leaf = leaf_bits(shifted, n_bits)
    ys = np.random.default_rng(0).integers(0, 1 << n_bits, size=(SAMPLES, 1), dtype=np.uint64)[:, 0]
    want = np.mean([walked(shifted, n_bits, leaf, int(y)) for y in ys])
    assert walk_calls(shifted, n_bits, leaf) == pytest.approx(want, rel=1e-12)


def test_consecutive_points_cost_two_calls_each_and_one_point_a_whole_walk_and_a_half():
    n = 48
    unit = shifted_points(list(range(1, 65536)), n)
    assert leaf_bits(unit, n) == 0
    assert walk_calls(unit, n, 0) / 65536 == pytest.approx(2.0, abs=0.01)   # a binary counter's carries
    one = walk_calls(shifted_points([0], n), n, 0)
    assert n + 1 <= one <= 2 * n   # the point, then y: they part at a random level


def test_the_real_gate_takes_its_leaf_from_the_same_rule():
    for gate in (G.GELU_CONST, G.NEXP, with_params(G.INV_LUT, in_scale_bits=12, row_len=128)):
        (breaks, rows), _ = gate_pieces(gate, 12, 48)
        real = PiecewisePoly(48, list(breaks), np.array(rows, dtype=np.int64), 48)
        assert real.leaf_bits == leaf_bits(shifted_points(breaks, 48), 48)
    assert PiecewisePoly(48, [64 * i for i in range(100)], np.zeros((101, 1), dtype=np.int64), 48).leaf_bits == 6


def test_a_gates_calls_follow_its_call_site_and_ring():
    inv = {k: gate_walk(with_params(G.INV_LUT, in_scale_bits=12, row_len=k), 48, 12)[0] for k in (64, 128)}
    assert inv[128] == pytest.approx(2 * inv[64], rel=0.02)   # 2^13 entries against 2^12
    rsqrt = [gate_walk(with_params(G.RSQRT_LUT, in_scale_bits=12), n, 12)[0] for n in (48, 52)]
    assert rsqrt[1] > rsqrt[0] * 1.1   # 128 more intervals an octave and deeper walks
