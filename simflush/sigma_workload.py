"""Which runtime's graph a simulation runs: SUF's layer (``models.layer``, ``workload``) or SIGMA's block
(``models.sigma_layer``, ``tasks.sigma_runtime``), and the builder that turns its task specs into tasks."""

from collections.abc import Callable, Generator
from typing import Any

from models.layer import RunSpec, TaskSpec, transformer_layer
from models.sigma_layer import sigma_block
from models.specs import ModelSpec

from .profiles import SIGMA_GRAPH, Settings
from .tasks.context import Context
from .tasks.sigma_runtime import KEY_H2D, PROTOCOLS, Ring
from .workload import build_task

Builder = Callable[[Context, TaskSpec, Callable[[int], Any]], Generator]


def tallied_ops(settings: Settings) -> frozenset[str]:
    """Local ops whose words a run reports whatever the cost preset: SIGMA's key copies (its key size)."""
    return frozenset({KEY_H2D}) if settings.graph == SIGMA_GRAPH else frozenset()


def sigma_ring(model: ModelSpec, settings: Settings) -> Ring:
    """How SIGMA's protocols evaluate under ``settings`` (``model`` carries SIGMA's ring width)."""
    return Ring(model.n_bits, merge=settings.sigma_merge, via_batch=settings.layer.sigma_via_batch)


def layer_workload(model: ModelSpec, seq_len: int, batch: int, settings: Settings) -> tuple[list[RunSpec], Builder]:
    """The runs of one layer (block) and the builder of their tasks, for the runtime ``settings`` name."""
    if settings.graph != SIGMA_GRAPH:
        return transformer_layer(model, seq_len, batch, settings.layer), build_task
    ring = sigma_ring(model, settings)

    def build(ctx: Context, spec: TaskSpec, make_input: Callable[[int], Any]) -> Generator:
        return PROTOCOLS[spec.kind](ctx, ring, spec.params)

    return sigma_block(model, seq_len), build
