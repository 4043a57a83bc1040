"""The model zoo and how one transformer layer becomes executor runs (pure data, no simflush imports)."""

from .layer import LayerOptions, RunSpec, TaskSpec, transformer_layer
from .specs import MODELS, ModelSpec, get_model

__all__ = ["MODELS", "LayerOptions", "ModelSpec", "RunSpec", "TaskSpec", "get_model", "transformer_layer"]
