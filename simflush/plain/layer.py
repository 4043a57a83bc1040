"""A model's layers on values: SUF's executor runs (``models.layer``) fed with ring arrays, and what lies between them.

Between runs the layer does what SUF does locally (spec §4.2, facts §6): public-weight matmuls (exact in the ring:
signed x times integer weights, no shift, so Qf x Qf = Q2f, plus the bias at Q2f), head splits and merges, the
residual adds. Two departures from SUF's code, both exact in the reals and both needed on shares (docs/accuracy.md):
LayerNorm's gamma and beta are folded into the public matmul after it (SUF has neither), and the score scale
1/sqrt(Dh) = 2^-k c is taken by the score truncation (k more bits, ``models.layer.score_halvings``) and the Q columns of
W_qkv (c; 1 when Dh is a power of 4), where SUF shifts each party's share of Q K^T locally (facts C1).

Every phase of ``models.float_reference.PHASES`` is kept, decoded to reals in the float reference's shapes (``q`` with
c undone), so that the two can be compared phase by phase.
"""

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import Any

import numpy as np

from models.layer import RunSpec, score_halvings, split_into_chains, transformer_layer, uses_decode_path
from models.specs import ModelSpec
from models.weights import LayerWeights, ModelWeights, check_layer_weights

from ..executor.executor import RunConfig
from ..executor.records import RunSpan
from ..limits import max_flushes_per_run
from ..profiles import Settings
from ..tasks.local_ops import kept_copy
from ..tasks.values import FixedPoint, RingArith, RingArray
from ..workload import build_task
from .chains import join_outputs, split_inputs
from .clock import HostClock
from .context import Magnitudes, PlainContext, ValueUndefined, run_tasks
from .context import perform as plain_perform


@dataclass(frozen=True)
class FixedLayer:
    """One layer's public weights as integers: matrices at Qf, biases at Q2f (they join a Q2f product); and the
    LayerNorm affine maps folded into them, in float, to show ``ln1`` and ``ln2`` as the float reference has them."""

    wqkv: np.ndarray
    bqkv: np.ndarray
    wo: np.ndarray
    bo: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    ln_affine: tuple = ((None, None), (None, None))

    def shown(self, which: int, z: np.ndarray) -> np.ndarray:
        """LayerNorm ``which``'s normalised output as the float reference shows it (gamma and beta applied)."""
        gamma, beta = self.ln_affine[which]
        z = z if gamma is None else z * gamma
        return z if beta is None else z + beta


def encode_real(values: np.ndarray, bits: int) -> np.ndarray:
    """Reals at ``bits`` frac bits, rounded half away from zero as SUF's ``llround`` (int64)."""
    scaled = np.asarray(values, dtype=np.float64) * 2.0**bits
    return (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int64)


def _fold_norm(w: np.ndarray, b: np.ndarray | None, gamma: np.ndarray | None, beta: np.ndarray | None):
    """(ln * gamma + beta) @ w + b = ln @ (gamma w) + (beta @ w + b)."""
    bias = np.zeros(w.shape[1]) if b is None else b
    if beta is not None:
        bias = bias + beta @ w
    return (w if gamma is None else gamma[:, None] * w), bias


def fixed_layer(weights: LayerWeights, spec: ModelSpec, f: int) -> FixedLayer:
    """``weights`` folded (LayerNorm affine maps into the next matmul, the score scale's c into Q) and encoded at f."""
    check_layer_weights(weights, spec)
    d = spec.d_model
    wqkv, bqkv = _fold_norm(weights.wqkv, weights.bqkv, weights.ln1_gamma, weights.ln1_beta)
    scale = np.ones(3 * d)
    scale[:d] = q_scale(spec.head_dim)
    w1, b1 = _fold_norm(weights.w1, weights.b1, weights.ln2_gamma, weights.ln2_beta)
    def bias(b: np.ndarray | None) -> np.ndarray:
        return encode_real(np.zeros(d) if b is None else b, 2 * f)

    return FixedLayer(encode_real(wqkv * scale, f), encode_real(bqkv * scale, 2 * f), encode_real(weights.wo, f),
                      bias(weights.bo), encode_real(w1, f), encode_real(b1, 2 * f), encode_real(weights.w2, f),
                      bias(weights.b2), ((weights.ln1_gamma, weights.ln1_beta), (weights.ln2_gamma, weights.ln2_beta)))


