"""One record per flush, per party: what was flushed and why (and, once a driver ran it, when)."""

from dataclasses import dataclass


def open_kind(words_beaver: int, words_mask: int) -> str:
    """An open's kind as traces name it: ``B``, ``M`` or ``B+M`` (the kinds of words it carries)."""
    return "+".join(k for k, w in (("B", words_beaver), ("M", words_mask)) if w)


@dataclass
class FlushRecord:
    layer: int
    run: str
    event: str                 # "OPEN" or "PFSS"
    branch: str                # budget, overlap, demand_open, planner, demand_coeff, demand_trunc, lastchance
    words: int = 0             # OPEN: opened words; PFSS: hatx words
    words_beaver: int = 0
    words_mask: int = 0
    wire_bytes: int = 0        # OPEN: bytes this party sends (negotiation included); PFSS: 0
    words_matmul: int = 0      # OPEN: the part of words_beaver that are matmul Beaver differences
    jobs: int = 0
    batch: str = ""            # PFSS: the executor batch flushed ("coeff" or "trunc")
    gates: tuple[str, ...] = ()
    finish: str = ""           # PFSS: "finalize" (planner path) or "materialize" (executor path)
    concurrent: bool = False   # ran beside another flush (overlap paths)
    start_s: float = 0.0
    duration_s: float = 0.0
    eval_s: float = 0.0        # PFSS: flush_eval part
    finish_s: float = 0.0      # PFSS: materialize/finalize part
    pack_s: float = 0.0        # OPEN: pack + unpack part (SUF's OpenPack timer)

    @property
    def open_kind(self) -> str:
        return open_kind(self.words_beaver, self.words_mask) if self.event == "OPEN" else ""
