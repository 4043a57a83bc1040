"""The gate tables of ``simflush.tasks.tables`` against the true functions, SUF's derived numbers and structure.

Error bounds are derived from the construction, not fitted (u = 2^-f, one Qf unit; t = x - start, h = segment width):

- interpolation: a cubic Hermite fit errs by at most max|F''''|/24 * t^2 (h - t)^2 (<= M4 h^4 / 384), an endpoint
  chord by max|F''|/2 * t (h - t) (<= M2 h^2 / 8); the maxima are taken per segment from closed-form derivatives
  on a 2001-point grid and padded by 1 %;
- centred quantisation: |C^_k u - C_k| t^k summed over k, with C_k the real coefficients (recomputed here by solving
  the Hermite/chord conditions) and C^_k the table's llround'ed ones (each residual <= u/2, checked);
- re-expansion: |c^_k - 2^f acc_k| u |x|^k summed over k, acc_k the exact (rational) x-coefficients of the rounded
  centred polynomial (each residual <= u/2 for llround, < u for rsqrt's floor, checked; a priori (u/2) sum |x|^k);
- 1e-12 for double arithmetic in the real-valued decode.
"""

import itertools
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from simflush.tasks import gates, tables

F = tables.FRAC_BITS
U = 2.0**-F
PAD = 1.01
PHI = np.vectorize(lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2))))


def _pdf(x):
    return np.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _silu_d4(x):
    s = _sig(x)
    s1 = s * (1 - s)
    s3 = s1 * (1 - 6 * s + 6 * s * s)
    s4 = s1 * (1 - 2 * s) * (1 - 12 * s + 12 * s * s)
    return x * s4 + 4 * s3


FUNCS = {  # name: (F, F', F'''')
    "nexp": (lambda x: np.exp(-x), lambda x: -np.exp(-x), lambda x: np.exp(-x)),
    "gelu": (lambda x: x * PHI(x), lambda x: PHI(x) + x * _pdf(x), lambda x: _pdf(x) * (-(x**4) + 7 * x * x - 4)),
    "silu": (lambda x: x * _sig(x), lambda x: _sig(x) + x * _sig(x) * (1 - _sig(x)), _silu_d4),
}


def _seg_max(fn, lo, hi):
    return PAD * float(np.max(np.abs(fn(np.linspace(lo, hi, 2001)))))


def _hermite_real(fn, dfn, lo, h):
    """Real centred coefficients from the four Hermite conditions (solved, independent of the module's formula)."""
    m = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, h, h * h, h**3], [0, 1, 2 * h, 3 * h * h]], dtype=float)
    return np.linalg.solve(m, np.array([fn(lo), dfn(lo), fn(lo + h), dfn(lo + h)], dtype=float))


def _exact_x_coeffs(centred, offset_q):
    """Exact x-coefficients (in units of u) of sum_k C_k u (x - offset)^k."""
    x0 = Fraction(offset_q, 2**F)
    return [sum(Fraction(c) * math.comb(k, i) * (-x0) ** (k - i) for k, c in enumerate(centred) if k >= i)
            for i in range(len(centred))]


def _piece_of(table, xq):
    return np.searchsorted(np.array(table.breakpoints), xq, side="right") - 1


def _decode(table, xq):
    """Real value of a piecewise table at Qf inputs ``xq`` (inside its breakpoints): sum c_k u x^k."""
    x = xq / 2**table.in_scale_bits
    c = np.array(table.coeffs, dtype=float)[_piece_of(table, xq)] * 2.0**-table.out_scale_bits
    return sum(c[:, k] * x**k for k in range(c.shape[1]))


def _check_cubic_spline(table, centred, name, lo, hi, segments):
    """Every Qf point of [lo, hi): |decoded - F| <= the derived bound (module docstring)."""
    fn, dfn, d4 = FUNCS[name]
    h = (hi - lo) / segments
    xq = np.arange(round(lo * 2**F), round(hi * 2**F))
    x, piece = xq * U, _piece_of(table, xq)
    bound = np.full(x.shape, 1e-12)
    for i in range(segments):
        s0 = lo + i * h
        sel = piece == i
        t = x[sel] - s0
        real = _hermite_real(fn, dfn, s0, h)
        exact_x = _exact_x_coeffs(centred[i], table.breakpoints[i])
        x_resid = [abs(c - float(e)) for c, e in zip(table.coeffs[i], exact_x, strict=True)]
        c_resid = [abs(c * U - r) for c, r in zip(centred[i], real, strict=True)]
        assert max(x_resid) <= 0.5 + 1e-9 and max(c_resid) <= U / 2 + 1e-12, (name, i)
        bound[sel] += _seg_max(d4, s0, s0 + h) / 24 * t**2 * (h - t) ** 2
        bound[sel] += sum(r * t**k for k, r in enumerate(c_resid))
        bound[sel] += sum(r * U * np.abs(x[sel]) ** k for k, r in enumerate(x_resid))
    err = np.abs(_decode(table, xq) - fn(x))
    assert np.all(err <= bound), (name, float(np.max(err - bound)))
    return float(np.max(bound))


