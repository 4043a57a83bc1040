"""A model's layers for real: the dealer pass, then two parties on secret shares, each through its own executor.

``run_two_party`` deals both tapes (``dealer_pass``), splits the input into additive shares, and runs party 0 and
party 1 side by side (threads) over a ``Link`` that carries each flush's one exchange: the in-process link of this
module, or a socket between two processes. Each party runs ``simflush.plain.layer.ValueRun`` with its
``RealContext``: the layer's runs, tasks and executor are the simulator's.
"""

import dataclasses
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.specs import ModelSpec
from models.weights import ModelWeights
from simflush.executor.records import FlushRecord
from simflush.plain.layer import FixedLayer, ValueRun, encode_real, fixed_layer
from simflush.profiles import Settings
from simflush.tasks.values import FixedPoint, RingArith, RingArray

from . import engine, kernels, task_gates
from .context import RealContext, performer
from .cores import cpu_node, current_cpu, gpu_node
from .dealer import Dealer
from .dealer_pass import DealerContext, fresh_run_id
from .ring import Ring
from .tape import LayeredReader, Tape, TapeFiles, TapeFileWriter, TapeList, tape_gates
from .xp import get_xp, is_cupy

EXCHANGE_TIMEOUT_S = 60.0


class PeerError(RuntimeError):
    """The other party failed or stopped answering."""


class MemoryLink:
    """Two in-process endpoints; ``exchange`` sends this party's words and returns the peer's (with a timeout).

    On CuPy each party runs on its own stream (``party_stream``), so a word handed over may not be computed yet, and
    one let go of may still be being read by the peer's stream. Each hand-over therefore carries an event recorded
    on the sender's stream after everything it queued, and the receiver's stream waits for it: the words are ready,
    and (the same event, one exchange later) the sender's reads of the receiver's previous words are done. A party
    keeps its last words until that later event arrived, so their memory is not reused under the peer's reads; no
    host sync is needed either way."""

    def __init__(self, timeout_s: float = EXCHANGE_TIMEOUT_S):
        self.boxes = (queue.Queue(), queue.Queue())
        self.timeout_s = timeout_s
        self.failed = threading.Event()

    def endpoint(self, party: int):
        held: list[Any] = []   # this party's last words, which the peer's stream may still read

        def exchange(mine: Any) -> Any:
            self.boxes[1 - party].put((mine, _stream_event(mine)))
            try:
                got = self.boxes[party].get(timeout=self.timeout_s)
            except queue.Empty:
                raise PeerError(f"party {party}: no answer from party {1 - party} within {self.timeout_s:g} s"
                                ) from None
            if got is None:
                raise PeerError(f"party {party}: party {1 - party} failed")
            theirs, ready = got
            if ready is not None:
                get_xp(theirs).cuda.get_current_stream().wait_event(ready)
            held[:] = [mine]   # the previous words: the peer's reads of them came before ``ready``
            if theirs.shape != mine.shape:
                raise PeerError(f"party {party}: party {1 - party} sent {theirs.size} words, this flush has "
                                f"{mine.size}")
            return theirs
        return exchange

    def fail(self, party: int) -> None:
        """Tell the peer of ``party`` that it failed (so that the peer stops waiting at once)."""
        self.boxes[1 - party].put(None)


def _stream_event(words: Any) -> Any:
    """On CuPy: an event recorded on the current stream (after all queued work); None on NumPy."""
    if not is_cupy(get_xp(words)):
        return None
    event = get_xp(words).cuda.Event(disable_timing=True)
    event.record()
    return event


@contextmanager
def party_stream(xp: Any) -> Iterator[None]:
    """On CuPy: this thread's GPU work on a stream of its own, so that one party's kernels run while the other
    party's thread queues its own. The stream is a blocking one: work on the legacy default stream (the tape
    prefetch's copies, the dealer's arrays) waits for it and it for them, so memory the pool hands from one to the
    other is never rewritten under a pending read; the two parties' streams wait only at the link's events."""
    if not is_cupy(xp):
        yield
        return
    with xp.cuda.Stream(non_blocking=False):
        yield


def loaded_layers(spec: ModelSpec, weights: ModelWeights, f: int, count: int, xp: Any) -> list[FixedLayer]:
    """The first ``count`` layers' public weights encoded at f and on ``xp``: weight loading, done before the online
    clock starts (SUF's bench loads its weights before it times)."""
    arrays = ("wqkv", "bqkv", "wo", "bo", "w1", "b1", "w2", "b2")
    return [dataclasses.replace(fl, **{name: xp.asarray(getattr(fl, name)) for name in arrays})
            for fl in (fixed_layer(layer, spec, f) for layer in weights.layers[:count])]


