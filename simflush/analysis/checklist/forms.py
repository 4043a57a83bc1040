"""Closed forms of every task type and variant: what each task opens and evaluates, per party.

Each task spec (``models.layer.TaskSpec``) becomes a tuple of *items*, in protocol order:

- a ``Step`` is one open flush of ``words`` ring words (kind ``B`` Beaver differences or ``M`` masked
  input) and the PFSS flushes that follow it (``pfss_flushes`` of ``pfss_jobs`` jobs and
  ``hatx_words`` words), or an FSS gate the task evaluates itself (``fss="direct"``: no flush);
- a ``Block`` repeats its items ``repeat`` times (Newton iterations, softmax reduction rounds, the
  decode path's rows).

The sizes are formulas of the spec's parameters (rows, cols, iterations, ragged lengths) written out
from the task definitions in ``simflush.tasks`` (spec §3 and DESIGN.md §5): nothing here runs a task or
the executor. In a run with one task every open and every PFSS job is its own flush (the task waits
for each result before it reserves the next), so counts are sums of ``repeat x item``; the B*H
per-head matmul tasks of one run reserve in the same wave and share one open flush.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from models.layer import TaskSpec

from ...limits import PER_ELEMENT_CHUNK
from ...tasks import gates as G
from ...tasks.context import Batch


@dataclass(frozen=True)
class Step:
    """One open (``open_kind`` ``B`` or ``M``; ``""`` for none) and what follows it, per party.

    ``formula``: the step's structure in the task's parameters, e.g. ``O(2n, B)`` or ``O(n, M) + P(n)``.
    ``fss``: ``"batch"`` (a PFSS job in the ``batch`` batch, one PFSS flush per job chunk),
    ``"direct"`` (the task evaluates ``gate`` itself on ``direct_words`` words: no flush) or ``""``.
    """

    label: str
    formula: str
    open_kind: str = ""
    words: int = 0
    pfss_flushes: int = 0
    pfss_jobs: int = 0
    hatx_words: int = 0
    gate: str = ""
    batch: Batch | None = None
    fss: str = ""
    direct_words: int = 0
    shortcuts: tuple[str, ...] = ()   # keys of SHORTCUTS: what SUF's code does here that no secure protocol may


# What SUF's snapshot does that a secure two-party protocol may not (spec §6.4, docs/notes/suf_gate_facts.md C1), and
# what the value path (docs/accuracy.md) and the real backend do instead. The counts are the snapshot's either way.
SHORTCUTS = {
    "one_mask": "one input mask r_in per PFSS job, not per element: x̂_i − x̂_j reveals x_i − x_j "
                "(SUF_PER_ELEMENT_MASKS=1 gives each truncation element its own, at one flush per 1024 elements)",
    "rsqrt_init": "RsqrtTask unmasks x with the key's own r_in to compute c0 + (c1·x) >> f; the value path asks "
                  "the init gate for y0 itself (same open and job)",
    "rsqrt_half": "SUF halves x·y² by shifting each party's share (>> 1); the value path folds the 1/2 into this "
                  "truncation's shift (f + 1)",
    "score_scale": "SUF scales each party's share of Q·Kᵀ locally ((acc·inv_sqrt) >> f); the value path takes "
                   "1/sqrt(Dh)'s power of two in this truncation's shift and the rest in W_q",
    "ln_gpu_variance": "the variance Σ(x−μ)² computed on each party's share alone is not the variance; the value "
                       "path has no definition for it",
}


@dataclass(frozen=True)
class Block:
    """``items`` repeated ``repeat`` times; ``count`` says where the repeat comes from (e.g. ``rsqrt_iters``)."""

    label: str
    repeat: int
    count: str
    items: tuple


# -- building blocks ----------------------------------------------------------------------------------

def mul(label: str, n: int, what: str = "2n") -> Step:
    """MulTask / row-broadcast / matmul: one Beaver open, no PFSS."""
    return Step(label, f"O({what}, B)", "B", n)


def trunc(label: str, n: int, gate: G.Gate, per_element: bool = False, sym: str = "n",
          shortcuts: tuple[str, ...] = ()) -> Step:
    """TruncTask: O(n, M) then P(n); per-element masks: ceil(n/1024) flushes of n one-word jobs."""
    if per_element:
        return Step(label, f"O({sym}, M) + ⌈{sym}/1024⌉·P", "M", n, -(-n // PER_ELEMENT_CHUNK), n, n,
                    gate.name, Batch.TRUNC, "batch", shortcuts=shortcuts)
    return Step(label, f"O({sym}, M) + P({sym})", "M", n, 1, 1, n, gate.name, Batch.TRUNC, "batch",
                shortcuts=(*shortcuts, "one_mask"))


def relu(label: str, n: int, sym: str) -> Step:
    return Step(label, f"O({sym}, M) + P({sym})", "M", n, 1, 1, n, G.RELU.name, Batch.TRUNC, "batch",
                shortcuts=("one_mask",))


def open_coeff(label: str, n: int, gate: G.Gate, sym: str = "n") -> Step:
    """OpenXhat + one coefficient job in the coeff batch (RsqrtTask, CubicPolyTask, RecipTask)."""
    return Step(label, f"O({sym}, M) + P({sym})", "M", n, 1, 1, n, gate.name, Batch.COEFF, "batch",
                shortcuts=("one_mask",))


def open_eval(label: str, n: int, gate: G.Gate, via_batch: bool, sym: str = "n") -> Step:
    """A sigma-style task's open of x_hat and its FSS gate: through the PFSS batch or direct."""
    if via_batch:
        return Step(label, f"O({sym}, M) + P({sym})", "M", n, 1, 1, n, gate.name, Batch.COEFF, "batch",
                    shortcuts=("one_mask",))
    return Step(label, f"O({sym}, M) + direct FSS({sym})", "M", n, gate=gate.name, fss="direct", direct_words=n,
                shortcuts=("one_mask",))


