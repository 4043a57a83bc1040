"""The float64 layer reference (models/float_reference.py) against a per-head, per-row formulation written
independently here, and its properties: softmax rows, the causal mask, LayerNorm moments."""

import math

import numpy as np
import pytest
from tiny_models import TINY_BERT, TINY_GPT2, TINY_SILU

from models.float_reference import (
    LN_EPS,
    PHASES,
    gelu,
    layer_forward,
    layer_norm,
    model_forward,
    silu,
)
from models.specs import ModelSpec, get_model
from models.weights import random_hidden_states, random_weights

T = 7


def loop_layer(x: np.ndarray, w, spec: ModelSpec, eps: float) -> dict[str, np.ndarray]:
    """One layer on x (T, D), written with loops over rows, heads and keys and an explicit list of the keys
    each query may see: a formulation that shares no code with the module under test."""
    seq, d = x.shape
    ones, zeros = np.ones(d), np.zeros(d)

    def ln(rows, gamma, beta):
        gamma = ones if gamma is None else gamma
        beta = zeros if beta is None else beta
        return np.array([(r - np.mean(r)) / math.sqrt(np.var(r) + eps) * gamma + beta for r in rows])

    def bias(b, n):
        return np.zeros(n) if b is None else b

    ln1 = ln(x, w.ln1_gamma, w.ln1_beta)
    q, k, v = (ln1 @ w.wqkv[:, j * d:(j + 1) * d] + bias(w.bqkv, 3 * d)[j * d:(j + 1) * d] for j in range(3))
    dh = spec.head_dim
    ctx = np.zeros((seq, d))
    probs = np.zeros((spec.n_heads, seq, seq))
    for h in range(spec.n_heads):
        cols = slice(h * dh, (h + 1) * dh)
        for t in range(seq):
            keys = range(t + 1) if spec.causal else range(seq)
            s = [float(q[t, cols] @ k[u, cols]) / math.sqrt(dh) for u in keys]
            e = [math.exp(si - max(s)) for si in s]
            for u, ei in zip(keys, e, strict=True):
                probs[h, t, u] = ei / sum(e)
                ctx[t, cols] += probs[h, t, u] * v[u, cols]
    h1 = x + ctx @ w.wo + bias(w.bo, d)
    ln2 = ln(h1, w.ln2_gamma, w.ln2_beta)
    u = ln2 @ w.w1 + bias(w.b1, spec.d_ff)
    if spec.activation == "gelu":
        act = np.array([[0.5 * z * (1 + math.erf(z / math.sqrt(2))) for z in row] for row in u])
    else:
        act = np.array([[z / (1 + math.exp(-z)) for z in row] for row in u])
    out = h1 + act @ w.w2 + bias(w.b2, d)
    return {"ln1": ln1, "probs": probs, "ctx": ctx, "h1": h1, "ln2": ln2, "act": act, "out": out}


def layer(spec: ModelSpec, affine: bool = True, seed: int = 0):
    return random_weights(spec, seed, layers=1, affine=affine).layers[0]


@pytest.mark.parametrize("spec", [TINY_BERT, TINY_GPT2, TINY_SILU], ids=lambda s: s.name)
@pytest.mark.parametrize("affine", [False, True])
def test_layer_matches_the_loop_formulation(spec, affine):
    w = layer(spec, affine)
    x = random_hidden_states(spec, T, seed=1)[0]
    got = layer_forward(x, w, spec)
    want = loop_layer(x, w, spec, LN_EPS)
    assert tuple(got) == PHASES
    np.testing.assert_allclose(got["ctx"].transpose(1, 0, 2).reshape(T, -1), want.pop("ctx"), rtol=1e-10,
                               atol=1e-13)
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-10, atol=1e-13, err_msg=name)


def test_phase_shapes():
    spec = TINY_SILU
    r = layer_forward(random_hidden_states(spec, T, seed=1, batch=3), layer(spec), spec)
    h, dh, d, f = spec.n_heads, spec.head_dim, spec.d_model, spec.d_ff
    for name in ("q", "k", "v", "ctx"):
        assert r[name].shape == (3, h, T, dh), name
    assert r["scores"].shape == r["probs"].shape == (3, h, T, T)
    assert r["mlp_hidden"].shape == r["act"].shape == (3, T, f)
    for name in ("ln1", "attn_out", "h1", "ln2", "mlp_out", "out"):
        assert r[name].shape == (3, T, d), name


