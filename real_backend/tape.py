"""Key tapes: each party's correlated randomness in the order its online run consumes it.

The dealer pass (``dealer_pass``) runs the program once with its executor and writes, per party, two streams: ``step``
(input-mask shares, Beaver triples and directly evaluated gate keys, in the order the tasks' steps ask for them) and
``flush`` (PFSS gate keys, in the order the executor's flushes evaluate them). Both orders are fixed by the program and
the executor, so the online run reads each stream front to back; every read names what it expects (kind, tag,
words) and a tape that does not match the program is refused (``TapeError``), as is reading an entry twice.

A party's tape comes one layer at a time (``LayerTapes``): each layer's runs finish before the next layer's begin, so
what a layer reads was dealt in that layer. ``TapeList`` keeps the layers in memory (one process, or a job file);
``TapeFiles`` names one file per layer (mode 0600), which the party reads when the layer before starts and deletes once
read, so that it holds at most two layers' keys (bert-base: about 2 GB a layer and party, 25 GB for 12). A layer's
entries must all be read by the layer's end, and a file that is missing, cut short, or of another party, run or layer
is refused. A layer file is its tape's pickle with the arrays' bytes after it (``write_tape_file``), read in one read:
on NumPy the layer's arrays are views of that one buffer, which is freed with the layer's last entry.
"""

import os
import pickle
import struct
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .xp import convert_tree, is_cupy

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
    # a key's gate descriptor (``simflush.tasks.gates.Gate`` with its call site's parameters): public, as the program
    # is; what a party builds the gate's tables from before its clock (``task_gates.build_gates``)
    gate: Any = None


def tape_gates(tape: "Tape") -> list:
    """The gate descriptors of a tape's keys, once each (descriptors that differ only in their parameters compare
    equal, so parameters are part of what is distinct)."""
    found = {(e.gate, e.gate.params): e.gate for entries in tape.streams.values() for e in entries
             if e.kind == "key" and e.gate is not None}
    return list(found.values())


@dataclass
class Tape:
    """One party's tape; ``run_id`` ties it to one dealer pass (the handshake compares it, never the seed)."""

    party: int
    run_id: str
    streams: dict[str, list[TapeEntry]] = field(default_factory=lambda: {s: [] for s in STREAMS})
    layer: int = 0   # the model layer whose keys these are

    def append(self, stream: str, entry: TapeEntry) -> None:
        self.streams[stream].append(entry)

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for entries in self.streams.values() for e in entries)


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