def _layers(runner: ValueRun, layers: list[FixedLayer], hidden: RingArray,
            start_layer: Callable[[int], None]) -> RingArray:
    for i, layer in enumerate(layers):
        start_layer(i)
        runner.layer = i
        hidden = runner.layer_forward(hidden, layer)["out_ring"]
    return hidden


def deal(spec: ModelSpec, weights: ModelWeights, settings: Settings, fixed: FixedPoint, batch: int, seq_len: int,
         layers: int, dealer: Dealer, policy: str = "suf", schedule: list | None = None,
         files: TapeFileWriter | None = None, progress: Callable[[str], None] | None = None
         ) -> tuple[TapeList, TapeList] | tuple[TapeFiles, TapeFiles]:
    """Both parties' tapes for ``layers`` layers (the dealer pass on stand-in zeros), layer by layer: kept in memory,
    or with ``files`` written to one file per layer and party as each layer is dealt (the dealer then holds one
    layer's keys). ``schedule``, when given, gets the dealer pass's flush records (the executor's schedule for this
    program, which both parties must follow); ``progress`` a line per layer dealt."""
    run_id = fresh_run_id()
    kept = (TapeList(0, run_id, []), TapeList(1, run_id, []))
    arith = RingArith(fixed.n_bits, dealer.xp)
    ctx = DealerContext(settings.party_executor(0, policy), fixed, arith, dealer, (), settings.interval_fold)
    runner = ValueRun(spec, settings, fixed, arith, batch, seq_len, policy, context=ctx, decode=False)
    zeros = RingArray(dealer.xp.zeros(batch * seq_len * spec.d_model, dtype=np.uint64), fixed.frac_bits)
    start = time.perf_counter()

    def close_layer() -> None:
        for tape in ctx.tapes:
            (files.add if files else kept[tape.party].layers.append)(tape)
        if progress:
            progress(f"dealer: layer {ctx.tapes[0].layer + 1} of {layers} dealt ({time.perf_counter() - start:.1f} s)")

    def start_layer(i: int) -> None:
        if i:
            close_layer()
        ctx.tapes = (Tape(0, run_id, layer=i), Tape(1, run_id, layer=i))

    _layers(runner, loaded_layers(spec, weights, fixed.frac_bits, layers, dealer.xp), zeros, start_layer)
    close_layer()
    if schedule is not None:
        schedule.extend(ctx.executor.records)
    return (files.sources[0], files.sources[1]) if files else kept


@dataclass
class PartyResult:
    party: int
    output: Any = None                       # this party's share of the final hidden state
    records: list[FlushRecord] = field(default_factory=list)   # timed (monotonic seconds)
    online_s: float = 0.0
    error: BaseException | None = None
    spans: list = field(default_factory=list)      # each run's monotonic start and end (plain.layer.RunSpan)
    profile: dict = field(default_factory=dict)    # seconds under SUF's online_profile names
    tape_layers_peak: int = 0                      # the most layers of tape this party held at once
    rehearsal_s: float = 0.0                       # a fresh process's rehearsal before the clock (``rehearse``)
    tape_load_s: float = 0.0                       # reading (and copying up) the tape held before the clock
    cpus: list = field(default_factory=list)       # the CPU the party ran on at the clock's start, each later
    #                                                layer's start and the end (``cores.current_cpu``; None: unknown)
    cpu_nodes: list = field(default_factory=list)  # the NUMA node of each of those CPUs, on the party's own host
    gpu_node: int | None = None                    # its GPU's NUMA node (``cores.gpu_node``), where known
    pool: list = field(default_factory=list)       # CuPy's memory pool at the clock's start and at its end
    #                                                (``pool_state``; empty on NumPy)

    @property
    def schedule(self) -> list[FlushRecord]:
        """The flushes without their times: what the simulator's schedule is compared with."""
        return [r.untimed(r.layer) for r in self.records]


