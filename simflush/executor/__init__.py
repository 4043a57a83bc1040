"""The wave loop and flush policies: pure decisions, no clock (DESIGN.md §3)."""

from .batches import OpenCollector, PfssSuperBatch, WireFormat
from .executor import PhaseExecutor, RunConfig, TaskRunner
from .policies import POLICIES, FlushPolicy, get_policy
from .records import FlushBranch, FlushKind, FlushRecord, PfssFinish

__all__ = ["POLICIES", "FlushBranch", "FlushKind", "FlushPolicy", "FlushRecord", "OpenCollector", "PfssFinish",
           "PfssSuperBatch", "PhaseExecutor", "RunConfig", "TaskRunner", "WireFormat", "get_policy"]
