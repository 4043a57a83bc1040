"""LayerNormTask (``phase_tasks.hpp:2204-2666``), rows x cols."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .context import BeaverOp, Context
from .gates import Gate
from .need import Need
from .nonlinear import rsqrt
from .primitives import Task, beaver, mul, trunc


@dataclass(frozen=True)
class LayerNormGates:
    """Truncation gate of each call site (SUF picks them by range analysis; §4.6 of the spec)."""

    mean: Gate
    var: Gate
    rsqrt: tuple[Gate, Gate, Gate]
    norm: Gate


def layernorm(ctx: Context, x: Any, rows: int, cols: int, gates: LayerNormGates,
              inv_std: Callable[[Context, Any], Task] | None = None, gpu_variance: bool = False) -> Task:
    """Mean trunc, variance multiply + trunc, rsqrt, row-broadcast normalise, trunc.

    Alone: 12 opens + 7 PFSS with the snapshot's rsqrt (``inv_std`` None: RsqrtTask, one Newton
    iteration). ``gpu_variance`` (device pipeline with ``SUF_LN_GPU``) computes the variance with a
    local GPU kernel and drops the variance open.
    """
    inv_std = inv_std or (lambda c, v: rsqrt(c, v, gates.rsqrt, 1))
    n = rows * cols
    mean_q2f = ctx.local("row_sum_times_inv_len", x, words=rows)
    yield Need.NONE  # Mean -> MeanTrunc (which falls through into the trunc's first step)
    mu = yield from trunc(ctx, mean_q2f, gates.mean)
    yield Need.NONE  # -> VarDiff
    diff = ctx.local("sub_row_mean", x, mu, words=n)
    yield Need.NONE  # VarDiff builds the variance MulTask
    if gpu_variance:
        var = ctx.local("row_variance_gpu", diff, words=rows)
    else:
        sq = yield from mul(ctx, diff, diff)
        var = ctx.local("row_sum_times_inv_len", sq, words=rows)
    yield Need.NONE  # -> VarTrunc
    yield Need.NONE  # VarTrunc builds its TruncTask
    var = yield from trunc(ctx, var, gates.var)
    var = ctx.local("add_eps", var, words=rows)
    yield Need.NONE  # -> Rsqrt
    yield Need.NONE  # Rsqrt builds its rsqrt task
    r = yield from inv_std(ctx, var)
    yield Need.NONE  # -> Norm
    yield Need.NONE  # Norm builds the row-broadcast multiply
    y = yield from beaver(ctx, BeaverOp.ROW_BROADCAST, diff, r, shape=(n, rows))
    yield Need.NONE  # NormMul builds the norm trunc
    y = yield from trunc(ctx, y, gates.norm)
    yield Need.NONE  # -> Affine
    return ctx.local("affine_gamma_beta", y, words=n)
