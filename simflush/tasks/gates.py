"""FSS gate descriptors: what a PFSS job evaluates.

A descriptor carries what the schedule and the cost model need (the gate kind and its shape:
``r`` arithmetic outputs per element, ``ell`` boolean outputs), not the keys themselves.
``suf_kind`` is SUF's gate-kind enum as printed in its traces (``job ... kind=``).
``params`` says what evaluation needs (issue #11): the function, its table(s) in ``tasks.tables`` (built on first
use), the truncation kind, and the input/output scales; docs/gate_tables.md describes the tables.
"""

from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cache

from simflush.tasks.tables import FRAC_BITS, TABLE_BUILDERS, Lut, PiecewisePoly


class GateKind(Enum):
    GAPARS = "GapARS"             # truncation with slack: one comparison on the low bits
    FAITHFUL_ARS = "FaithfulARS"  # faithful truncation + sign extension
    RELU = "ReLU"
    RSQRT_INIT = "RsqrtInit"      # affine initial value of Newton rsqrt (r = 2)
    NEXP = "nExp"                 # cubic spline coefficients of exp(-x) (r = 4)
    RECIP = "Recip"               # cubic spline coefficients of 1/x (r = 4)
    GELU_CONST = "GeLUConst"      # piecewise-constant GeLU: the gate emits the value (r = 1)
    GELU_SPLINE = "GeLUSpline"    # cubic GeLU spline (r = 4)
    SILU = "SiLU"                 # cubic SiLU spline (r = 4)
    # sigma-style GPU gates (SIGMA's constructions; DESIGN.md §5, ../shared/reference/sigma_protocols.md)
    DRELU = "DReLU"               # DPF comparison on n - f bits, 1-bit output
    NEXP_LUT = "nExpLUT"          # clip + two 8-bit LUTs (msb and lsb of the exponent)
    INV_LUT = "InvLUT"            # 13-bit LUT of 1/x on the row sums
    GELU_LUT = "GeLULUT"          # DReLU + interval bit + 8-bit LUT of ReLU - GeLU
    RSQRT_LUT = "RsqrtLUT"        # 13-bit LUT of 1/sqrt(x)


@dataclass(frozen=True)
class GateParams:
    """What evaluating a gate needs beyond its shape. Scales are frac bits at f = FRAC_BITS (None: set per
    call site, as a truncation's shift is). ``tables`` name builders in ``tables.TABLE_BUILDERS``."""

    function: str                # what the gate computes, in words
    tables: tuple[str, ...] = ()
    trunc: str | None = None     # "gapars": floor((v + 2^(n-2)) / 2^s) - 2^(n-2-s), valid for |v| < 2^(n-2);
    #                              "faithful_ars": floor(v / 2^s) for any signed v (facts §1)
    in_scale_bits: int | None = None
    out_scale_bits: int | None = None
    shift: int | None = None     # a truncation's shift s, set per call site (``with_params``)
    halvings: int = 0            # of the shift, bits that halve the value rather than lower its scale
    row_len: int | None = None   # the inverse LUT's longest softmax row k (its table has ceil(log2 k) + 6 bits)

    def build_tables(self, **kw: int | float) -> tuple[PiecewisePoly | Lut, ...]:
        """The gate's tables (cached per argument set); ``kw`` goes to every builder (``f=``, ...)."""
        return tuple(TABLE_BUILDERS[name](**kw) for name in self.tables)


@dataclass(frozen=True)
class Gate:
    kind: GateKind
    r: int        # arithmetic outputs (coefficients) per element
    ell: int      # boolean outputs per element
    degree: int
    suf_kind: int  # SUF's enum value in trace job records (-1: not a SUF gate)
    prg_per_elem: float = 0.0  # sigma gates: half-PRG calls per element (sets their cost, see sim.cost)
    # left out of == and hash so that descriptors compare as they did before parameters existed
    params: GateParams | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.kind.value

    @property
    def cost_name(self) -> str:
        """The measured SUF gate whose per-element cost this gate's is expressed in."""
        return self.name if self.suf_kind >= 0 else "ReLU"

    @property
    def cost_scale(self) -> float:
        """Per-element work relative to ``cost_name``'s: sigma gates scale SUF's measured ReLU (a DPF
        comparison over n - f bits, about RELU_PRG_PER_ELEM PRG calls) by their PRG calls."""
        return 1.0 if self.suf_kind >= 0 else self.prg_per_elem / RELU_PRG_PER_ELEM


def with_params(gate: Gate, **changes: int) -> Gate:
    """``gate`` with some parameters set for one call site (a truncation's shift, an input scale). It compares and
    hashes equal to ``gate`` (``params`` is not compared): the schedule and costs do not see the difference."""
    return _with_params(gate, gate.params, tuple(sorted(changes.items())))


@cache
def _with_params(gate: Gate, params: GateParams, changes: tuple) -> Gate:
    # keyed by the parameters too: gates that differ only in them (RSQRT_INIT_VALUE) compare equal
    return replace(gate, params=replace(params, **dict(changes)))


