"""One record per flush, per party: what was flushed and why (and, once a driver ran it, when).

The flush kind, the executor branch and the PFSS finish are ``StrEnum`` values: they compare equal to,
print and serialise as their strings (``"OPEN"``, ``"lastchance"``, ...), which the outputs use.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from ..tasks.context import Batch


class FlushKind(StrEnum):
    OPEN = "OPEN"   # one OpenCollector::flush (a round trip of masked shares)
    PFSS = "PFSS"   # one PfssSuperBatch::flush_eval and its materialize / finalize


class FlushBranch(StrEnum):
    """The executor branch that issued a flush (spec §1.3-§1.4; ``eager`` is simflush's own)."""

    BUDGET = "budget"              # lazy-limit flush in a wave with progress (§1.3)
    OVERLAP = "overlap"            # demand step 1: open + PFSS thread
    DEMAND_OPEN = "demand_open"    # step 2
    PLANNER = "planner"            # step 3: finalize_phase, once per run
    DEMAND_COEFF = "demand_coeff"  # step 4
    DEMAND_TRUNC = "demand_trunc"  # step 5
    LASTCHANCE = "lastchance"      # step 6
    EAGER = "eager"                # pfss_eager policy: background PFSS flush


class PfssFinish(StrEnum):
    """What follows a PFSS flush_eval."""

    MATERIALIZE = "materialize"  # executor path: materialize_host, then clear()
    FINALIZE = "finalize"        # planner path: finalize_all (empties the batch as clear() does)
    CLEAR = "clear"              # device pipeline without host materialization: clear() only


_OPEN_KINDS = {(False, False): "", (True, False): "B", (False, True): "M", (True, True): "B+M"}


def open_kind(words_beaver: int, words_mask: int) -> str:
    """An open's kind as traces name it: ``B``, ``M`` or ``B+M`` (the kinds of words it carries)."""
    return _OPEN_KINDS[bool(words_beaver), bool(words_mask)]


# what a driver fills in
UNTIMED = dict.fromkeys(("start_s", "duration_s", "eval_s", "finish_s", "pack_s", "comm_s", "wait_s"), 0.0)


@dataclass
class FlushRecord:
    layer: int
    run: str
    event: FlushKind
    branch: FlushBranch
    words: int = 0             # OPEN: opened words; PFSS: hatx words
    words_beaver: int = 0
    words_mask: int = 0
    wire_bytes: int = 0        # OPEN: bytes this party sends (negotiation included); PFSS: 0
    words_matmul: int = 0      # OPEN: the part of words_beaver that are matmul Beaver differences
    jobs: int = 0
    batch: Batch | Literal[""] = ""         # PFSS: the executor batch flushed
    gates: tuple[str, ...] = ()
    finish: PfssFinish | Literal[""] = ""   # PFSS only
    concurrent: bool = False   # ran beside another flush (overlap paths)
    start_s: float = 0.0
    duration_s: float = 0.0
    eval_s: float = 0.0        # PFSS: flush_eval part
    finish_s: float = 0.0      # PFSS: materialize/finalize part
    pack_s: float = 0.0        # OPEN: pack + unpack part (SUF's OpenPack timer)
    comm_s: float = 0.0        # OPEN, real backend: the exchange on the host's clock, waiting for the peer included
    wait_s: float = 0.0        # OPEN, real backend over a channel: the host's wait for its packed words (GPU catch-up)

    def untimed(self, layer: int) -> "FlushRecord":
        """The same flush in ``layer``, before a driver times it (a copy: ``dataclasses.replace`` is slow, and
        so is updating a new instance's ``__dict__`` from keywords)."""
        fields = self.__dict__.copy()
        fields.update(UNTIMED)
        fields["layer"] = layer
        copy = object.__new__(FlushRecord)
        copy.__dict__ = fields
        return copy

    @property
    def kind(self) -> FlushKind:
        """``event`` under the trace's name (``FlushEvent.kind``): the bench document reads either."""
        return self.event

    @property
    def open_kind(self) -> str:
        return open_kind(self.words_beaver, self.words_mask) if self.event == FlushKind.OPEN else ""


@dataclass
class RunSpan:
    """When one executor ``run()`` began and ended, on its driver's clock (simulated or monotonic seconds)."""

    layer: int
    run: str
    section: str
    start_s: float
    end_s: float
