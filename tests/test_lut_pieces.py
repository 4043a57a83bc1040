"""nExp's LUT pair as interval pieces (``tasks.lut_pieces.nexp_lut_pieces``): the same function as SIGMA's clip and two
byte lookups, looked up directly and through the plain evaluator."""

from bisect import bisect_right

import numpy as np
import pytest

from simflush.plain.gates import GateEvaluator
from simflush.tasks import tables
from simflush.tasks.gates import NEXP_LUT
from simflush.tasks.lut_pieces import PIECEWISE_KINDS, gate_pieces, nexp_lut_pieces
from simflush.tasks.values import RingArith, RingArray, UnboundedArith

F = 12


def clip_and_lookup(v: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """SIGMA's nExp LUT pair in the clear: t = clip(x, 0, 2^16 - 1), then (msb[t >> 8], lsb[t mod 2^8])."""
    lsb, msb = np.array(tables.nexp_lsb_lut(f).entries), np.array(tables.nexp_msb_lut(f).entries)
    t = np.clip(v, 0, (1 << 16) - 1)
    return msb[t >> 8], lsb[t & 255]


def edge_inputs(n_bits: int, breaks: tuple[int, ...], seed: int) -> np.ndarray:
    half = 1 << (n_bits - 1)
    b = np.array(breaks, dtype=np.int64)
    edges = [0, 1, -1, -5, 255, 256, (1 << 16) - 1, 1 << 16, (1 << 16) + 1, -half, -half + 1, half - 1, half - 2]
    rand = np.random.default_rng(seed).integers(-half, half, 4000)
    near = np.random.default_rng(seed).integers(-(1 << 17), 1 << 17, 4000)
    v = np.concatenate([edges, b - 1, b, b + 1, rand, near])
    return v[(v >= -half) & (v < half)]


@pytest.mark.parametrize("n_bits", [16, 37, 48, 64])
def test_nexp_pieces_are_the_clip_and_two_lookups(n_bits):
    breaks, rows = nexp_lut_pieces(F, n_bits)
    top = min((1 << 16) - 1, (1 << (n_bits - 1)) - 1)
    assert len(breaks) == top and len(rows) == top + 1 and all(len(r) == 2 for r in rows)
    v = edge_inputs(n_bits, breaks, n_bits)
    looked_up = np.array([rows[bisect_right(breaks, int(x))] for x in v])
    msb, lsb = clip_and_lookup(v, F)
    assert np.array_equal(looked_up[:, 0], msb) and np.array_equal(looked_up[:, 1], lsb)


@pytest.mark.parametrize("n_bits", [37, 48])
def test_the_plain_evaluator_reads_nexp_from_its_pieces(n_bits):
    """One definition: the evaluator's output is the clip and lookups, on the ring and on the unbounded probe."""
    assert NEXP_LUT.kind in PIECEWISE_KINDS
    (breaks, _), scales = gate_pieces(NEXP_LUT, F, n_bits)
    assert scales == (F, F)
    v = edge_inputs(n_bits, breaks, 7)
    msb, lsb = clip_and_lookup(v, F)
    for arith in (RingArith(n_bits, np), UnboundedArith(n_bits, np)):
        out = GateEvaluator(arith, F)(NEXP_LUT, RingArray(arith.encode(v), F))
        assert [p.scale for p in out.parts] == [F, F]
        assert np.array_equal(arith.signed(out.parts[0].data), msb)
        assert np.array_equal(arith.signed(out.parts[1].data), lsb)
