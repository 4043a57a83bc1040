"""SUF's caps and thresholds, in one place: the transformer's values, with where SUF sets them.

Caps throw when exceeded (``SufRuntimeError``, as SUF throws); budget thresholds flush when reached.
Spec §1.1 (executor defaults), §1.3 (budget), §4.1 (the transformer's overrides), §6.1 (per task).
This module imports nothing of simflush, so every layer may read it.
"""

from dataclasses import dataclass

# OpenCollector max_pending_words as the transformer sets it (transformer_layer.cpp:538-540).
OPEN_MAX_PENDING_WORDS = 1 << 23

# PfssSuperBatch max_pending_jobs / max_pending_hatx_words per PFSS backend (transformer_layer.cpp:505-521).
PFSS_MAX_PENDING = {"gpu": (1 << 16, 1 << 23), "cpu": (1 << 13, 1 << 21)}

# PhaseExecutor max_flushes_ per run(): the transformer's 2^11 (transformer_layer.cpp:547,
# attention_block.cpp:1219,1298), the MLP block's 2^10 (mlp_block.cpp:432).
MAX_FLUSHES_PER_RUN = 1 << 11
MLP_MAX_FLUSHES_PER_RUN = 1 << 10

# TruncTask with per-element masks enqueues at most this many one-word jobs per step.
PER_ELEMENT_CHUNK = 1024


@dataclass(frozen=True)
class LazyLimits:
    """Budget thresholds (SUF ``LazyLimits``): a wave with progress flushes a batch that reached one.
    0 disables that flag. The defaults are the class defaults (``phase_executor.hpp:138-146``)."""

    open_pending_words: int = 1 << 22
    coeff_pending_jobs: int = 1 << 14
    trunc_pending_jobs: int = 1 << 14
    hatx_pending_words: int = 1 << 22


@dataclass(frozen=True)
class ExecutorLimits:
    """The caps of one executor and its lazy thresholds. Exceeding a cap is a runtime error, as in SUF."""

    open_max_pending_words: int
    pfss_max_pending_jobs: int
    pfss_max_pending_hatx: int
    lazy: LazyLimits


def transformer_limits(backend: str) -> ExecutorLimits:
    """The caps of the transformer on ``backend`` ("gpu" or "cpu"); its lazy thresholds equal the caps
    (transformer_layer.cpp:541-546), so a budget flush fires only at exactly the cap."""
    jobs, hatx = PFSS_MAX_PENDING[backend]
    return ExecutorLimits(OPEN_MAX_PENDING_WORDS, jobs, hatx,
                          LazyLimits(OPEN_MAX_PENDING_WORDS, jobs, jobs, hatx))


def max_flushes_per_run(section: str) -> int:
    """``max_flushes_`` of a run in layer ``section`` (``mlp``: the MLP block's own cap)."""
    return MLP_MAX_FLUSHES_PER_RUN if section == "mlp" else MAX_FLUSHES_PER_RUN

# Not SUF's: this tool's cap on --chains K. Each chain is its own set of task processes; past a few dozen a run
# takes minutes and models no runtime anyone runs.
MAX_CHAINS = 64
