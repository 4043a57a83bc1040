"""FSS gate descriptors: what a PFSS job evaluates.

A descriptor carries what the schedule and the cost model need (the gate kind and its shape:
``r`` arithmetic outputs per element, ``ell`` boolean outputs), not the keys themselves.
``suf_kind`` is SUF's gate-kind enum as printed in its traces (``job ... kind=``).
"""

from dataclasses import dataclass
from enum import Enum


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


@dataclass(frozen=True)
class Gate:
    kind: GateKind
    r: int        # arithmetic outputs (coefficients) per element
    ell: int      # boolean outputs per element
    degree: int
    suf_kind: int  # SUF's enum value in trace job records

    @property
    def name(self) -> str:
        return self.kind.value


GAPARS = Gate(GateKind.GAPARS, r=1, ell=1, degree=0, suf_kind=9)
FAITHFUL_ARS = Gate(GateKind.FAITHFUL_ARS, r=1, ell=3, degree=0, suf_kind=8)
RELU = Gate(GateKind.RELU, r=1, ell=0, degree=1, suf_kind=0)  # SUF tags ReLU keys SiLUSpline
RSQRT_INIT = Gate(GateKind.RSQRT_INIT, r=2, ell=0, degree=0, suf_kind=4)
NEXP = Gate(GateKind.NEXP, r=4, ell=0, degree=3, suf_kind=2)
RECIP = Gate(GateKind.RECIP, r=4, ell=0, degree=3, suf_kind=3)
GELU_CONST = Gate(GateKind.GELU_CONST, r=1, ell=0, degree=0, suf_kind=1)
GELU_SPLINE = Gate(GateKind.GELU_SPLINE, r=4, ell=0, degree=3, suf_kind=1)
SILU = Gate(GateKind.SILU, r=4, ell=0, degree=3, suf_kind=0)

TRUNC_GATES = {"gapars": GAPARS, "faithful": FAITHFUL_ARS}