def local(label: str, *shortcuts: str) -> Step:
    """A truncation or product computed locally: listed for reading, counts nothing."""
    return Step(label, "local", "", shortcuts=shortcuts)


# -- task types ------------------------------------------------------------------------------------

def rsqrt_items(n: int, gates: tuple[G.Gate, G.Gate, G.Gate], iters: int, live_init: bool) -> tuple:
    """RsqrtTask: 1 + 6·iters opens, 1 + 3·iters PFSS (+ InitMul and InitTrunc when live)."""
    g_y2, g_xy2, g_out = gates
    items: list = [open_coeff("rsqrt: open x̂, affine-init coeff", n, G.RSQRT_INIT)]
    if live_init:
        items += [mul("rsqrt InitMul c1·x", 2 * n), trunc("rsqrt InitTrunc", n, g_y2)]
    else:
        items.append(local("rsqrt init y0 = c0 + c1·x (local, snapshot)", "rsqrt_init"))
    newton = (mul("y·y", 2 * n), trunc("trunc y²", n, g_y2), mul("x·y²", 2 * n),
              trunc("trunc x·y²", n, g_xy2, shortcuts=("rsqrt_half",)),
              mul("y·t", 2 * n), trunc("trunc y·t", n, g_out))
    items.append(Block("rsqrt Newton iteration", iters, f"rsqrt_iters = {iters}", newton))
    return tuple(items)


def rsqrt_sigma_items(n: int, via_batch: bool, steps: int, gate: G.Gate) -> tuple:
    """RsqrtSigmaGpuTask: open + 13-bit LUT, then 0 or 1 Newton step (3 multiplies, 1 trunc)."""
    step = (mul("y·y", 2 * n), mul("x·y²", 2 * n), mul("y·(3 − x·y²)", 2 * n), trunc("trunc", n, gate))
    return (open_eval("rsqrt LUT: open x̂", n, G.RSQRT_LUT, via_batch),
            Block("LUT rsqrt Newton step", steps, f"rsqrt_iters = {steps}", step))


def rsqrt_newton_block(n: int, p: dict, gates: tuple[G.Gate, G.Gate, G.Gate]) -> Block:
    """SUF_RSQRT_MODE=suf: the Newton RsqrtTask over n rows."""
    return Block("rsqrt over n = N rows", 1, "", rsqrt_items(n, gates, p["rsqrt_iters"], p["rsqrt_live_init"]))


