"""Turns the model layer's task specs (``models.layer``) into task instances on a context.

``BUILDERS`` has one builder per task-spec kind. A step that a task variant replaces inside a
composite task (LayerNorm's rsqrt, the softmax's row max, nExp and inverse) is built by the builder
that the variant's knob value selected: the task spec carries that choice (``simflush.variants.Choice``)
and its ``task`` is one of the step builders below (DESIGN.md §5 and docs/whatif.md describe them).
"""

from collections.abc import Callable, Generator
from typing import Any

from models.layer import TaskSpec, exp_scale_f, prob_scale_f

from .tasks.context import BeaverOp, Context
from .tasks.gates import GAPARS, GELU_CONST, GELU_SPLINE, NEXP, SILU, TRUNC_GATES
from .tasks.layernorm import LayerNormGates, layernorm
from .tasks.need import Need
from .tasks.nonlinear import cubic_poly, recip, rsqrt
from .tasks.primitives import beaver, trunc
from .tasks.sigma import gelu_sigma, inv_sigma, nexp_sigma, row_max_diff_sigma, rsqrt_sigma
from .tasks.softmax import active_elems, attention_softmax, row_max_diff, softmax_block, softmax_then_rows

ACTIVATION_GATES = {"gelu_const": GELU_CONST, "gelu_spline": GELU_SPLINE, "silu": SILU}

Step = Callable[[Context, Any], Generator]   # a step of a composite task: (context, input value) -> task

# -- the steps that task variants replace (selected by the knob's value; see simflush.variants) ---------

def rsqrt_newton(p: dict, gates: LayerNormGates) -> Step:
    """SUF_RSQRT_MODE=suf: RsqrtTask (Newton iterations; ``rsqrt_live_init``: live InitMul + InitTrunc)."""
    return lambda c, v: rsqrt(c, v, gates.rsqrt, p["rsqrt_iters"], p["rsqrt_live_init"])


def rsqrt_lut(p: dict, gates: LayerNormGates) -> Step:
    """SUF_RSQRT_MODE=sigma_gpu: RsqrtSigmaGpuTask (LUT, then 0 or 1 Newton step)."""
    return lambda c, v: rsqrt_sigma(c, v, p["sigma_via_batch"], p["rsqrt_iters"], gates.rsqrt[2])


def _final_trunc(p: dict):
    return GAPARS if p["nexp_final_trunc"] else None


def nexp_spline(p: dict) -> Step:
    """SUF_NEXP_MODE=suf: nExp as a CubicPolyTask."""
    return lambda c, x: cubic_poly(c, x, NEXP, (GAPARS, _final_trunc(p)))


def nexp_lut(p: dict) -> Step:
    """SUF_NEXP_MODE=sigma_gpu: NExpSigmaGpuTask."""
    return lambda c, x: nexp_sigma(c, x, p["sigma_via_batch"], _final_trunc(p))


def inv_recip(p: dict) -> Step:
    """SUF_INV_MODE=suf: RecipTask (Newton iterations) on the row sums at their scale."""
    return lambda c, s, scale, row_len: recip(c, s, GAPARS, p["recip_iters"], p["recip_local_truncs"], scale)


def inv_lut(p: dict) -> Step:
    """SUF_INV_MODE=sigma_gpu: InvSigmaGpuTask (LUT and Beaver multiplies)."""
    return lambda c, s, scale, row_len: inv_sigma(c, s, p["sigma_via_batch"], p["inv_sigma_muls"], scale, row_len)


def row_max_relu(ctx: Context, p: dict, scores: Any) -> Generator:
    """SUF_ROWMAX_MODE=suf: RowMaxDiffTask (one ReLU round per halving)."""
    return row_max_diff(ctx, scores, p["lengths"])


def row_max_lut(ctx: Context, p: dict, scores: Any) -> Generator:
    """SUF_ROWMAX_MODE=sigma_gpu: RowMaxDiffSigmaGpuTask (DReLU, B2A, relu·diff per round)."""
    return row_max_diff_sigma(ctx, scores, p["lengths"], p["sigma_via_batch"])


