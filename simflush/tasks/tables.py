"""The value tables behind the coefficient and LUT gates, built the way SUF and SIGMA build them.

SUF builds its piecewise tables at key generation from formulas (docs/notes/suf_gate_facts.md §5): cubic Hermite
fits or endpoint chords per interval, coefficients ``llround``'ed to Qf in the interval-centred form, then re-expanded
in double to coefficients of the full x and rounded again (§5.2). SIGMA's LUTs are evaluated in double and cast to the
ring, which truncates toward zero (§7). Scales: ``Qk`` is an integer encoding real * 2^k; breakpoints and inputs are
Q``in_scale_bits``, coefficients and entries Q``out_scale_bits``. Pure Python (tables are small; no import cost).
docs/gate_tables.md lists each table, its domain, error bound and the choices made where SUF's code is silent.
"""

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

FRAC_BITS = 12  # f of every model (spec §4.5)


@dataclass(frozen=True)
class PiecewisePoly:
    """Interval i is [breakpoints[i], breakpoints[i+1]) in Q``in_scale_bits``; on it the value is
    sum_k coeffs[i][k] * x^k / 2^(out_scale_bits) with x the real input (SUF's x-expanded form; evaluated at run
    time with the Horner truncations of facts §3.2). ``below``/``above`` hold the coefficients left and right of the
    breakpoints (None: no interval covers that side). Degree-0 tables (GeLU-const) have one coefficient per piece."""

    breakpoints: tuple[int, ...]
    coeffs: tuple[tuple[int, ...], ...]
    below: tuple[int, ...] | None
    above: tuple[int, ...]
    in_scale_bits: int
    out_scale_bits: int


@dataclass(frozen=True)
class Lut:
    """A table of 2^``in_bits`` entries in Q``out_scale_bits``. ``encoding`` says how the index reads:
    ``fixed`` = the index is the input in Q``in_scale_bits``; ``float13`` = SIGMA's rsqrt float,
    index = mantissa << 6 | exponent, value (mantissa + 128) * 2^(exponent - 7) in Q``in_scale_bits``."""

    in_bits: int
    in_scale_bits: int
    out_scale_bits: int
    entries: tuple[int, ...]
    encoding: str = "fixed"


def llround(v: float) -> int:
    """C's llround: nearest integer, halves away from zero (not Python's round-half-even)."""
    a = abs(v)
    n = math.floor(a)
    if a - n >= 0.5:  # exact for |v| < 2^52
        n += 1
    return int(math.copysign(n, v))


def hermite_cubic(y0: float, m0: float, y1: float, m1: float, h: float) -> tuple[float, float, float, float]:
    """Real coefficients in t = x - start of the cubic with value/slope (y0, m0) at t = 0 and (y1, m1) at t = h."""
    c2 = (3 * (y1 - y0) - (2 * m0 + m1) * h) / (h * h)
    c3 = (2 * (y0 - y1) + (m0 + m1) * h) / (h * h * h)
    return y0, m0, c2, c3


def expand_to_x(centred: tuple[int, ...], offset_q: int, f: int) -> tuple[int, ...]:
    """SUF's ``expand_to_x_coeffs``: centred Qf coefficients at Qf offset -> Qf coefficients of x, in double,
    k outer and i inner as SUF sums them, then ``llround``."""
    cr = [c / 2**f for c in centred]
    x0 = offset_q / 2**f
    acc = [0.0] * len(cr)
    for k, ck in enumerate(cr):
        for i in range(k + 1):
            acc[i] += ck * math.comb(k, i) * (-x0) ** (k - i)
    return tuple(llround(a * 2**f) for a in acc)


def _centred_cubic(fn: Callable[[float], float], dfn: Callable[[float], float], lo: float, h: float,
                   f: int) -> tuple[int, ...]:
    return tuple(llround(c * 2**f) for c in hermite_cubic(fn(lo), dfn(lo), fn(lo + h), dfn(lo + h), h))