_F = FRAC_BITS


def _coeffs(function: str, table: str) -> GateParams:
    """A SUF coefficient gate: Qf in, Qf out, one piecewise table."""
    return GateParams(function, (table,), in_scale_bits=_F, out_scale_bits=_F)


def _luts(function: str, *luts: str) -> GateParams:
    """A SIGMA LUT gate on a Qf input with a Qf output."""
    return GateParams(function, luts, in_scale_bits=_F, out_scale_bits=_F)


GAPARS = Gate(GateKind.GAPARS, r=1, ell=1, degree=0, suf_kind=9,
              params=GateParams("signed floor(v / 2^s), s per call site", trunc="gapars"))
FAITHFUL_ARS = Gate(GateKind.FAITHFUL_ARS, r=1, ell=3, degree=0, suf_kind=8,
                    params=GateParams("signed floor(v / 2^s), s per call site", trunc="faithful_ars"))
RELU = Gate(GateKind.RELU, r=1, ell=0, degree=1, suf_kind=0,  # SUF tags ReLU keys SiLUSpline
            params=GateParams("x if to_signed(x) >= 0 else 0", in_scale_bits=_F, out_scale_bits=_F))
RSQRT_INIT = Gate(GateKind.RSQRT_INIT, r=2, ell=0, degree=0, suf_kind=4,
                  params=_coeffs("1/sqrt(x), x = var + eps", "rsqrt_init"))
# The snapshot's RsqrtTask computes its initial value from x unmasked with the key's own r_in (spec §6.4), which no
# secure protocol may do; the value path asks the same gate (same key kind, r and cost: it compares equal) for the
# initial value itself, a piecewise constant (docs/gate_tables.md), so that the schedule stays the snapshot's.
RSQRT_INIT_VALUE = replace(RSQRT_INIT, params=_coeffs("1/sqrt(x) as its own initial value (piecewise constant)",
                                                      "rsqrt_init_value"))
NEXP = Gate(GateKind.NEXP, r=4, ell=0, degree=3, suf_kind=2, params=_coeffs("exp(-t), t = rowmax - score", "nexp"))
RECIP = Gate(GateKind.RECIP, r=4, ell=0, degree=3, suf_kind=3, params=_coeffs("1/x, x = softmax row sum", "recip_init"))
GELU_CONST = Gate(GateKind.GELU_CONST, r=1, ell=0, degree=0, suf_kind=1, params=_coeffs("GeLU(x)", "gelu_const"))
GELU_SPLINE = Gate(GateKind.GELU_SPLINE, r=4, ell=0, degree=3, suf_kind=1, params=_coeffs("GeLU(x)", "gelu_spline"))
SILU = Gate(GateKind.SILU, r=4, ell=0, degree=3, suf_kind=0, params=_coeffs("x / (1 + e^-x)", "silu_spline"))

def _lut_prg(bits: int) -> float:
    """Full-domain DPF over ``bits``: 2^(b-6) - 2 PRG calls, plus 2^b table reads (counted 128 a call)."""
    return max(2 ** (bits - 6) - 2, 0) + 2 ** bits / 128


# PRG calls per element from sigma_protocols.md §2.0 at n - f = 25 (SUF's n = 37, f = 12)
RELU_PRG_PER_ELEM = 25 - 8
DRELU = Gate(GateKind.DRELU, r=0, ell=1, degree=0, suf_kind=-1, prg_per_elem=RELU_PRG_PER_ELEM,
             params=GateParams("1{to_signed(x) >= 0}", in_scale_bits=_F))
NEXP_LUT = Gate(GateKind.NEXP_LUT, r=2, ell=0, degree=0, suf_kind=-1, prg_per_elem=(25 - 7) + 2 * _lut_prg(8),
                params=_luts("exp(-t) = lsb[t mod 2^8] * msb[t >> 8], t clipped to [0, 2^16)", "nexp_lsb_lut",
                             "nexp_msb_lut"))
INV_LUT = Gate(GateKind.INV_LUT, r=1, ell=0, degree=0, suf_kind=-1, prg_per_elem=_lut_prg(13),
               params=_luts("1/x of the row sum, index GapARS(x, f - 6)", "inverse_lut"))
GELU_LUT = Gate(GateKind.GELU_LUT, r=1, ell=2, degree=0, suf_kind=-1, prg_per_elem=3 * (37 - 24 - 1) + _lut_prg(8),
                params=_luts("ReLU(x) - lut[min(|GapARS(x, f - 6)|, 255)]", "relu_sub_gelu_lut"))
RSQRT_LUT = Gate(GateKind.RSQRT_LUT, r=1, ell=0, degree=0, suf_kind=-1, prg_per_elem=_lut_prg(13),
                 params=GateParams("1/sqrt(sum of squares / d), 13-bit float index", ("rsqrt_lut",),
                                   in_scale_bits=2 * _F, out_scale_bits=_F))

TRUNC_GATES = {"gapars": GAPARS, "faithful": FAITHFUL_ARS}
