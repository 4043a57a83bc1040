"""What the executor asks its driver to do: step a wave, or perform a flush.

The executor decides *which* flush (and records the branch); the driver performs it: the SimPy
driver charges simulated time, a real driver exchanges data or evaluates keys on the GPU.
"""

from dataclasses import dataclass, field
from typing import Any

from .batches import OpenRequest, PfssJob


@dataclass
class Wave:
    """Step every task in ``tasks`` once, in order; reply with the list of their Needs."""

    tasks: list


@dataclass
class OpenOp:
    requests: list[OpenRequest]
    words: int
    words_by_kind: dict[str, int]
    wire_bytes: int
    negotiation_exchanges: int


@dataclass
class PfssOp:
    """One ``flush_eval`` of ``batch`` (if ``jobs``), then materialize+clear or finalize_all."""

    batch: str
    jobs: list[PfssJob]
    finish: str  # "materialize" (executor path) or "finalize" (planner path)


@dataclass
class Flush:
    """One executor flush decision. ``concurrent``: the PFSS ops run beside the open (overlap)."""

    branch: str
    open: OpenOp | None = None
    pfss: list[PfssOp] = field(default_factory=list)
    concurrent: bool = False
    background: bool = False  # the driver starts it and goes on; users of its results wait in time
    records: list = field(default_factory=list)  # the FlushRecords a driver fills with times


@dataclass
class FlushResult:
    """The driver's reply to a ``Flush``: opened values per request, outputs per job (or None:
    symbolic, use the request's own value / a symbolic output)."""

    opened: list[Any] | None = None
    outputs: dict[int, list[Any]] | None = None  # index in Flush.pfss -> outputs per job
