"""What the executor asks its driver to do: step a wave, or perform a flush.

The executor decides *which* flush (and records the branch); the driver performs it: the SimPy
driver charges simulated time, a real driver exchanges data or evaluates keys on the GPU.
"""

from dataclasses import dataclass, field
from typing import Any

from ..tasks.context import Batch
from .batches import OpenRequest, PfssJob
from .records import FlushBranch, FlushRecord, PfssFinish


@dataclass
class Wave:
    """Step every task in ``tasks`` once, in order; reply with the list of their Needs."""

    tasks: list


@dataclass
class OpenOp:
    """One ``OpenCollector::flush`` of ``requests``: ``words`` opened words, of which ``words_beaver``
    are Beaver differences (``words_matmul`` of them a matmul's) and ``words_mask`` masked inputs."""

    requests: list[OpenRequest]
    words: int
    words_beaver: int
    words_matmul: int
    words_mask: int
    wire_bytes: int              # bytes one party sends, negotiation included
    negotiation_exchanges: int   # u64 exchanges before the bulk message


@dataclass
class PfssOp:
    """One ``flush_eval`` of ``batch`` (if ``jobs``), then ``finish``."""

    batch: Batch
    jobs: list[PfssJob]
    finish: PfssFinish


@dataclass
class Flush:
    """One executor flush decision. ``concurrent``: the PFSS ops run beside the open (overlap).
    ``records``: its FlushRecords (the open's first, then one per PFSS op with jobs); the driver fills
    in their times."""

    branch: FlushBranch
    open: OpenOp | None = None
    pfss: list[PfssOp] = field(default_factory=list)
    concurrent: bool = False
    background: bool = False  # the driver starts it and goes on; users of its results wait in time
    records: list[FlushRecord] = field(default_factory=list)


@dataclass
class FlushResult:
    """The driver's reply to a ``Flush``: opened values per request, outputs per job (or None:
    symbolic, use the request's own value / a symbolic output)."""

    opened: list[Any] | None = None
    outputs: dict[int, list[Any]] | None = None  # index in Flush.pfss -> outputs per job
