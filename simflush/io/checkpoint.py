"""Importer of transformer checkpoints in safetensors format, mapped onto the zoo's layout (models/weights.py).

Two naming schemes are read, those of Hugging Face's ``BertModel`` and ``GPT2Model`` (with or without the
``bert.`` / ``transformer.`` prefix that their task heads add); docs/weights.md lists every name.

- BERT stores ``nn.Linear`` weights as (out, in): they are transposed to the zoo's (in, out), and the
  separate query, key and value matrices are concatenated into ``wqkv``.
- GPT-2 stores ``Conv1D`` weights as (in, out) and ``c_attn`` already as ``[Q | K | V]``: taken as they are.

Every tensor of the first ``layers`` layers must be present, F16, F32 or F64, finite, and of the shape
the model spec implies; anything else (embeddings, pooler, heads, GPT-2's mask buffers, more layers) is
ignored. LLaMA checkpoints are refused: their SwiGLU MLP, RMSNorm and rotary embeddings have no place
in SUF's layer. Every failure is one ConfigError line naming the file and the tensor.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open

from models.specs import ModelSpec
from models.weights import LayerWeights, ModelWeights, expected_shapes

from ..errors import ConfigError

FLOAT_DTYPES = ("F16", "F32", "F64")


@dataclass(frozen=True)
class NamingScheme:
    """How one family names a layer's tensors.

    ``tensors`` maps a ``LayerWeights`` field to the tensor names (``{i}``: layer index) whose
    (in, out)-oriented values are concatenated along the output axis to make it.
    """

    family: str
    prefixes: tuple[str, ...]        # model-class prefixes a checkpoint may carry
    causal: bool
    activation: str
    out_in: bool                     # matrices stored (out, in), as nn.Linear does: transpose them
    tensors: dict[str, tuple[str, ...]]

    def layout(self) -> str:
        return "(out, in), as nn.Linear stores it" if self.out_in else "(in, out), as Conv1D stores it"


def _bert_tensors() -> dict[str, tuple[str, ...]]:
    layer = "encoder.layer.{i}."
    qkv = [f"{layer}attention.self.{part}" for part in ("query", "key", "value")]
    return {
        "wqkv": tuple(f"{p}.weight" for p in qkv), "bqkv": tuple(f"{p}.bias" for p in qkv),
        "wo": (f"{layer}attention.output.dense.weight",), "bo": (f"{layer}attention.output.dense.bias",),
        # BERT is post-LN; its two LayerNorms map by position: the one after attention is ln1 (docs/weights.md)
        "ln1_gamma": (f"{layer}attention.output.LayerNorm.weight",),
        "ln1_beta": (f"{layer}attention.output.LayerNorm.bias",),
        "w1": (f"{layer}intermediate.dense.weight",), "b1": (f"{layer}intermediate.dense.bias",),
        "w2": (f"{layer}output.dense.weight",), "b2": (f"{layer}output.dense.bias",),
        "ln2_gamma": (f"{layer}output.LayerNorm.weight",), "ln2_beta": (f"{layer}output.LayerNorm.bias",),
    }


def _gpt2_tensors() -> dict[str, tuple[str, ...]]:
    layer = "h.{i}."
    return {
        "ln1_gamma": (f"{layer}ln_1.weight",), "ln1_beta": (f"{layer}ln_1.bias",),
        "wqkv": (f"{layer}attn.c_attn.weight",), "bqkv": (f"{layer}attn.c_attn.bias",),
        "wo": (f"{layer}attn.c_proj.weight",), "bo": (f"{layer}attn.c_proj.bias",),
        "ln2_gamma": (f"{layer}ln_2.weight",), "ln2_beta": (f"{layer}ln_2.bias",),
        "w1": (f"{layer}mlp.c_fc.weight",), "b1": (f"{layer}mlp.c_fc.bias",),
        "w2": (f"{layer}mlp.c_proj.weight",), "b2": (f"{layer}mlp.c_proj.bias",),
    }


SCHEMES = (
    NamingScheme("bert", ("", "bert."), causal=False, activation="gelu", out_in=True, tensors=_bert_tensors()),
    NamingScheme("gpt2", ("", "transformer."), causal=True, activation="gelu", out_in=False, tensors=_gpt2_tensors()),
)

# names that identify a family we refuse, and why
REFUSED = {
    "layers.0.mlp.gate_proj.weight": "a LLaMA checkpoint: its SwiGLU MLP (gate, up and down matrices), RMSNorm and "
                                     "rotary embeddings have no place in SUF's layer (LayerNorm, act(x·W1)·W2); "
                                     "allowed: bert or gpt2 names",
}


def _kind(causal: bool, activation: str) -> str:
    return f"{'causal' if causal else 'not causal'}, {activation}"


def detect_scheme(names: set[str], where: str) -> tuple[NamingScheme, str]:
    """The naming scheme and prefix of a checkpoint holding ``names``: ConfigError if none fits."""
    for scheme in SCHEMES:
        for prefix in scheme.prefixes:
            if prefix + scheme.tensors["wqkv"][0].format(i=0) in names:
                return scheme, prefix
    for suffix, why in REFUSED.items():
        hit = next((n for n in sorted(names) if n.endswith(suffix)), None)
        if hit:
            raise ConfigError(f"{where}: {hit} marks {why}")
    sample = ", ".join(sorted(names)[:3]) or "no tensors"
    probes = " or ".join(s.tensors["wqkv"][0].format(i=0) for s in SCHEMES)
    raise ConfigError(f"{where}: unknown tensor naming ({sample}, ...); allowed: bert or gpt2 names "
                      f"(a layer-0 {probes})")


class _Reader:
    """Reads tensors of one open safetensors file, checked against the expected shape."""

    def __init__(self, handle, where: str, spec: ModelSpec, scheme: NamingScheme):
        self.handle, self.where, self.spec, self.scheme = handle, where, spec, scheme
        self.names = set(handle.keys())

    def read(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Tensor ``name`` as float64 in the zoo's (in, out) orientation; ``shape`` is that oriented shape."""
        stored = shape[::-1] if self.scheme.out_in else shape
        layout = f" {self.scheme.layout()}" if len(shape) == 2 else ""
        if name not in self.names:
            raise ConfigError(f"{self.where}: missing tensor {name}; expected shape {stored}{layout} "
                              f"for {self.spec.name}")
        piece = self.handle.get_slice(name)
        dtype, found = piece.get_dtype(), tuple(piece.get_shape())
        if dtype not in FLOAT_DTYPES:
            raise ConfigError(f"{self.where}: tensor {name} has dtype {dtype}; allowed: {', '.join(FLOAT_DTYPES)}")
        if found != stored:
            raise ConfigError(f"{self.where}: tensor {name} has shape {found}; expected {stored}{layout} "
                              f"for {self.spec.name}")
        value = np.asarray(self.handle.get_tensor(name), dtype=np.float64)
        if not np.isfinite(value).all():
            raise ConfigError(f"{self.where}: tensor {name} holds NaN or infinite values; allowed: finite values")
        return value.T if self.scheme.out_in else value

    def layer(self, prefix: str, i: int) -> LayerWeights:
        shapes = expected_shapes(self.spec)
        values = {}
        for field, templates in self.scheme.tensors.items():
            *lead, out = shapes[field]
            part = (*lead, out // len(templates))
            values[field] = np.concatenate([self.read(prefix + t.format(i=i), part) for t in templates], axis=-1)
        return LayerWeights(**values)


def load_checkpoint(path: str | Path, spec: ModelSpec, layers: int | None = None) -> ModelWeights:
    """The first ``layers`` layers (all of ``spec``'s if None) of the safetensors file ``path``, in the
    zoo's layout, float64. The checkpoint's family must be of ``spec``'s kind (causal, activation)."""
    path = Path(path)
    count = spec.n_layers if layers is None else layers
    if not 1 <= count <= spec.n_layers:
        raise ConfigError(f"layers = {count}: {spec.name} has 1 to {spec.n_layers} layers")
    if not path.is_file():
        raise ConfigError(f"{path}: cannot read checkpoint ({'a directory' if path.is_dir() else 'no such file'})")
    try:
        with safe_open(str(path), framework="np") as handle:
            scheme, prefix = detect_scheme(set(handle.keys()), str(path))
            if (scheme.causal, scheme.activation) != (spec.causal, spec.activation):
                raise ConfigError(f"{path}: a {scheme.family} checkpoint ({_kind(scheme.causal, scheme.activation)}) "
                                  f"does not fit {spec.name} ({_kind(spec.causal, spec.activation)}); "
                                  "pick a model of the same kind")
            reader = _Reader(handle, str(path), spec, scheme)
            loaded = tuple(reader.layer(prefix, i) for i in range(count))
    except SafetensorError as exc:
        raise ConfigError(f"{path}: not a safetensors file ({' '.join(str(exc).split())})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read checkpoint ({exc.strerror or exc})") from None
    return ModelWeights(loaded, f"{path.name} ({scheme.family} names)")
