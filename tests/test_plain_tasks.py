"""Each task on cleartext (PlainContext, through the executor) against its real function, within the error bound
docs/accuracy.md derives for it (u = 2^-f; B_tab the table's own bound from docs/gate_tables.md)."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.specs import MODELS
from simflush.executor.executor import RunConfig
from simflush.plain.context import PlainContext, ValueUndefined, run_tasks
from simflush.profiles import resolve
from simflush.tasks import gates as G
from simflush.tasks import tables
from simflush.tasks.layernorm import LN_EPS, LayerNormGates, layernorm
from simflush.tasks.nonlinear import cubic_poly, recip, rsqrt
from simflush.tasks.primitives import trunc
from simflush.tasks.sigma import gelu_sigma, inv_sigma, nexp_sigma, row_max_diff_sigma, rsqrt_sigma
from simflush.tasks.softmax import row_max_diff, softmax_block
from simflush.tasks.values import FixedPoint, RingArith, RingArray

F, N_BITS = 12, 50
U = 2.0**-F
ARITH = RingArith(N_BITS, np)
SETTINGS = resolve("suf-gpu-bench", MODELS["bert-tiny"])
CHECK = settings(max_examples=20, deadline=None, derandomize=True)


def context() -> PlainContext:
    return PlainContext(SETTINGS.party_executor(0, "suf"), FixedPoint(N_BITS, F), ARITH)


def run(make, *values: RingArray):
    """One task on a fresh context; its result."""
    ctx = context()
    (out,) = run_tasks(ctx, [make(ctx, *values)], RunConfig(0, "test"))
    return out


def ring(q: np.ndarray, scale: int = F, rows=None) -> RingArray:
    """Integer words ``q`` (already at ``scale``)."""
    return RingArray(ARITH.encode(np.asarray(q, dtype=np.int64)), scale, rows)


def real(v: RingArray) -> np.ndarray:
    return ARITH.signed(v.data) / 2.0**v.scale


def qf_points(lo: float, hi: float, size: int = 40):
    """Arrays of Qf integers in [lo, hi)."""
    return st.lists(st.integers(math.ceil(lo * 2**F), math.ceil(hi * 2**F) - 1), min_size=1, max_size=size).map(
        lambda xs: np.array(xs, dtype=np.int64))


# --- truncation ------------------------------------------------------------------------------------------------------

@CHECK
@given(st.lists(st.integers(-(2**47), 2**47), min_size=1, max_size=50), st.integers(1, 30),
       st.sampled_from([G.GAPARS, G.FAITHFUL_ARS]))
def test_truncation_is_the_floor(words, shift, gate):
    """Both kinds give floor(v / 2^s) exactly for |v| < 2^(n-2)."""
    v = np.array(words, dtype=np.int64)
    out = run(lambda c, x: trunc(c, x, gate, shift), ring(v, 2 * F))
    assert np.array_equal(ARITH.signed(out.data), v >> shift)
    assert out.scale == 2 * F - shift


def test_gapars_is_wrong_beyond_its_range_and_faithful_is_not():
    """GapARS's construction assumes |v| < 2^(n-2): the range check exists because beyond it the result wraps."""
    v = np.array([2**(N_BITS - 2) + 5, -(2**(N_BITS - 2)) - 5], dtype=np.int64)
    gap = run(lambda c, x: trunc(c, x, G.GAPARS, 4), ring(v))
    faithful = run(lambda c, x: trunc(c, x, G.FAITHFUL_ARS, 4), ring(v))
    assert np.array_equal(ARITH.signed(faithful.data), v >> 4)
    assert not np.array_equal(ARITH.signed(gap.data), v >> 4)


# --- cubic splines (Horner) ------------------------------------------------------------------------------------------

def exact_poly(table: tables.PiecewisePoly, xq: int) -> Fraction:
    """The table's polynomial at Qf point ``xq``, exactly: sum_k c_k u x^k with x = xq u."""
    i = int(np.searchsorted(table.breakpoints, xq, side="right"))
    coeffs = table.below if i == 0 else table.above if i == len(table.breakpoints) else table.coeffs[i - 1]
    x = Fraction(xq, 2**F)
    return sum(Fraction(c, 2**F) * x**k for k, c in enumerate(coeffs))


