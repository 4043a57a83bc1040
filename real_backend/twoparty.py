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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.specs import ModelSpec
from models.weights import ModelWeights
from simflush.executor.records import FlushRecord
from simflush.plain.layer import FixedLayer, ValueRun, encode_real, fixed_layer
from simflush.profiles import Settings
from simflush.tasks.values import FixedPoint, RingArith, RingArray

from . import kernels
from .context import RealContext, performer
from .dealer import Dealer
from .dealer_pass import DealerContext, fresh_run_id
from .ring import Ring
from .tape import Tape, TapeError
from .xp import is_cupy

EXCHANGE_TIMEOUT_S = 60.0


class PeerError(RuntimeError):
    """The other party failed or stopped answering."""


class MemoryLink:
    """Two in-process endpoints; ``exchange`` sends this party's words and returns the peer's (with a timeout)."""

    def __init__(self, timeout_s: float = EXCHANGE_TIMEOUT_S):
        self.boxes = (queue.Queue(), queue.Queue())
        self.timeout_s = timeout_s
        self.failed = threading.Event()

    def endpoint(self, party: int):
        def exchange(mine: Any) -> Any:
            self.boxes[1 - party].put(mine)
            try:
                theirs = self.boxes[party].get(timeout=self.timeout_s)
            except queue.Empty:
                raise PeerError(f"party {party}: no answer from party {1 - party} within {self.timeout_s:g} s"
                                ) from None
            if theirs is None:
                raise PeerError(f"party {party}: party {1 - party} failed")
            if theirs.shape != mine.shape:
                raise PeerError(f"party {party}: party {1 - party} sent {theirs.size} words, this flush has "
                                f"{mine.size}")
            return theirs
        return exchange

    def fail(self, party: int) -> None:
        """Tell the peer of ``party`` that it failed (so that the peer stops waiting at once)."""
        self.boxes[1 - party].put(None)


def loaded_layers(spec: ModelSpec, weights: ModelWeights, f: int, count: int, xp: Any) -> list[FixedLayer]:
    """The first ``count`` layers' public weights encoded at f and on ``xp``: weight loading, done before the online
    clock starts (SUF's bench loads its weights before it times)."""
    arrays = ("wqkv", "bqkv", "wo", "bo", "w1", "b1", "w2", "b2")
    return [dataclasses.replace(fl, **{name: xp.asarray(getattr(fl, name)) for name in arrays})
            for fl in (fixed_layer(layer, spec, f) for layer in weights.layers[:count])]


def _layers(runner: ValueRun, layers: list[FixedLayer], hidden: RingArray) -> RingArray:
    for i, layer in enumerate(layers):
        runner.layer = i
        hidden = runner.layer_forward(hidden, layer)["out_ring"]
    return hidden


def deal(spec: ModelSpec, weights: ModelWeights, settings: Settings, fixed: FixedPoint, batch: int, seq_len: int,
         layers: int, dealer: Dealer, policy: str = "suf", schedule: list | None = None) -> tuple[Tape, Tape]:
    """Both parties' tapes for ``layers`` layers (the dealer pass on stand-in zeros); ``schedule``, when given, gets
    the dealer pass's flush records (the executor's schedule for this program, which both parties must follow)."""
    run_id = fresh_run_id()
    tapes = (Tape(0, run_id), Tape(1, run_id))
    arith = RingArith(fixed.n_bits, dealer.xp)
    ctx = DealerContext(settings.party_executor(0, policy), fixed, arith, dealer, tapes)
    runner = ValueRun(spec, settings, fixed, arith, batch, seq_len, policy, context=ctx, decode=False)
    zeros = RingArray(dealer.xp.zeros(batch * seq_len * spec.d_model, dtype=np.uint64), fixed.frac_bits)
    _layers(runner, loaded_layers(spec, weights, fixed.frac_bits, layers, dealer.xp), zeros)
    if schedule is not None:
        schedule.extend(ctx.executor.records)
    return tapes


