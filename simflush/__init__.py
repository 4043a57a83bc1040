"""simflush: flush-schedule simulator and cost model of two-party FSS transformer inference.

``simflush.simulate(model="bert-base", ...)`` is the library entry point (``simflush.api``). The rooms
and their one-way doors (tasks -> executor -> config -> io -> sim -> api -> analysis -> cli) are in
docs/architecture.md.
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
