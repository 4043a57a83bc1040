"""The task <-> context seam (DESIGN.md §3).

A task talks to its party's runtime only through a ``Context``. The simulation context works on
symbolic values (``Sym``: a word count, no data); ``real_backend`` implements the same protocol on
share arrays. Nothing here knows about time or SimPy.
"""

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Protocol

from .gates import Gate
from .local_ops import LocalOp


class OpenKind(Enum):
    BEAVER = "B"  # Beaver differences (x - a, y - b, matmul D/E, row-broadcast)
    MASK = "M"    # masked input x + r_in that feeds a PFSS job


class Batch(StrEnum):
    """Which PFSS batch a job is enqueued into (SUF ``R.pfss_coeff`` / ``R.pfss_trunc``)."""

    COEFF = "coeff"
    TRUNC = "trunc"


class BeaverOp(Enum):
    """Beaver products; their open sizes in words are given by ``beaver_open_words``."""

    MUL = "mul"                  # elementwise x*y over n words: opens x-a, y-b (2n)
    ROW_BROADCAST = "row_bcast"  # mat (active entries) * per-row vec: opens active + rows
    MATMUL = "matmul"            # matrix triple per batch: opens batches*(M*K + K*N)
    MATMUL_PER_PRODUCT = "matmul_pp"  # runtime::MatmulTask: one triple per product, 2*M*N*K


MATMUL_OPS = frozenset({BeaverOp.MATMUL.value, BeaverOp.MATMUL_PER_PRODUCT.value})


@dataclass(frozen=True)
class Sym:
    """A symbolic secret-shared value: its size in ring words, and the PFSS results it was computed
    from that may still be in flight (``deps``; empty unless PFSS flushes run in the background)."""

    words: int
    deps: frozenset = frozenset()


def deps_of(*values: Any) -> frozenset:
    """The union of the in-flight dependencies of the symbolic values among ``values``."""
    out: frozenset = frozenset()
    for v in values:
        if isinstance(v, Sym) and v.deps:
            out = out | v.deps
    return out


class Context(Protocol):
    """What a task may ask of its party's runtime."""

    party: int
    frac_bits: int   # f of the fixed-point format: tasks derive truncation shifts and constants from it

    def words(self, x: Any) -> int:
        """Number of ring words in value ``x``."""

    def mask(self, x: Any, gate: Gate) -> Any:
        """``x + r_in`` under ``gate``'s input mask (local)."""

    def beaver(self, op: BeaverOp, *operands: Any, shape: tuple[int, ...]) -> tuple[Any, Any]:
        """Take a triple for ``op`` and return ``(differences_to_open, triple_token)``."""

    def beaver_finish(self, token: Any, opened: Any) -> Any:
        """Finish a Beaver product from the opened differences (local)."""

    def local(self, op: LocalOp, *inputs: Any, **params: Any) -> Any:
        """The local (communication-free) operation ``op`` (``local_ops.LOCAL_OPS`` defines its size and meaning)."""

    def open(self, value: Any, kind: OpenKind, tag: str = "") -> Any:
        """Reserve ``value`` in the open collector; returns a handle. ``tag`` says what produced the
        words (a ``BeaverOp`` value for Beaver differences), for the cost model's local-work terms."""

    def pfss(self, batch: Batch, gate: Gate, hatx: Any, jobs: int = 1) -> Any:
        """Enqueue ``jobs`` PFSS jobs of ``gate`` on the public ``hatx``; returns a handle."""

    def fss_direct(self, gate: Gate, hatx: Any) -> Any:
        """Evaluate ``gate`` on ``hatx`` inside the task, outside any PFSS batch (local GPU work)."""

    def ready(self, handle: Any) -> bool:
        """Whether the result behind ``handle`` is available now.

        An open handle is ready from the open flush of the collector generation it was reserved in
        until the next open flush completes (then it is stale: False again); the executor steps every
        task after each flush, so a task reads it in its step right after that flush. A PFSS handle is
        ready from the ``flush_eval`` that evaluated its job on, for good (it outlives the batch's
        ``clear``). A background PFSS flush (``pfss_eager``) makes its handles ready at once: in
        simulation their outputs carry the in-flight flush in ``Sym.deps``, and whoever uses them
        waits for it in time.
        """

    def result(self, handle: Any) -> Any:
        """The opened value / gate output shares behind ``handle``; valid only while ``ready(handle)``
        (an open handle outside its generation raises ``SufRuntimeError``)."""


def beaver_open_words(op: BeaverOp, shape: tuple[int, ...]) -> int:
    """Words a Beaver product of ``op`` opens (per party), from its shape.

    MUL: (n,); ROW_BROADCAST: (active, rows); MATMUL: (batches, M, K, N);
    MATMUL_PER_PRODUCT: (M, K, N).
    """
    if op is BeaverOp.MUL:
        (n,) = shape
        return 2 * n
    if op is BeaverOp.ROW_BROADCAST:
        active, rows = shape
        return active + rows
    if op is BeaverOp.MATMUL:
        batches, m, k, n = shape
        return batches * (m * k + k * n)
    if op is BeaverOp.MATMUL_PER_PRODUCT:
        m, k, n = shape
        return 2 * m * n * k
    raise ValueError(f"unknown Beaver op {op!r}")


def beaver_output_words(op: BeaverOp, shape: tuple[int, ...]) -> int:
    """Words of the product a Beaver op yields."""
    if op is BeaverOp.MUL:
        return shape[0]
    if op is BeaverOp.ROW_BROADCAST:
        return shape[0]
    if op is BeaverOp.MATMUL:
        batches, m, _k, n = shape
        return batches * m * n
    m, _k, n = shape
    return m * n


def beaver_rows(op: BeaverOp, x: Any, y: Any) -> Any:
    """The row lengths of a value context's Beaver product: an elementwise product keeps its operands' rows, a
    row-broadcast its matrix's; a matmul's product has none."""
    if op is BeaverOp.MUL:
        return x.rows if x.rows is not None else y.rows
    return x.rows if op is BeaverOp.ROW_BROADCAST else None