def run_party(party: int, spec: ModelSpec, weights: ModelWeights, x_share: RingArray, settings: Settings,
              fixed: FixedPoint, batch: int, seq_len: int, layers: int, tape: TapeList | TapeFiles, exchange,
              xp: Any = np, policy: str = "suf", progress: Callable[[str], None] | None = None,
              ready: Callable[[], None] | None = None,
              keys_allocator: Callable[[], AbstractContextManager] | None = None) -> PartyResult:
    """One party's online run of ``layers`` layers on its input share; each layer's tape is read when the layer
    starts and must be read to its end by the layer's end. ``progress`` gets a line as each layer starts; ``ready``
    (two processes: the channel's handshake) is called once the first layer and the kernels are loaded, just before
    the clock starts, so that neither party's clock holds the other's loading. ``keys_allocator``: the tape's layers
    are loaded inside it (``own_key_pool``)."""
    executor = settings.party_executor(party, policy)
    reader = LayeredReader(tape, xp, layer_preparation(settings, fixed, xp), keys_allocator)
    ctx = RealContext(executor, fixed, xp, reader, settings.interval_fold)
    runner = ValueRun(spec, settings, fixed, ctx.arith, batch, seq_len, policy, context=ctx,
                      perform=performer(ctx, exchange), decode=False)

    cpus: list[int | None] = []

    def start_layer(i: int) -> None:
        if i:
            reader.start_layer(i)
            cpus.append(current_cpu())
        if progress:
            progress(f"party {party}: layer {i + 1} of {layers} started ({time.perf_counter() - start:.1f} s)")

    loaded = loaded_layers(spec, weights, fixed.frac_bits, layers, xp)
    if is_cupy(xp):
        kernels.load()
    try:
        load_start = time.perf_counter()
        if is_cupy(xp) and isinstance(tape, TapeFiles):
            reader.preload(_device_tape_budget(xp))   # keys where the kernels are, when the card has room
        reader.start_layer(0)   # before the clock, as a whole tape in memory was
        tape_load_s = time.perf_counter() - load_start
        if ready:
            ready()
        start = time.perf_counter()
        cpus.append(current_cpu())
        pool = [pool_state(xp)]
        out = _layers(runner, loaded, x_share, start_layer)
        ctx.finish_timing()   # on CuPy: waits for the queued work, so the online time holds it
        online_s = time.perf_counter() - start
        cpus.append(current_cpu())
        pool.append(pool_state(xp))
        reader.finish()
    finally:
        reader.close()
    profile = {**ctx.profile, "matmul_ns": runner.matmul_s}
    return PartyResult(party, out.data, executor.records, online_s, None, runner.spans, profile, reader.peak_held,
                       tape_load_s=tape_load_s, cpus=cpus,
                       cpu_nodes=[None if cpu is None else cpu_node(cpu) for cpu in cpus],
                       gpu_node=gpu_node(getattr(xp.cuda.Device(), "pci_bus_id", "")) if is_cupy(xp) else None,
                       pool=pool if is_cupy(xp) else [])


def layer_preparation(settings: Settings, fixed: FixedPoint, xp: Any) -> Callable[[Tape], Tape]:
    """What a party's reader does to each layer's tape as it loads it (before the clock for the first layer, on the
    prefetch thread for the others): the tape's gates built from their descriptors (``task_gates.build_gates``) and,
    on CuPy, its keys put in their kernels' layouts (``engine.prepare_keys``)."""
    def prepare(layer: Tape) -> Tape:
        task_gates.build_gates(tape_gates(layer), fixed.n_bits, fixed.frac_bits, settings.interval_fold, xp)
        return engine.prepare_keys(layer) if is_cupy(xp) else layer
    return prepare


def _device_tape_budget(xp: Any) -> int:
    """The tape bytes a party puts on the GPU before its clock: 40 % of the memory free now, since the other party
    may be loading its own tape onto the same card and the run needs working memory beside the keys."""
    free, _ = xp.cuda.runtime.memGetInfo()
    return int(0.4 * free)


REHEARSAL_SEQ_LEN = 2


def pool_state(xp: Any) -> dict:
    """CuPy's default memory pool now: the bytes in use, the bytes it holds, and its free blocks (how a run's
    allocations find it: ``own_key_pool``); empty on NumPy."""
    if not is_cupy(xp):
        return {}
    pool = xp.get_default_memory_pool()
    return {"used_bytes": pool.used_bytes(), "total_bytes": pool.total_bytes(), "free_blocks": pool.n_free_blocks()}


def own_key_pool(xp: Any) -> tuple[Callable[[], AbstractContextManager], Any]:
    """A memory pool for a party's keys apart from its working arrays, and the context that allocates from it (CuPy;
    NumPy: no pool, a context that does nothing). Keys are large and held for a layer; working arrays are small and
    mostly freed within a flush. In one pool, freed keys leave large free chunks that the small allocations after
    them split (and merge back when freed) instead of reusing chunks of their own sizes; in two, the working pool
    keeps chunks of the run's sizes (``run --keys-own-pool``; measured: not yet)."""
    if not is_cupy(xp):
        return nullcontext, None
    pool = xp.cuda.MemoryPool()
    return (lambda: xp.cuda.using_allocator(pool.malloc)), pool