# --- rounding and re-expansion --------------------------------------------------------------------------------------

def test_llround_rounds_halves_away_from_zero():
    assert [tables.llround(v) for v in (0.5, -0.5, 2.5, -2.5, 1.4999999999999998, 0.49999999999999994)] == \
        [1, -1, 3, -3, 1, 0]


def test_recip_slope_of_minus_half_ulp_rounds_to_minus_one():
    """[64, 128): the chord's slope is -1/8192 = -0.5 u; llround gives -1 and c0_x = 64 + 64 = 128 (Appendix B).
    Round-half-even would give slope 0 and c0_x 64; a wrong re-expansion would not give 128."""
    recip = tables.recip_init_table()
    assert recip.coeffs[recip.breakpoints.index(262144)] == (128, -1, 0, 0)


def test_expand_to_x_matches_exact_rational_expansion():
    centred, offset = (1507, -1507, 710, -156), 4096 * 5
    exact = _exact_x_coeffs(centred, offset)
    assert tables.expand_to_x(centred, offset, F) == tuple(tables.llround(float(e)) for e in exact)


# --- SUF's derived numbers (facts Appendices A-C, §4.1) --------------------------------------------------------------

APPENDIX_A = [
    ((4096, -4096, 1931, -425), (4096, -4096, 1931, -425)), ((1507, -1507, 710, -156), (3880, -3395, 1178, -156)),
    ((554, -554, 261, -57), (3162, -2282, 603, -57)), ((204, -204, 96, -21), (2247, -1347, 285, -21)),
    ((75, -75, 35, -8), (1447, -739, 131, -8)), ((28, -28, 13, -3), (868, -383, 58, -3)),
    ((10, -10, 5, -1), (466, -178, 23, -1)), ((4, -4, 2, 0), (130, -32, 2, 0)), ((1, -1, 1, 0), (73, -17, 1, 0)),
    ((1, -1, 0, 0), (10, -1, 0, 0)),
] + [((0, 0, 0, 0), (0, 0, 0, 0))] * 6


def test_nexp_matches_appendix_a():
    breaks, centred = tables.nexp_centred()
    table = tables.nexp_table()
    assert breaks == table.breakpoints == tuple(4096 * i for i in range(17))
    assert list(zip(centred, table.coeffs, strict=True)) == APPENDIX_A
    assert table.below is None and table.above == (0, 0, 0, 0)


def test_recip_init_matches_appendix_b():
    table = tables.recip_init_table()
    assert table.breakpoints == (0, *(4096 * 2**k for k in range(11)))
    assert [c[:2] for c in table.coeffs] == [(4096, 0), (6144, -2048), (3072, -512), (1536, -128), (768, -32),
                                             (384, -8), (192, -2), (128, -1), (32, 0), (16, 0), (8, 0)]
    assert table.above == (4, 0, 0, 0) and all(c[2:] == (0, 0) for c in table.coeffs)


def test_rsqrt_init_matches_appendix_c():
    table = tables.rsqrt_init_table()
    assert table.breakpoints == (0, *(4 * 2**k for k in range(15)))
    assert table.coeffs == ((131072, 0), (169463, -39311462), (119828, -13898701), (84732, -4913933),
                            (59914, -1737338), (42366, -614242), (29957, -217167), (21183, -76780), (14979, -27146),
                            (10592, -9598), (7490, -3393), (5296, -1200), (3744, -424), (2648, -150), (1872, -53))
    assert table.above == (1024, 0)


def test_gelu_const_matches_suf_values():
    table = tables.gelu_const_table()
    value = dict(zip(table.breakpoints, (c[0] for c in table.coeffs), strict=False))
    assert (value[0], value[256], value[-256], value[32512]) == (65, 205, -64, 32640)
    assert table.below == (0,) and table.above == (16383,)  # x >= 8: SUF's code gives ~4.0, not x (facts §4.1)


# --- real-valued accuracy ---------------------------------------------------------------------------------------------

