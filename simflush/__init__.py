"""simflush: flush-schedule simulator and cost model of two-party FSS transformer inference.

Layers (DESIGN.md §3): ``tasks`` (protocol state machines) -> ``executor`` (wave loop and flush
policies, no clock) -> ``sim`` (SimPy engine and cost models) -> ``io`` / ``analysis``; ``api`` is the
library entry point (``simflush.simulate(model="bert-base", ...)``, see ``simflush.api``).
"""

from .version import __version__

# The API is imported on first use, so that ``import simflush`` stays cheap.
_API = ("Result", "make_config", "simulate", "simulate_config")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
