"""Newton and polynomial tasks: RsqrtTask, CubicPolyTask, RecipTask (``phase_tasks.hpp``).

Values are fixed point at ``ctx.frac_bits`` = f (Qk: real * 2^k); products of two Qf values are Q2f, and each
truncation's shift is derived here from the scales it joins (docs/notes/suf_gate_facts.md §2-§3).
"""

from typing import Any

from .context import Batch, Context, OpenKind
from .gates import RECIP, RSQRT_INIT, RSQRT_INIT_VALUE, Gate, with_params
from .local_ops import LocalOp
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
    """RsqrtTask on x = var + eps (Qf): opens = 1 + 6*iters, PFSS = 1 + 3*iters in the snapshot.

    The snapshot computes the affine initial value c0 + (c1 x) >> f from x unmasked with the key's r_in (its
    InitMul/InitTrunc states are dead): the value path asks the init gate for y0 itself (``RSQRT_INIT_VALUE``), with
    the same opens and jobs. ``live_init`` (``rsqrt_init_mode=mul_trunc``, the later RsqrtTask) runs InitMul (1 open)
    and InitTrunc (1 open + 1 PFSS): y0 = trunc(c1 x, f) + c0. Each Newton iteration, y (3 - x y^2) / 2:
    y2 = trunc(y y, f), h = trunc(x y2, f + 1) (the 1/2 folded into the shift, where SUF shifts each share by 1),
    y = trunc(y (1.5 - h), f); ``trunc_gates`` are those three truncations'.
    """
    f = ctx.frac_bits
    g_y2, g_xy2, g_out = trunc_gates
    if live_init:
        coeffs = yield from _open_and_coeff(ctx, x, RSQRT_INIT)
        yield Need.NONE  # WaitInit builds InitMul
        y = yield from mul(ctx, ctx.local(LocalOp.PART, coeffs, index=1), x)
        yield Need.NONE  # InitMul builds InitTrunc
        y = yield from trunc(ctx, y, g_y2, f)
        y = ctx.local(LocalOp.ADD_PART, y, coeffs, index=0, shift=0)
    else:
        y = ctx.local(LocalOp.PART, (yield from _open_and_coeff(ctx, x, RSQRT_INIT_VALUE)), index=0)
    yield Need.NONE  # -> IterMul1
    for _ in range(iters):
        yield Need.NONE  # IterMul1 builds Mul1
        y2 = yield from mul(ctx, y, y)
        yield Need.NONE
        y2 = yield from trunc(ctx, y2, g_y2, f)
        yield Need.NONE
        xy2 = yield from mul(ctx, x, y2)
        yield Need.NONE
        half_xy2 = yield from trunc(ctx, xy2, g_xy2, f + 1, halvings=1)
        yield Need.NONE  # -> ComputeT
        t = ctx.local(LocalOp.CONST_MINUS, half_xy2, const=3 << (f - 1))
        yield Need.NONE  # ComputeT builds Mul3
        yt = yield from mul(ctx, y, t)
        yield Need.NONE
        y = yield from trunc(ctx, yt, g_out, f)
        yield Need.NONE  # iter += 1 -> IterMul1
    return y  # IterMul1 with iter >= iters: done


def cubic_poly(ctx: Context, x: Any, gate: Gate, trunc_gates: tuple[Gate, Gate | None]) -> Task:
    """CubicPolyTask on x in Qf: r = 1 (direct payload): 1 open + 1 PFSS; r = 4 (Horner): 6 opens + 3 PFSS.

    Horner as spec §3.7 has it, with the gate's x-coefficients c0..c3 in Qf: u = c3 x + c2 2^f (Q2f),
    q = trunc(u x, f) + c1 2^f (Q2f), y = trunc(q x, 2f) + c0 (Qf). A final truncation gate of ``None`` drops Trunc2
    (the proposal of an nExp whose scale is aligned so that no truncation back is needed): Trunc1 then takes 2f,
    q = trunc(u x, 2f) + c1 (Qf), and the result q x + c0 2^f is left at Q2f (5 opens + 2 PFSS)."""
    f = ctx.frac_bits
    coeffs = yield from _open_and_coeff(ctx, x, gate)
    if gate.r == 1:
        return ctx.local(LocalOp.PART, coeffs, index=0)
    yield Need.NONE  # WaitCoeff builds Mul1
    g1, g2 = trunc_gates
    aligned = g2 is None
    m1 = yield from mul(ctx, ctx.local(LocalOp.PART, coeffs, index=3), x)
    yield Need.NONE
    m2 = yield from mul(ctx, ctx.local(LocalOp.ADD_PART, m1, coeffs, index=2, shift=f), x)
    yield Need.NONE
    t1 = yield from trunc(ctx, m2, g1, 2 * f if aligned else f)
    yield Need.NONE
    m3 = yield from mul(ctx, ctx.local(LocalOp.ADD_PART, t1, coeffs, index=1, shift=0 if aligned else f), x)
    if aligned:
        return ctx.local(LocalOp.ADD_PART, m3, coeffs, index=0, shift=f)
    yield Need.NONE
    t2 = yield from trunc(ctx, m3, g2, 2 * f)
    return ctx.local(LocalOp.ADD_PART, t2, coeffs, index=0, shift=0)


def recip(ctx: Context, x: Any, trunc_gate: Gate, iters: int = 1, local_truncs: bool = False,
          x_scale: int | None = None) -> Task:
    """RecipTask (r = 4 affine init + Newton): opens = 3 + 4*iters, PFSS = 2 + 2*iters.

    x is the softmax row sum at ``x_scale`` frac bits (default f; 2f after an nExp without its final truncation);
    the result is 1/x in Qf: y0 = trunc(c1 x, s) + c0, then per iteration t = trunc(y x, s) (Qf, about 1) and
    y = trunc(y (2 - t), f), with s = ``x_scale``. ``local_truncs`` (``SOFTMAX_TRUNC_REF=1``) replaces every
    truncation by a local shift of each share, which removes its open and PFSS job (and is not share-local).
    """
    f = ctx.frac_bits
    s = f if x_scale is None else x_scale

    def maybe_trunc(v: Any, shift: int) -> Task:  # always a generator; a local shift yields nothing
        if local_truncs:
            return ctx.local(LocalOp.SHIFT, v, shift=shift)
        out = yield from trunc(ctx, v, trunc_gate, shift)
        yield Need.NONE
        return out

    coeffs = yield from _open_and_coeff(ctx, x, with_params(RECIP, in_scale_bits=s))
    yield Need.NONE  # WaitCoeff builds InitMul
    init = yield from mul(ctx, ctx.local(LocalOp.PART, coeffs, index=1), x)
    yield Need.NONE
    y = ctx.local(LocalOp.ADD_PART, (yield from maybe_trunc(init, s)), coeffs, index=0, shift=0)
    for _ in range(iters):
        yield Need.NONE  # IterMul1 builds Mul1
        t = yield from mul(ctx, y, x)
        yield Need.NONE
        t = yield from maybe_trunc(t, s)
        y = yield from mul(ctx, y, ctx.local(LocalOp.CONST_MINUS, t, const=2 << f))
        yield Need.NONE
        y = yield from maybe_trunc(y, f)
    return y