SPLINES = [  # gate, table, domain, the function, B_tab (docs/gate_tables.md)
    (G.NEXP, tables.nexp_table(), (0.0, 16.0), lambda t: math.exp(-t), 0.0027),
    (G.GELU_SPLINE, tables.gelu_spline_table(), (-8.0, 8.0), tables.gelu, 0.0043),
    (G.SILU, tables.silu_spline_table(), (-8.0, 8.0), tables.silu, 0.0015),
]


@pytest.mark.parametrize("gate,table,domain,fn,b_tab", SPLINES, ids=[s[0].name for s in SPLINES])
def test_horner_evaluates_the_table_polynomial(gate, table, domain, fn, b_tab):
    """y = p(x) - d1 x u^2 - d2 u with d1, d2 in [0, 1): within u + |x| u^2 of the table's polynomial, and within
    B_tab more of the function. A Horner term, a shift or a scale wrong moves y by far more."""
    @CHECK
    @given(qf_points(*domain))
    def check(xq):
        y = run(lambda c, x: cubic_poly(c, x, gate, (G.GAPARS, G.GAPARS)), ring(xq))
        assert y.scale == F
        for got, q in zip(real(y), xq, strict=True):
            x = q * U
            assert abs(got - float(exact_poly(table, int(q)))) <= U + abs(x) * U * U
            assert abs(got - fn(x)) <= b_tab + U + abs(x) * U * U
    check()


@CHECK
@given(qf_points(0.0, 16.0))
def test_nexp_without_its_final_truncation_is_q2f(xq):
    """nexp_final_trunc=0: Trunc1 takes 2f and the result q x + c0 2^f stays at Q2f: within u + |x| u of p."""
    y = run(lambda c, x: cubic_poly(c, x, G.NEXP, (G.GAPARS, None)), ring(xq))
    assert y.scale == 2 * F
    for got, q in zip(real(y), xq, strict=True):
        assert abs(got - float(exact_poly(tables.nexp_table(), int(q)))) <= abs(q * U) * U + U * U


@CHECK
@given(qf_points(-8.0, 8.0))
def test_gelu_const_is_its_table_value(xq):
    y = run(lambda c, x: cubic_poly(c, x, G.GELU_CONST, (G.GAPARS, G.GAPARS)), ring(xq))
    for got, q in zip(real(y), xq, strict=True):
        assert got == float(exact_poly(tables.gelu_const_table(), int(q)))
        assert abs(got - tables.gelu(q * U)) <= 0.036


# --- Newton: reciprocal and rsqrt ------------------------------------------------------------------------------------

def affine_init(table: tables.PiecewisePoly, xq: int, shift: int = F) -> int:
    """The fixed-point initial value c0 + floor(c1 x / 2^shift) (Qf) from the table's piece at x."""
    i = int(np.searchsorted(np.array(table.breakpoints) << (shift - F), xq, side="right"))
    c = table.below if i == 0 else table.above if i == len(table.breakpoints) else table.coeffs[i - 1]
    return c[0] + ((c[1] * xq) >> shift)


@CHECK
@given(qf_points(1.0, 1024.0))
def test_recip_is_one_newton_step_from_its_init(xq):
    """1 - x y1* = (1 - x y0)^2 for y1* = y0 (2 - x y0); the two floors add at most (1 + y0) u."""
    y = run(lambda c, x: recip(c, x, G.GAPARS, 1), ring(xq))
    for got, q in zip(real(y), xq, strict=True):
        x, y0 = q * U, affine_init(tables.recip_init_table(), int(q)) * U
        assert abs(got - 1 / x) <= (1 - x * y0) ** 2 / x + (1 + y0) * U


@CHECK
@given(qf_points(1.0, 1024.0))
def test_recip_reads_q2f_sums(xq):
    """After an nExp without its final truncation the row sums are Q2f: the same result from the same real sums."""
    qf = run(lambda c, x: recip(c, x, G.GAPARS, 1), ring(xq))
    q2f = run(lambda c, x: recip(c, x, G.GAPARS, 1, x_scale=2 * F), ring(xq << F, 2 * F))
    assert q2f.scale == F
    assert np.abs(real(qf) - real(q2f)).max() <= 2 * U


