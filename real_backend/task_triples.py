"""Beaver triples for the tasks' products (``BeaverOp``) on flat share arrays, with the tasks' layouts.

MUL: elementwise over n words; ROW_BROADCAST: (active) x (rows) with each element's row given by the row lengths
(ragged causal rows included); MATMUL: batched (b, m, k) @ (b, k, n). The dealer deals (a, b, c = a * b) shares;
each party opens E = x - a and F = y - b (one open of the task's words) and finishes locally with
z_p = [p = 0] E*F + E*b_p + a_p*F + c_p, which is bilinear in each product above.
"""

from dataclasses import dataclass
from typing import Any

from simflush.tasks.context import BeaverOp

from .dealer import Dealer
from .ring import Ring


@dataclass
class TaskTriple:
    """One party's share of a triple for ``op`` of ``shape``; ``row_ids`` the row of each element (ROW_BROADCAST)."""

    op: BeaverOp
    shape: tuple[int, ...]
    a: Any
    b: Any
    c: Any
    row_ids: Any = None

    @property
    def nbytes(self) -> int:
        return 8 * (self.a.size + self.b.size + self.c.size)


def product(op: BeaverOp, shape: tuple[int, ...], x: Any, y: Any, row_ids: Any, ring: Ring) -> Any:
    """x * y for ``op`` on flat arrays, mod 2^n."""
    if op is BeaverOp.MUL:
        return ring.mul(x, y)
    if op is BeaverOp.ROW_BROADCAST:
        return ring.mul(x, y[row_ids])
    if op is BeaverOp.MATMUL:
        b, m, k, n = shape
        return ring.reduce(x.reshape(b, m, k) @ y.reshape(b, k, n)).reshape(-1)
    raise NotImplementedError(f"no triple for {op.value} (the per-token decode path is not run for real)")


def operand_words(op: BeaverOp, shape: tuple[int, ...]) -> tuple[int, int]:
    if op is BeaverOp.MUL:
        return shape[0], shape[0]
    if op is BeaverOp.ROW_BROADCAST:
        return shape[0], shape[1]
    if op is BeaverOp.MATMUL:
        b, m, k, n = shape
        return b * m * k, b * k * n
    raise NotImplementedError(f"no triple for {op.value} (the per-token decode path is not run for real)")


def deal(dealer: Dealer, op: BeaverOp, shape: tuple[int, ...], row_ids: Any, n_bits: int) -> tuple[TaskTriple, ...]:
    """Both parties' shares of a fresh triple."""
    ring, stream = Ring(n_bits), dealer.stream()
    wx, wy = operand_words(op, shape)
    with dealer.timed() as t:
        a, b = stream.ring(wx, n_bits), stream.ring(wy, n_bits)
        c = product(op, shape, a, b, row_ids, ring)
        (a0, a1), (b0, b1), (c0, c1) = (dealer.share(v, ring, stream) for v in (a, b, c))
    dealer.record(f"beaver_{op.value}", 1, 8 * (a.size + b.size + c.size), t.seconds)
    return TaskTriple(op, shape, a0, b0, c0, row_ids), TaskTriple(op, shape, a1, b1, c1, row_ids)


def finish(t: TaskTriple, party: int, e: Any, f: Any, ring: Ring) -> Any:
    """This party's share of x * y from the opened E = x - a, F = y - b."""
    z = ring.add(ring.add(product(t.op, t.shape, e, t.b, t.row_ids, ring),
                          product(t.op, t.shape, t.a, f, t.row_ids, ring)), t.c)
    return ring.add(z, product(t.op, t.shape, e, f, t.row_ids, ring)) if party == 0 else z