def test_nexp_within_derived_bound():
    """exp(-t) on [0, 16): Hermite term <= e^-i / 384 on segment i (0.0026 on the first); the bound is largest
    where Appendix A's x-coefficients carry rounding at large x (segments 7-9, facts C4)."""
    _, centred = tables.nexp_centred()
    assert _check_cubic_spline(tables.nexp_table(), centred, "nexp", 0.0, 16.0, 16) < 0.01


@pytest.mark.parametrize("name, builder", [("gelu", tables.gelu_spline_table), ("silu", tables.silu_spline_table)])
def test_activation_splines_within_derived_bound(name, builder):
    """GeLU / SiLU on [-8, 8), unit segments: Hermite term <= max|F''''| / 384 (GeLU's |F''''| <= 4 phi(0) = 1.6)."""
    fn, dfn, _ = FUNCS[name]
    centred = tables.hermite_segments(fn, dfn, -8.0, 8.0, 16, F)[1]
    assert _check_cubic_spline(builder(), centred, name, -8.0, 8.0, 16) < 0.05


def test_activation_spline_tails():
    """Below -8 the splines give 0 and above 8 the identity: GeLU errs by |8 Phi(-8)| < 1e-14 there, SiLU by
    |silu(-8)| = 8 / (1 + e^8) = 0.0027 below (its largest value left of -8) and 8 e^-8 / (1 + e^-8) above."""
    for builder in (tables.gelu_spline_table, tables.silu_spline_table):
        assert builder().below == (0, 0, 0, 0) and builder().above == (0, 4096, 0, 0)
    assert abs(tables.silu(-8.0)) < 0.0027 and abs(tables.gelu(-8.0)) < 1e-14


def _check_chord(table, fn, d2_at, lo_piece):
    """Affine chords: |decoded - F| <= max|F''| / 2 t (h - t) + centred and re-expansion residuals (x-coefficient
    residual < 1 u for rsqrt's floored out0, <= u/2 for recip's llround)."""
    worst = 0.0
    for i in range(lo_piece, len(table.coeffs)):
        lq, hq = table.breakpoints[i], table.breakpoints[i + 1]
        lo, hi = lq * U, hq * U
        a0, a1 = table.coeffs[i][:2]
        c0 = tables.llround(fn(lo) * 2**F)
        c1 = a1
        real1 = (fn(hi) - fn(lo)) / (hi - lo)
        x0_resid = abs(a0 - float(Fraction(c0) - Fraction(c1) * Fraction(lq, 2**F)))
        assert abs(c1 * U - real1) <= U / 2 + 1e-12 and x0_resid < 1
        xq = np.arange(lq, hq)
        x, t = xq * U, xq * U - lo
        bound = d2_at(lo) / 2 * t * (hi - lo - t) + abs(c0 * U - fn(lo)) + abs(c1 * U - real1) * t + x0_resid * U
        err = np.abs(a0 * U + a1 * U * x - fn(x))
        assert np.all(err <= bound + 1e-12), (i, float(np.max(err - bound)))
        worst = max(worst, float(np.max(bound)))
    return worst


def test_recip_init_within_derived_bound():
    """1/x on [1, 1024): chord term <= 1/(4L) on [L, 2L); the llround'ed slope adds up to (u/2) L, which is what
    makes [64, 128) fall to 0 at 128 (slope -1 u for -0.5 u)."""
    assert _check_chord(tables.recip_init_table(), lambda x: 1 / x, lambda x: 2 / x**3, 1) <= 0.25 + 0.01


def test_rsqrt_init_within_derived_bound():
    """1/sqrt(x) on [eps, 16): chord term <= (3/4) L^-5/2 h^2 / 8 on [L, 2L), i.e. (3/32) L^-1/2 = 3.0 at eps."""
    assert _check_chord(tables.rsqrt_init_table(), lambda x: 1 / np.sqrt(x), lambda x: 0.75 * x**-2.5, 1) <= 3.1


def test_gelu_const_within_derived_bound():
    """Each value is the 256-segment spline at the segment's midpoint m (h = 1/16): |GeLU(x) - v| <=
    max|GeLU'| |x - m| + max|GeLU''''| h^4 / 384 + centred residuals at m + u (1 + h + h^2) for the three floors
    of SUF's Horner; max|GeLU'| <= 1.13 and |x - m| <= 129 u (the segment [-1/16, 0)), so it stays under 0.037."""
    table = tables.gelu_const_table()
    breaks, centred = tables.gelu_centred(F, 256)
    fn, dfn, d4 = FUNCS["gelu"]
    h = 1 / 16
    for i, (lq, hq) in enumerate(itertools.pairwise(breaks)):
        mid = (lq & (2**64 - 1)) + ((((hq & (2**64 - 1)) or 2**64 - 1) - (lq & (2**64 - 1))) >> 1)
        mid = mid - 2**64 if mid >= 2**63 else mid
        xq = np.arange(lq, hq)
        lo, tm = lq * U, (mid - lq) * U
        real = _hermite_real(fn, dfn, lo, h)
        c_resid = sum(abs(c * U - r) * tm**k for k, (c, r) in enumerate(zip(centred[i], real, strict=True)))
        bound = (_seg_max(dfn, lo, lo + h) * np.abs(xq - mid) * U + _seg_max(d4, lo, lo + h) * h**4 / 384
                 + c_resid + U * (1 + h + h * h))
        err = np.abs(table.coeffs[i][0] * U - fn(xq * U))
        assert np.all(err <= bound), (i, float(np.max(err - bound)))
        assert float(np.max(bound)) < 0.037


