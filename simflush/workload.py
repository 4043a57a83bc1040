"""Turns the model layer's task specs (``models.layer``) into task instances on a context."""

from collections.abc import Callable, Generator
from typing import Any

from models.layer import TaskSpec

from .tasks.context import BeaverOp, Context
from .tasks.gates import GELU_CONST, GELU_SPLINE, SILU, TRUNC_GATES
from .tasks.layernorm import LayerNormGates, layernorm
from .tasks.nonlinear import cubic_poly
from .tasks.primitives import beaver, trunc
from .tasks.softmax import active_elems, attention_softmax, softmax_block, softmax_then_rows

ACTIVATION_GATES = {"gelu_const": GELU_CONST, "gelu_spline": GELU_SPLINE, "silu": SILU}


def _layernorm(ctx: Context, p: dict, make_input) -> Generator:
    gates = LayerNormGates(TRUNC_GATES[p["mean_gate"]], TRUNC_GATES[p["var_gate"]],
                           tuple(TRUNC_GATES[g] for g in p["rsqrt_gates"]), TRUNC_GATES[p["norm_gate"]])
    return layernorm(ctx, make_input(p["rows"] * p["cols"]), p["rows"], p["cols"], gates,
                     p["rsqrt_iters"], p["gpu_variance"])


def _trunc(ctx: Context, p: dict, make_input) -> Generator:
    return trunc(ctx, make_input(p["n"]), TRUNC_GATES[p["gate"]], per_element=p["per_element"])


def _matmul(ctx: Context, p: dict, make_input) -> Generator:
    b, m, k, n = p["batches"], p["m"], p["k"], p["n"]
    return beaver(ctx, BeaverOp.MATMUL, make_input(b * m * k), make_input(b * k * n), shape=(b, m, k, n))


def _softmax_options(p: dict) -> dict:
    return {"recip_iters": p["recip_iters"], "recip_local_truncs": p["recip_local_truncs"]}


def _attention_softmax(ctx: Context, p: dict, make_input) -> Generator:
    lengths = p["lengths"]
    block = lambda md: softmax_block(ctx, md, lengths, **_softmax_options(p))  # noqa: E731
    return attention_softmax(ctx, make_input(active_elems(lengths)), lengths, block)


def _decode_softmax(ctx: Context, p: dict, make_input) -> Generator:
    lengths = p["lengths"]
    block = lambda md: softmax_then_rows(  # noqa: E731
        ctx, md, lengths, p["head_dim"], TRUNC_GATES[p["ctx_gate"]], **_softmax_options(p))
    return attention_softmax(ctx, make_input(active_elems(lengths)), lengths, block)


def _cubic(ctx: Context, p: dict, make_input) -> Generator:
    return cubic_poly(ctx, make_input(p["n"]), ACTIVATION_GATES[p["gate"]],
                      tuple(TRUNC_GATES[g] for g in p["truncs"]))


BUILDERS: dict[str, Callable[..., Generator]] = {
    "layernorm": _layernorm, "trunc": _trunc, "matmul": _matmul,
    "attention_softmax": _attention_softmax, "decode_softmax": _decode_softmax, "cubic": _cubic,
}


def build_task(ctx: Context, spec: TaskSpec, make_input: Callable[[int], Any]) -> Generator:
    """A task instance for ``spec``; ``make_input(words)`` supplies its input value(s)."""
    return BUILDERS[spec.kind](ctx, spec.params, make_input)


__all__ = ["build_task"]
