"""``RealContext``: one party's side of the tasks on secret shares, and the flushes its driver performs.

Values are this party's additive shares (``RingArray``; the XOR share of a DReLU bit). ``mask`` adds the tape's share
of the per-element input mask, an open sums both parties' shares of what was reserved (x + r_in, or a Beaver
product's E and F), a PFSS job evaluates the tape's key on the public masked input, and the local ops are the
registry's on shares (party 0 adds the public constants). The tasks and the executor are the simulator's: the flush
schedule is theirs by construction (tests hold it equal to the simulated one, flush for flush).
"""

from collections import defaultdict
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from simflush.executor.actions import Flush, FlushResult
from simflush.executor.context import ExecutorContext
from simflush.executor.executor import PhaseExecutor
from simflush.plain.context import ValueUndefined
from simflush.tasks.context import BeaverOp, beaver_rows
from simflush.tasks.gates import Gate
from simflush.tasks.local_ops import LOCAL_OPS, LocalOp
from simflush.tasks.values import FixedPoint, GateOutput, RingArith, RingArray

from . import task_gates, task_triples
from .flush_clock import flush_clock
from .opening import ChannelOpen, Seconds, open_in_process
from .ring import Ring
from .tape import TapeReader

Exchange = Callable[[Any], Any]   # in process: this party's words out, the peer's words back (same length, uint64)


class RealContext(ExecutorContext):
    def __init__(self, executor: PhaseExecutor, fixed: FixedPoint, xp: Any, tape: TapeReader, fold: int):
        super().__init__(executor)
        self.fixed, self.frac_bits, self.fold = fixed, fixed.frac_bits, fold   # fold: interval keys' (task_gates)
        self.arith, self.ring, self.tape = RingArith(fixed.n_bits, xp), Ring(fixed.n_bits), tape
        self.profile: dict[str, float] = defaultdict(float)   # SUF's online_profile names, seconds
        self.clock = flush_clock(xp)   # flush spans: the GPU's, read when the run ends (``finish_timing``)

    def finish_timing(self) -> None:
        """Fill in the flush records' times and the profile's flush timers (on CuPy: one sync)."""
        self.clock.resolve()

    def words(self, x: Any) -> int:
        return x.words

    def mask(self, x: RingArray, gate: Gate) -> RingArray:
        r = self.tape.take("step", "mask", gate.name, x.words)
        return RingArray(self.ring.add(x.data, r), x.scale, x.rows)

    def beaver(self, op: BeaverOp, *operands: RingArray, shape: tuple[int, ...]) -> tuple[RingArray, Any]:
        x, y = operands
        t = self.tape.take("step", "triple", op.value, sum(task_triples.operand_words(op, shape)))
        return RingArray(task_triples.differences(t, x.data, y.data, self.ring), 0), (t, x, y)

    def beaver_finish(self, token: Any, opened: RingArray) -> RingArray:
        t, x, y = token
        e, f = opened.data[:t.a.size], opened.data[t.a.size:]
        z = task_triples.finish(t, self.party, e, f, self.ring)
        return RingArray(z, x.scale + y.scale, beaver_rows(t.op, x, y))

    def local(self, op: LocalOp, *inputs: Any, **params: Any) -> RingArray:
        definition = LOCAL_OPS[op]
        if not definition.share_local:
            raise ValueUndefined(f"local op {op} ({definition.meaning}) is not computable on shares")
        return definition.apply(self.arith, self.party, *inputs, **params)

    def evaluate(self, stream: str, gate: Gate, hatx: RingArray) -> RingArray | GateOutput:
        key = self.tape.take(stream, "key", gate.name, hatx.words)
        return task_gates.evaluate(gate, key, self.party, hatx, self.fixed.n_bits, self.fixed.frac_bits, self.fold)

    def fss_direct(self, gate: Gate, hatx: RingArray) -> RingArray | GateOutput:
        return self.evaluate("step", gate, hatx)


