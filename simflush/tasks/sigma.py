"""Sigma-style GPU tasks of the later SUF version, and the proposed LUT rsqrt (DESIGN.md §5).

Their FSS evaluation either goes through the PFSS batch (``via_batch``: one coeff job, a PFSS flush)
or is evaluated by the task itself (``ctx.fss_direct``: local GPU work, no flush). Beaver multiplies
and truncations are the snapshot's MulTask / TruncTask. Step boundaries follow the snapshot's
conventions (see ``primitives``): reserving returns None; the step that finds a result ready moves on
in the same step; building a sub-task costs a step of its own.
"""

from typing import Any

from .context import Batch, Context, OpenKind
from .gates import DRELU, GELU_LUT, INV_LUT, NEXP_LUT, RSQRT_LUT, Gate
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
    relu * diff (a Beaver multiply): 3 opens per round (+1 PFSS through the batch)."""
    if not lengths or row_count(lengths) == 0:
        return scores
    maxima = scores
    for pairs in maxdiff_round_sizes(lengths):
        yield Need.NONE  # build the round
        diffs = ctx.local("pairwise_diff", maxima, words=pairs)
        bit = yield from open_and_eval(ctx, diffs, DRELU, via_batch)
        yield Need.NONE
        bit = yield from mul(ctx, bit, ctx.local("bit_share", bit, words=pairs))  # B2A: b0 + b1 - 2 b0 b1
        yield Need.NONE
        r = yield from mul(ctx, bit, diffs)
        maxima = ctx.local("b_plus_relu", maxima, r, words=ctx.words(maxima))
    yield Need.NONE
    return ctx.local("x_minus_rowmax", scores, maxima, words=ctx.words(scores))


def nexp_sigma(ctx: Context, x: Any, via_batch: bool, final_trunc: Gate | None) -> Task:
    """NExpSigmaGpuTask: open x_hat, LUT (msb and lsb tables), multiply the two, then one
    truncation back to the target scale (none when the LUT scale is aligned: ``final_trunc=None``)."""
    n = ctx.words(x)
    tables = yield from open_and_eval(ctx, x, NEXP_LUT, via_batch)
    yield Need.NONE
    e = yield from mul(ctx, ctx.local("msb", tables, words=n), ctx.local("lsb", tables, words=n))
    if final_trunc is None:
        return e
    yield Need.NONE
    return (yield from trunc(ctx, e, final_trunc))


def inv_sigma(ctx: Context, sums: Any, via_batch: bool, muls: int) -> Task:
    """InvSigmaGpuTask: open x_hat, a 13-bit LUT, then ``muls`` Beaver multiplies (scale alignment
    folded into the table, so no truncation)."""
    y = yield from open_and_eval(ctx, sums, INV_LUT, via_batch)
    for _ in range(muls):
        yield Need.NONE
        y = yield from mul(ctx, y, sums)
    return y


def gelu_sigma(ctx: Context, x: Any, via_batch: bool) -> Task:
    """GeluSigmaGpuTask: open x_hat; one gate gives DReLU(x) and the LUT of ReLU - GeLU on |clip(x)|;
    then the select ReLU(x) = DReLU(x) * x as a Beaver multiply."""
    out = yield from open_and_eval(ctx, x, GELU_LUT, via_batch)
    yield Need.NONE
    return (yield from mul(ctx, ctx.local("drelu", out, words=ctx.words(x)), x))


def rsqrt_sigma(ctx: Context, x: Any, via_batch: bool, newton_steps: int, trunc_gate: Gate) -> Task:
    """RsqrtSigmaGpuTask (proposed): open, 13-bit LUT, then 0 or 1 Newton step
    y (3 - x y^2) / 2 with its three multiplies and a single truncation at the end."""
    if newton_steps not in (0, 1):
        raise ValueError(f"RsqrtSigmaGpuTask takes 0 or 1 Newton steps, got {newton_steps}")
    y = yield from open_and_eval(ctx, x, RSQRT_LUT, via_batch)
    if newton_steps == 0:
        return y
    yield Need.NONE
    y2 = yield from mul(ctx, y, y)
    yield Need.NONE
    xy2 = yield from mul(ctx, x, y2)
    yield Need.NONE
    yt = yield from mul(ctx, y, ctx.local("three_minus", xy2, words=ctx.words(x)))
    yield Need.NONE
    return (yield from trunc(ctx, yt, trunc_gate))