def hermite_segments(fn: Callable[[float], float], dfn: Callable[[float], float], lo: float, hi: float,
                     segments: int, f: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """Breakpoints (Qf) and centred Qf Hermite coefficients of ``segments`` equal pieces over [lo, hi)."""
    h = (hi - lo) / segments
    starts = [lo + i * h for i in range(segments)]
    breaks = (*(llround(s * 2**f) for s in starts), llround(hi * 2**f))
    return breaks, tuple(_centred_cubic(fn, dfn, s, h, f) for s in starts)


def _expanded(breaks: tuple[int, ...], centred: tuple[tuple[int, ...], ...], f: int) -> tuple[tuple[int, ...], ...]:
    return tuple(expand_to_x(c, b, f) for c, b in zip(centred, breaks[:-1], strict=True))


# --- the functions (real) -----------------------------------------------------------------------------------------

def gelu(x: float) -> float:
    """GeLU, erf form: 0.5 x (1 + erf(x / sqrt 2))."""
    return 0.5 * x * (1 + math.erf(x / math.sqrt(2)))


def gelu_slope(x: float) -> float:
    """Phi(x) + x phi(x), as SUF's spec writes GeLU's derivative."""
    return 0.5 * (1 + math.erf(x / math.sqrt(2))) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def silu(x: float) -> float:
    """x / (1 + e^-x)."""
    return x * sigmoid(x)


def silu_slope(x: float) -> float:
    """s + x s (1 - s), as SUF's spec writes SiLU's derivative."""
    s = sigmoid(x)
    return s + x * s * (1 - s)


# --- SUF's piecewise tables ---------------------------------------------------------------------------------------

@cache
def nexp_centred(f: int = FRAC_BITS) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """nExp's breakpoints and centred Qf Hermite coefficients (facts Appendix A, left column)."""
    return hermite_segments(lambda t: math.exp(-t), lambda t: -math.exp(-t), 0.0, 16.0, 16, f)


@cache
def nexp_table(f: int = FRAC_BITS) -> PiecewisePoly:
    """exp(-t) for t = rowmax - score in Qf: 16 unit Hermite cubics over [0, 16), then llround(e^-16 2^f) = 0.
    No interval covers t < 0 (SUF's callers never pass one). Output Qf in [0, 2^f]; r = 4 x-coefficients."""
    breaks, centred = nexp_centred(f)
    return PiecewisePoly(breaks, _expanded(breaks, centred, f), None, (llround(math.exp(-16) * 2**f), 0, 0, 0), f, f)


def _chord_x(fn: Callable[[float], float], lo_q: int, hi_q: int, f: int) -> tuple[int, int]:
    """Centred (A0, A1) of the chord through (L, fn(L)), (U, fn(U)), both ``llround``'ed to Qf."""
    lo, hi = lo_q / 2**f, hi_q / 2**f
    return llround(fn(lo) * 2**f), llround((fn(hi) - fn(lo)) / (hi - lo) * 2**f)


@cache
def recip_init_table(f: int = FRAC_BITS, nmax: float = 1024.0) -> PiecewisePoly:
    """Affine initial value of 1/x (softmax row sum, Qf), nmax = 1024 as SUF's dealer hard-codes it: 1.0 on [0, 1),
    chords on [2^k, 2^(k+1)) for k = 0..log2(nmax)-1, 1/nmax beyond. Payload r = 4 (c2 = c3 = 0), Qf."""
    top = int(math.log2(nmax))
    breaks = tuple(2**k * 2**f for k in range(top + 1))
    coeffs = []
    for lo_q, hi_q in itertools.pairwise(breaks):
        a0, a1 = _chord_x(lambda x: 1 / x, lo_q, hi_q, f)
        coeffs.append(expand_to_x((a0, a1, 0, 0), lo_q, f))
    return PiecewisePoly((0, *breaks), ((2**f, 0, 0, 0), *coeffs), None, (llround(2**f / nmax), 0, 0, 0),
                         f, f)


@cache
def rsqrt_init_table(f: int = FRAC_BITS, eps: float = 1 / 1024, vmax: float = 16.0) -> PiecewisePoly:
    """Affine initial value of 1/sqrt(x), x = var + eps in Qf: 1/sqrt(eps) on [0, eps), chords between the doubling
    bounds eps 2^k (quantised, bumped by 1 when not increasing) up to vmax, 1/sqrt(vmax) beyond (to 2^n: negative
    inputs read as unsigned land there). Payload r = 2: out0 = a0 - floor(a1 L_q / 2^f), out1 = a1 (Qf)."""
    bounds: list[int] = []
    v = eps
    while v <= vmax * (1 + 1e-12):
        q = llround(v * 2**f)
        bounds.append(q if not bounds or q > bounds[-1] else bounds[-1] + 1)
        v *= 2
    coeffs = []
    for lo_q, hi_q in itertools.pairwise(bounds):
        a0, a1 = _chord_x(lambda x: 1 / math.sqrt(x), lo_q, hi_q, f)
        coeffs.append((a0 - ((a1 * lo_q) >> f), a1))
    first = (llround(2**f / math.sqrt(eps)), 0)
    return PiecewisePoly((0, *bounds), (first, *coeffs), None,
                         (llround(2**f / math.sqrt(vmax)), 0), f, f)


@cache
def rsqrt_init_value_table(f: int = FRAC_BITS, eps: float = 1 / 1024, vmax: float = 16.0,
                           per_octave: int = 8) -> PiecewisePoly:
    """The secure path's rsqrt initial value, emitted by the init gate itself (SUF computes c0 + (c1 x) >> f from
    x unmasked with the key's r_in): a piecewise constant on ``per_octave`` geometric pieces per doubling from eps
    to vmax, each 1/sqrt at the geometric mean of its ends (within 2^(1/(4 per_octave)) - 1 = 2.2 % of 1/sqrt x),
    1/sqrt(eps) below and 1/sqrt(vmax) above, like SUF's table. Breakpoints are quantised to Qf and bumped by 1
    where not increasing. Payload r = 2 as the gate's: (y0, 0)."""
    pieces = per_octave * round(math.log2(vmax / eps))
    bounds: list[int] = []
    for j in range(pieces + 1):
        q = llround(eps * 2 ** (j / per_octave) * 2**f)
        bounds.append(q if not bounds or q > bounds[-1] else bounds[-1] + 1)
    values = tuple((llround(2**f * (lo * hi / 4**f) ** -0.25), 0) for lo, hi in itertools.pairwise(bounds))
    return PiecewisePoly((0, *bounds), ((llround(2**f / math.sqrt(eps)), 0), *values), None,
                         (llround(2**f / math.sqrt(vmax)), 0), f, f)


@cache
def gelu_centred(f: int = FRAC_BITS, segments: int = 16) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """GeLU's breakpoints and centred Qf Hermite coefficients over [-8, 8) (``make_gelu_spline_spec``)."""
    return hermite_segments(gelu, gelu_slope, -8.0, 8.0, segments, f)


_MASK64 = 2**64 - 1


def _to_i64(v: int) -> int:
    v &= _MASK64
    return v - 2**64 if v >> 63 else v


def eval_centred_u64(coeffs: tuple[int, ...], offset: int, x: int, f: int) -> int:
    """SUF's ``eval_piecewise_poly_ref``: t = x - offset, acc = c3, acc = ARS(acc t mod 2^64, f) + c_k (64-bit)."""
    t = (x - offset) & _MASK64
    acc = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        acc = _to_i64((_to_i64(acc * t) >> f) + c)
    return acc


@cache
def gelu_const_table(f: int = FRAC_BITS, segments: int = 256) -> PiecewisePoly:
    """Piecewise-constant GeLU (the bench default): 256 segments of width 1/16 over [-8, 8), each the value of the
    centred 256-segment spline at its u64 midpoint start + ((end - start) >> 1). As SUF's code computes it:
    the segment [-1/16, 0) ends at ~0 = 2^64 - 1, so its midpoint is -129 (not -128); x < -8 gives 0; x >= 8 gives
    16383 (about 4.0, where GeLU(x) = x was meant: the above-interval's midpoint near 2^62 wraps c1 t mod 2^64).
    Output Qf, degree 0 (r = 1)."""
    breaks, centred = gelu_centred(f, segments)
    values = []
    for (lo, hi), c in zip(itertools.pairwise(breaks), centred, strict=True):
        lo_u, hi_u = lo & _MASK64, (hi & _MASK64) or _MASK64
        values.append((eval_centred_u64(c, lo, lo_u + ((hi_u - lo_u) >> 1), f),))
    above_lo, above_hi = breaks[-1], 2**63 - 1
    above = eval_centred_u64((0, 2**f), 0, above_lo + ((above_hi - above_lo) >> 1), f)
    return PiecewisePoly(breaks, tuple(values), (0,), (above,), f, f)


@cache
def gelu_spline_table(f: int = FRAC_BITS, segments: int = 16) -> PiecewisePoly:
    """GeLU spline (without SUF_GELU_CONST): 16 unit Hermite cubics over [-8, 8), 0 below, identity above. r = 4."""
    breaks, centred = gelu_centred(f, segments)
    return PiecewisePoly(breaks, _expanded(breaks, centred, f), (0, 0, 0, 0), (0, 2**f, 0, 0), f, f)


@cache
def silu_spline_table(f: int = FRAC_BITS, segments: int = 16) -> PiecewisePoly:
    """SiLU spline (llama): 16 unit Hermite cubics of x / (1 + e^-x) over [-8, 8), 0 below, identity above
    (coefficients {0, 2^f} at offset 0, taken to be as GeLU's: the facts say only 'x >= 8 -> x'). r = 4."""
    breaks, centred = hermite_segments(silu, silu_slope, -8.0, 8.0, segments, f)
    return PiecewisePoly(breaks, _expanded(breaks, centred, f), (0, 0, 0, 0), (0, 2**f, 0, 0), f, f)


# --- SIGMA's LUTs (facts §7; sigma_protocols.md §2.3, §2.6-2.8) -----------------------------------------------------

def _gen_lut(bits: int, scale_in: int, scale_out: int, fn: Callable[[float], float]) -> Lut:
    """SIGMA's genLUT: entry i = fn(i / 2^scale_in) 2^scale_out in double, cast to an integer (toward zero)."""
    return Lut(bits, scale_in, scale_out, tuple(int(fn(i / 2**scale_in) * 2**scale_out) for i in range(2**bits)))


@cache
def nexp_lsb_lut(f: int = FRAC_BITS) -> Lut:
    """exp(-i / 2^f), Qf, indexed by the low byte of the clipped t = max - score (ReLU clip to [0, 2^16) in Qf)."""
    return _gen_lut(8, f, f, lambda t: math.exp(-t))


@cache
def nexp_msb_lut(f: int = FRAC_BITS) -> Lut:
    """exp(-j / 2^(f-8)), Qf, indexed by the high byte (GapARS u16 -> u8 by 8). exp(-t) = lsb * msb (Q2f), then
    GapARS(f). At f = 12 the index scale is 4, as SIGMA writes it."""
    return _gen_lut(8, f - 8, f, lambda t: math.exp(-t))


@cache
def inverse_lut(f: int = FRAC_BITS, seq_len: int = 128) -> Lut:
    """1/x of the softmax row sum after GapARS by f - 6 (index at scale 6, ceil(log2 k) + 6 bits: 13 at k = 128),
    Qf. Entry 0 is the wrapped sum k 2^6 = 2^bits, i.e. 2^(6+f) / 2^bits = 1/k."""
    bits = math.ceil(math.log2(seq_len)) + 6
    return _gen_lut(bits, 6, f, lambda x: 1 / x if x else 2**6 / 2**bits)


@cache
def relu_sub_gelu_lut(f: int = FRAC_BITS) -> Lut:
    """delta(x) = ReLU(x) - GeLU(x) for x = i / 64, Qf (delta >= 0, so the cast is a floor). The index is
    min(|GapARS(x, f - 6)|, 255); GeLU = ReLU(x) - entry on the full-precision x."""
    return _gen_lut(8, 6, f, lambda x: max(0.0, x) - gelu(x))


@cache
def rsqrt_lut(f: int = FRAC_BITS, d: int = 768, in_scale: int | None = None) -> Lut:
    """SIGMA's 13-bit float rsqrt: index i = m << 6 | k (7-bit mantissa m, 6-bit exponent k) reads the row sum of
    squares v = (m + 128) 2^(k-7) at ``in_scale`` frac bits (SIGMA: Q2f, not divided by d); entry =
    2^f / sqrt(v / 2^in_scale / d) = 1/sqrt(var) in Qf, cast toward zero. ``d`` = n_embed (bert-base 768). The
    value path feeds it var + eps itself (``d = 1``, ``in_scale = f``), as it does SUF's rsqrt."""
    s = 2 * f if in_scale is None else in_scale
    entries = tuple(int(2**f / math.sqrt(((i >> 6) + 128) * 2.0 ** ((i & 63) - 7) / 2**s / d)) for i in range(2**13))
    return Lut(13, s, f, entries, "float13")


TABLE_BUILDERS: dict[str, Callable[..., PiecewisePoly | Lut]] = {
    "nexp": nexp_table,
    "recip_init": recip_init_table,
    "rsqrt_init": rsqrt_init_table,
    "rsqrt_init_value": rsqrt_init_value_table,
    "gelu_const": gelu_const_table,
    "gelu_spline": gelu_spline_table,
    "silu_spline": silu_spline_table,
    "nexp_lsb_lut": nexp_lsb_lut,
    "nexp_msb_lut": nexp_msb_lut,
    "inverse_lut": inverse_lut,
    "relu_sub_gelu_lut": relu_sub_gelu_lut,
    "rsqrt_lut": rsqrt_lut,
}
