"""Protocol tasks as generator state machines (no clock, no SimPy): see ``primitives``."""

from .context import Batch, BeaverOp, Context, OpenKind, Sym
from .gates import Gate, GateKind
from .need import Need

__all__ = ["Batch", "BeaverOp", "Context", "Gate", "GateKind", "Need", "OpenKind", "Sym"]