@dataclass
class PartyResult:
    party: int
    output: Any = None                       # this party's share of the final hidden state
    records: list[FlushRecord] = field(default_factory=list)   # timed (monotonic seconds)
    online_s: float = 0.0
    error: BaseException | None = None
    spans: list = field(default_factory=list)      # each run's monotonic start and end (plain.layer.RunSpan)
    profile: dict = field(default_factory=dict)    # seconds under SUF's online_profile names

    @property
    def schedule(self) -> list[FlushRecord]:
        """The flushes without their times: what the simulator's schedule is compared with."""
        return [r.untimed(r.layer) for r in self.records]


def run_party(party: int, spec: ModelSpec, weights: ModelWeights, x_share: RingArray, settings: Settings,
              fixed: FixedPoint, batch: int, seq_len: int, layers: int, tape: Tape, exchange, xp: Any = np,
              policy: str = "suf") -> PartyResult:
    """One party's online run of ``layers`` layers on its input share; its tape must be read to its end."""
    executor = settings.party_executor(party, policy)
    ctx = RealContext(executor, fixed, xp, tape.reader())
    runner = ValueRun(spec, settings, fixed, ctx.arith, batch, seq_len, policy, context=ctx,
                      perform=performer(ctx, exchange), decode=False)
    loaded = loaded_layers(spec, weights, fixed.frac_bits, layers, xp)
    if is_cupy(xp):
        kernels.load()
    start = time.perf_counter()
    out = _layers(runner, loaded, x_share)
    left = dict(ctx.tape.remaining())
    if left:
        raise TapeError(f"party {party}'s tape has entries the program did not read: {left}")
    profile = {**ctx.profile, "matmul_ns": runner.matmul_s}
    return PartyResult(party, out.data, executor.records, time.perf_counter() - start, None, runner.spans, profile)


def share_input(x: np.ndarray, fixed: FixedPoint, xp: Any = np) -> tuple[RingArray, RingArray]:
    """Additive shares of hidden states ``x`` (B, T, D) at Qf, share 0 from the operating system's CSPRNG."""
    ring = Ring(fixed.n_bits)
    words = RingArith(fixed.n_bits, xp).encode(xp.asarray(encode_real(x, fixed.frac_bits).reshape(-1)))
    s0 = ring.reduce(xp.asarray(np.frombuffer(secrets.token_bytes(8 * words.size), dtype=np.uint64)))
    return RingArray(s0, fixed.frac_bits), RingArray(ring.sub(words, s0), fixed.frac_bits)


@dataclass
class TwoPartyRun:
    output: Any                  # the reconstructed final hidden state (ring words)
    parties: tuple[PartyResult, PartyResult]
    key_bytes: tuple[int, int]   # per party
    keygen_s: float


def run_two_party(spec: ModelSpec, weights: ModelWeights, x: np.ndarray, settings: Settings, fixed: FixedPoint,
                  layers: int | None = None, dealer: Dealer | None = None, xp: Any = np, policy: str = "suf",
                  timeout_s: float = EXCHANGE_TIMEOUT_S) -> TwoPartyRun:
    """Deal, then run both parties in this process; the output is reconstructed from their shares."""
    count = len(weights.layers) if layers is None else layers
    batch, seq_len, _ = x.shape
    dealer = dealer or Dealer(secrets.token_bytes(32), use_gpu=xp is not np)
    start = time.perf_counter()
    tapes = deal(spec, weights, settings, fixed, batch, seq_len, count, dealer, policy)
    keygen_s = time.perf_counter() - start
    shares = share_input(x, fixed, xp)
    link = MemoryLink(timeout_s)
    results = [PartyResult(0), PartyResult(1)]

    def party_thread(p: int) -> None:
        try:
            results[p] = run_party(p, spec, weights, shares[p], settings, fixed, batch, seq_len, count, tapes[p],
                                   link.endpoint(p), xp, policy)
        except BaseException as exc:  # reported to the caller, and the peer told to stop waiting
            results[p].error = exc
            link.fail(p)

    threads = [threading.Thread(target=party_thread, args=(p,), daemon=True) for p in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        if r.error is not None:
            raise r.error
    output = Ring(fixed.n_bits).add(results[0].output, results[1].output)
    return TwoPartyRun(output, tuple(results), (tapes[0].nbytes, tapes[1].nbytes), keygen_s)