def rsqrt_lut_block(n: int, p: dict, gates: tuple[G.Gate, G.Gate, G.Gate]) -> Block:
    """SUF_RSQRT_MODE=sigma_gpu: RsqrtSigmaGpuTask over n rows."""
    return Block(f"rsqrt over n = N rows (LUT, {p['rsqrt'].value})", 1, "",
                 rsqrt_sigma_items(n, p["sigma_via_batch"], p["rsqrt_iters"], gates[2]))


def layernorm_items(p: dict) -> tuple:
    """LayerNormTask over N rows of D columns (snapshot: 12 opens + 7 PFSS); the rsqrt is the variant's."""
    N, D = p["rows"], p["cols"]
    gates = tuple(G.TRUNC_GATES[g] for g in p["rsqrt_gates"])
    items: list = [trunc("mean trunc", N, G.TRUNC_GATES[p["mean_gate"]], sym="N")]
    if p["gpu_variance"]:
        items.append(local("variance on the GPU (device pipeline + SUF_LN_GPU): no open", "ln_gpu_variance"))
    else:
        items.append(mul("variance multiply (x−μ)²", 2 * N * D, "2·N·D"))
    items.append(trunc("variance trunc (2f)", N, G.TRUNC_GATES[p["var_gate"]], sym="N"))
    items.append(p["rsqrt"].form(N, p, gates))
    items += [mul("normalise: row-broadcast multiply", N * D + N, "N·D + N"),
              trunc("norm trunc", N * D, G.TRUNC_GATES[p["norm_gate"]], sym="N·D")]
    return tuple(items)


def cubic_items(n: int, gate: G.Gate, truncs: tuple, label: str = "") -> tuple:
    """CubicPolyTask: r = 1: 1 open + 1 PFSS; r = 4: Horner with two truncs (6 + 3), or one (5 + 2)."""
    head = open_coeff(f"{label}open x̂, {gate.name} coeff (r = {gate.r})", n, gate)
    if gate.r == 1:
        return (head,)
    g1, g2 = truncs
    items = [head, mul("c3·x", 2 * n), mul("(m1 + c2)·x", 2 * n), trunc("trunc1", n, g1), mul("(p2 + c1)·x", 2 * n)]
    items.append(trunc("trunc2 (2f)", n, g2) if g2 is not None else local("final trunc dropped (nexp_final_trunc=0)"))
    return tuple(items)


def recip_items(n: int, iters: int, local_truncs: bool) -> tuple:
    """RecipTask (r = 4): 3 + 4·iters opens, 2 + 2·iters PFSS; SOFTMAX_TRUNC_REF drops every trunc."""
    def tr(label: str):
        return local(f"{label}: local shift (SOFTMAX_TRUNC_REF)") if local_truncs else trunc(label, n, G.GAPARS)
    iteration = (mul("y·x", 2 * n), tr("trunc y·x"), mul("y·(2 − t)", 2 * n), tr("trunc y·(2 − t)"))
    return (open_coeff("recip: open x̂, Recip coeff (r = 4)", n, G.RECIP), mul("InitMul c1·x", 2 * n),
            tr("InitTrunc"), Block("recip Newton iteration", iters, f"recip_iters = {iters}", iteration))