def _private(path: Path) -> Any:
    """A new file at ``path`` that only its owner may read, open for writing (binary)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def write_private(path: Path, payload: Any) -> None:
    """Pickle ``payload`` to a new file that only its owner may read (a party's keys, the input owner's record)."""
    with _private(path) as fh:
        pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)


TAPE_MAGIC = b"SFTAPE1\n"   # a tape file: this, then the layout (``_LAYOUT``), the pickle, the arrays' bytes
_LAYOUT = struct.Struct("<QQ")   # the pickle's bytes, the count of array buffers (each one's bytes follow as <Q)
_ALIGN = 64                       # each array's bytes start at a multiple of this in the file's data part


def _padded(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _aligned(nbytes: int) -> np.ndarray:
    """``nbytes`` uninitialised bytes starting at a multiple of ``_ALIGN`` in memory (NumPy promises less)."""
    raw = np.empty(nbytes + _ALIGN, dtype=np.uint8)
    skip = -raw.ctypes.data % _ALIGN
    return raw[skip:skip + nbytes]


def write_tape_file(path: Path, tape: "Tape") -> None:
    """A layer's tape to a new file only its owner may read: its pickle with the arrays out of band (protocol 5)
    and their bytes after it, each aligned, so that reading it is one read into one buffer and no copy of the
    arrays (an in-band pickle copies each array out of the file's bytes: 1.0 s a GiB against 0.4-0.6 s)."""
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(tape, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    with _private(path) as fh:
        fh.write(TAPE_MAGIC + _LAYOUT.pack(len(head), len(raws)) + struct.pack(f"<{len(raws)}Q", *map(len, raws)))
        fh.write(head)
        for raw in raws:
            fh.write(raw)
            fh.write(bytes(_padded(len(raw)) - len(raw)))


def read_tape_file(path: Path) -> Any:
    """What ``write_tape_file`` wrote; its arrays are views of one buffer read from the file. A file of another
    format or cut short raises ValueError (a missing one FileNotFoundError)."""
    with path.open("rb") as fh:
        start = fh.read(len(TAPE_MAGIC) + _LAYOUT.size)
        if len(start) != len(TAPE_MAGIC) + _LAYOUT.size or not start.startswith(TAPE_MAGIC):
            raise ValueError("not a tape file (or cut before its layout)")
        head_bytes, count = _LAYOUT.unpack(start[len(TAPE_MAGIC):])
        sizes = struct.unpack(f"<{count}Q", fh.read(8 * count)) if count else ()
        head = fh.read(head_bytes)
        data = _aligned(sum(map(_padded, sizes)))
        got = fh.readinto(memoryview(data)) if data.size else 0
        if len(sizes) != count or len(head) != head_bytes or got != data.size or fh.read(1):
            raise ValueError(f"the file's layout says {head_bytes} + {data.size} bytes; it holds other than that")
    views, offset = [], 0
    for size in sizes:
        views.append(memoryview(data[offset:offset + size]))
        offset += _padded(size)
    return pickle.loads(head, buffers=views)


@dataclass
class TapeList:
    """One party's tape as its layers, in memory."""

    party: int
    run_id: str
    layers: list[Tape | None]   # None: handed over to a reader

    @property
    def count(self) -> int:
        return len(self.layers)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.layers if t is not None)

    def load(self, layer: int) -> Tape:
        """Layer ``layer``'s tape, handed over once (the list lets go of it, so spent entries free their memory)."""
        tape, self.layers[layer] = self.layers[layer], None
        if tape is None:
            raise TapeError(f"party {self.party}'s tape for layer {layer} was read before")
        return tape


@dataclass
class TapeFiles:
    """One party's tape as one file per layer, named relative to ``folder`` (where the party finds its job file)."""

    party: int
    run_id: str
    names: list[str]
    nbytes: int
    folder: Path | None = None

    @property
    def count(self) -> int:
        return len(self.names)

    def path(self, layer: int) -> Path:
        return (self.folder or Path()) / self.names[layer]

    def check_present(self) -> None:
        for layer in range(self.count):
            if not self.path(layer).is_file():
                raise TapeError(f"party {self.party}'s tape file for layer {layer} is missing: {self.path(layer)}")

    def load(self, layer: int) -> Tape:
        """Layer ``layer``'s tape, read once: the file is deleted after it was read."""
        path = self.path(layer)
        try:
            tape = read_tape_file(path)
        except FileNotFoundError:
            raise TapeError(f"party {self.party}'s tape file for layer {layer} is missing: {path}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, AttributeError, struct.error) as exc:
            raise TapeError(f"party {self.party}'s tape file for layer {layer} is cut short or corrupt: {path} "
                            f"({type(exc).__name__}: {exc})") from None
        finally:
            path.unlink(missing_ok=True)
        if not isinstance(tape, Tape) or (tape.party, tape.run_id, tape.layer) != (self.party, self.run_id, layer):
            got = (tape.party, tape.run_id, tape.layer) if isinstance(tape, Tape) else type(tape).__name__
            raise TapeError(f"party {self.party}'s tape file {path} holds {got}; this run wants (party, run id, "
                            f"layer) = {(self.party, self.run_id, layer)}")
        return tape


class TapeFileWriter:
    """The dealer's side of ``TapeFiles``: each layer's tape to ``folder/party{P}.layer{L}.pkl`` as it is dealt."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.sources: dict[int, TapeFiles] = {}

    def add(self, tape: Tape) -> None:
        name = f"party{tape.party}.layer{tape.layer}.pkl"
        write_tape_file(self.folder / name, convert_tree(tape, np))
        source = self.sources.setdefault(tape.party, TapeFiles(tape.party, tape.run_id, [], 0, self.folder))
        source.names.append(name)
        source.nbytes += tape.nbytes


class LayeredReader:
    """Reads a party's tape layer by layer (``start_layer`` before each layer, ``finish`` after the last), with the
    next layer read ahead on a thread: at most two layers are held (``held``, ``peak_held``), unless the whole
    tape was read before the run (``preload``). ``keys_allocator``: each layer is loaded (and prepared) inside the
    context it returns, so that its arrays come from a memory pool of their own (``twoparty.own_key_pool``)."""

    def __init__(self, source: TapeList | TapeFiles, xp: Any, prepare: Callable[[Tape], Tape] | None = None,
                 keys_allocator: Callable[[], AbstractContextManager] | None = None):
        if isinstance(source, TapeFiles):
            source.check_present()
        self.source, self.xp, self.prepare = source, xp, prepare
        self.keys_allocator = keys_allocator or nullcontext
        self.reader: TapeReader | None = None
        self.layer = -1
        self.held: set[int] = set()
        self.peak_held = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"tape-p{source.party}")
        self._ahead: Future | None = None
        self._preloaded: dict[int, Tape] = {}

    def preload(self, budget_bytes: int) -> bool:
        """Before the clock: read every layer now when the whole tape fits in ``budget_bytes`` (then no file is read
        and nothing is copied while the clock runs: a layer read ahead during the run competes with it for the
        copy engine and the interpreter). Returns whether it did."""
        if self.source.nbytes > budget_bytes or self.layer >= 0:
            return False
        self._preloaded = {layer: self._load(layer) for layer in range(self.source.count)}
        self.held.update(self._preloaded)
        self.peak_held = max(self.peak_held, len(self.held))
        return True

    def _fetch(self, layer: int) -> Future:
        if layer in self._preloaded:
            done: Future = Future()
            done.set_result(self._preloaded.pop(layer))
            return done
        self.held.add(layer)
        self.peak_held = max(self.peak_held, len(self.held))
        return self._pool.submit(self._load, layer)

    def _load(self, layer: int) -> Tape:
        """In the prefetch thread, while the party computes: the layer read and its arrays put on ``xp`` (walking
        a layer's entries takes milliseconds even when they are there already); on CuPy the copies are waited for
        before the party is handed the layer. ``prepare`` (the reader's) then puts its keys in their kernels'
        layouts."""
        with self.keys_allocator():
            tape = convert_tree(self.source.load(layer), self.xp)
            if self.prepare is not None:
                tape = self.prepare(tape)
            if is_cupy(self.xp):
                self.xp.cuda.get_current_stream().synchronize()
        return tape

    def start_layer(self, layer: int) -> None:
        self._check_read()
        if layer >= self.source.count:
            raise TapeError(f"party {self.source.party}'s tape ends after {self.source.count} layers; the program "
                            f"asks for layer {layer}")
        self.held.discard(self.layer)   # the finished layer's entries are spent: nothing of it is held
        ahead = self._ahead if self._ahead is not None else self._fetch(layer)
        self._ahead = self._fetch(layer + 1) if layer + 1 < self.source.count else None
        self.reader, self.layer = TapeReader(ahead.result()), layer

    def take(self, stream: str, kind: str, tag: str, words: int) -> Any:
        return self.reader.take(stream, kind, tag, words)

    def _check_read(self) -> None:
        left = dict(self.reader.remaining()) if self.reader else {}
        if left:
            raise TapeError(f"party {self.source.party}'s tape for layer {self.layer} has entries the program did "
                            f"not read: {left}")

    def finish(self) -> None:
        """After the last layer: its entries all read, and no layer left over."""
        self._check_read()
        if self.layer + 1 != self.source.count:
            raise TapeError(f"party {self.source.party}'s tape has layers the program did not read: it holds "
                            f"{self.source.count}, the program ran {self.layer + 1}")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
