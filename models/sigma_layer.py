"""SIGMA's transformer block as executor runs (``RunSpec``s of ``TaskSpec``s), as plain data.

SIGMA's GPU code (GPU-MPC ``experiments/sigma/{bert,gpt2,llama2}.h``, ``fss/gpu_mha.cu``) runs one
protocol after another; here each protocol call is one run of one task, in program order. A run's
``section`` is the category SIGMA's ``Stats`` counts its bytes under (Table 3 of the paper):
``act`` (GeLU/SiLU), ``softmax``, ``norm`` (LayerNorm/RMSNorm with its CPU rsqrt) and ``linear``
(matmuls and their truncations, rotary, the 1/sqrt(d) scaling). Facts and their sources:
../shared/reference/sigma_protocols.md §1, §2.9, §3; docs/sigma.md.
"""

from dataclasses import dataclass, replace

from .layer import RunSpec, TaskSpec
from .specs import ModelSpec

FRAC_BITS = 12  # SIGMA's scale for every model (sigma.cu)


@dataclass(frozen=True)
class SigmaModel:
    """What SIGMA's ``sigma.cu`` sets per model beyond the shape: its ring, and whether Q.K^T is scaled
    by 1/sqrt(d_head) (``doNormQKt``: GPT-Neo is not)."""

    bits: int
    norm_qkt: bool = True


# sigma.cu: bw per model (paper Table 4)
SIGMA_MODELS = {
    "bert-tiny": SigmaModel(37), "bert-base": SigmaModel(50), "bert-large": SigmaModel(50),
    "gpt2": SigmaModel(50), "gpt-neo-1.3b": SigmaModel(51, norm_qkt=False),
    "llama2-7b": SigmaModel(48), "llama2-13b": SigmaModel(48),
}


def sigma_spec(model: ModelSpec) -> ModelSpec:
    """``model`` with SIGMA's ring width (a KeyError names the models SIGMA's code has)."""
    if model.name not in SIGMA_MODELS:
        raise KeyError(f"SIGMA's code has no model {model.name!r}; allowed: {', '.join(SIGMA_MODELS)}")
    return replace(model, n_bits=SIGMA_MODELS[model.name].bits, frac_bits=FRAC_BITS)


def _log2(x: int) -> int:
    return (x - 1).bit_length()


def _matmul(name: str, batches: int, m: int, k: int, n: int, shift: int, *, weights: bool,
            lower: bool = False) -> dict:
    """One masked matmul + TrFloor: ``batches`` products (m x k)(k x n); ``weights``: the right operand is
    a weight matrix (copied to the GPU at every call, one (k x n) shared by the batches unless
    ``batches`` are heads of one projection); ``lower``: only the lower triangle of C is kept."""
    return {"name": name, "batches": batches, "m": m, "k": k, "n": n, "shift": shift, "weights": weights,
            "lower": lower}


def _matmul_run(name: str, mm: dict, *, shared_a: bool = False) -> RunSpec:
    macs = mm["batches"] * mm["m"] * mm["k"] * mm["n"]
    weight_elems = mm["batches"] * mm["k"] * mm["n"] if mm["weights"] else 0
    # two int64 GEMMs per masked product (2 flops per multiply-accumulate); the weights go to the GPU
    return RunSpec(name, name, (TaskSpec("sigma_matmul", {**mm, "shared_a": shared_a}),), "linear",
                   local_flops_before=4 * macs, local_matmul_elems=weight_elems, planner=False)


def _run(name: str, kind: str, section: str, **params) -> RunSpec:
    return RunSpec(name, name, (TaskSpec(kind, params),), section, planner=False)


def sigma_block(model: ModelSpec, seq_len: int) -> list[RunSpec]:
    """The runs of one SIGMA transformer block (all blocks are identical), in SIGMA's program order."""
    cfg = SIGMA_MODELS[model.name]
    s, d, h, f = seq_len, model.d_model, model.n_heads, FRAC_BITS
    dw, ff = model.head_dim, model.d_ff
    llama = model.activation == "silu"
    causal = model.causal
    # gpu_mha.h: 1/sqrt(d_head) folds into Q.K^T's shift when log2(d_head) is even, else a scalar mul
    qk_shift = f + _log2(dw) // 2 if cfg.norm_qkt and _log2(dw) % 2 == 0 else f
    scale_mul = cfg.norm_qkt and _log2(dw) % 2 == 1
    norm = "rmsnorm" if llama else "layernorm"
    ln = lambda name: _run(name, "sigma_norm", "norm", rows=s, cols=d, mean=not llama)  # noqa: E731

    attention = [_matmul_run("QKV", _matmul("QKV", 3 * h, s, d, dw, f, weights=True), shared_a=True)]
    if llama:
        attention.append(_run("Rotary", "sigma_rotary", "linear", elems=h * s * dw, parts=2))
    attention.append(_matmul_run("QKt", _matmul("QKt", h, s, dw, s, qk_shift, weights=False, lower=causal)))
    scores = h * s * (s + 1) // 2 if causal else h * s * s
    if scale_mul:
        attention.append(_run("QKt_scale", "sigma_scale", "linear", elems=scores))
    attention += [
        _run("Softmax", "sigma_softmax", "softmax", heads=h, seq=s, causal=causal),
        _matmul_run("SmV", _matmul("SmV", h, s, s, dw, f, weights=False)),
        _matmul_run("OutProj", _matmul("OutProj", 1, s, d, d, f, weights=True)),
    ]
    if llama:
        ffn = [
            RunSpec("FFN_up", "FFN_up", (TaskSpec("sigma_matmuls", {"parts": (
                _matmul("up1", 1, s, d, ff, f, weights=True), _matmul("up2", 1, s, d, ff, f, weights=True))}),),
                "linear", local_flops_before=2 * 4 * s * d * ff, local_matmul_elems=2 * d * ff, planner=False),
            _run("SiLU", "sigma_activation", "act", elems=s * ff, silu=True),
            _run("FFN_mul", "sigma_mul", "linear", elems=s * ff),
            _matmul_run("FFN_down", _matmul("FFN_down", 1, s, ff, d, f, weights=True)),
        ]
    else:
        ffn = [
            _matmul_run("FFN_up", _matmul("FFN_up", 1, s, d, ff, f, weights=True)),
            _run("GeLU", "sigma_activation", "act", elems=s * ff, silu=False),
            _matmul_run("FFN_down", _matmul("FFN_down", 1, s, ff, d, f, weights=True)),
        ]
    if model.name.startswith("bert"):  # post-norm: MHA, add, LN, FFN, add, LN
        return [*attention, ln("LN1"), *ffn, ln("LN2")]
    return [ln(f"{norm}1"), *attention, ln(f"{norm}2"), *ffn]  # pre-norm
