"""Sigma-style GPU tasks of the later SUF version, and the proposed LUT rsqrt (DESIGN.md §5).

Their FSS evaluation either goes through the PFSS batch (``via_batch``: one coeff job, a PFSS flush)
or is evaluated by the task itself (``ctx.fss_direct``: local GPU work, no flush). Beaver multiplies
and truncations are the snapshot's MulTask / TruncTask. Step boundaries follow the snapshot's
conventions (see ``primitives``): reserving returns None; the step that finds a result ready moves on
in the same step; building a sub-task costs a step of its own.
"""

from typing import Any

from .context import Batch, Context, OpenKind
from .gates import DRELU, GELU_LUT, INV_LUT, NEXP_LUT, RSQRT_LUT, Gate, with_params
from .local_ops import LocalOp
from .need import Need
from .primitives import Task, _await, mul, trunc
from .softmax import RowLengths, maxdiff_round_sizes, row_count


def open_and_eval(ctx: Context, x: Any, gate: Gate, via_batch: bool) -> Task:
    """O(n, M) of ``x + r_in``, then ``gate`` on the opened value: a PFSS job or a direct evaluation."""
    handle = ctx.open(ctx.mask(x, gate), OpenKind.MASK)
    yield Need.NONE
    hatx = yield from _await(ctx, handle, Need.OPEN)
    if not via_batch:
        return ctx.fss_direct(gate, hatx)
    job = ctx.pfss(Batch.COEFF, gate, hatx)
    yield Need.NONE
    return (yield from _await(ctx, job, Need.PFSS_COEFF))


def row_max_diff_sigma(ctx: Context, scores: Any, lengths: RowLengths, via_batch: bool) -> Task:
    """RowMaxDiffSigmaGpuTask: per round, open diff_hat + DReLU, B2A (a Beaver multiply) and
    relu * diff (a Beaver multiply): 3 opens per round (+1 PFSS through the batch).

    The DReLU bit comes XOR-shared; B2A makes it arithmetic as b0 + b1 - 2 b0 b1, the product a Beaver
    multiply of the two parties' own bits (each party inputs its share, the other party 0)."""
    if not lengths or row_count(lengths) == 0:
        return scores
    maxima = scores
    for pairs in maxdiff_round_sizes(lengths):
        yield Need.NONE  # build the round
        diffs = ctx.local(LocalOp.PAIRWISE_DIFF, maxima, pairs=pairs)
        bit = ctx.local(LocalOp.PART, (yield from open_and_eval(ctx, diffs, DRELU, via_batch)), index=0)
        yield Need.NONE
        both = yield from mul(ctx, ctx.local(LocalOp.B2A_OWN, bit, holder=0), ctx.local(LocalOp.B2A_OWN, bit, holder=1))
        bit = ctx.local(LocalOp.B2A_COMBINE, bit, both)
        yield Need.NONE
        r = yield from mul(ctx, bit, diffs)
        maxima = ctx.local(LocalOp.MAX_FROM_RELU, maxima, r)
    yield Need.NONE
    return ctx.local(LocalOp.ROWMAX_MINUS, scores, maxima)


def nexp_sigma(ctx: Context, x: Any, via_batch: bool, final_trunc: Gate | None) -> Task:
    """NExpSigmaGpuTask: open x_hat, LUT (msb and lsb tables, both Qf), multiply the two (Q2f), then one
    truncation back to Qf (none when the scale is left aligned: ``final_trunc=None``, the result stays Q2f)."""
    tables = yield from open_and_eval(ctx, x, NEXP_LUT, via_batch)
    yield Need.NONE
    e = yield from mul(ctx, ctx.local(LocalOp.PART, tables, index=0), ctx.local(LocalOp.PART, tables, index=1))
    if final_trunc is None:
        return e
    yield Need.NONE
    return (yield from trunc(ctx, e, final_trunc, ctx.frac_bits))


def inv_sigma(ctx: Context, sums: Any, via_batch: bool, muls: int, sums_scale: int | None = None,
              row_len: int = 128) -> Task:
    """InvSigmaGpuTask: open x_hat, a LUT of 1/x (Qf; ceil(log2 row_len) + 6 bits, 13 at 128) on the row sums at
    ``sums_scale`` frac bits, then ``muls`` Beaver multiplies (scale alignment folded into the table, so no
    truncation). Only ``muls = 0`` has a value definition here (what the later SUF multiplies by is not known)."""
    gate = with_params(INV_LUT, in_scale_bits=ctx.frac_bits if sums_scale is None else sums_scale, row_len=row_len)
    y = ctx.local(LocalOp.PART, (yield from open_and_eval(ctx, sums, gate, via_batch)), index=0)
    for _ in range(muls):
        yield Need.NONE
        y = yield from mul(ctx, y, sums)
    return y


def gelu_sigma(ctx: Context, x: Any, via_batch: bool) -> Task:
    """GeluSigmaGpuTask: open x_hat; one gate gives DReLU(x) (as an arithmetic bit) and the LUT of ReLU - GeLU on
    |clip(x)|; then the select ReLU(x) = DReLU(x) * x as a Beaver multiply, and GeLU = ReLU(x) - LUT."""
    out = yield from open_and_eval(ctx, x, GELU_LUT, via_batch)
    yield Need.NONE
    relu = yield from mul(ctx, ctx.local(LocalOp.PART, out, index=0), x)
    return ctx.local(LocalOp.SUB, relu, ctx.local(LocalOp.PART, out, index=1))


def rsqrt_sigma(ctx: Context, x: Any, via_batch: bool, newton_steps: int, trunc_gate: Gate) -> Task:
    """RsqrtSigmaGpuTask (proposed) on x = var + eps (Qf): open, 13-bit LUT (Qf), then 0 or 1 Newton step
    y (3 - x y^2) / 2 with its three multiplies and a single truncation at the end: y^2 is Q2f, x y^2 Q3f,
    y (3 - x y^2) Q4f, and the truncation by 3f + 1 takes it (with the 1/2) back to Qf."""
    if newton_steps not in (0, 1):
        raise ValueError(f"RsqrtSigmaGpuTask takes 0 or 1 Newton steps, got {newton_steps}")
    f = ctx.frac_bits
    y = ctx.local(LocalOp.PART, (yield from open_and_eval(ctx, x, with_params(RSQRT_LUT, in_scale_bits=f), via_batch)),
                  index=0)
    if newton_steps == 0:
        return y
    yield Need.NONE
    y2 = yield from mul(ctx, y, y)
    yield Need.NONE
    xy2 = yield from mul(ctx, x, y2)
    yield Need.NONE
    yt = yield from mul(ctx, y, ctx.local(LocalOp.CONST_MINUS, xy2, const=3 << (3 * f)))
    yield Need.NONE
    return (yield from trunc(ctx, yt, trunc_gate, 3 * f + 1, halvings=1))