def value_definition_error(spec: ModelSpec, seq_len: int, settings: Settings) -> str | None:
    """Why these settings have no value definition on shares (one line), or None."""
    opts, env = settings.layer, settings.env
    if opts.ln_gpu_variance:
        return ("SUF_LN_GPU=1 with SUF_BENCH_DEVICE_PIPELINE=1 computes the variance locally, which is not computable "
                "on shares; allowed: SUF_LN_GPU=0")
    if opts.softmax_trunc_ref and env.get("SUF_INV_MODE") != "sigma_gpu":
        return "SOFTMAX_TRUNC_REF=1 shifts each share locally, which has no exact value; allowed: SOFTMAX_TRUNC_REF=0"
    if env.get("SUF_INV_MODE") == "sigma_gpu" and opts.inv_sigma_muls:
        return (f"SUF_INV_MODE=sigma_gpu with inv_sigma_muls={opts.inv_sigma_muls}: what those multiplies compute is "
                "not known; allowed: inv_sigma_muls=0")
    return None


def q_scale(head_dim: int) -> float:
    """What the Q weights take of the score scale 1/sqrt(Dh): the part the score truncation's halvings do not."""
    return 2.0 ** score_halvings(head_dim) / math.sqrt(head_dim)


class ValueRun:
    """Runs one model's layers on values through one context (one executor for the whole model, as SUF).

    By default the context is a ``PlainContext`` on cleartext and its flushes are performed in the clear. A real
    backend passes its own ``context`` (one party's, on shares) and ``perform`` (its driver's flush), and
    ``decode=False``: the layer's local work is linear, so it runs on shares as it does on cleartext (party 0 alone
    adds the public biases), but phases of shares mean nothing."""

    def __init__(self, spec: ModelSpec, settings: Settings, fixed: FixedPoint, arith: Any, batch: int, seq_len: int,
                 policy: str = "suf", *, context: Any = None, perform: Callable | None = None, decode: bool = True):
        problem = value_definition_error(spec, seq_len, settings)
        if problem:
            raise ValueUndefined(problem)
        opts = settings.layer
        self.decode_path = uses_decode_path(spec, seq_len, opts)
        self.spec, self.batch, self.seq_len = spec, batch, seq_len
        self.fixed, self.a, self.xp = fixed, arith, arith.xp
        self.ctx = context or PlainContext(settings.party_executor(0, policy), fixed, arith)
        self.magnitudes = getattr(self.ctx, "magnitudes", Magnitudes())
        self.perform = perform or plain_perform(self.ctx)
        self.party, self.decode = self.ctx.party, decode
        self.runs: dict[str, RunSpec] = {r.name: r for r in transformer_layer(spec, seq_len, batch, opts)}
        self.chains = opts.chains   # > 1: each run's tasks are split into staggered chains (``plain.chains``)
        self.unsplit = {r.name: r for r in transformer_layer(spec, seq_len, batch, replace(opts, chains=1))}
        self.layer = 0
        self.spans: list[RunSpan] = []   # each executor run: layer, name, section, monotonic start and end
        # the context's clock when it has one (a GPU's events: filled in when the context resolves them)
        self.clock = getattr(self.ctx, "clock", None) or HostClock()
        self.matmul_s = 0.0              # the public-weight matmuls' time (on the context's clock)

    # -- plumbing ---------------------------------------------------------------------------------------------

    def run(self, name: str, inputs: list[RingArray]) -> list[Any]:
        """Executor run ``name`` of the layer, its tasks fed ``inputs`` in the order their builders ask for them
        (with chains: each unsplit task's inputs cut between its chain pieces, and its pieces' outputs joined)."""
        if self.chains == 1:
            return self._run(name, inputs)
        feed, groups, piece_inputs = iter(inputs), [], []
        for task in self.unsplit[name].tasks:
            pieces = split_into_chains(task, self.chains)
            whole, cut = split_inputs(task, pieces, feed, self.xp)
            groups.append((task, pieces, whole))
            piece_inputs.extend(v for piece in cut for v in piece)
        outputs, joined = iter(self._run(name, piece_inputs)), []
        for task, pieces, whole in groups:
            joined.append(join_outputs(task, pieces, whole, [next(outputs) for _ in pieces], self.xp))
        return joined

    def _run(self, name: str, inputs: list[RingArray]) -> list[Any]:
        spec = self.runs[name]
        feed: Iterator[RingArray] = iter(inputs)

        def make_input(words: int) -> RingArray:
            value = next(feed)
            if value.words != words:
                raise AssertionError(f"{name}: a task asked for {words} words, the layer has {value.words}")
            return value

        self.magnitudes.phase = name
        tasks = [build_task(self.ctx, t, make_input) for t in spec.tasks]
        start = self.clock.mark()
        out = run_tasks(self.ctx, tasks, RunConfig(self.layer, name, max_flushes_per_run(spec.section),
                                                   spec.planner), self.perform)
        self.clock.later(start, self.clock.mark(), partial(self._add_span, self.layer, name, spec.section))
        return out

    def _add_matmul(self, start: float, end: float) -> None:
        self.matmul_s += end - start

    def _add_span(self, layer: int, name: str, section: str, start: float, end: float) -> None:
        self.spans.append(RunSpan(layer, name, section, start, end))

    def ring(self, values: np.ndarray, scale: int, rows: Any = None) -> RingArray:
        return RingArray(self.a.encode(self.xp.asarray(values).reshape(-1)), scale, rows)

    def signed(self, x: RingArray) -> Any:
        return self.a.signed(x.data)

    def real(self, x: RingArray, shape: tuple[int, ...]) -> np.ndarray:
        values = self.signed(x).astype(np.float64) / 2.0**x.scale
        return np.asarray(values.get() if hasattr(values, "get") else values).reshape(shape)

    def public_matmul(self, x: RingArray, w: np.ndarray, b: np.ndarray) -> RingArray:
        """x (rows of w.shape[0], Qf) @ w (Qf) + b (Q2f): exact in the ring, Q2f."""
        start = self.clock.mark()
        dtype = self.xp.int64 if self.a.exact else self.xp.float64
        prod = self.signed(x).reshape(-1, w.shape[0]) @ self.xp.asarray(w, dtype=dtype)
        out = self.a.encode(prod + self.xp.asarray(b, dtype=dtype) if self.party == 0 else prod).reshape(-1)
        self.clock.later(start, self.clock.mark(), self._add_matmul)
        return RingArray(out, x.scale + self.fixed.frac_bits)

    def add(self, x: RingArray, y: RingArray) -> RingArray:
        assert x.scale == y.scale
        return RingArray(self.a.wrap(x.data + y.data), x.scale)

    # -- the layer --------------------------------------------------------------------------------------------

    def layer_forward(self, x: RingArray, w: FixedLayer) -> dict[str, np.ndarray]:
        """One layer on Qf hidden states ``x`` (B*T*D words); every phase, decoded, and ``out`` as a ring array."""
        B, T, D, H, Dh = self.batch, self.seq_len, self.spec.d_model, self.spec.n_heads, self.spec.head_dim
        f, bh = self.fixed.frac_bits, B * H
        phases: dict[str, Any] = {}

        def keep(name: str, value: RingArray, shape: tuple[int, ...], shown: Callable = lambda z: z) -> RingArray:
            if self.decode:
                phases[name] = shown(self.real(value, shape))
            return value

        (ln1,) = self.run("LN1", [x])
        keep("ln1", ln1, (B, T, D), lambda z: w.shown(0, z))
        (qkv,) = self.run("QKV_trunc", [self.public_matmul(ln1, w.wqkv, w.bqkv)])
        heads = self.signed(qkv).reshape(B, T, 3, H, Dh).transpose(2, 0, 3, 1, 4).reshape(3, bh, T, Dh)
        q, k, v = (RingArray(self.a.encode(heads[i]).reshape(-1), f) for i in range(3))
        keep("q", q, (B, H, T, Dh), lambda z: z / q_scale(Dh))
        keep("k", k, (B, H, T, Dh))
        keep("v", v, (B, H, T, Dh))
        if self.decode_path:
            context = self._decode_attention(heads, bh, T, Dh)
        else:
            k_t = RingArray(self.a.encode(heads[1].transpose(0, 2, 1)).reshape(-1), f)
            scores = self._matmul_run("Score_matmul", q, k_t, bh, T * Dh, Dh * T)
            (scores,) = self.run("Score_trunc", [scores])
            keep("scores", scores, (B, H, T, T))
            (probs,) = self.run("Softmax", [self._pack(scores, T)])
            probs = self._unpack(probs, bh, T)
            keep("probs", probs, (B, H, T, T))
            context = self._matmul_run("Ctx_matmul", probs, v, bh, T * T, T * Dh)
            (context,) = self.run("Ctx_trunc", [context])
        keep("ctx", context, (B, H, T, Dh))
        merged = self.signed(context).reshape(B, H, T, Dh).transpose(0, 2, 1, 3)
        (attn,) = self.run("OutProj_trunc", [self.public_matmul(RingArray(self.a.encode(merged).reshape(-1), f),
                                                                w.wo, w.bo)])
        keep("attn_out", attn, (B, T, D))
        h1 = keep("h1", self.add(x, attn), (B, T, D))
        (ln2,) = self.run("LN2", [h1])
        keep("ln2", ln2, (B, T, D), lambda z: w.shown(1, z))
        (hidden,) = self.run("MLP_trunc1", [self.public_matmul(ln2, w.w1, w.b1)])
        keep("mlp_hidden", hidden, (B, T, self.spec.d_ff))
        (act,) = self.run("MLP_act", [hidden])
        keep("act", act, (B, T, self.spec.d_ff))
        (mlp,) = self.run("MLP_trunc2", [self.public_matmul(act, w.w2, w.b2)])
        keep("mlp_out", mlp, (B, T, D))
        out = self.add(h1, mlp)
        keep("out", out, (B, T, D))
        phases["out_ring"] = out
        return phases

    def _decode_attention(self, heads: Any, bh: int, T: int, Dh: int) -> RingArray:
        """The per-token path (spec §4.3): for token t, each head's query row against keys 0..t (B*H matmul
        tasks), the scores' truncation, then the softmax run that ends with each row's P V and its truncation.
        The probabilities stay inside the softmax run: this path has no ``scores`` or ``probs`` phase."""
        f, xp = self.fixed.frac_bits, self.xp
        context = xp.zeros((bh, T, Dh), dtype=self.a.dtype)
        for t in range(T):
            cur = t + 1
            q_t = RingArray(self.a.encode(heads[0][:, t, :]).reshape(-1), f)
            k_t = RingArray(self.a.encode(heads[1][:, :cur, :].transpose(0, 2, 1)).reshape(-1), f)
            scores = self._matmul_run(f"Score_matmul@t{t}", q_t, k_t, bh, Dh, Dh * cur)
            (scores,) = self.run(f"Score_trunc@t{t}", [scores])
            rows = RingArray(scores.data, scores.scale, np.full(bh, cur, dtype=np.int64))
            values = RingArray(self.a.encode(heads[2][:, :cur, :]).reshape(-1), f)
            (ctx_t,) = self.run(f"Softmax@t{t}", [rows, values])
            context[:, t, :] = ctx_t.data.reshape(bh, Dh)
        return RingArray(context.reshape(-1), f)

    def _matmul_run(self, name: str, left: RingArray, right: RingArray, batches: int, left_words: int,
                    right_words: int) -> RingArray:
        """A Beaver matmul run: one batched task, or one task per (batch, head) taking its slices in turn."""
        tasks = len(self.unsplit[name].tasks)
        if tasks == 1:
            inputs = [left, right]
        else:
            inputs = [RingArray(m.data[i * words:(i + 1) * words], m.scale)
                      for i in range(batches) for m, words in ((left, left_words), (right, right_words))]
        products = self.run(name, inputs)
        return RingArray(self.xp.concatenate([p.data for p in products]), products[0].scale)

    def _pack(self, scores: RingArray, T: int) -> RingArray:
        """Dense (B*H, T, T) scores -> the active entries of each row back to back, with their row lengths."""
        index, lengths = _active_entries(self.spec.causal, scores.words // (T * T), T, self.xp)
        return RingArray(scores.data if index is None else scores.data[index], scores.scale, lengths)

    def _unpack(self, probs: RingArray, bh: int, T: int) -> RingArray:
        index, _ = _active_entries(self.spec.causal, bh, T, self.xp)
        if index is None:
            return RingArray(probs.data, probs.scale)
        dense = self.xp.zeros(bh * T * T, dtype=probs.data.dtype)
        dense[index] = probs.data
        return RingArray(dense, probs.scale)


@lru_cache(maxsize=64)
def _active_entries(causal: bool, bh: int, T: int, xp: Any) -> tuple[Any, np.ndarray]:
    """Where the active (causal: lower-triangle) entries of (bh, T, T) scores are (None: all are), and the row
    lengths (host int64). Kept per shape: the same every layer, and a boolean mask would sync a GPU each time."""
    valid = np.tril(np.ones((T, T), dtype=bool)) if causal else np.ones((T, T), dtype=bool)
    lengths = np.tile(valid.sum(axis=1), bh).astype(np.int64)
    if not causal:
        return None, lengths
    return kept_copy(np.flatnonzero(np.broadcast_to(valid, (bh, T, T))), xp), lengths


def plaintext_output(spec: ModelSpec, weights: ModelWeights, x: np.ndarray, settings: Settings, fixed: FixedPoint,
                     layers: int) -> np.ndarray:
    """The final hidden state's ring words of the plaintext fixed-point run (what a two-party run must reconstruct)."""
    runner = ValueRun(spec, settings, fixed, RingArith(fixed.n_bits, np), x.shape[0], x.shape[1], decode=False)
    hidden = runner.ring(encode_real(x, fixed.frac_bits), fixed.frac_bits)
    for i, layer in enumerate(weights.layers[:layers]):
        runner.layer = i
        hidden = runner.layer_forward(hidden, fixed_layer(layer, spec, fixed.frac_bits))["out_ring"]
    return hidden.data


def run_model(spec: ModelSpec, weights: ModelWeights, x: np.ndarray, settings: Settings, fixed: FixedPoint,
              arith_factory: Callable[[int, Any], Any], xp: Any = np, layers: int | None = None,
              policy: str = "suf") -> tuple[list[dict[str, np.ndarray]], Magnitudes]:
    """The first ``layers`` layers on hidden states ``x`` (B, T, D) encoded at Qf: per layer its decoded phases."""
    count = len(weights.layers) if layers is None else layers
    if not 1 <= count <= len(weights.layers):
        raise ValueError(f"layers = {count}: the weights hold 1 to {len(weights.layers)} layers")
    batch, seq_len, d = x.shape
    if d != spec.d_model:
        raise ValueError(f"hidden states have width {d}; {spec.name} has d_model {spec.d_model}")
    runner = ValueRun(spec, settings, fixed, arith_factory(fixed.n_bits, xp), batch, seq_len, policy)
    hidden = runner.ring(encode_real(x, fixed.frac_bits), fixed.frac_bits)
    out = []
    for i, layer_weights in enumerate(weights.layers[:count]):
        runner.layer = i
        phases = runner.layer_forward(hidden, fixed_layer(layer_weights, spec, fixed.frac_bits))
        hidden = phases.pop("out_ring")
        out.append(phases)
    return out, runner.magnitudes
