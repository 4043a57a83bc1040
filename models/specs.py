"""Model specs of the SUF runtime (``src/nn/model_specs.cpp``; spec §4.5)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    activation: str   # "gelu" or "silu"
    causal: bool
    n_layers: int
    n_heads: int
    d_model: int
    d_ff: int
    max_seq: int
    n_bits: int
    frac_bits: int

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


MODELS: dict[str, ModelSpec] = {m.name: m for m in (
    ModelSpec("bert-tiny", "gelu", False, 2, 2, 128, 512, 512, 37, 12),
    ModelSpec("bert-base", "gelu", False, 12, 12, 768, 3072, 512, 37, 12),
    ModelSpec("bert-large", "gelu", False, 24, 16, 1024, 4096, 512, 37, 12),
    ModelSpec("gpt2", "gelu", True, 12, 12, 768, 3072, 1024, 50, 12),
    ModelSpec("gpt-neo-1.3b", "gelu", True, 24, 16, 2048, 8192, 2048, 51, 12),
    ModelSpec("llama2-7b", "silu", True, 32, 32, 4096, 11008, 2048, 51, 12),
    ModelSpec("llama2-13b", "silu", True, 40, 40, 5120, 13824, 2048, 51, 12),
)}


def get_model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; allowed: {', '.join(MODELS)}") from None
