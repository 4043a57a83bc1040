"""One transformer layer as SUF's sequence of executor runs (spec §4.2-§4.3), as plain data.

A ``RunSpec`` names a run, the public-weight matmul that precedes it (local compute, in flops) and
its tasks as ``TaskSpec``s (a task kind and its parameters). ``simflush.workload`` turns task specs
into task instances; the analytic checklist reads the same specs.
"""

from dataclasses import dataclass, replace
from typing import Any

from .specs import ModelSpec


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
    local_matmul_elems: int = 0    # that matmul's input + output elements (copied to and from the GPU)
    hidden_elems: int = 0          # hidden-state elements (B*T*D) that reshapes/residual adds touch before it
    planner: bool = True           # a phase planner is installed for this run

    @property
    def family(self) -> str:
        """The kind of the run's tasks (they share one): what its local work per word is costed as."""
        return self.tasks[0].kind

    @property
    def matmul_out_per_word(self) -> float:
        """Beaver matmul tasks: elements of the product (combined from its shares and copied back) per
        opened difference word (each batch opens E (m x k) and F (k x n) and outputs m x n)."""
        mm = [t.params for t in self.tasks if t.kind == "matmul"]
        words = sum(p["batches"] * (p["m"] * p["k"] + p["k"] * p["n"]) for p in mm)
        return sum(p["batches"] * p["m"] * p["n"] for p in mm) / words if words else 0.0


@dataclass(frozen=True)
class LayerOptions:
    """Schedule-relevant settings, as ``simflush.profiles.resolve`` derives them from the runtime knobs
    (declared, with their defaults, in ``simflush.variants``; named here after the knob they come from).

    ``rowmax``, ``nexp``, ``inv`` and ``rsqrt`` are the task-variant choices of their knobs, carried
    into the task specs as they are (the workload builder and the checklist call them; nothing here
    reads them); ``gelu_kind`` is the task kind GeLU models use for the MLP activation.
    """

    gelu_const: bool                      # SUF_GELU_CONST
    causal_prefill: bool                  # SUF_CAUSAL_PREFILL
    per_element_masks: bool               # SUF_PER_ELEMENT_MASKS
    softmax_trunc_ref: bool               # SOFTMAX_TRUNC_REF
    rsqrt_iters: int
    recip_iters: int
    batched_matmul: bool                  # SUF_MATMUL_BEAVER_BATCHED on the GPU backend
    ln_gpu_variance: bool                 # SUF_BENCH_DEVICE_PIPELINE with SUF_LN_GPU
    eager_pfss: bool                      # SUF_BENCH_EAGER_PFSS: no planner in attention/MLP
    rowmax: Any                           # SUF_ROWMAX_MODE
    nexp: Any                             # SUF_NEXP_MODE
    inv: Any                              # SUF_INV_MODE
    rsqrt: Any                            # SUF_RSQRT_MODE
    gelu_kind: str                        # SUF_GELU_MODE: "cubic" or "gelu_sigma"
    rsqrt_live_init: bool                 # rsqrt_init_mode=mul_trunc: live InitMul + InitTrunc
    sigma_via_batch: bool                 # sigma_fss_via_pfss_batch
    nexp_final_trunc: bool
    prob_trunc: bool
    inv_sigma_muls: int                   # Beaver multiplies after InvSigmaGpuTask's LUT
    chains: int = 1                       # what-if: each run's rows split into this many staggered tasks

    def variants(self) -> dict:
        """The variant settings a task spec carries."""
        keys = ("rowmax", "nexp", "inv", "rsqrt", "rsqrt_live_init", "sigma_via_batch",
                "nexp_final_trunc", "prob_trunc", "inv_sigma_muls", "rsqrt_iters", "recip_iters")
        return {k: getattr(self, k) for k in keys}


def exp_scale_f(nexp_final_trunc: bool) -> int:
    """Frac bits of nExp's output in units of f: Qf, or Q2f without its final truncation."""
    return 1 if nexp_final_trunc else 2


def prob_scale_f(nexp_final_trunc: bool, prob_trunc: bool) -> int:
    """Frac bits of the softmax probabilities in units of f: Qf after the probability truncation, else one f more
    than the exponentials. The context truncation after P V takes this many f."""
    return 1 if prob_trunc else exp_scale_f(nexp_final_trunc) + 1