def performer(ctx: RealContext, exchange: Exchange | ChannelOpen) -> Callable[[Flush], FlushResult]:
    """The driver's flush for one party: one exchange of every pending open's words (both parties' shares summed
    into the public values), then each PFSS job's key evaluated on its masked input.

    ``exchange``: a channel's ``opening.ChannelOpen`` (the words packed to n bits, on the GPU for CuPy shares: the
    schedule's ``wire_bytes`` are what the executor computed, the channel counts what was sent), or an in-process
    exchange of unpacked words (``twoparty.MemoryLink``: no wire).

    A flush the executor marks ``concurrent`` (an overlap: PFSS jobs beside the open) over a channel evaluates its
    PFSS jobs between packing the words and sending them: on CuPy their kernels are queued behind the pack and its
    copy and run while the words are on the wire and the party waits for the peer's (one stream; the unpack is
    queued behind them). The in-process link has no wire, so there the parts go one after another."""
    xp, n_bits = ctx.arith.xp, ctx.ring.n
    channel = exchange if isinstance(exchange, ChannelOpen) else None
    open_words = channel or partial(open_in_process, exchange)

    def evaluate_pfss(action: Flush, records: Iterator[Any]) -> dict[int, list]:
        outputs = {}
        for i, op in enumerate(action.pfss):
            start = ctx.clock.mark()
            outputs[i] = [ctx.evaluate("flush", job.gate, job.hatx) for job in op.jobs]
            ctx.clock.later(start, ctx.clock.mark(), _timed(ctx.profile, next(records) if op.jobs else None,
                                                            "pfss_flush_eval_ns", eval_s=None))
        return outputs

    def perform(action: Flush) -> FlushResult:
        records = iter(action.records)   # the executor's records of this flush: the open's first, then each PFSS op's
        if action.open is None:
            return FlushResult(None, evaluate_pfss(action, records))
        open_record, outputs = next(records), None
        start = ctx.clock.mark()
        values = [r.value for r in action.open.requests]
        if len(values) == 1:   # its words as they are: a concatenation would copy them (on CuPy a launch, ~15 us)
            mine = values[0].data
        else:
            mine = xp.concatenate([v.data for v in values]) if values else xp.zeros(0, dtype=xp.uint64)
        if channel is not None and action.concurrent:
            staged = channel.stage(mine, n_bits)
            outputs = evaluate_pfss(action, records)
            done = channel.complete(staged)
        else:
            done = open_words(mine, n_bits)
        opened, offset = [], 0
        for v in values:
            opened.append(RingArray(done.public[offset:offset + v.words], v.scale, v.rows))
            offset += v.words
        # host readings, so that a trace tells waiting for the peer from waiting for the GPU
        host = {"comm_s": lambda: done.comm_s, "wait_s": lambda: done.wait_s}
        if done.pack is None:
            fill = _timed(ctx.profile, open_record, "open_flush_ns", **host)
        else:   # the pack's GPU span is read with the flush spans (no sync now)
            fill = _timed(ctx.profile, open_record, "open_flush_ns", also={"open_pack_ns": done.pack}, pack_s=done.pack,
                          **host)
        ctx.clock.later(start, ctx.clock.mark(), fill)
        ctx.profile["open_comm_ns"] += done.comm_s
        return FlushResult(opened, outputs if outputs is not None else evaluate_pfss(action, records))
    return perform


def _timed(profile: dict[str, float], record: Any, timer: str, also: dict[str, Seconds] | None = None,
           **timers: Seconds | None) -> Callable[[float, float], None]:
    """What fills in a flush's times once its clock has them (monotonic seconds; the trace makes them relative to the
    run's start): the record's span and ``timers`` (each read then; None: the span's length), the profile's
    ``timer``, and the profile's timers in ``also`` by their readings."""
    def fill(start: float, end: float) -> None:
        profile[timer] += end - start
        for name, seconds in (also or {}).items():
            profile[name] += seconds()
        if record is None:
            return
        record.start_s, record.duration_s = start, end - start
        for name, value in timers.items():
            setattr(record, name, end - start if value is None else value())
    return fill