@lru_cache(maxsize=64)
def round_sizes(lengths: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    """Pairs per reduction round k = 0..K−1: d_k = Σ_r (⌈L_r/2^k⌉ − ⌈L_r/2^(k+1)⌉), K = ⌈log2 max L⌉.

    (Σ_k d_k = Σ_r (L_r − 1): each round removes ⌊L/2⌋ of a row's L candidates.)
    """
    longest = max((L for L, c in lengths if c), default=0)
    K = (longest - 1).bit_length() if longest > 1 else 0

    def s(k: int) -> int:
        return sum(c * -(-L // (1 << k)) for L, c in lengths)
    sums = [s(k) for k in range(K + 1)]
    return tuple(sums[k] - sums[k + 1] for k in range(K))


def _key(lengths: dict) -> tuple[tuple[int, int], ...]:
    return tuple(sorted(lengths.items()))


def _rounds_block(task: str, d: tuple[int, ...], rounds: list) -> tuple:
    return (Block(f"{task}: pairwise-max rounds, d_k = Σ_r ⌊⌈L_r/2^k⌉/2⌋", 1, f"K = {len(d)} rounds",
                  tuple(rounds)),)


def rowmax_relu_items(lengths: dict, p: dict) -> tuple:
    """SUF_ROWMAX_MODE=suf: RowMaxDiffTask, 1 open + 1 PFSS per round."""
    d = round_sizes(_key(lengths))
    return _rounds_block("RowMaxDiffTask", d, [relu(f"round {k}: ReLU(a − b)", dk, f"d{k}") for k, dk in enumerate(d)])


def rowmax_lut_items(lengths: dict, p: dict) -> tuple:
    """SUF_ROWMAX_MODE=sigma_gpu: RowMaxDiffSigmaGpuTask, 3 opens per round."""
    d = round_sizes(_key(lengths))
    rounds = []
    for k, dk in enumerate(d):
        rounds += [open_eval(f"round {k}: open diff, DReLU", dk, G.DRELU, p["sigma_via_batch"], f"d{k}"),
                   mul(f"round {k}: B2A", 2 * dk, f"2·d{k}"), mul(f"round {k}: relu·diff", 2 * dk, f"2·d{k}")]
    return _rounds_block("RowMaxDiffSigmaGpuTask", d, rounds)


def _final_trunc(p: dict) -> G.Gate | None:
    return G.GAPARS if p["nexp_final_trunc"] else None


def nexp_spline_block(A: int, p: dict) -> Block:
    """SUF_NEXP_MODE=suf: nExp as a CubicPolyTask over A active elements."""
    return Block(f"nExp over A = {A:,} active", 1, "", cubic_items(A, G.NEXP, (G.GAPARS, _final_trunc(p)), "nExp: "))


def nexp_lut_block(A: int, p: dict) -> Block:
    """SUF_NEXP_MODE=sigma_gpu: NExpSigmaGpuTask over A active elements."""
    final = _final_trunc(p)
    items = (open_eval("nExp LUT: open x̂", A, G.NEXP_LUT, p["sigma_via_batch"], "A"), mul("msb·lsb", 2 * A, "2A"),
             trunc("trunc to target scale", A, final, sym="A") if final else
             local("final trunc dropped (nexp_final_trunc=0)"))
    return Block(f"nExp over A = {A:,} active ({p['nexp'].value})", 1, "", items)


def inv_recip_block(R: int, p: dict) -> Block:
    """SUF_INV_MODE=suf: RecipTask over R rows."""
    return Block(f"inverse over R = {R:,} rows", 1, "", recip_items(R, p["recip_iters"], p["recip_local_truncs"]))


def inv_lut_block(R: int, p: dict) -> Block:
    """SUF_INV_MODE=sigma_gpu: InvSigmaGpuTask over R rows."""
    muls = p["inv_sigma_muls"]
    items = (open_eval("inv LUT: open x̂", R, G.INV_LUT, p["sigma_via_batch"], "R"),
             Block("Beaver multiply y·sum", muls, f"inv_sigma_muls = {muls}", (mul("y·sum", 2 * R, "2R"),)))
    return Block(f"inverse over R = {R:,} rows ({p['inv'].value})", 1, "", items)


def softmax_block_items(lengths: dict, p: dict) -> tuple:
    """SoftmaxBlockTask over R rows with A active elements: nExp, inverse (the variants'), row-broadcast,
    prob trunc."""
    A = sum(L * c for L, c in lengths.items())
    R = sum(lengths.values())
    items: list = [p["nexp"].form(A, p), p["inv"].form(R, p),
                   mul("probabilities: row-broadcast multiply", A + R, "A + R")]
    if A and p["prob_trunc"]:
        items.append(trunc("probability trunc", A, G.GAPARS, sym="A"))
    elif A:
        items.append(local("probability trunc dropped (prob_trunc=0)"))
    return tuple(items)


def attention_softmax_items(p: dict) -> tuple:
    """SeqTwoTask(RowMaxDiff, SoftmaxBlock); the row max is the variant's."""
    return p["rowmax"].form(p["lengths"], p) + softmax_block_items(p["lengths"], p)


def decode_softmax_items(p: dict) -> tuple:
    """Decode path: row max + softmax block, then per row a per-product matmul and a Dh trunc."""
    (cur, rows), = p["lengths"].items()
    dh = p["head_dim"]
    per_row = (mul("per-product matmul p·V", 2 * cur * dh, "2·cur·Dh"),
               trunc("ctx trunc", dh, G.TRUNC_GATES[p["ctx_gate"]], sym="Dh"))
    return (*attention_softmax_items(p), Block("per row, sequentially", rows, f"rows = B·H = {rows}", per_row))


def matmul_items(tasks: tuple[TaskSpec, ...]) -> tuple:
    """Beaver matmuls of one run: one open of Σ batches·(M·K + K·N) words, however many tasks."""
    words = sum(t.params["batches"] * (t.params["m"] * t.params["k"] + t.params["k"] * t.params["n"]) for t in tasks)
    what = "batches·(M·K + K·N)" if len(tasks) == 1 else f"{len(tasks)} tasks × (M·K + K·N), one shared open"
    return (mul("Beaver matmul: open D and E", words, what),)


def gelu_sigma_items(p: dict) -> tuple:
    n = p["n"]
    return (open_eval("GeLU LUT: open x̂ (DReLU + LUT)", n, G.GELU_LUT, p["sigma_via_batch"]),
            mul("select ReLU = DReLU·x", 2 * n))


ACTIVATION_GATES = {"gelu_const": G.GELU_CONST, "gelu_spline": G.GELU_SPLINE, "silu": G.SILU}

TASK_NAMES = {"layernorm": "LayerNormTask", "trunc": "TruncTask", "matmul": "Matmul2DTask",
              "attention_softmax": "SeqTwoTask(RowMaxDiff, SoftmaxBlock)",
              "decode_softmax": "SeqTwoTask(RowMaxDiff, SoftmaxProb) + per-row tail",
              "cubic": "CubicPolyTask", "gelu_sigma": "GeluSigmaGpuTask"}


def task_items(spec: TaskSpec) -> tuple:
    """The closed-form items of one (non-matmul) task spec."""
    p = spec.params
    if spec.kind == "layernorm":
        return layernorm_items(p)
    if spec.kind == "trunc":
        score = ("score_scale",) if p.get("halvings") else ()
        return (trunc("trunc", p["n"], G.TRUNC_GATES[p["gate"]], p["per_element"], shortcuts=score),)
    if spec.kind == "cubic":
        gate = ACTIVATION_GATES[p["gate"]]
        return cubic_items(p["n"], gate, tuple(G.TRUNC_GATES[g] for g in p["truncs"]))
    if spec.kind == "gelu_sigma":
        return gelu_sigma_items(p)
    if spec.kind == "attention_softmax":
        return attention_softmax_items(p)
    if spec.kind == "decode_softmax":
        return decode_softmax_items(p)
    raise ValueError(f"no closed form for task kind {spec.kind!r}")


def describe(spec: TaskSpec, count: int = 1) -> str:
    """The task and its parameters, e.g. ``TruncTask(n = 294,912, GapARS)``."""
    p = spec.params
    name = TASK_NAMES[spec.kind]
    if spec.kind == "layernorm":
        return f"{name}(N = {p['rows']:,} rows, D = {p['cols']:,} cols)"
    if spec.kind == "trunc":
        pe = ", per-element masks" if p["per_element"] else ""
        return f"{name}(n = {p['n']:,}, {G.TRUNC_GATES[p['gate']].name}{pe})"
    if spec.kind == "cubic":
        return f"{name}(n = {p['n']:,}, {ACTIVATION_GATES[p['gate']].name})"
    if spec.kind == "gelu_sigma":
        return f"{name}(n = {p['n']:,})"
    if spec.kind == "matmul":
        shape = f"{p['batches']} × ({p['m']}×{p['k']})·({p['k']}×{p['n']})"
        return f"{count} × {name}({shape})" if count > 1 else f"BatchedMatmul2DTask({shape})"
    lengths = p["lengths"]
    rows, active = sum(lengths.values()), sum(L * c for L, c in lengths.items())
    ragged = "ragged" if len(lengths) > 1 else f"L = {next(iter(lengths))}"
    return f"{name}(R = {rows:,} rows, A = {active:,} active, {ragged})"
