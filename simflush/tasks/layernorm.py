"""LayerNormTask (``phase_tasks.hpp:2204-2666``), rows x cols."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .context import BeaverOp, Context
from .gates import Gate
from .local_ops import LocalOp
from .need import Need
from .nonlinear import rsqrt
from .primitives import Task, beaver, mul, trunc
from .tables import llround

LN_EPS = 1 / 1024   # added to the variance after its truncation (transformer_layer.cpp:630-631, 685-686)


@dataclass(frozen=True)
class LayerNormGates:
    """Truncation gate of each call site (SUF picks them by range analysis; §4.6 of the spec)."""

    mean: Gate
    var: Gate
    rsqrt: tuple[Gate, Gate, Gate]
    norm: Gate


def layernorm(ctx: Context, x: Any, rows: int, cols: int, gates: LayerNormGates,
              inv_std: Callable[[Context, Any], Task] | None = None, gpu_variance: bool = False) -> Task:
    """Mean trunc, variance multiply + trunc, rsqrt, row-broadcast normalise, trunc (spec §3.6, facts §3.6).

    x is Qf, rows of ``cols``: mu = trunc(sum(x) * inv_len, f) with inv_len = llround(2^f / cols) (Qf: 1/768 is
    rounded to 5/4096), var = trunc(sum((x - mu)^2) * inv_len, 2f) + eps (Q3f -> Qf), out = trunc((x - mu) r, f)
    with r = rsqrt(var). Gamma and beta are left to the next public matmul (docs/accuracy.md).
    Alone: 12 opens + 7 PFSS with the snapshot's rsqrt (``inv_std`` None: RsqrtTask, one Newton
    iteration). ``gpu_variance`` (device pipeline with ``SUF_LN_GPU``) computes the variance with a
    local GPU kernel and drops the variance open (not share-local: the value path refuses it).
    """
    inv_std = inv_std or (lambda c, v: rsqrt(c, v, gates.rsqrt, 1))
    n, f = rows * cols, ctx.frac_bits
    inv_len = llround(2**f / cols)
    mean_q2f = ctx.local(LocalOp.ROW_SUM_SCALED, x, rows=rows, const=inv_len, const_scale=f)
    yield Need.NONE  # Mean -> MeanTrunc (which falls through into the trunc's first step)
    mu = yield from trunc(ctx, mean_q2f, gates.mean, f)
    yield Need.NONE  # -> VarDiff
    diff = ctx.local(LocalOp.SUB_ROW, x, mu, rows=rows)
    yield Need.NONE  # VarDiff builds the variance MulTask
    if gpu_variance:
        var = ctx.local(LocalOp.ROW_VARIANCE, diff, rows=rows, const=inv_len, const_scale=f)
    else:
        sq = yield from mul(ctx, diff, diff)
        var = ctx.local(LocalOp.ROW_SUM_SCALED, sq, rows=rows, const=inv_len, const_scale=f)
    yield Need.NONE  # -> VarTrunc
    yield Need.NONE  # VarTrunc builds its TruncTask
    var = yield from trunc(ctx, var, gates.var, 2 * f)
    var = ctx.local(LocalOp.ADD_CONST, var, const=llround(LN_EPS * 2**f))
    yield Need.NONE  # -> Rsqrt
    yield Need.NONE  # Rsqrt builds its rsqrt task
    r = yield from inv_std(ctx, var)
    yield Need.NONE  # -> Norm
    yield Need.NONE  # Norm builds the row-broadcast multiply
    y = yield from beaver(ctx, BeaverOp.ROW_BROADCAST, diff, r, shape=(n, rows))
    yield Need.NONE  # NormMul builds the norm trunc
    y = yield from trunc(ctx, y, gates.norm, f)
    yield Need.NONE  # -> Affine (gamma and beta empty: the identity)
    return y
