"""Masked-wire FSS gates (see ``base`` for the interface)."""
from .base import Gate, GateKey, GateKeys, KeyReuseError, PfssJob
from .compare import DReLU, ReLU
from .linear import B2A, MaskedMul, Select
from .lut import LUT
from .poly import PiecewisePoly
from .trunc import GapARS, TrFloor

__all__ = ["B2A", "LUT", "DReLU", "GapARS", "Gate", "GateKey", "GateKeys", "KeyReuseError", "MaskedMul", "PfssJob",
           "PiecewisePoly", "ReLU", "Select", "TrFloor"]
