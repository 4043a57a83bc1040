"""One transformer layer as SUF's sequence of executor runs (spec §4.2-§4.3), as plain data.

A ``RunSpec`` names a run, the public-weight matmul that precedes it (local compute, in flops) and
its tasks as ``TaskSpec``s (a task kind and its parameters). ``simflush.workload`` turns task specs
into task instances; the analytic checklist reads the same specs.
"""

from dataclasses import dataclass, field

from .specs import ModelSpec

RUNS_PER_LAYER_PREFILL = 12


@dataclass(frozen=True)
class TaskSpec:
    kind: str      # layernorm, trunc, matmul, attention_softmax, cubic, decode_softmax
    params: dict


@dataclass(frozen=True)
class RunSpec:
    name: str
    phase: str                     # SUF phase label: LN1, QKV_Score, Softmax, OutProj, LN2_MLP
    tasks: tuple[TaskSpec, ...]
    section: str                   # ln1, attention, ln2, mlp (the bench's section timers)
    local_flops_before: int = 0    # public-weight matmul flops computed locally before the run
    max_flushes: int = 1 << 11     # executor max_flushes_ (2^10 in the MLP block)
    planner: bool = True           # a phase planner is installed for this run


@dataclass(frozen=True)
class LayerOptions:
    """Schedule-relevant settings (named after SUF's env knobs where it has one)."""

    gelu_const: bool = True               # SUF_GELU_CONST
    causal_prefill: bool = True           # SUF_CAUSAL_PREFILL
    per_element_masks: bool = False       # SUF_PER_ELEMENT_MASKS
    softmax_trunc_ref: bool = False       # SOFTMAX_TRUNC_REF
    rsqrt_iters: int = 1
    recip_iters: int = 1
    batched_matmul: bool = True           # SUF_MATMUL_BEAVER_BATCHED on the GPU backend
    ln_gpu_variance: bool = False         # SUF_BENCH_DEVICE_PIPELINE with SUF_LN_GPU
    eager_pfss: bool = False              # SUF_BENCH_EAGER_PFSS: no planner in attention/MLP
    extra: dict = field(default_factory=dict)


def _trunc(n: int, gate: str, opts: LayerOptions) -> TaskSpec:
    return TaskSpec("trunc", {"n": n, "gate": gate, "per_element": opts.per_element_masks})


def _layernorm(rows: int, cols: int, var_gate: str, opts: LayerOptions) -> TaskSpec:
    return TaskSpec("layernorm", {
        "rows": rows, "cols": cols, "mean_gate": "gapars", "var_gate": var_gate,
        "rsqrt_gates": ("faithful", "faithful", "faithful"), "norm_gate": "faithful",
        "rsqrt_iters": opts.rsqrt_iters, "gpu_variance": opts.ln_gpu_variance})


def _matmul_tasks(batches: int, m: int, k: int, n: int, opts: LayerOptions) -> tuple[TaskSpec, ...]:
    """One batched Beaver matmul task, or one task per head; either way they share one open."""
    if opts.batched_matmul or batches == 1:
        return (TaskSpec("matmul", {"batches": batches, "m": m, "k": k, "n": n}),)
    return tuple(TaskSpec("matmul", {"batches": 1, "m": m, "k": k, "n": n}) for _ in range(batches))


def _softmax_options(opts: LayerOptions) -> dict:
    return {"recip_iters": opts.recip_iters, "recip_local_truncs": opts.softmax_trunc_ref}


def uses_decode_path(model: ModelSpec, seq_len: int, opts: LayerOptions) -> bool:
    """Causal models take the per-token path without prefill or at T == 1 (empty KV cache)."""
    return model.causal and (not opts.causal_prefill or seq_len == 1)


