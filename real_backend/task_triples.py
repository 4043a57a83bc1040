"""Beaver triples for the tasks' products (``BeaverOp``) on flat share arrays, with the tasks' layouts.

MUL: elementwise over n words; ROW_BROADCAST: (active) x (rows) with each element's row given by the row lengths
(ragged causal rows included); MATMUL: batched (b, m, k) @ (b, k, n). The dealer deals (a, b, c = a * b) shares;
each party opens E = x - a and F = y - b (one open of the task's words) and finishes locally with
z_p = [p = 0] E*F + E*b_p + a_p*F + c_p, which is bilinear in each product above. MATMUL_PER_PRODUCT (the decode
path's MatmulTask, (m, k) @ (k, n)) takes one elementwise triple per product x_ik y_kj: it opens x_ik - a_ikj and
y_kj - b_ikj (2 m k n words) and sums the finished products over k.
"""

from dataclasses import dataclass
from typing import Any

from simflush.tasks.context import BeaverOp

from .dealer import Dealer
from .ring import Ring
from .xp import get_xp


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
    if op is BeaverOp.MATMUL_PER_PRODUCT:
        return ring.mul(x, y)   # one product per (i, k, j), on (m, k, n) arrays flattened
    raise NotImplementedError(f"no triple for {op.value}")


def _per_product(shape: tuple[int, ...], x: Any, y: Any) -> tuple[Any, Any]:
    """x (m, k) and y (k, n) spread over the (m, k, n) products."""
    m, k, n = shape
    xp = get_xp(x)
    return (xp.broadcast_to(x.reshape(m, k, 1), (m, k, n)).reshape(-1),
            xp.broadcast_to(y.reshape(1, k, n), (m, k, n)).reshape(-1))


def differences(t: "TaskTriple", x: Any, y: Any, ring: Ring) -> Any:
    """This party's words to open: x - a and y - b, back to back."""
    if t.op is BeaverOp.MATMUL_PER_PRODUCT:
        x, y = _per_product(t.shape, x, y)
    return get_xp(x).concatenate([ring.sub(x, t.a), ring.sub(y, t.b)])


def operand_words(op: BeaverOp, shape: tuple[int, ...]) -> tuple[int, int]:
    if op is BeaverOp.MUL:
        return shape[0], shape[0]
    if op is BeaverOp.ROW_BROADCAST:
        return shape[0], shape[1]
    if op is BeaverOp.MATMUL:
        b, m, k, n = shape
        return b * m * k, b * k * n
    if op is BeaverOp.MATMUL_PER_PRODUCT:
        m, k, n = shape
        return m * k * n, m * k * n
    raise NotImplementedError(f"no triple for {op.value}")


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
    z = ring.add(z, product(t.op, t.shape, e, f, t.row_ids, ring)) if party == 0 else z
    if t.op is BeaverOp.MATMUL_PER_PRODUCT:
        m, k, n = t.shape
        z = ring.reduce(z.reshape(m, k, n).sum(axis=1, dtype=z.dtype)).reshape(-1)
    return z