def rehearse(party: int, spec: ModelSpec, weights: ModelWeights, settings: Settings, fixed: FixedPoint, batch: int,
             xp: Any, policy: str = "suf", seq_len: int = REHEARSAL_SEQ_LEN, keys_own_pool: bool = False) -> float:
    """One layer at ``seq_len`` tokens against an echo peer, on keys dealt here for it alone, before a fresh
    process's online clock: CuPy compiles and loads each elementwise kernel, reduction and scan at its first use
    (about half a second a party process, measured inside the first LayerNorm), which a compiled runtime such as
    SUF's does not pay while it runs. A short run meets every kernel; what it does not meet is what depends on the
    arrays' sizes (the pool's blocks of each size, a kernel's variants), which a rehearsal at the run's own length
    does (``run --rehearse-tokens``). Its values are meaningless and nothing of it is kept: no key, share or word of
    the real run is touched. ``keys_own_pool``: its keys are dealt and loaded in a pool of their own
    (``own_key_pool``), freed when it ends, so that CuPy's pool keeps only the working arrays' chunks. Returns its
    seconds."""
    start = time.perf_counter()
    allocator, pool = own_key_pool(xp) if keys_own_pool else (nullcontext, None)
    with allocator():
        tapes = deal(spec, weights, settings, fixed, batch, seq_len, 1,
                     Dealer(secrets.token_bytes(32), use_gpu=is_cupy(xp)), policy)
    zeros = RingArray(xp.zeros(batch * seq_len * spec.d_model, dtype=np.uint64), fixed.frac_bits)
    run_party(party, spec, weights, zeros, settings, fixed, batch, seq_len, 1, tapes[party],
              lambda mine: mine.copy(), xp, policy, keys_allocator=allocator)
    del tapes, zeros
    if pool is not None:
        pool.free_all_blocks()
    elif is_cupy(xp) and seq_len > REHEARSAL_SEQ_LEN:   # a long rehearsal's keys (GBs) leave CuPy's pool: the
        xp.get_default_memory_pool().free_all_blocks()   # card's free memory sizes the real tape's preload budget
    return time.perf_counter() - start


def share_input(x: np.ndarray, fixed: FixedPoint, xp: Any = np) -> tuple[RingArray, RingArray]:
    """Additive shares of hidden states ``x`` (B, T, D) at Qf, share 0 from the operating system's CSPRNG."""
    ring = Ring(fixed.n_bits)
    words = RingArith(fixed.n_bits, xp).encode(xp.asarray(encode_real(x, fixed.frac_bits).reshape(-1)))
    s0 = ring.reduce(xp.asarray(np.frombuffer(secrets.token_bytes(8 * words.size), dtype=np.uint64)))
    return RingArray(s0, fixed.frac_bits), RingArray(ring.sub(words, s0), fixed.frac_bits)


def _device_sync(xp: Any) -> None:
    if is_cupy(xp):
        xp.cuda.Device().synchronize()


@dataclass
class TwoPartyRun:
    output: Any                  # the reconstructed final hidden state (ring words)
    parties: tuple[PartyResult, PartyResult]
    key_bytes: tuple[int, int]   # per party
    keygen_s: float


def run_two_party(spec: ModelSpec, weights: ModelWeights, x: np.ndarray, settings: Settings, fixed: FixedPoint,
                  layers: int | None = None, dealer: Dealer | None = None, xp: Any = np, policy: str = "suf",
                  timeout_s: float = EXCHANGE_TIMEOUT_S, tape_dir: Path | None = None) -> TwoPartyRun:
    """Deal, then run both parties in this process; the output is reconstructed from their shares. With
    ``tape_dir`` the tapes go through one file per layer and party there, as the launcher's do."""
    count = len(weights.layers) if layers is None else layers
    batch, seq_len, _ = x.shape
    dealer = dealer or Dealer(secrets.token_bytes(32), use_gpu=xp is not np)
    start = time.perf_counter()
    files = TapeFileWriter(tape_dir) if tape_dir is not None else None
    tapes = deal(spec, weights, settings, fixed, batch, seq_len, count, dealer, policy, files=files)
    keygen_s = time.perf_counter() - start
    key_bytes = (tapes[0].nbytes, tapes[1].nbytes)   # before the parties spend them
    shares = share_input(x, fixed, xp)
    link = MemoryLink(timeout_s)
    results = [PartyResult(0), PartyResult(1)]

    def party_thread(p: int) -> None:
        try:
            with party_stream(xp):
                results[p] = run_party(p, spec, weights, shares[p], settings, fixed, batch, seq_len, count,
                                       tapes[p], link.endpoint(p), xp, policy)
        except BaseException as exc:  # reported to the caller, and the peer told to stop waiting
            results[p].error = exc
            link.fail(p)

    threads = [threading.Thread(target=party_thread, args=(p,), daemon=True) for p in (0, 1)]
    _device_sync(xp)   # the tapes and shares (this thread's default stream) are there before the parties' streams
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _device_sync(xp)   # the outputs, and every read of one party's words by the other, are done
    for r in results:
        if r.error is not None:
            raise r.error
    output = Ring(fixed.n_bits).add(results[0].output, results[1].output)
    return TwoPartyRun(output, tuple(results), key_bytes, keygen_s)