def score_halvings(head_dim: int) -> int:
    """The power of two in the score scale 1/sqrt(Dh) = 2^-k c (k = floor(log2(Dh) / 2), c in (1/sqrt 2, 1]): the
    score truncation takes k bits more, which halves the scores k times for free (SUF shifts each share of Q K^T
    locally instead); c, 1 when Dh is a power of 4, goes into the Q weights."""
    return (head_dim.bit_length() - 1) // 2


def _trunc(n: int, gate: str, opts: LayerOptions, shift_f: int = 1, halvings: int = 0) -> TaskSpec:
    """A TruncTask of ``n`` words by ``shift_f`` * f (a Q(1 + shift_f)f product back to Qf), and ``halvings`` bits
    more that halve the value."""
    params = {"n": n, "gate": gate, "per_element": opts.per_element_masks}
    extra = {k: v for k, v in (("shift_f", shift_f), ("halvings", halvings)) if v != (1 if k == "shift_f" else 0)}
    return TaskSpec("trunc", {**params, **extra})


def _layernorm(rows: int, cols: int, var_gate: str, opts: LayerOptions) -> TaskSpec:
    return TaskSpec("layernorm", {
        "rows": rows, "cols": cols, "mean_gate": "gapars", "var_gate": var_gate,
        "rsqrt_gates": ("faithful", "faithful", "faithful"), "norm_gate": "faithful",
        "gpu_variance": opts.ln_gpu_variance, **opts.variants()})


def _matmul_tasks(batches: int, m: int, k: int, n: int, opts: LayerOptions) -> tuple[TaskSpec, ...]:
    """One batched Beaver matmul task, or one task per head; either way they share one open."""
    if opts.batched_matmul or batches == 1:
        return (TaskSpec("matmul", {"batches": batches, "m": m, "k": k, "n": n}),)
    return tuple(TaskSpec("matmul", {"batches": 1, "m": m, "k": k, "n": n}) for _ in range(batches))


def _softmax_options(opts: LayerOptions) -> dict:
    return {"recip_local_truncs": opts.softmax_trunc_ref, **opts.variants()}


def uses_decode_path(model: ModelSpec, seq_len: int, opts: LayerOptions) -> bool:
    """Causal models take the per-token path without prefill or at T == 1 (empty KV cache)."""
    return model.causal and (not opts.causal_prefill or seq_len == 1)


def transformer_layer(model: ModelSpec, seq_len: int, batch: int, opts: LayerOptions) -> list[RunSpec]:
    """The executor runs of one layer, in order (all layers are identical)."""
    runs = _with_hidden_work(_layer_runs(model, seq_len, batch, opts), batch * seq_len * model.d_model)
    if opts.chains > 1:
        runs = [replace(r, tasks=tuple(c for t in r.tasks for c in split_into_chains(t, opts.chains)))
                for r in runs]
    return runs


def _layer_runs(model: ModelSpec, seq_len: int, batch: int, opts: LayerOptions) -> list[RunSpec]:
    T, B, D, F, H = seq_len, batch, model.d_model, model.d_ff, model.n_heads
    Dh, N = model.head_dim, batch * seq_len
    attn_planner = mlp_planner = not opts.eager_pfss
    runs = [
        RunSpec("LN1", "LN1", (_layernorm(N, D, "faithful", opts),), "ln1"),
        RunSpec("QKV_trunc", "QKV_Score", (_trunc(3 * N * D, "gapars", opts),), "attention",
                **_public_matmul(N, D, 3 * D), planner=attn_planner),
    ]
    if uses_decode_path(model, T, opts):
        runs += _decode_attention(B, H, T, Dh, opts, attn_planner)
    else:
        runs += _prefill_attention(model, B, H, T, Dh, opts, attn_planner)
    runs += [
        RunSpec("OutProj_trunc", "OutProj", (_trunc(N * D, "gapars", opts),), "attention",
                **_public_matmul(N, D, D), planner=attn_planner),
        RunSpec("LN2", "LN2_MLP", (_layernorm(N, D, "gapars", opts),), "ln2"),
        RunSpec("MLP_trunc1", "LN2_MLP", (_trunc(N * F, "gapars", opts),), "mlp",
                **_public_matmul(N, D, F), planner=mlp_planner),
        RunSpec("MLP_act", "LN2_MLP", (_activation(model, N * F, opts),), "mlp",
                planner=mlp_planner),
        RunSpec("MLP_trunc2", "LN2_MLP", (_trunc(N * D, "gapars", opts),), "mlp",
                **_public_matmul(N, F, D), planner=mlp_planner),
    ]
    return runs


