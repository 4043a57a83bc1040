"""SUF's two batching objects, as bookkeeping: ``OpenCollector`` and ``PfssSuperBatch``.

They hold what tasks reserved and hand it to the executor for a flush; they never move data or
charge time (a driver does). Caps throw ``SufRuntimeError`` as SUF does (spec §1.3, §2).
"""

from dataclasses import dataclass, field
from typing import Any

from ..errors import SufRuntimeError
from ..tasks.context import Batch, OpenKind
from ..tasks.gates import Gate


@dataclass(frozen=True)
class WireFormat:
    """How one open flush goes on the wire (``OpenCollector::flush`` pack and negotiation rules)."""

    ring_bits: int
    pack: bool = True               # SUF_OPEN_PACK_EFFBITS
    auto: bool = False              # SUF_OPEN_PACK_AUTO
    min_savings_pct: int = 25       # SUF_OPEN_PACK_MIN_SAVINGS_PCT
    max_bits: int = 56              # SUF_OPEN_PACK_MAX_BITS
    byte_format: bool = False       # SUF_OPEN_PACK_FORMAT=bytes
    no_negotiate: bool | None = True  # SUF_OPEN_PACK_NO_NEGOTIATE; None = derived

    @property
    def eff_bits(self) -> int:
        """Packed width, or 64 when nothing is packed."""
        candidate = self.ring_bits if 0 < self.ring_bits < 64 and self.ring_bits <= self.max_bits else 64
        if not self.pack or candidate == 64:
            return 64
        if self.auto and (64 - candidate) * 100 < self.min_savings_pct * 64:
            return 64
        return candidate

    @property
    def negotiation_exchanges(self) -> int:
        """u64 exchanges before the bulk message: the pack flag, then eff bits if both pack."""
        no_negotiate = self.no_negotiate
        if no_negotiate is None:
            no_negotiate = self.pack and not self.auto and 0 < self.ring_bits < 64
        if no_negotiate:
            return 0
        return 2 if self.eff_bits < 64 else 1

    def payload_bytes(self, words: int) -> int:
        """Bulk message bytes per party for ``words`` opened words."""
        eff = self.eff_bits
        if eff == 64:
            return 8 * words
        if self.byte_format:
            return 8 * -(-words * -(-eff // 8) // 8)
        return 8 * -(-words * eff // 64)

    def wire_bytes(self, words: int) -> int:
        """Bytes one party sends for one flush (``wire_bytes_sent``), negotiation included."""
        return self.payload_bytes(words) + 8 * self.negotiation_exchanges


@dataclass(frozen=True)
class OpenHandle:
    """A reserved open: ``index`` into the requests of collector generation ``generation``."""

    generation: int
    index: int


@dataclass
class OpenRequest:
    kind: OpenKind
    words: int
    value: Any
    tag: str = ""   # what produced the words (a BeaverOp value for Beaver differences)


class OpenCollector:
    """Pending opens of one party; one flush opens all of them.

    Generations: ``reserve`` hands out handles of the generation being collected (``generation``);
    ``complete`` publishes that generation's opened values and starts collecting the next. A handle is
    ready from the flush of its generation until the next flush completes (SUF's ``clear()`` bumps the
    generation): the executor steps every task after each flush, so a task reads its opened value in
    the wave right after the flush. Reading it later raises ``SufRuntimeError``, as SUF throws.
    """

    def __init__(self, max_pending_words: int):
        self.max_pending_words = max_pending_words
        self.requests: list[OpenRequest] = []
        self.pending_words = 0
        self.generation = 0            # the generation being collected
        self.opened_generation = -1    # the generation whose values ``result`` returns; -1: none yet
        self._results: list[Any] = []

    def reserve(self, value: Any, kind: OpenKind, words: int, tag: str = "") -> OpenHandle:
        """Add an open of ``words`` words; ``SufRuntimeError`` past ``max_pending_words``."""
        if self.pending_words + words > self.max_pending_words:
            raise SufRuntimeError(
                f"OpenCollector::reserve: {self.pending_words + words} pending words exceed "
                f"max_pending_words {self.max_pending_words}")
        self.requests.append(OpenRequest(kind, words, value, tag))
        self.pending_words += words
        return OpenHandle(self.generation, len(self.requests) - 1)

    def has_pending(self) -> bool:
        return bool(self.requests)

    def take(self) -> list[OpenRequest]:
        """The requests of the flush about to happen (they stay pending until ``complete``)."""
        return list(self.requests)

    def complete(self, opened: list[Any]) -> None:
        """Publish the opened values, one per request of ``take``: this generation's handles become
        ready and the previous generation's stop being so."""
        self._results = opened
        self.requests = []
        self.pending_words = 0
        self.opened_generation = self.generation
        self.generation += 1

    def ready(self, handle: OpenHandle) -> bool:
        """Whether ``handle``'s generation is the one flushed last."""
        return handle.generation == self.opened_generation

    def result(self, handle: OpenHandle) -> Any:
        """The opened value of a ready handle; ``SufRuntimeError`` outside its generation."""
        if not self.ready(handle):
            raise SufRuntimeError("OpenCollector: handle read outside its generation")
        return self._results[handle.index]


@dataclass(eq=False)
class PfssSlot:
    """What a PFSS handle points to: ready, with its output, once the ``flush_eval`` that evaluated
    its job completed, and from then on; it outlives ``clear()`` as SUF's shared result slot does."""

    ready: bool = False
    result: Any = None


@dataclass
class PfssJob:
    gate: Gate
    hatx: Any
    hatx_words: int
    jobs: int
    slot: PfssSlot = field(default_factory=PfssSlot)


class PfssSuperBatch:
    """Pending PFSS jobs of one batch (``name``); ``flush_eval`` evaluates all pending jobs at once."""

    def __init__(self, name: Batch, max_pending_jobs: int, max_pending_hatx: int):
        self.name = name
        self.max_pending_jobs = max_pending_jobs
        self.max_pending_hatx = max_pending_hatx
        self.jobs: list[PfssJob] = []
        self.evaluated = 0  # jobs[:evaluated] have been through flush_eval
        self.flushed = False
        self.pending_jobs = 0
        self.pending_hatx = 0

    def enqueue(self, gate: Gate, hatx: Any, hatx_words: int, jobs: int = 1) -> PfssSlot:
        if self.pending_jobs + jobs > self.max_pending_jobs:
            raise SufRuntimeError(
                f"PfssSuperBatch::enqueue_composite: {self.pending_jobs + jobs} pending jobs exceed "
                f"the limit {self.max_pending_jobs}")
        if self.pending_hatx + hatx_words > self.max_pending_hatx:
            raise SufRuntimeError(
                f"PfssSuperBatch::enqueue_composite: {self.pending_hatx + hatx_words} pending hatx "
                f"words exceed the limit {self.max_pending_hatx}")
        job = PfssJob(gate, hatx, hatx_words, jobs)
        self.jobs.append(job)
        self.pending_jobs += jobs
        self.pending_hatx += hatx_words
        self.flushed = False
        return job.slot

    def has_pending(self) -> bool:
        return len(self.jobs) > self.evaluated and not self.flushed

    def has_flushed(self) -> bool:
        return self.flushed

    def has_work(self) -> bool:
        return self.has_pending() or self.has_flushed()

    def empty(self) -> bool:
        """No job since the last ``clear()`` (or ever)."""
        return not self.jobs and not self.flushed

    def take(self) -> list[PfssJob]:
        """The jobs the next ``flush_eval`` evaluates."""
        return self.jobs[self.evaluated:]

    def complete_eval(self, results: list[Any]) -> None:
        """End of ``flush_eval``: results published, handles ready (bench: store_results off)."""
        jobs = self.take()
        for job, result in zip(jobs, results, strict=True):
            job.slot.result = result
            job.slot.ready = True
        self.evaluated = len(self.jobs)
        self.flushed = True
        self.pending_jobs = 0
        self.pending_hatx = 0

    def clear(self) -> None:
        """``clear()`` after materialize, or ``finalize_all`` (which empties jobs the same way)."""
        self.jobs = []
        self.evaluated = 0
        self.flushed = False
