"""Key tapes: each party's correlated randomness in the order its online run consumes it.

The dealer pass (``dealer_pass``) runs the program once with its executor and writes, per party, two streams: ``step``
(input-mask shares, Beaver triples and directly evaluated gate keys, in the order the tasks' steps ask for them) and
``flush`` (PFSS gate keys, in the order the executor's flushes evaluate them). Both orders are fixed by the program and
the executor, so the online run reads each stream front to back; every read names what it expects (kind, tag,
words) and a tape that does not match the program is refused (``TapeError``), as is reading an entry twice.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

STREAMS = ("step", "flush")


class TapeError(RuntimeError):
    """The tape does not match the program that reads it (or is read past its end, or twice)."""


@dataclass
class TapeEntry:
    kind: str        # "mask", "triple" or "key"
    tag: str         # the gate's name or the Beaver op
    words: int       # elements it serves
    material: Any    # this party's share of the mask, its triple, its key
    nbytes: int      # what the material occupies (the key bytes reported per party)


@dataclass
class Tape:
    """One party's tape; ``run_id`` ties it to one dealer pass (the handshake compares it, never the seed)."""

    party: int
    run_id: str
    streams: dict[str, list[TapeEntry]] = field(default_factory=lambda: {s: [] for s in STREAMS})

    def append(self, stream: str, entry: TapeEntry) -> None:
        self.streams[stream].append(entry)

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for entries in self.streams.values() for e in entries)

    def reader(self) -> "TapeReader":
        return TapeReader(self)


class TapeReader:
    """Reads a tape front to back per stream, checking each entry against what the program asks for."""

    def __init__(self, tape: Tape):
        self.tape = tape
        self._next = dict.fromkeys(STREAMS, 0)

    def take(self, stream: str, kind: str, tag: str, words: int) -> Any:
        entries, i = self.tape.streams[stream], self._next[stream]
        if i >= len(entries):
            raise TapeError(f"party {self.tape.party}'s {stream} tape ends after {i} entries; the program asks for "
                            f"a {kind} of {tag} on {words} words")
        entry = entries[i]
        if (entry.kind, entry.tag, entry.words) != (kind, tag, words):
            raise TapeError(f"party {self.tape.party}'s {stream} tape entry {i} is a {entry.kind} of {entry.tag} on "
                            f"{entry.words} words; the program asks for a {kind} of {tag} on {words} words")
        self._next[stream] = i + 1
        material, entry.material = entry.material, None   # one-time: the entry is spent
        return material

    def remaining(self) -> Iterator[tuple[str, int]]:
        """Streams with entries left unread, and how many (a run that ends with any has a misaligned tape)."""
        for stream in STREAMS:
            left = len(self.tape.streams[stream]) - self._next[stream]
            if left:
                yield stream, left
