"""Every interval gate as breakpoints and rows: SUF's coefficient tables, and SIGMA's LUTs as piecewise constants.

``gate_pieces`` is the one value definition that ``simflush.plain.gates`` looks up in the clear and the real backend's
``PiecewisePoly`` key evaluates, so that the two stay bit-identical. A coefficient table (``tasks.tables``) is its
breakpoints, scaled up to the gate's input scale (coefficients stay Qf), with its ``below`` and ``above`` rows.

A LUT gate of the SUF executor's sigma variants reads its table at an index computed from x (a shift, a clip, a
13-bit float). Each such index is constant on intervals of x, so each gate is a list of breakpoints (signed, Qk of its
input) and one output row per interval: the form an interval-containment FSS key evaluates in one job (the real
backend's ``PiecewisePoly``) and the form ``simflush.plain.gates`` looks up in the clear. Defining the gate once here
keeps the two bit-identical. Rows: ``below`` (x < first breakpoint), one per interval, ``above``.

- GeLU LUT: y = floor(x / 2^(f-6)), rows (DReLU(x), delta[min(|y|, 255)]): 513 intervals.
- Inverse LUT on the row sum at scale s: index floor(x / 2^(s-6)) on [0, 2^(s-6+bits)), 2^bits intervals; outside
  it entry 0 (SIGMA's wrap: a sum of exactly k, k 2^6 = 2^bits, reads entry 0 = 1/k; sums are never negative).
- rsqrt LUT on v = max(x, 1): SIGMA's 13-bit float (exponent k = floor(log2 v), the next 7 bits the mantissa),
  constant on unit intervals below 128 and on 2^(k-7)-wide ones above: 128 per octave up to 2^(n-1) (the last
  interval is the row above).
- nExp's LUT pair on t = clip(x, 0, 2^16 - 1) (x read raw, as SIGMA's u16 ReLU does), rows (msb[t >> 8], lsb[t mod
  2^8]): t is constant on unit intervals, so 65,535 breakpoints and 65,536 rows (fewer where the ring's top 2^(n-1) - 1
  is below 2^16 - 1: the row above is then t = 2^(n-1) - 1, the largest x the ring holds).

``PIECEWISE_KINDS`` are the kinds with a form here.
"""

from functools import cache

from .gates import NEXP_LUT, Gate, GateKind
from .tables import PiecewisePoly, inverse_lut, relu_sub_gelu_lut, rsqrt_lut

Pieces = tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]   # breakpoints, rows (below, intervals..., above)


@cache
def gelu_lut_pieces(f: int) -> Pieces:
    delta = relu_sub_gelu_lut(f).entries
    width = 1 << (f - 6)
    ys = range(-255, 256)   # intervals [y w, (y + 1) w); below -255 w and from 256 w on, |y| >= 256: entry 255
    breaks = tuple(y * width for y in range(-255, 257))
    rows = ((0, delta[255]), *((int(y >= 0), delta[min(abs(y), 255)]) for y in ys), (1, delta[255]))
    return breaks, rows


@cache
def inverse_lut_pieces(f: int, in_scale: int, row_len: int) -> Pieces:
    table = inverse_lut(f, row_len)
    step = 1 << (in_scale - 6)
    breaks = tuple(i * step for i in range(2**table.in_bits + 1))
    return breaks, ((table.entries[0],), *((e,) for e in table.entries), (table.entries[0],))


def float13_index(v: int) -> int:
    """SIGMA's 13-bit float of v >= 1: mantissa (the 7 bits below the leading one) << 6 | exponent (at most 63)."""
    k = v.bit_length() - 1
    mantissa = (v >> (k - 7) if k >= 7 else v << (7 - k)) & 127
    return (mantissa << 6) | min(k, 63)


@cache
def rsqrt_lut_pieces(f: int, in_scale: int, n_bits: int) -> Pieces:
    table = rsqrt_lut(f, 1, in_scale)
    starts = list(range(2, 128))     # v < 128: each integer its own float (v <= 1 is the row below)
    for k in range(7, n_bits - 1):
        starts += [(128 + m) << (k - 7) for m in range(128)]
    rows = [(table.entries[float13_index(v)],) for v in (1, *starts)]   # below 2 (v = 1), then from each start
    return tuple(starts), tuple(rows)


@cache
def nexp_lut_pieces(f: int, n_bits: int) -> Pieces:
    lsb, msb = (table.entries for table in NEXP_LUT.params.build_tables(f=f))
    top = min((1 << 16) - 1, (1 << (n_bits - 1)) - 1)     # the largest t that x can reach in the ring
    breaks = tuple(range(1, top + 1))                     # t = 0 below 1, then t = x on [x, x + 1), t = top above
    return breaks, tuple((msb[t >> 8], lsb[t & 255]) for t in range(top + 1))


def pieces_for(kind: str, f: int, in_scale: int, row_len: int | None, n_bits: int) -> Pieces:
    if kind == "GeLULUT":
        return gelu_lut_pieces(f)
    if kind == "InvLUT":
        return inverse_lut_pieces(f, in_scale, row_len)
    if kind == "RsqrtLUT":
        return rsqrt_lut_pieces(f, in_scale, n_bits)
    if kind == "nExpLUT":
        return nexp_lut_pieces(f, n_bits)
    raise ValueError(f"{kind} has no piecewise form")


COEFFICIENT_KINDS = frozenset({GateKind.RSQRT_INIT, GateKind.NEXP, GateKind.RECIP, GateKind.GELU_CONST,
                               GateKind.GELU_SPLINE, GateKind.SILU})
# the output scales of the LUT gates' parts: (DReLU bit, delta) for GeLU, 1/x and 1/sqrt(x) at f, (msb, lsb) for nExp
LUT_OUT_SCALES = {GateKind.GELU_LUT: lambda f: (0, f), GateKind.INV_LUT: lambda f: (f,),
                  GateKind.RSQRT_LUT: lambda f: (f,), GateKind.NEXP_LUT: lambda f: (f, f)}
PIECEWISE_KINDS = COEFFICIENT_KINDS | frozenset(LUT_OUT_SCALES)


def table_pieces(table: PiecewisePoly, in_scale: int) -> Pieces:
    """A coefficient table read at ``in_scale`` frac bits: breakpoints scaled up, rows below, per piece, above (a
    side without an interval: zeros, as an interval key with no interval outputs)."""
    up = in_scale - table.in_scale_bits
    width = len(table.coeffs[0])
    return tuple(b << up for b in table.breakpoints), (table.below or (0,) * width, *table.coeffs, table.above)


def gate_pieces(gate: Gate, f: int, n_bits: int) -> tuple[Pieces, tuple[int, ...]]:
    """A gate of ``PIECEWISE_KINDS`` as (breakpoints, rows) and the frac bits of each output part."""
    return _gate_pieces(gate, gate.params, f, n_bits)


@cache
def _gate_pieces(gate: Gate, params, f: int, n_bits: int) -> tuple[Pieces, tuple[int, ...]]:
    # keyed by the parameters too: gates that differ only in them (RSQRT_INIT_VALUE) compare equal
    in_scale = params.in_scale_bits or f
    if gate.kind in LUT_OUT_SCALES:
        return pieces_for(gate.name, f, in_scale, params.row_len, n_bits), LUT_OUT_SCALES[gate.kind](f)
    (table,) = params.build_tables(f=f)
    pieces = table_pieces(table, in_scale)
    return pieces, (table.out_scale_bits,) * len(pieces[1][0])