# -- one builder per task-spec kind --------------------------------------------------------------------

def _layernorm(ctx: Context, p: dict, make_input) -> Generator:
    gates = LayerNormGates(TRUNC_GATES[p["mean_gate"]], TRUNC_GATES[p["var_gate"]],
                           tuple(TRUNC_GATES[g] for g in p["rsqrt_gates"]), TRUNC_GATES[p["norm_gate"]])
    return layernorm(ctx, make_input(p["rows"] * p["cols"]), p["rows"], p["cols"], gates,
                     p["rsqrt"].task(p, gates), p["gpu_variance"])


def _trunc(ctx: Context, p: dict, make_input) -> Generator:
    halvings = p.get("halvings", 0)
    return trunc(ctx, make_input(p["n"]), TRUNC_GATES[p["gate"]], p.get("shift_f", 1) * ctx.frac_bits + halvings,
                 per_element=p["per_element"], halvings=halvings)


def _matmul(ctx: Context, p: dict, make_input) -> Generator:
    b, m, k, n = p["batches"], p["m"], p["k"], p["n"]
    return beaver(ctx, BeaverOp.MATMUL, make_input(b * m * k), make_input(b * k * n), shape=(b, m, k, n))


def _block_options(p: dict) -> dict:
    """nExp, inverse and probability-trunc choices of a SoftmaxBlockTask, and the scale nExp leaves."""
    return {"nexp": p["nexp"].task(p), "inv": p["inv"].task(p), "prob_trunc": GAPARS if p["prob_trunc"] else None,
            "exp_scale_f": exp_scale_f(p["nexp_final_trunc"])}


def _attention_softmax(ctx: Context, p: dict, make_input) -> Generator:
    lengths = p["lengths"]
    block = lambda md: softmax_block(ctx, md, lengths, **_block_options(p))  # noqa: E731
    return attention_softmax(p["rowmax"].task(ctx, p, make_input(active_elems(lengths))), block)


def _decode_softmax(ctx: Context, p: dict, make_input) -> Generator:
    lengths = p["lengths"]
    scores = make_input(active_elems(lengths))
    values = make_input(active_elems(lengths) * p["head_dim"])
    block = lambda md: softmax_then_rows(  # noqa: E731
        ctx, md, values, lengths, p["head_dim"], TRUNC_GATES[p["ctx_gate"]],
        prob_scale_f(p["nexp_final_trunc"], p["prob_trunc"]), **_block_options(p))
    return attention_softmax(p["rowmax"].task(ctx, p, scores), block)


def _cubic(ctx: Context, p: dict, make_input) -> Generator:
    return cubic_poly(ctx, make_input(p["n"]), ACTIVATION_GATES[p["gate"]],
                      tuple(TRUNC_GATES[g] for g in p["truncs"]))


def _gelu_sigma(ctx: Context, p: dict, make_input) -> Generator:
    return gelu_sigma(ctx, make_input(p["n"]), p["sigma_via_batch"])


BUILDERS: dict[str, Callable[..., Generator]] = {
    "layernorm": _layernorm, "trunc": _trunc, "matmul": _matmul, "attention_softmax": _attention_softmax,
    "decode_softmax": _decode_softmax, "cubic": _cubic, "gelu_sigma": _gelu_sigma,
}


def staggered(ctx: Context, task: Generator, after_flushes: int) -> Generator:
    """A chain that starts once the run has done ``after_flushes`` flushes (``Need.IDLE`` until then)."""
    while ctx.flushes_in_run() < after_flushes:
        yield Need.IDLE
    return (yield from task)


def build_task(ctx: Context, spec: TaskSpec, make_input: Callable[[int], Any]) -> Generator:
    """A task instance for ``spec``; ``make_input(words)`` supplies its input value(s)."""
    task = BUILDERS[spec.kind](ctx, spec.params, make_input)
    stagger = spec.params.get("stagger", 0)
    return staggered(ctx, task, stagger) if stagger else task