def _with_hidden_work(runs: list[RunSpec], hidden: int) -> list[RunSpec]:
    """Every run but the truncation of a Beaver matmul's product (taken in place, no reshape between
    them) starts with reshapes/residual adds of the hidden state."""
    out, after_matmul = [], False
    for r in runs:
        out.append(replace(r, hidden_elems=0 if after_matmul else hidden))
        after_matmul = all(t.kind == "matmul" for t in r.tasks)
    return out


def _public_matmul(n: int, d_in: int, d_out: int) -> dict:
    """A public-weight matmul of ``n`` rows before a run: its flops and the elements it moves."""
    return {"local_flops_before": 2 * n * d_in * d_out, "local_matmul_elems": n * (d_in + d_out)}


def _activation(model: ModelSpec, n: int, opts: LayerOptions) -> TaskSpec:
    if model.activation == "gelu" and opts.gelu_kind == "gelu_sigma":
        return TaskSpec("gelu_sigma", {"n": n, "sigma_via_batch": opts.sigma_via_batch})
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
        RunSpec("Score_trunc", "QKV_Score", (_trunc(B * H * T * T, "gapars", opts,
                                                  halvings=score_halvings(Dh)),), "attention", planner=planner),
        RunSpec("Softmax", "Softmax", (TaskSpec("attention_softmax",
                                                {"lengths": lengths, **_softmax_options(opts)}),),
                "attention", planner=planner),
        RunSpec("Ctx_matmul", "Softmax", _matmul_tasks(B * H, T, T, Dh, opts), "attention",
                planner=planner),
        RunSpec("Ctx_trunc", "Softmax", (_trunc(B * H * T * Dh, "gapars", opts,
                                                prob_scale_f(opts.nexp_final_trunc, opts.prob_trunc)),),
                "attention", planner=planner),
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
            RunSpec(f"Score_trunc@t{t}", "QKV_Score",
                    (_trunc(rows * cur, "gapars", opts, halvings=score_halvings(Dh)),), "attention", planner=planner),
            RunSpec(f"Softmax@t{t}", "Softmax", (TaskSpec("decode_softmax", {
                "lengths": {cur: rows}, "head_dim": Dh, "ctx_gate": "gapars", **_softmax_options(opts)}),),
                "attention", planner=planner),
        ]
    return runs


def _parts(total: int, k: int) -> list[int]:
    """``total`` split into ``k`` near-equal positive parts (fewer if ``total < k``)."""
    k = min(k, total)
    return [total // k + (1 if i < total % k else 0) for i in range(k)]


def _split_lengths(lengths: dict, k: int) -> list[dict]:
    """Rows of each valid length dealt round-robin over ``k`` chains."""
    chains: list[dict] = [{} for _ in range(k)]
    start = 0
    for length, count in sorted(lengths.items()):
        for i in range(k):
            share = count // k + (1 if (i - start) % k < count % k else 0)
            if share:
                chains[i][length] = share
        start = (start + count) % k
    return [c for c in chains if c]


def split_into_chains(task: TaskSpec, k: int) -> list[TaskSpec]:
    """Split one task's row dimension into up to ``k`` independent tasks; chain ``i`` starts after
    the run's ``i``-th flush (``stagger``), so that chains sit at different stages of the protocol."""
    p = task.params
    if task.kind == "layernorm":
        pieces = [{**p, "rows": r} for r in _parts(p["rows"], k)]
    elif task.kind in ("trunc", "cubic", "gelu_sigma"):
        pieces = [{**p, "n": n} for n in _parts(p["n"], k)]
    elif task.kind == "matmul":
        if p["batches"] >= k:
            pieces = [{**p, "batches": b} for b in _parts(p["batches"], k)]
        else:
            pieces = [{**p, "m": m} for m in _parts(p["m"], k)]
    elif task.kind in ("attention_softmax", "decode_softmax"):
        pieces = [{**p, "lengths": part} for part in _split_lengths(p["lengths"], k)]
    else:
        raise ValueError(f"no chain split for task kind {task.kind!r}")
    return [TaskSpec(task.kind, {**piece, "stagger": i}) for i, piece in enumerate(pieces)]