def rsqrt_bound(x: float, y0: float) -> float:
    """|y1 - 1/sqrt x| for one Newton step from y0: |3/2 e0^2 - 1/2 e0^3| / sqrt x (e0 = 1 - y0 sqrt x) plus the
    three floors, y0 u (x / 2 + 1) + u."""
    e0 = 1 - y0 * math.sqrt(x)
    return abs(1.5 * e0**2 - 0.5 * e0**3) / math.sqrt(x) + y0 * U * (x / 2 + 1) + U


@CHECK
@given(qf_points(LN_EPS, 16.0))
def test_rsqrt_from_the_value_init(xq):
    """The secure init: the gate emits y0 (a piecewise constant), then one Newton step."""
    y = run(lambda c, x: rsqrt(c, x, (G.FAITHFUL_ARS,) * 3, 1), ring(xq))
    for got, q in zip(real(y), xq, strict=True):
        y0 = affine_init(tables.rsqrt_init_value_table(), int(q)) * U
        assert abs(got - 1 / math.sqrt(q * U)) <= rsqrt_bound(q * U, y0)


@CHECK
@given(qf_points(LN_EPS, 16.0))
def test_rsqrt_from_the_live_affine_init(xq):
    """rsqrt_init_mode=mul_trunc: y0 = trunc(c1 x, f) + c0 from SUF's chords, then one Newton step."""
    y = run(lambda c, x: rsqrt(c, x, (G.FAITHFUL_ARS,) * 3, 1, live_init=True), ring(xq))
    for got, q in zip(real(y), xq, strict=True):
        y0 = affine_init(tables.rsqrt_init_table(), int(q)) * U
        assert abs(got - 1 / math.sqrt(q * U)) <= rsqrt_bound(q * U, y0)


# --- LayerNorm and softmax -------------------------------------------------------------------------------------------

@CHECK
@given(st.integers(0, 2**31), st.floats(0.05, 3.0))
def test_layernorm(seed, std):
    """z = (x - mu) / sqrt(var + eps) per row (D = 128, so 1/D is exact in Qf). The fixed mean errs by d <= u, so
    x - mu errs by d and the variance by d^2 + u; the rsqrt errs as above (init within 2.2 %, e1 <= 1.5 e0^2); the
    last floor adds u. Bound per element: d r + |z| (eps_r + (d^2 + u) / (2 (var + eps))) + u, eps_r = 2e-3 + 40 u."""
    rows, cols = 4, 128
    x = np.random.default_rng(seed).normal(0, std, (rows, cols))
    xq = np.round(x * 2**F).astype(np.int64)
    gates = LayerNormGates(G.GAPARS, G.FAITHFUL_ARS, (G.FAITHFUL_ARS,) * 3, G.FAITHFUL_ARS)
    out = run(lambda c, v: layernorm(c, v, rows, cols, gates), ring(xq.ravel()))
    xr = xq * U
    centred = xr - xr.mean(axis=1, keepdims=True)
    var = (centred**2).mean(axis=1, keepdims=True) + LN_EPS
    z, r = centred / np.sqrt(var), 1 / np.sqrt(var)
    bound = U * r + np.abs(z) * (2e-3 + 40 * U + (U + U * U) / (2 * var)) + U
    assert np.all(np.abs(real(out).reshape(rows, cols) - z) <= bound)


ROW_LENGTHS = st.lists(st.integers(1, 40), min_size=1, max_size=6).map(lambda ls: np.array(ls, dtype=np.int64))


@CHECK
@given(ROW_LENGTHS, st.integers(0, 2**31))
def test_row_max_is_exact(lengths, seed):
    """The pairwise tree of ReLUs gives every row's exact maximum: t = max - x exactly, over ragged rows."""
    s = np.random.default_rng(seed).integers(-(2**16), 2**16, int(lengths.sum()))
    counts = {int(n): int((lengths == n).sum()) for n in set(lengths.tolist())}
    want = np.concatenate([row.max() - row for row in np.split(s, np.cumsum(lengths)[:-1])])
    for task in (lambda c, v: row_max_diff(c, v, counts), lambda c, v: row_max_diff_sigma(c, v, counts, True)):
        t = run(task, ring(s, F, lengths))
        assert np.array_equal(ARITH.signed(t.data), want)


