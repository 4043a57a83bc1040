"""The wave loop and flush policies: pure decisions, no clock (DESIGN.md §3)."""

from .batches import OpenCollector, PfssSuperBatch, WireFormat
from .executor import ExecutorLimits, PhaseExecutor, RunConfig, TaskRunner
from .policies import POLICIES, FlushPolicy, LazyLimits, get_policy

__all__ = ["ExecutorLimits", "FlushPolicy", "LazyLimits", "OpenCollector", "POLICIES", "PfssSuperBatch",
           "PhaseExecutor", "RunConfig", "TaskRunner", "WireFormat", "get_policy"]