# --- structure -----------------------------------------------------------------------------------------------------

PIECEWISE = {  # builder: (domain in Qf, gate)
    tables.nexp_table: ((0, 16 * 4096), gates.NEXP),
    tables.recip_init_table: ((0, 1024 * 4096), gates.RECIP),
    tables.rsqrt_init_table: ((0, 16 * 4096), gates.RSQRT_INIT),
    tables.gelu_const_table: ((-8 * 4096, 8 * 4096), gates.GELU_CONST),
    tables.gelu_spline_table: ((-8 * 4096, 8 * 4096), gates.GELU_SPLINE),
    tables.silu_spline_table: ((-8 * 4096, 8 * 4096), gates.SILU),
}


@pytest.mark.parametrize("builder", list(PIECEWISE), ids=lambda b: b.__name__)
def test_piecewise_structure(builder):
    table = builder()
    (lo, hi), gate = PIECEWISE[builder]
    assert table.breakpoints[0] == lo and table.breakpoints[-1] == hi
    assert all(a < b for a, b in zip(table.breakpoints, table.breakpoints[1:], strict=False))
    assert len(table.coeffs) == len(table.breakpoints) - 1
    assert {len(c) for c in table.coeffs} | {len(table.above)} == {gate.r}  # one payload word per coefficient
    assert (table.in_scale_bits, table.out_scale_bits) == (F, F)
    assert builder() is table  # cached


def test_monotone_tables_are_monotone():
    """exp(-t), 1/x and 1/sqrt(x) decrease. rsqrt init does on every Qf point. nExp does up to rises of less than
    1 u, from coefficient rounding: at breakpoints, and in segment 8 in both forms (centred (1, -1, 1, 0) u turns
    upward past t = 8.5, x-expanded (73, -17, 1, 0) u likewise). Every recip piece has slope <= 0 and the values
    decrease between pieces except at 128, where [64, 128) has fallen to 0 (llround'ed slope)."""
    breaks, centred = tables.nexp_centred()
    xq = np.arange(0, 16 * 4096)
    piece = _piece_of(tables.nexp_table(), xq)
    t = (xq - np.array(breaks)[piece]) * U
    c = np.array(centred, dtype=float)[piece] * U
    assert np.all(np.diff(sum(c[:, k] * t**k for k in range(4))) < U)
    assert np.all(np.diff(_decode(tables.nexp_table(), xq)) < U)
    assert np.all(np.diff(_decode(tables.rsqrt_init_table(), np.arange(4, 16 * 4096))) <= 1e-15)
    recip = tables.recip_init_table()
    assert all(c[1] <= 0 for c in recip.coeffs)
    rises = np.flatnonzero(np.diff(_decode(recip, np.arange(4096, 1024 * 4096))) > 0) + 4096 + 1
    assert rises.tolist() == [128 * 4096]


# --- SIGMA's LUTs ---------------------------------------------------------------------------------------------------

def _check_truncated(lut, fn):
    """Entry i = fn(i / 2^in_scale) 2^out_scale cast toward zero: 0 <= exact - entry < 1 for fn >= 0."""
    exact = np.array([fn(i / 2**lut.in_scale_bits) for i in range(2**lut.in_bits)]) * 2**lut.out_scale_bits
    diff = exact - np.array(lut.entries)
    assert len(lut.entries) == 2**lut.in_bits and np.all((diff >= 0) & (diff < 1))


