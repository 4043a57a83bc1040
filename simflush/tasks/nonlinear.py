"""Newton and polynomial tasks: RsqrtTask, CubicPolyTask, RecipTask (``phase_tasks.hpp``)."""

from typing import Any

from .context import Batch, Context, OpenKind
from .gates import RECIP, RSQRT_INIT, Gate
from .need import Need
from .primitives import Task, _await, mul, trunc


def _open_and_coeff(ctx: Context, x: Any, gate: Gate) -> Task:
    """O(n, M), then one coefficient job (the step that sees the open enqueues it), then wait."""
    handle = ctx.open(ctx.mask(x, gate), OpenKind.MASK)
    yield Need.NONE
    hatx = yield from _await(ctx, handle, Need.OPEN)
    job = ctx.pfss(Batch.COEFF, gate, hatx)
    yield Need.NONE
    return (yield from _await(ctx, job, Need.PFSS_COEFF))


def rsqrt(ctx: Context, x: Any, trunc_gates: tuple[Gate, Gate, Gate], iters: int = 1,
          live_init: bool = False) -> Task:
    """RsqrtTask: opens = 1 + 6*iters, PFSS = 1 + 3*iters in the snapshot.

    The snapshot computes the affine initial value locally from the opened x (its InitMul/InitTrunc
    states are dead). ``live_init`` (``rsqrt_init_mode=mul_trunc``, the later RsqrtTask) runs them:
    InitMul (1 open) and InitTrunc (1 open + 1 PFSS), built as RecipTask builds its own. Each Newton
    iteration: y*y, trunc, x*y2, trunc, y*t, trunc; ``trunc_gates`` are those three truncations'.
    """
    n = ctx.words(x)
    g_y2, g_xy2, g_out = trunc_gates
    coeffs = yield from _open_and_coeff(ctx, x, RSQRT_INIT)
    if live_init:
        yield Need.NONE  # WaitInit builds InitMul
        y = yield from mul(ctx, ctx.local("coeff", coeffs, words=n), x)
        yield Need.NONE  # InitMul builds InitTrunc
        y = yield from trunc(ctx, y, g_y2)
    else:
        y = ctx.local("rsqrt_affine_init", coeffs, words=n)
    yield Need.NONE  # -> IterMul1
    for _ in range(iters):
        yield Need.NONE  # IterMul1 builds Mul1
        y2 = yield from mul(ctx, y, y)
        yield Need.NONE
        y2 = yield from trunc(ctx, y2, g_y2)
        yield Need.NONE
        xy2 = yield from mul(ctx, x, y2)
        yield Need.NONE
        xy2 = yield from trunc(ctx, xy2, g_xy2)
        yield Need.NONE  # -> ComputeT
        t = ctx.local("three_halves_minus", xy2, words=n)
        yield Need.NONE  # ComputeT builds Mul3
        yt = yield from mul(ctx, y, t)
        yield Need.NONE
        y = yield from trunc(ctx, yt, g_out)
        yield Need.NONE  # iter += 1 -> IterMul1
    return y  # IterMul1 with iter >= iters: done


def cubic_poly(ctx: Context, x: Any, gate: Gate, trunc_gates: tuple[Gate, Gate | None]) -> Task:
    """CubicPolyTask: r = 1 (direct payload): 1 open + 1 PFSS; r = 4 (Horner): 6 opens + 3 PFSS.

    A final truncation gate of ``None`` drops Trunc2 (the proposal of an nExp whose coefficient
    scale is aligned so that no truncation back is needed): 5 opens + 2 PFSS."""
    n = ctx.words(x)
    coeffs = yield from _open_and_coeff(ctx, x, gate)
    if gate.r == 1:
        return coeffs
    yield Need.NONE  # WaitCoeff builds Mul1
    g1, g2 = trunc_gates
    m1 = yield from mul(ctx, ctx.local("coeff", coeffs, words=n), x)
    yield Need.NONE
    m2 = yield from mul(ctx, m1, x)
    yield Need.NONE
    t1 = yield from trunc(ctx, m2, g1)
    yield Need.NONE
    m3 = yield from mul(ctx, t1, x)
    if g2 is None:
        return ctx.local("add_c0", m3, coeffs, words=n)
    yield Need.NONE
    t2 = yield from trunc(ctx, m3, g2)
    return ctx.local("add_c0", t2, coeffs, words=n)


def recip(ctx: Context, x: Any, trunc_gate: Gate, iters: int = 1, local_truncs: bool = False) -> Task:
    """RecipTask (r = 4 affine init + Newton): opens = 3 + 4*iters, PFSS = 2 + 2*iters.

    ``local_truncs`` (``SOFTMAX_TRUNC_REF=1``) replaces every truncation by a local shift, which
    removes its open and PFSS job.
    """
    n = ctx.words(x)

    def maybe_trunc(v: Any) -> Task:  # always a generator; a local shift yields nothing
        if local_truncs:
            return ctx.local("shift", v, words=n)
        out = yield from trunc(ctx, v, trunc_gate)
        yield Need.NONE
        return out

    coeffs = yield from _open_and_coeff(ctx, x, RECIP)
    yield Need.NONE  # WaitCoeff builds InitMul
    init = yield from mul(ctx, ctx.local("coeff", coeffs, words=n), x)
    yield Need.NONE
    y = yield from maybe_trunc(init)
    for _ in range(iters):
        yield Need.NONE  # IterMul1 builds Mul1
        t = yield from mul(ctx, y, x)
        yield Need.NONE
        t = yield from maybe_trunc(t)
        y = yield from mul(ctx, y, ctx.local("two_minus", t, words=n))
        yield Need.NONE
        y = yield from maybe_trunc(y)
    return y
