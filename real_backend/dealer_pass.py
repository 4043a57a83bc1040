"""The dealer pass: the program run once with its executor, writing each party's key tape (``tape``).

``DealerContext`` is ``simflush.plain``'s ``PlainContext`` on stand-in data (zeros: the dealer never sees an input),
so the tasks, the executor, the layer's local work and every layout (ragged rows included) are the online run's. At
each ``mask`` it draws a fresh per-element input mask r_in (never one mask per job: x̂_i - x̂_j would reveal
x_i - x_j) and tapes its shares; at each Beaver product a fresh triple for the product's layout; at each gate
evaluation (a PFSS job in a flush, or a direct evaluation in a step) the gate's keys for the r_in its input was
masked with. The masked value carries r_in along (through the open) to the gate that reads it.
"""

import secrets
from dataclasses import dataclass
from typing import Any

from simflush.plain.context import Magnitudes, Opening, PlainContext
from simflush.tasks.context import BeaverOp
from simflush.tasks.gates import Gate
from simflush.tasks.local_ops import LocalOp, row_ids, row_lengths
from simflush.tasks.values import FixedPoint, GateOutput, RingArray

from . import task_gates, task_triples
from .dealer import Dealer
from .ring import Ring
from .tape import Tape, TapeEntry


@dataclass
class Masked(RingArray):
    """A stand-in value masked with ``r_in`` (the dealer's cleartext mask, one word per element)."""

    r_in: Any = None


class DealerContext(PlainContext):
    """Party 0's view of the stand-in run, writing both parties' tapes."""

    def __init__(self, executor: Any, fixed: FixedPoint, arith: Any, dealer: Dealer, tapes: tuple[Tape, Tape],
                 fold: int):
        super().__init__(executor, fixed, arith, Magnitudes())
        self.dealer, self.tapes, self.ring = dealer, tapes, Ring(fixed.n_bits)
        self.fold = fold   # how interval keys are built (task_gates)

    def _tape(self, stream: str, kind: str, tag: str, words: int, shares: tuple, nbytes: int,
              gate: Gate | None = None) -> None:
        for tape, material in zip(self.tapes, shares, strict=True):
            tape.append(stream, TapeEntry(kind, tag, words, material, nbytes, gate))

    def mask(self, x: RingArray, gate: Gate) -> Masked:
        stream = self.dealer.stream()
        r = stream.ring(x.words, self.fixed.n_bits)
        self._tape("step", "mask", gate.name, x.words, self.dealer.share(r, self.ring, stream), 8 * x.words)
        return Masked(x.data, x.scale, x.rows, r)

    def beaver(self, op: BeaverOp, *operands: RingArray, shape: tuple[int, ...]) -> tuple[Opening, Any]:
        ids = None
        if op is BeaverOp.ROW_BROADCAST:
            ids = row_ids(row_lengths(operands[0], shape[1]), self.arith.xp)
        triples = task_triples.deal(self.dealer, op, shape, ids, self.fixed.n_bits)
        self._tape("step", "triple", op.value, sum(task_triples.operand_words(op, shape)), triples, triples[0].nbytes)
        return super().beaver(op, *operands, shape=shape)

    def local(self, op: LocalOp, *inputs: Any, **params: Any) -> RingArray:
        out = super().local(op, *inputs, **params)
        if op is LocalOp.SLICE and isinstance(inputs[0], Masked):   # a per-element chunk keeps its masks
            start, count = params["start"], params["count"]
            out = Masked(out.data, out.scale, out.rows, inputs[0].r_in[start:start + count])
        return out

    def _keys(self, stream: str, gate: Gate, hatx: Masked) -> None:
        n, f = self.fixed.n_bits, self.fixed.frac_bits
        keys = task_gates.keygen(self.dealer, gate, hatx.r_in, n, f, self.fold)
        self._tape(stream, "key", gate.name, hatx.words, keys,
                   task_gates.key_bytes(gate, hatx.words, n, f, self.fold), gate)

    def evaluate_gate(self, gate: Gate, hatx: Masked) -> RingArray | GateOutput:
        self._keys("flush", gate, hatx)
        return super().evaluate_gate(gate, hatx)

    def fss_direct(self, gate: Gate, hatx: Masked) -> RingArray | GateOutput:
        self._keys("step", gate, hatx)
        return super().evaluate_gate(gate, hatx)


def fresh_run_id() -> str:
    """A random id for one dealer pass: what the parties' handshake compares (nothing derived from the seed)."""
    return secrets.token_hex(8)