def test_nexp_luts():
    """Both 8-bit tables are exp truncated to Qf; exp(-t) = floor(lsb msb / 2^f) errs by < 3u over [0, 16)
    (each entry < u low, values <= 1, plus the final floor)."""
    lsb, msb = tables.nexp_lsb_lut(), tables.nexp_msb_lut()
    assert (lsb.in_bits, lsb.in_scale_bits, msb.in_bits, msb.in_scale_bits) == (8, 12, 8, 4)
    _check_truncated(lsb, lambda t: math.exp(-t))
    _check_truncated(msb, lambda t: math.exp(-t))
    tq = np.arange(2**16)
    value = (np.array(lsb.entries)[tq & 255] * np.array(msb.entries)[tq >> 8]) >> F
    assert np.all(np.abs(value * U - np.exp(-tq * U)) < 3 * U)
    assert np.all(np.diff(lsb.entries) <= 0) and np.all(np.diff(msb.entries) <= 0)


def test_inverse_lut():
    """13 bits at k = 128, index = row sum at scale 6: entry i = floor(2^(6+f) / i), entry 0 = 1/k = 32."""
    lut = tables.inverse_lut()
    assert (lut.in_bits, lut.in_scale_bits, lut.out_scale_bits) == (13, 6, F)
    assert lut.entries[0] == 32 and lut.entries[1] == 2**18
    exact = 2.0 ** (6 + F) / np.arange(1, 2**13)
    assert np.all((exact - np.array(lut.entries[1:]) >= 0) & (exact - np.array(lut.entries[1:]) < 1))
    assert np.all(np.diff(lut.entries[1:]) <= 0)
    assert tables.inverse_lut(seq_len=256).in_bits == 14


def test_relu_sub_gelu_lut():
    """delta = ReLU - GeLU at x = i / 64 floored to Qf; GeLU(x) = ReLU(x) - entry[min(|floor(64 x)|, 255)] errs by
    at most max|delta'| / 64 + u = 0.5 / 64 + u on [-8, 8) (|delta'| = |Phi(-|x|) - |x| phi(x)| <= 1/2; beyond
    255/64, delta < 0.56 u)."""
    lut = tables.relu_sub_gelu_lut()
    assert (lut.in_bits, lut.in_scale_bits, lut.out_scale_bits) == (8, 6, F)
    _check_truncated(lut, lambda x: max(0.0, x) - tables.gelu(x))
    assert lut.entries[-1] == 0
    xq = np.arange(-8 * 4096, 8 * 4096)
    idx = np.minimum(np.abs(xq >> (F - 6)), 255)
    gelu = np.maximum(xq, 0) * U - np.array(lut.entries)[idx] * U
    assert np.all(np.abs(gelu - FUNCS["gelu"][0](xq * U)) <= 0.5 / 64 + U)


def test_rsqrt_lut():
    """2^13 entries; index m << 6 | k reads v = (m + 128) 2^(k-7) (Q2f sum of squares); entry = 2^(2f) / sqrt(v/d)
    cast toward zero, so it decreases with v."""
    lut = tables.rsqrt_lut()
    assert (lut.in_bits, lut.in_scale_bits, lut.out_scale_bits, lut.encoding) == (13, 2 * F, F, "float13")
    i = np.arange(2**13)
    v = ((i >> 6) + 128) * 2.0 ** ((i & 63) - 7)
    exact = 2.0 ** (2 * F) / np.sqrt(v / 768)
    entries = np.array(lut.entries, dtype=float)
    assert np.all((exact - entries >= 0) & (exact - entries < 1 + exact * 1e-15))
    assert np.all(np.diff(entries[np.argsort(v, kind="stable")]) <= 0)


# --- descriptors -----------------------------------------------------------------------------------------------------

TABLE_GATES = [gates.NEXP, gates.RECIP, gates.RSQRT_INIT, gates.GELU_CONST, gates.GELU_SPLINE, gates.SILU,
               gates.NEXP_LUT, gates.INV_LUT, gates.GELU_LUT, gates.RSQRT_LUT]


@pytest.mark.parametrize("gate", TABLE_GATES, ids=lambda g: g.name)
def test_table_gates_name_their_tables(gate):
    built = gate.params.build_tables()
    assert built and all(isinstance(t, tables.PiecewisePoly | tables.Lut) for t in built)
    assert gate.params.in_scale_bits is not None and gate.params.out_scale_bits == F


def test_params_leave_equality_and_hash_alone():
    bare = gates.Gate(gates.GateKind.NEXP, r=4, ell=0, degree=3, suf_kind=2)
    assert bare == gates.NEXP and hash(bare) == hash(gates.NEXP) and bare.params is None
    assert gates.GAPARS.params.trunc == "gapars" and gates.FAITHFUL_ARS.params.trunc == "faithful_ars"


def test_tables_are_not_built_at_import():
    code = ("import simflush, simflush.tasks.gates; from simflush.tasks import tables as t; "
            "print(sum(b.cache_info().currsize for b in t.TABLE_BUILDERS.values()))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "0\n"
