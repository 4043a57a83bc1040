"""Attention softmax tasks: RowMaxDiffTask, SoftmaxBlockTask, and the decode path's per-row tail.

Rows may be ragged (causal prefill): a ``RowLengths`` maps each distinct valid length to how many
rows have it, so that sizes stay cheap to compute for long sequences.
"""

from collections.abc import Callable
from typing import Any

from .context import BeaverOp, Context
from .gates import GAPARS, NEXP, Gate
from .local_ops import LocalOp
from .need import Need
from .nonlinear import cubic_poly, recip
from .primitives import Task, beaver, relu, seq_two, trunc

RowLengths = dict[int, int]  # valid length -> number of rows with it


def active_elems(lengths: RowLengths) -> int:
    return sum(length * count for length, count in lengths.items())


def row_count(lengths: RowLengths) -> int:
    return sum(lengths.values())


def maxdiff_round_sizes(lengths: RowLengths) -> list[int]:
    """Pairs per reduction round: d_k = sum_rows floor(L/2), then L <- ceil(L/2), while max L > 1."""
    sizes = []
    current = {length: count for length, count in lengths.items() if count}
    while current and max(current) > 1:
        sizes.append(sum((length // 2) * count for length, count in current.items()))
        halved: RowLengths = {}
        for length, count in current.items():
            halved[(length + 1) // 2] = halved.get((length + 1) // 2, 0) + count
        current = halved
    return sizes


def row_max_diff(ctx: Context, scores: Any, lengths: RowLengths) -> Task:
    """RowMaxDiffTask: one ReluTask (1 open + 1 PFSS) per pairwise-max round over all rows, then
    t = rowmax - score for every active element (>= 0: nExp's input)."""
    if not lengths or row_count(lengths) == 0:
        return scores
    yield Need.NONE  # Init -> RoundPrep
    maxima = scores
    for pairs in maxdiff_round_sizes(lengths):
        yield Need.NONE  # RoundPrep builds the round's ReluTask
        diffs = ctx.local(LocalOp.PAIRWISE_DIFF, maxima, pairs=pairs)
        r = yield from relu(ctx, diffs)
        maxima = ctx.local(LocalOp.MAX_FROM_RELU, maxima, r)  # max = b + ReLU(a - b)
        yield Need.NONE  # RoundRelu -> RoundPrep
    yield Need.NONE  # RoundPrep -> Scatter
    return ctx.local(LocalOp.ROWMAX_MINUS, scores, maxima)


def snapshot_nexp(ctx: Context, x: Any) -> Task:
    """The snapshot's nExp: a cubic spline (r = 4) with two GapARS truncations."""
    return cubic_poly(ctx, x, NEXP, (GAPARS, GAPARS))


def snapshot_inv(ctx: Context, sums: Any, sums_scale: int | None = None, row_len: int = 0) -> Task:
    """The snapshot's inverse: RecipTask with one Newton iteration and GapARS truncations."""
    return recip(ctx, sums, GAPARS, 1, x_scale=sums_scale)


def softmax_block(ctx: Context, max_diff: Any, lengths: RowLengths, *,
                  nexp: Callable[[Context, Any], Task] = snapshot_nexp,
                  inv: Callable[[Context, Any, int, int], Task] = snapshot_inv,
                  prob_trunc: Gate | None = GAPARS, exp_scale_f: int = 1) -> Task:
    """SoftmaxBlockTask over rows R_s with A active elements: nExp (``nexp``; snapshot: CubicPolyTask,
    6 O + 3 P), the row sums' inverse (``inv``; snapshot: RecipTask, 7 O + 4 P), the row-broadcast
    multiply (1 O of A + R_s words) and the probability truncation (1 O + 1 P; ``None`` drops it).

    The exponentials come out at ``exp_scale_f`` * f frac bits (2 after an nExp without its final truncation), so
    do their row sums; 1/sum is Qf, the product is Q(exp_scale_f + 1)f and the probability truncation takes
    exp_scale_f * f back to Qf (without it the probabilities stay at Q(exp_scale_f + 1)f: ``models.layer``'s
    ``prob_scale_f``)."""
    active, rows = active_elems(lengths), row_count(lengths)
    exp_scale = exp_scale_f * ctx.frac_bits
    yield Need.NONE  # ExpInit builds the nExp task
    e = yield from nexp(ctx, max_diff)
    yield Need.NONE  # -> SumLocal
    sums = ctx.local(LocalOp.ROW_SUMS, e, rows=rows)
    yield Need.NONE  # SumLocal builds the inverse task
    inv_sums = yield from inv(ctx, sums, exp_scale, max(lengths, default=1))
    yield Need.NONE  # RecipRun builds the row-broadcast multiply
    prod = yield from beaver(ctx, BeaverOp.ROW_BROADCAST, e, inv_sums, shape=(active, rows))
    if active == 0 or prob_trunc is None:
        return prod
    yield Need.NONE  # MulRun builds the probability trunc
    return (yield from trunc(ctx, prod, prob_trunc, exp_scale))


def attention_softmax(max_task: Task, block: Callable[[Any], Task]) -> Task:
    """SeqTwoTask(row max, softmax): the softmax run of the prefill path."""
    return seq_two(max_task, block)


def prob_rows_then_ctx(ctx: Context, probs: Any, values: Any, rows: int, cur_len: int, head_dim: int,
                       ctx_trunc: Gate, ctx_shift: int) -> Task:
    """Decode path tail (SoftmaxProbTask rows): per row, sequentially, a per-product Beaver matmul
    (1 x cur_len probabilities by the row's cur_len x Dh values) then a TruncTask of Dh words."""
    outputs = []
    for i in range(rows):
        row = ctx.local(LocalOp.SLICE, probs, start=i * cur_len, count=cur_len)
        v = ctx.local(LocalOp.SLICE, values, start=i * cur_len * head_dim, count=cur_len * head_dim)
        mm = beaver(ctx, BeaverOp.MATMUL_PER_PRODUCT, row, v, shape=(1, cur_len, head_dim))
        outputs.append((yield from seq_two(mm, lambda c: trunc(ctx, c, ctx_trunc, ctx_shift))))
        yield Need.NONE  # Rows: next row
    return ctx.local(LocalOp.CONCAT, *outputs)


def softmax_then_rows(ctx: Context, max_diff: Any, values: Any, lengths: RowLengths, head_dim: int,
                      ctx_trunc: Gate, ctx_shift_f: int = 1, **block_options: Any) -> Task:
    """SoftmaxProbTask of the decode path: the softmax block, one switching step, then the rows
    (``values``: each row's cur_len x Dh values, rows back to back; the context truncation takes
    ``ctx_shift_f`` * f, the probabilities' frac bits)."""
    (cur_len,) = lengths
    probs = yield from softmax_block(ctx, max_diff, lengths, **block_options)
    yield Need.NONE  # Softmax -> Rows
    return (yield from prob_rows_then_ctx(ctx, probs, values, row_count(lengths), cur_len, head_dim, ctx_trunc,
                                          ctx_shift_f * ctx.frac_bits))