@CHECK
@given(ROW_LENGTHS, st.integers(0, 2**31), st.floats(0.1, 4.0))
def test_softmax(lengths, seed, spread):
    """Probabilities of ragged rows: e errs by E = B_nexp + u + 16 u^2 each, so the sum S by L E; 1/S by the recip
    bound plus |1/S' - 1/S|; the product's floor adds u: |p - p*| <= E / S' + e |inv - 1/S| + u."""
    s = np.round(np.random.default_rng(seed).normal(0, spread, int(lengths.sum())) * 2**F).astype(np.int64)
    counts = {int(n): int((lengths == n).sum()) for n in set(lengths.tolist())}

    def task(c, v):
        t = yield from row_max_diff(c, v, counts)
        return (yield from softmax_block(c, t, counts, inv=lambda c2, x, scale, n: recip(c2, x, G.GAPARS, 3, False,
                                                                                         scale)))

    p = real(run(task, ring(s, F, lengths)))
    e_err = 0.0027 + U + 16 * U * U
    for got, row in zip(np.split(p, np.cumsum(lengths)[:-1]), np.split(s * U, np.cumsum(lengths)[:-1]), strict=True):
        e = np.exp(row - row.max())
        total, low = e.sum(), e.sum() - len(row) * e_err
        inv_err = abs(1 / low - 1 / total) + 0.3 / low   # three Newton steps from an init within 75 %: 0.75^8 < 0.1
        assert np.all(np.abs(got - e / total) <= e_err / low + e * inv_err + U)


# --- SIGMA's LUT tasks -----------------------------------------------------------------------------------------------

@CHECK
@given(qf_points(0.0, 16.0))
def test_nexp_lut(xq):
    """floor(lsb msb / 2^f) with both entries cast down: within 3u of exp(-t) (docs/gate_tables.md)."""
    y = run(lambda c, x: nexp_sigma(c, x, True, G.GAPARS), ring(xq))
    assert np.all(np.abs(real(y) - np.exp(-xq * U)) < 3 * U)


@CHECK
@given(qf_points(-8.0, 8.0))
def test_gelu_lut(xq):
    """ReLU(x) - delta[min(|x| at scale 6, 255)]: within max|delta'| / 64 + u = 0.5 / 64 + u."""
    y = run(lambda c, x: gelu_sigma(c, x, True), ring(xq))
    assert np.all(np.abs(real(y) - np.vectorize(tables.gelu)(xq * U)) <= 0.5 / 64 + U)


@CHECK
@given(qf_points(LN_EPS, 16.0))
def test_rsqrt_lut(xq):
    """The 13-bit float keeps 7 mantissa bits below the leading one (v read up to 2^-7 low): 1/sqrt errs by at most
    (1 - 2^-7)^(-1/2) - 1 relative, plus the cast's u."""
    y = run(lambda c, x: rsqrt_sigma(c, x, True, 0, G.FAITHFUL_ARS), ring(xq))
    want = 1 / np.sqrt(xq * U)
    assert np.all(np.abs(real(y) - want) <= want * ((1 - 2**-7) ** -0.5 - 1) + U)


@CHECK
@given(qf_points(1.0, 127.0))
def test_inverse_lut(xq):
    """The index floor(x 2^6) reads x up to 1/64 low: 1/x errs by at most 1/x - 1/(x + 1/64), plus the cast's u."""
    y = run(lambda c, x: inv_sigma(c, x, True, 0, F, 128), ring(xq))
    x = xq * U
    assert np.all(np.abs(real(y) - 1 / x) <= 1 / x - 1 / (x + 1 / 64) + U)


def test_share_local_shortcuts_have_no_value():
    """SOFTMAX_TRUNC_REF's local shifts are not computable on shares: the value path refuses them by name."""
    with pytest.raises(ValueUndefined, match="shift"):
        run(lambda c, x: recip(c, x, G.GAPARS, 1, local_truncs=True), ring(np.array([4096])))
