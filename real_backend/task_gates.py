"""The tasks' gate descriptors (``simflush.tasks.gates``) as real FSS gates, with outputs as the value path has them.

A task's PFSS job wants additive shares of the gate's function of x (the coefficients, the truncated value, ReLU; an
XOR share for DReLU): the real gates of the masked-wire model output shares of f(x) + r_out, so the dealer deals
``r_out`` = 0 here (fresh shares of zero, so each party's output share is still uniform). The function of every gate
is the one ``simflush.plain.gates`` evaluates in the clear: inputs read as signed n-bit integers, piecewise tables
looked up on them (the real ``PiecewisePoly``'s intervals are the table's breakpoints, below and above included).
``fold`` is how interval keys are built (knob ``interval_fold``, ``simflush.tasks.interval_walk``); the function is
the same at every fold.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from simflush.tasks.gates import Gate, GateKind
from simflush.tasks.lut_pieces import PIECEWISE_KINDS, gate_pieces
from simflush.tasks.values import GateOutput, RingArray

from .dealer import Dealer
from .gates.base import Gate as FssGate
from .gates.base import GateKey, GateKeys
from .gates.compare import DReLU, ReLU
from .gates.poly import PiecewisePoly
from .gates.trunc import GapARS, TrFloor
from .ring import Ring
from .xp import is_cupy


@dataclass(frozen=True)
class TaskGate:
    """A real gate for a task's descriptor, and how its output reads as a value."""

    fss: FssGate
    wrap: Callable[[Any, RingArray], RingArray | GateOutput]   # (output share, the masked input) -> value


def _interval(gate: Gate, n_bits: int, f: int, fold: int) -> TaskGate:
    """An interval gate as one interval key (``PiecewisePoly``) on its ``tasks.lut_pieces.gate_pieces`` form."""
    (breaks, rows), scales = gate_pieces(gate, f, n_bits)
    fss = PiecewisePoly(n_bits, list(breaks), np.array(rows, dtype=np.int64), n_bits, fold=fold)
    return TaskGate(fss, lambda out, x: GateOutput(tuple(RingArray(out[k], scales[k], x.rows)
                                                         for k in range(len(scales)))))


@cache
def task_gate(gate: Gate, params: Any, n_bits: int, f: int, fold: int) -> TaskGate:
    """The real gate for ``gate`` (with its call site's ``params``: a shift, an input scale) in Z_2^n_bits."""
    kind = gate.kind
    if kind in (GateKind.GAPARS, GateKind.FAITHFUL_ARS):
        s = params.shift
        fss = GapARS(n_bits, s) if kind is GateKind.GAPARS else TrFloor(n_bits, s)
        return TaskGate(fss, lambda out, x: RingArray(out, x.scale - s + params.halvings, x.rows))
    if kind is GateKind.RELU:
        return TaskGate(ReLU(n_bits), lambda out, x: RingArray(out, x.scale, x.rows))
    if kind is GateKind.DRELU:
        return TaskGate(DReLU(n_bits), lambda out, x: GateOutput((RingArray(out, 0, x.rows),)))
    if kind in PIECEWISE_KINDS:
        return _interval(gate, n_bits, f, fold)
    raise NotImplementedError(f"gate {gate.name} has no real construction")


def for_descriptor(gate: Gate, n_bits: int, f: int, fold: int) -> TaskGate:
    return task_gate(gate, gate.params, n_bits, f, fold)


def build_gates(gates: Iterable[Gate], n_bits: int, f: int, fold: int, xp: Any) -> None:
    """Each gate's real construction made from its public descriptor, with its interval kernel's tables on ``xp``
    when that is CuPy, so that the online run finds them made: they depend only on the public program, as a compiled
    runtime's tables are; made at the first evaluation they cost the flush their making (SIGMA's inverse LUT on 128
    tokens: 8,193 breakpoints, merged in about 46 ms of Python on a CPU)."""
    for gate in gates:
        fss = for_descriptor(gate, n_bits, f, fold).fss
        if is_cupy(xp) and isinstance(fss, PiecewisePoly):
            fss.kernel_tables(xp)


def keygen(dealer: Dealer, gate: Gate, r_in: Any, n_bits: int, f: int, fold: int) -> tuple[GateKey, GateKey]:
    """Both parties' keys for ``gate`` on input mask ``r_in`` (per element), with outputs unmasked (r_out = 0)."""
    fss = for_descriptor(gate, n_bits, f, fold).fss
    keys: GateKeys = fss.keygen(dealer, int(r_in.size), r_in)
    stream = dealer.stream()
    if gate.kind is GateKind.DRELU:   # c = R1 xor 1 xor r_out, XOR-shared: deal it for r_out = 0
        c0, c1 = dealer.xor_share(Ring(n_bits).msb(r_in) ^ np.uint64(1), stream)
        keys.key0.parts["c"], keys.key1.parts["c"] = c0, c1
    else:
        rout = keys.key0.parts["rout"]
        zero0, zero1 = dealer.share(stream.xp.zeros(rout.shape, dtype=np.uint64), Ring(n_bits), stream)
        keys.key0.parts["rout"], keys.key1.parts["rout"] = zero0, zero1
    return keys.key0, keys.key1


def evaluate(gate: Gate, key: GateKey, party: int, hatx: RingArray, n_bits: int, f: int,
             fold: int) -> RingArray | GateOutput:
    """This party's share of the gate's output on the public masked input ``hatx`` (a ring value: in range)."""
    tg = for_descriptor(gate, n_bits, f, fold)
    return tg.wrap(tg.fss.eval(party, key, hatx.data, reduced=True), hatx)


def key_bytes(gate: Gate, words: int, n_bits: int, f: int, fold: int) -> int:
    return int(for_descriptor(gate, n_bits, f, fold).fss.key_bytes_per_elem() * words)
