"""simflush: flush-schedule simulator and cost model of two-party FSS transformer inference.

Layers (DESIGN.md §3): ``tasks`` (protocol state machines) -> ``executor`` (wave loop and flush
policies, no clock) -> ``sim`` (SimPy engine and cost models) -> ``io`` / ``analysis``.
"""

__version__ = "0.1.0"
