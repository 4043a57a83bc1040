"""``PlainContext``: the tasks on cleartext ring arrays, and the clock-free driver that performs their flushes.

An open returns the value itself (cleartext: ``x + r_in`` with r_in = 0, so ``hatx`` is x), a PFSS job returns its
gate's function of ``hatx`` (``gates.GateEvaluator``), a Beaver product is the exact ring product, and local
operations are ``tasks.local_ops``' for the one party that holds everything. Every result is checked against the
symbolic size rule (the simulator's word counts), and the largest magnitude of each value is recorded for the range
report. Values at every step follow the fixed-point format ``FixedPoint``.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..executor.actions import Flush, FlushResult
from ..executor.context import ExecutorContext
from ..executor.driver import drive
from ..executor.executor import PhaseExecutor, RunConfig, TaskRunner
from ..tasks.context import BeaverOp, beaver_open_words, beaver_output_words, beaver_rows
from ..tasks.gates import Gate
from ..tasks.local_ops import LOCAL_OPS, LocalOp, row_ids, row_lengths
from ..tasks.values import FixedPoint, GateOutput, RingArray
from .gates import GateEvaluator


class ValueUndefined(ValueError):
    """A task asked for an operation that has no value definition on shares (one of SUF's shortcuts)."""


@dataclass
class Opening:
    """The Beaver differences of a product: only their word count matters in the clear."""

    words: int


@dataclass
class Magnitudes:
    """The largest |value| (as a signed ring word) seen per (phase, operation), and the operation's scale."""

    phase: str = ""
    largest: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)

    def see(self, what: str, value: RingArray, arith: Any) -> None:
        if not value.words:
            return
        peak = float(arith.xp.abs(arith.signed(value.data)).max())
        key = (self.phase, what)
        if peak > self.largest.get(key, (-1.0, 0))[0]:
            self.largest[key] = (peak, value.scale)


class PlainContext(ExecutorContext):
    """Party 0 of a run in the clear (it holds every value; the other party's shares are 0)."""

    def __init__(self, executor: PhaseExecutor, fixed: FixedPoint, arith: Any, magnitudes: Magnitudes | None = None):
        super().__init__(executor)
        self.party = 0
        self.fixed = fixed
        self.frac_bits = fixed.frac_bits
        self.arith = arith
        self.evaluate = GateEvaluator(arith, fixed.frac_bits)
        self.magnitudes = magnitudes or Magnitudes()

    def words(self, x: Any) -> int:
        return x.words

    def mask(self, x: RingArray, gate: Gate) -> RingArray:
        return x

    def beaver(self, op: BeaverOp, *operands: RingArray, shape: tuple[int, ...]) -> tuple[Opening, Any]:
        return Opening(beaver_open_words(op, shape)), (op, operands, shape)

    def beaver_finish(self, token: Any, opened: Opening) -> RingArray:
        op, (x, y), shape = token
        a, xp = self.arith, self.arith.xp
        if op is BeaverOp.MUL:
            prod = a.wrap(x.data * y.data)
        elif op is BeaverOp.ROW_BROADCAST:
            prod = a.wrap(x.data * y.data[row_ids(row_lengths(x, shape[1]), xp)])
        else:
            b, m, k, n = shape if op is BeaverOp.MATMUL else (1, *shape)
            prod = a.matmul(x.data.reshape(b, m, k), y.data.reshape(b, k, n)).reshape(-1)
        out = RingArray(prod, x.scale + y.scale, beaver_rows(op, x, y))
        self._check(op.value, out, beaver_output_words(op, shape))
        return out

    def local(self, op: LocalOp, *inputs: Any, **params: Any) -> RingArray:
        definition = LOCAL_OPS[op]
        if not definition.share_local:
            raise ValueUndefined(f"local op {op} ({definition.meaning}) is not computable on shares: "
                                 "this setting has no value definition")
        out = definition.apply(self.arith, self.party, *inputs, **params)
        self._check(op.value, out, definition.size(tuple(x.words for x in inputs), params))
        return out

    def fss_direct(self, gate: Gate, hatx: RingArray) -> RingArray | GateOutput:
        return self.evaluate_gate(gate, hatx)

    def evaluate_gate(self, gate: Gate, hatx: RingArray) -> RingArray | GateOutput:
        self.magnitudes.see(f"{gate.name} input", hatx, self.arith)
        out = self.evaluate(gate, hatx)
        for part in out.parts if isinstance(out, GateOutput) else (out,):
            self.magnitudes.see(gate.name, part, self.arith)
        return out

    def _check(self, what: str, out: RingArray, words: int) -> None:
        if out.words != words:
            raise AssertionError(f"{what}: {out.words} words where the size rule says {words}")
        self.magnitudes.see(what, out, self.arith)


def perform(ctx: PlainContext) -> Callable[[Flush], FlushResult]:
    """The driver's flush: opens return their values, PFSS jobs their gate's outputs."""
    def flush(action: Flush) -> FlushResult:
        opened = None if action.open is None else [r.value for r in action.open.requests]
        outputs = {i: [ctx.evaluate_gate(job.gate, job.hatx) for job in op.jobs] for i, op in enumerate(action.pfss)}
        return FlushResult(opened, outputs)
    return flush


def run_tasks(ctx: Any, tasks: Iterable[Any], config: RunConfig,
              performer: Callable[[Flush], FlushResult] | None = None) -> list[Any]:
    """One executor run of ``tasks`` (generators on ``ctx``) to completion, its flushes done by ``performer``
    (default: in the clear); the tasks' results in order."""
    runners = drive(ctx.executor, [TaskRunner(t) for t in tasks], config, performer or perform(ctx))
    return [r.value for r in runners]
