"""Model specs small enough for value-level tests (D = 16, F = 24: F != D, so a matrix stored in the
wrong orientation has the wrong shape), one per family the weights and the float reference handle."""

from models.specs import ModelSpec

TINY_BERT = ModelSpec("tiny-bert", "gelu", False, 2, 2, 16, 24, 64, 37, 12)
TINY_GPT2 = ModelSpec("tiny-gpt2", "gelu", True, 2, 2, 16, 24, 64, 50, 12)
TINY_SILU = ModelSpec("tiny-silu", "silu", True, 2, 4, 16, 24, 64, 51, 12)
