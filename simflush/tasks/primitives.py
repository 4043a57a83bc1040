"""Leaf tasks: Beaver products, truncation, ReLU.

Each task is a generator: one ``next()`` is one ``step()`` of the SUF state machine and yields the
``Need`` that step returns; the generator's ``return`` is the step that finishes the task (SUF
returns ``Need::None`` and is done). Parents compose with ``y = yield from sub(...)``, which
mirrors SUF's parents stepping their active sub-task and returning its Need. Step boundaries follow
``include/runtime/phase_tasks.hpp`` (see ``../shared/reference/suf_runtime_spec.md`` §3).
"""

from collections.abc import Generator
from typing import Any

from ..limits import PER_ELEMENT_CHUNK
from .context import Batch, BeaverOp, Context, OpenKind
from .gates import RELU, Gate, with_params
from .local_ops import LocalOp
from .need import Need

Task = Generator[Need, None, Any]


def _await(ctx: Context, handle: Any, need: Need) -> Task:
    """Yield ``need`` until ``handle`` is ready (the step that finds it ready yields nothing here)."""
    while not ctx.ready(handle):
        yield need
    return ctx.result(handle)


def beaver(ctx: Context, op: BeaverOp, *operands: Any, shape: tuple[int, ...]) -> Task:
    """MulTask / MulRowBroadcastTask / Matmul2DTask / BatchedMatmul2DTask / MatmulTask.

    States Init -> WaitOpen -> Done: Init reserves the differences (kind B) and returns None; the
    step that finds the open ready finishes the product locally and is done. Alone: 1 open, 0 PFSS.
    """
    diffs, token = ctx.beaver(op, *operands, shape=shape)
    handle = ctx.open(diffs, OpenKind.BEAVER, tag=op.value)
    yield Need.NONE
    opened = yield from _await(ctx, handle, Need.OPEN)
    return ctx.beaver_finish(token, opened)


def mul(ctx: Context, x: Any, y: Any) -> Task:
    """Elementwise Beaver multiply (MulTask): 1 open of 2n words."""
    return beaver(ctx, BeaverOp.MUL, x, y, shape=(ctx.words(x),))


def trunc(ctx: Context, x: Any, gate: Gate, shift: int, *, per_element: bool = False,
          batch: Batch = Batch.TRUNC, halvings: int = 0) -> Task:
    """TruncTask: O(n, M) then one PFSS job of n hatx words into the trunc batch: floor(x / 2^shift), which reads
    as x at ``shift`` frac bits fewer, or (``halvings`` = h) as x / 2^h at ``shift - h`` fewer (a halving folded in).

    OpenXhat reserves ``x + r_in`` and returns None; the step that finds the open ready enqueues
    the job in the same step (SUF falls through WaitOpen -> EnqueuePfss) and returns None; WaitPfss
    returns ``PFSS_TRUNC`` until the job is done, then the task is done. With per-element masks
    (``SUF_PER_ELEMENT_MASKS=1``) each element is its own 1-word job, enqueued at most
    ``PER_ELEMENT_CHUNK`` per step, one enqueue/flush cycle per chunk.
    """
    n = ctx.words(x)
    gate = with_params(gate, shift=shift, halvings=halvings) if halvings else with_params(gate, shift=shift)
    handle = ctx.open(ctx.mask(x, gate), OpenKind.MASK)
    yield Need.NONE
    hatx = yield from _await(ctx, handle, Need.OPEN)
    if not per_element:
        job = ctx.pfss(batch, gate, hatx)
        yield Need.NONE
        return (yield from _await(ctx, job, Need.PFSS_TRUNC))
    outputs = []
    for start in range(0, n, PER_ELEMENT_CHUNK):
        chunk = min(PER_ELEMENT_CHUNK, n - start)
        job = ctx.pfss(batch, gate, ctx.local(LocalOp.SLICE, hatx, start=start, count=chunk), jobs=chunk)
        yield Need.NONE
        outputs.append((yield from _await(ctx, job, Need.PFSS_TRUNC)))
        if start + chunk < n:
            yield Need.NONE  # WaitPfss -> EnqueuePfss for the next chunk
    return ctx.local(LocalOp.CONCAT, *outputs)


def relu(ctx: Context, x: Any, gate: Gate = RELU, batch: Batch = Batch.TRUNC) -> Task:
    """ReluTask: O(n, M) + 1 PFSS job (trunc batch when present, as in the transformer).

    Same step boundaries as ``trunc``; blocked it returns PfssTrunc (PfssCoeff without a trunc batch).
    """
    handle = ctx.open(ctx.mask(x, gate), OpenKind.MASK)
    yield Need.NONE
    hatx = yield from _await(ctx, handle, Need.OPEN)
    job = ctx.pfss(batch, gate, hatx)
    yield Need.NONE
    wait = Need.PFSS_TRUNC if batch is Batch.TRUNC else Need.PFSS_COEFF
    return (yield from _await(ctx, job, wait))


def seq_two(first: Task, second_factory) -> Task:
    """SeqTwoTask: run ``first``, spend one step switching, then run ``second_factory(result)``."""
    a = yield from first
    yield Need.NONE
    return (yield from second_factory(a))
