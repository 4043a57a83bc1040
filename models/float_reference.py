"""Float64 reference of the zoo's transformer layer, in SUF's layer order (spec §4.2).

What it computes (docs/weights.md says where this follows SUF's code and where it departs), per layer,
for hidden states ``x`` of shape (..., T, D) (e.g. (T, D) or (B, T, D)):

    ln1      = LN(x; ln1_gamma, ln1_beta)                 pre-LN for every model, BERT included
    q, k, v  = split(ln1 @ wqkv + bqkv)                   (..., H, T, Dh) each
    scores   = q @ kᵀ / sqrt(Dh)                          (..., H, T, T), dense (masked entries kept)
    probs    = softmax over the valid keys of each row    0 at masked keys (causal: key s > query t)
    ctx      = probs @ v                                  (..., H, T, Dh)
    attn_out = merge_heads(ctx) @ wo + bo                 (..., T, D)
    h1       = x + attn_out                               the residual after attention
    ln2      = LN(h1; ln2_gamma, ln2_beta)
    mlp_hidden = ln2 @ w1 + b1                            (..., T, F)
    act      = GeLU (erf form) or SiLU of mlp_hidden
    mlp_out  = act @ w2 + b2
    out      = h1 + mlp_out

with LN(x) = (x − mean) / sqrt(var + eps) · gamma + beta over the last axis, var the biased (1/D)
variance, and eps = 1/1024 as in SUF. The names match docs/notes/suf_gate_facts.md §6 as
ln1 = h1, scores = S, probs = P, ctx = C, attn_out = A, h1 = R1, ln2 = h2, mlp_hidden = U, act = G,
mlp_out = M, out = Y there.
"""

import math

import numpy as np

from .specs import ModelSpec
from .weights import LayerWeights, ModelWeights, check_layer_weights

LN_EPS = 1 / 1024   # SUF's LayerNorm eps, added to the variance (transformer_layer.cpp:630-631, 685-686)

PHASES = ("ln1", "q", "k", "v", "scores", "probs", "ctx", "attn_out", "h1", "ln2", "mlp_hidden", "act",
          "mlp_out", "out")

_erf = np.vectorize(math.erf, otypes=[np.float64])   # NumPy has no erf; math.erf is exact to float64


def gelu(x: np.ndarray) -> np.ndarray:
    """GeLU in its erf form, 0.5·x·(1 + erf(x/√2)): the function SUF's GeLU splines fit (gelu_spline_table.hpp)."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def silu(x: np.ndarray) -> np.ndarray:
    """SiLU, x·sigmoid(x), written with tanh so that it does not overflow for large |x|."""
    return x * 0.5 * (1.0 + np.tanh(0.5 * x))


ACTIVATIONS = {"gelu": gelu, "silu": silu}


def layer_norm(x: np.ndarray, gamma: np.ndarray | None = None, beta: np.ndarray | None = None,
               eps: float = LN_EPS) -> np.ndarray:
    """LayerNorm over the last axis with the biased variance; absent gamma/beta are one/zero."""
    centred = x - x.mean(axis=-1, keepdims=True)
    out = centred / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + eps)
    if gamma is not None:
        out = out * gamma
    return out if beta is None else out + beta


def valid_keys(seq_len: int, causal: bool) -> np.ndarray:
    """(T, T) bool: ``[t, s]`` is true where query ``t`` attends to key ``s`` (s ≤ t when causal)."""
    if causal:
        return np.tril(np.ones((seq_len, seq_len), dtype=bool))
    return np.ones((seq_len, seq_len), dtype=bool)


def masked_softmax(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Softmax of each row of ``scores`` over its valid entries (``valid`` broadcasts); 0 elsewhere."""
    masked = np.where(valid, scores, -np.inf)
    e = np.exp(masked - masked.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _affine(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    y = x @ w
    return y if b is None else y + b


def _split_heads(x: np.ndarray, n_heads: int) -> np.ndarray:
    """(..., T, H·Dh) -> (..., H, T, Dh): head h takes columns h·Dh..(h+1)·Dh."""
    return np.moveaxis(x.reshape(*x.shape[:-1], n_heads, -1), -2, -3)


def _merge_heads(x: np.ndarray) -> np.ndarray:
    """(..., H, T, Dh) -> (..., T, H·Dh)."""
    moved = np.moveaxis(x, -3, -2)
    return moved.reshape(*moved.shape[:-2], -1)


def layer_forward(x: np.ndarray, weights: LayerWeights, spec: ModelSpec,
                  ln_eps: float = LN_EPS) -> dict[str, np.ndarray]:
    """One layer on hidden states ``x`` (..., T, D): every phase of ``PHASES`` by name (shapes above)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or x.shape[-1] != spec.d_model:
        raise ValueError(f"hidden states have shape {x.shape}; expected (..., T, {spec.d_model}) for {spec.name}")
    check_layer_weights(weights, spec)
    d, heads = spec.d_model, spec.n_heads
    r: dict[str, np.ndarray] = {"ln1": layer_norm(x, weights.ln1_gamma, weights.ln1_beta, ln_eps)}
    qkv = _affine(r["ln1"], weights.wqkv, weights.bqkv)
    r["q"], r["k"], r["v"] = (_split_heads(qkv[..., i * d:(i + 1) * d], heads) for i in range(3))
    r["scores"] = r["q"] @ np.swapaxes(r["k"], -1, -2) / math.sqrt(spec.head_dim)
    r["probs"] = masked_softmax(r["scores"], valid_keys(x.shape[-2], spec.causal))
    r["ctx"] = r["probs"] @ r["v"]
    r["attn_out"] = _affine(_merge_heads(r["ctx"]), weights.wo, weights.bo)
    r["h1"] = x + r["attn_out"]
    r["ln2"] = layer_norm(r["h1"], weights.ln2_gamma, weights.ln2_beta, ln_eps)
    r["mlp_hidden"] = _affine(r["ln2"], weights.w1, weights.b1)
    r["act"] = ACTIVATIONS[spec.activation](r["mlp_hidden"])
    r["mlp_out"] = _affine(r["act"], weights.w2, weights.b2)
    r["out"] = r["h1"] + r["mlp_out"]
    return r


def model_forward(x: np.ndarray, model_weights: ModelWeights, spec: ModelSpec, layers: int | None = None,
                  ln_eps: float = LN_EPS) -> list[dict[str, np.ndarray]]:
    """The first ``layers`` layers (all that ``model_weights`` holds if None), each fed the previous
    one's ``out`` (SUF has no final LayerNorm or head): one ``layer_forward`` dict per layer."""
    count = len(model_weights.layers) if layers is None else layers
    if not 1 <= count <= len(model_weights.layers):
        raise ValueError(f"layers = {count}: the weights hold 1 to {len(model_weights.layers)} layers")
    out = []
    for weights in model_weights.layers[:count]:
        out.append(layer_forward(x, weights, spec, ln_eps))
        x = out[-1]["out"]
    return out
