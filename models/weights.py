"""Weights of the zoo's layer in SUF's layout, and seeded random weights at a trained model's scale.

Layout (one layer, ``D = d_model``, ``F = d_ff``), every matrix stored (in, out) so that a row vector
multiplies it from the left (``x @ w``), as SUF's public-weight matmuls do:

- ``wqkv`` (D, 3D): columns ``[Q | K | V]``, head ``h`` at columns ``h*Dh:(h+1)*Dh`` of each third
  (SUF's QKV row layout, ``attention_block.cpp:1519-1532``); ``bqkv`` (3D,);
- ``wo`` (D, D), ``bo`` (D,): the attention output projection;
- ``w1`` (D, F), ``b1`` (F,) and ``w2`` (F, D), ``b2`` (D,): the MLP, ``act(x @ w1 + b1) @ w2 + b2``;
- ``ln1_gamma``/``ln1_beta`` and ``ln2_gamma``/``ln2_beta`` (D,): the two LayerNorms' affine maps.

A bias, gamma or beta of ``None`` is absent: zero for a bias and beta, one for gamma. SUF's bench has
neither biases nor LayerNorm affine maps (docs/notes/suf_gate_facts.md, C3), so ``random_weights``
leaves them out unless asked.
"""

from dataclasses import dataclass, fields

import numpy as np

from .specs import ModelSpec

INIT_STD = 0.02   # BERT's and GPT-2's initializer_range; trained BERT/GPT-2 matrices sit at std 0.02-0.05
_INPUT_STREAM = 2**32 - 1   # the stream key of random_hidden_states, apart from the layers' keys 0, 1, ...


@dataclass(frozen=True)
class LayerWeights:
    """One layer's weights, float64 (shapes in the module docstring)."""

    wqkv: np.ndarray
    wo: np.ndarray
    w1: np.ndarray
    w2: np.ndarray
    bqkv: np.ndarray | None = None
    bo: np.ndarray | None = None
    b1: np.ndarray | None = None
    b2: np.ndarray | None = None
    ln1_gamma: np.ndarray | None = None
    ln1_beta: np.ndarray | None = None
    ln2_gamma: np.ndarray | None = None
    ln2_beta: np.ndarray | None = None

    @property
    def wq(self) -> np.ndarray:
        return self.wqkv[:, : self.wo.shape[0]]

    @property
    def wk(self) -> np.ndarray:
        d = self.wo.shape[0]
        return self.wqkv[:, d: 2 * d]

    @property
    def wv(self) -> np.ndarray:
        return self.wqkv[:, 2 * self.wo.shape[0]:]


@dataclass(frozen=True)
class ModelWeights:
    """The weights of the first ``len(layers)`` layers; ``origin`` says where they came from."""

    layers: tuple[LayerWeights, ...]
    origin: str


def expected_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """The shape of every ``LayerWeights`` field for ``spec``."""
    d, f = spec.d_model, spec.d_ff
    return {"wqkv": (d, 3 * d), "wo": (d, d), "w1": (d, f), "w2": (f, d),
            "bqkv": (3 * d,), "bo": (d,), "b1": (f,), "b2": (d,),
            "ln1_gamma": (d,), "ln1_beta": (d,), "ln2_gamma": (d,), "ln2_beta": (d,)}


def check_layer_weights(weights: LayerWeights, spec: ModelSpec) -> None:
    """ValueError naming the first field whose shape or dtype does not fit ``spec``."""
    shapes = expected_shapes(spec)
    for field in fields(weights):
        value = getattr(weights, field.name)
        if value is None:
            continue
        if value.shape != shapes[field.name]:
            raise ValueError(f"{field.name} has shape {value.shape}; expected {shapes[field.name]} for {spec.name}")
        if value.dtype != np.float64:
            raise ValueError(f"{field.name} has dtype {value.dtype}; expected float64")


def random_weights(spec: ModelSpec, seed: int, layers: int | None = None, affine: bool = False,
                   std: float = INIT_STD) -> ModelWeights:
    """Seeded weights of the first ``layers`` layers (all of them if None), float64.

    Every matrix entry is N(0, std²); the default 0.02 is BERT's and GPT-2's initialisation: with
    unit-variance LayerNorm outputs, Q, K, V entries then have std 0.02·sqrt(D) (0.55 at D = 768),
    scores are O(1) and the residual stream stays O(1). With ``affine``, biases and betas are drawn
    N(0, std²) too and gammas 1 + N(0, std²), to exercise those paths; without it they are absent,
    as in SUF's bench.

    Layer ``i`` is drawn from its own stream, seeded by ``(seed, i)``: it does not depend on how many
    layers are drawn. Deterministic for a seed and a NumPy version (NumPy may change Generator streams).
    """
    count = spec.n_layers if layers is None else layers
    if not 1 <= count <= spec.n_layers:
        raise ValueError(f"layers = {count}: {spec.name} has 1 to {spec.n_layers} layers")
    if not std > 0:
        raise ValueError(f"std = {std}: must be positive")
    shapes = expected_shapes(spec)
    out = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        draw = {name: rng.normal(0.0, std, shapes[name]) for name in ("wqkv", "wo", "w1", "w2")}
        if affine:
            draw |= {name: rng.normal(0.0, std, shapes[name]) for name in ("bqkv", "bo", "b1", "b2")}
            for ln in ("ln1", "ln2"):
                draw[f"{ln}_gamma"] = 1.0 + rng.normal(0.0, std, shapes[f"{ln}_gamma"])
                draw[f"{ln}_beta"] = rng.normal(0.0, std, shapes[f"{ln}_beta"])
        out.append(LayerWeights(**draw))
    return ModelWeights(tuple(out), f"random(seed={seed}, std={std}{', affine' if affine else ''})")


def random_hidden_states(spec: ModelSpec, seq_len: int, seed: int, batch: int = 1) -> np.ndarray:
    """A layer-0 input (batch, seq_len, D), float64: N(0, 1) entries, the scale of a LayerNormed embedding."""
    return np.random.default_rng([seed, _INPUT_STREAM]).normal(0.0, 1.0, (batch, seq_len, spec.d_model))