def transformer_layer(model: ModelSpec, seq_len: int, batch: int, opts: LayerOptions) -> list[RunSpec]:
    """The executor runs of one layer, in order (all layers are identical)."""
    T, B, D, F, H = seq_len, batch, model.d_model, model.d_ff, model.n_heads
    Dh, N = model.head_dim, batch * seq_len
    attn_planner = mlp_planner = not opts.eager_pfss
    runs = [
        RunSpec("LN1", "LN1", (_layernorm(N, D, "faithful", opts),), "ln1"),
        RunSpec("QKV_trunc", "QKV_Score", (_trunc(3 * N * D, "gapars", opts),), "attention",
                local_flops_before=2 * N * D * 3 * D, planner=attn_planner),
    ]
    if uses_decode_path(model, T, opts):
        runs += _decode_attention(B, H, T, Dh, opts, attn_planner)
    else:
        runs += _prefill_attention(model, B, H, T, Dh, opts, attn_planner)
    runs += [
        RunSpec("OutProj_trunc", "OutProj", (_trunc(N * D, "gapars", opts),), "attention",
                local_flops_before=2 * N * D * D, planner=attn_planner),
        RunSpec("LN2", "LN2_MLP", (_layernorm(N, D, "gapars", opts),), "ln2"),
        RunSpec("MLP_trunc1", "LN2_MLP", (_trunc(N * F, "gapars", opts),), "mlp",
                local_flops_before=2 * N * D * F, max_flushes=1 << 10, planner=mlp_planner),
        RunSpec("MLP_act", "LN2_MLP", (_activation(model, N * F, opts),), "mlp",
                max_flushes=1 << 10, planner=mlp_planner),
        RunSpec("MLP_trunc2", "LN2_MLP", (_trunc(N * D, "gapars", opts),), "mlp",
                local_flops_before=2 * N * F * D, max_flushes=1 << 10, planner=mlp_planner),
    ]
    return runs


def _activation(model: ModelSpec, n: int, opts: LayerOptions) -> TaskSpec:
    if model.activation == "silu":
        gate = "silu"
    else:
        gate = "gelu_const" if opts.gelu_const else "gelu_spline"
    return TaskSpec("cubic", {"n": n, "gate": gate, "truncs": ("gapars", "gapars")})


def _prefill_attention(model: ModelSpec, B: int, H: int, T: int, Dh: int, opts: LayerOptions,
                       planner: bool) -> list[RunSpec]:
    """Full-matrix path: dense rows (BERT) or causal prefill (ragged softmax, dense T^2 elsewhere)."""
    lengths = {t + 1: B * H for t in range(T)} if model.causal else {T: B * H * T}
    return [
        RunSpec("Score_matmul", "QKV_Score", _matmul_tasks(B * H, T, Dh, T, opts), "attention",
                planner=planner),
        RunSpec("Score_trunc", "QKV_Score", (_trunc(B * H * T * T, "gapars", opts),), "attention",
                planner=planner),
        RunSpec("Softmax", "Softmax", (TaskSpec("attention_softmax",
                                                {"lengths": lengths, **_softmax_options(opts)}),),
                "attention", planner=planner),
        RunSpec("Ctx_matmul", "Softmax", _matmul_tasks(B * H, T, T, Dh, opts), "attention",
                planner=planner),
        RunSpec("Ctx_trunc", "Softmax", (_trunc(B * H * T * Dh, "gapars", opts),), "attention",
                planner=planner),
    ]


def _decode_attention(B: int, H: int, T: int, Dh: int, opts: LayerOptions, planner: bool) -> list[RunSpec]:
    """Per-token path (spec §4.3): three runs per token; the context matmul and its truncation
    run per row inside the softmax run."""
    rows = B * H
    runs = []
    for t in range(T):
        cur = t + 1
        runs += [
            RunSpec(f"Score_matmul@t{t}", "QKV_Score",
                    tuple(TaskSpec("matmul", {"batches": 1, "m": 1, "k": Dh, "n": cur}) for _ in range(rows)),
                    "attention", planner=planner),
            RunSpec(f"Score_trunc@t{t}", "QKV_Score", (_trunc(rows * cur, "gapars", opts),), "attention",
                    planner=planner),
            RunSpec(f"Softmax@t{t}", "Softmax", (TaskSpec("decode_softmax", {
                "lengths": {cur: rows}, "head_dim": Dh, "ctx_gate": "gapars", **_softmax_options(opts)}),),
                "attention", planner=planner),
        ]
    return runs