def test_a_batch_is_its_sequences_side_by_side():
    x = random_hidden_states(TINY_GPT2, T, seed=2, batch=2)
    w = layer(TINY_GPT2)
    both = layer_forward(x, w, TINY_GPT2)["out"]
    for b in range(2):
        np.testing.assert_allclose(both[b], layer_forward(x[b], w, TINY_GPT2)["out"], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("spec", [TINY_BERT, TINY_GPT2], ids=lambda s: s.name)
def test_softmax_rows_sum_to_one_over_the_valid_keys(spec):
    probs = layer_forward(random_hidden_states(spec, T, seed=3)[0], layer(spec), spec)["probs"]
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-13)
    assert (probs >= 0).all()
    later = np.triu(np.ones((T, T), dtype=bool), k=1)
    if spec.causal:
        assert (probs[:, later] == 0).all()
    else:
        assert (probs[:, later] > 0).all()


def test_causal_output_at_t_ignores_inputs_after_t():
    spec, w = TINY_GPT2, layer(TINY_GPT2)
    x = random_hidden_states(spec, T, seed=4)[0]
    changed = x.copy()
    changed[4:] = random_hidden_states(spec, T, seed=40)[0, 4:]    # only positions 4..T-1
    a, b = layer_forward(x, w, spec)["out"], layer_forward(changed, w, spec)["out"]
    np.testing.assert_allclose(a[:4], b[:4], rtol=0, atol=1e-13)
    assert not np.allclose(a[4:], b[4:])
    # without the mask (the same weights on a non-causal spec), earlier outputs do see the change
    c, e = layer_forward(x, w, TINY_BERT)["out"], layer_forward(changed, w, TINY_BERT)["out"]
    assert np.abs(c[:4] - e[:4]).max() > 1e-3


def test_layer_norm_gives_mean_zero_and_unit_variance_up_to_eps():
    x = random_hidden_states(TINY_BERT, T, seed=5)[0] * 3.0 + 2.0
    y = layer_norm(x)
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-14)
    var = x.var(axis=-1)
    np.testing.assert_allclose(y.var(axis=-1), var / (var + LN_EPS), rtol=1e-12)
    np.testing.assert_allclose(layer_norm(x, eps=0.0).var(axis=-1), 1.0, rtol=1e-12)
    assert LN_EPS == 1 / 1024


def test_layer_norm_applies_gamma_then_beta():
    x = random_hidden_states(TINY_BERT, T, seed=5)[0]
    gamma, beta = np.linspace(0.5, 2.0, 16), np.linspace(-1.0, 1.0, 16)
    np.testing.assert_allclose(layer_norm(x, gamma, beta), layer_norm(x) * gamma + beta, rtol=1e-14)


def test_activations_at_known_values():
    np.testing.assert_allclose(gelu(np.array([1.0, -1.0, 0.0])), [0.8413447460685429, -0.15865525393145707, 0.0],
                               rtol=1e-15)
    np.testing.assert_allclose(silu(np.array([1.0, -1.0])), [0.7310585786300049, -0.2689414213699951], rtol=1e-15)
    with np.errstate(over="raise"):
        np.testing.assert_allclose(silu(np.array([-1000.0, 1000.0])), [0.0, 1000.0])
    # the erf form, not GPT-2's tanh approximation (they differ by up to 4.7e-4, at x ≈ -2.70)
    x = np.array([-2.7])
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    assert abs(gelu(x) - tanh_form)[0] > 4e-4


def test_model_forward_feeds_each_layer_the_previous_output():
    spec = get_model("bert-tiny")
    weights = random_weights(spec, 6)
    x = random_hidden_states(spec, 16, seed=6)
    per_layer = model_forward(x, weights, spec)
    assert len(per_layer) == spec.n_layers
    np.testing.assert_array_equal(per_layer[0]["out"], layer_forward(x, weights.layers[0], spec)["out"])
    second = layer_forward(per_layer[0]["out"], weights.layers[1], spec)
    np.testing.assert_array_equal(per_layer[1]["out"], second["out"])
    assert len(model_forward(x, weights, spec, layers=1)) == 1
    with pytest.raises(ValueError, match="layers = 3: the weights hold 1 to 2 layers"):
        model_forward(x, weights, spec, layers=3)


def test_bad_shapes_are_value_errors():
    w = layer(TINY_BERT)
    with pytest.raises(ValueError, match=r"hidden states have shape \(7, 12\); expected \(\.\.\., T, 16\) for tiny"):
        layer_forward(np.zeros((T, 12)), w, TINY_BERT)
    with pytest.raises(ValueError, match="wqkv has shape"):
        layer_forward(np.zeros((T, 128)), w, get_model("bert-tiny"))
