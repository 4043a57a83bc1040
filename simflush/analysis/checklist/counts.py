"""The analytic flush-count checklist: closed-form counts per task, run, layer and model.

``build_checklist(model, T, B, settings, layers)`` reads the same run and task specs as the simulator
(``models.layer.transformer_layer``) and evaluates each task's closed form
(``checklist_forms``) without running a task or the executor. Counts are **per party** unless a name
says otherwise; every layer is identical, so a model's counts are ``layers x`` the layer's and the SUF
bench aggregate (``pfss.*``, ``communication.net_bytes``) is ``2 parties x layers x`` the layer's.

Fields of ``Counts`` (units in the names):
``open_flushes``, ``pfss_flushes`` (flush_eval calls), ``pfss_jobs``, ``words_beaver`` / ``words_mask``
(opened words by kind), ``hatx_words`` (PFSS input words), ``wire_bytes`` (bytes one party sends for
its opens, negotiation included), ``direct_fss`` / ``direct_fss_words`` (sigma-style gates evaluated
inside a task, outside the PFSS batch: no flush).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from operator import add, attrgetter

from models.layer import RunSpec, TaskSpec, transformer_layer
from models.sigma_layer import sigma_block
from models.specs import ModelSpec

from ...errors import ConfigError
from ...executor.batches import WireFormat
from ...executor.records import FlushBranch, FlushKind
from ...limits import PER_ELEMENT_CHUNK
from ...profiles import SIGMA_GRAPH, Settings
from ...tasks.context import Batch
from ...units import PARTIES
from .forms import Block, Step, describe, matmul_items, task_items
from .sigma_forms import sigma_items


@dataclass(frozen=True)
class Counts:
    """Flush counts and sizes of one party (see the module docstring for the fields)."""

    open_flushes: int = 0
    pfss_flushes: int = 0
    pfss_jobs: int = 0
    words_beaver: int = 0
    words_mask: int = 0
    hatx_words: int = 0
    wire_bytes: int = 0
    direct_fss: int = 0
    direct_fss_words: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*map(add, _values(self), _values(other)))

    def __mul__(self, k: int) -> Counts:
        return Counts(*(a * k for a in _values(self)))

    def as_tuple(self) -> tuple[int, ...]:
        return _values(self)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def opened_words(self) -> int:
        return self.words_beaver + self.words_mask


COUNT_FIELDS = tuple(f.name for f in fields(Counts))
_values = attrgetter(*COUNT_FIELDS)  # fast field tuple: closed forms add many Counts on long decode paths

# the SUF bench JSON's name for each count (both parties, all layers run: spec §5.1)
BENCH_FIELDS = {"pfss.open_flushes": "open_flushes", "pfss.num_flushes": "pfss_flushes",
                "pfss.num_jobs": "pfss_jobs", "pfss.opened_words_beaver": "words_beaver",
                "pfss.opened_words_mask": "words_mask", "pfss.total_hatx_words": "hatx_words",
                "communication.net_bytes": "wire_bytes"}


def step_counts(step: Step, wire: WireFormat) -> Counts:
    """One occurrence of ``step``, per party."""
    opened = 1 if step.open_kind else 0
    return Counts(
        open_flushes=opened, pfss_flushes=step.pfss_flushes, pfss_jobs=step.pfss_jobs,
        words_beaver=step.words if step.open_kind == "B" else 0,
        words_mask=step.words if step.open_kind == "M" else 0, hatx_words=step.hatx_words,
        wire_bytes=wire.wire_bytes(step.words) if opened else 0,
        direct_fss=1 if step.fss == "direct" else 0, direct_fss_words=step.direct_words)


def item_counts(item: Step | Block, wire: WireFormat) -> Counts:
    """Closed form of an item: a step's counts, or ``repeat x`` the sum of a block's items."""
    if isinstance(item, Step):
        return step_counts(item, wire)
    total = Counts()
    for sub in item.items:
        total = total + item_counts(sub, wire)
    return total * item.repeat


@dataclass(frozen=True)
class RunChecklist:
    """One executor run: its task(s), their closed-form items and the run's counts per party."""

    index: int
    name: str
    phase: str
    task: str                      # the task(s) with their parameters
    items: tuple
    counts: Counts
    planner: bool                  # a phase planner serves the run's first PFSS demand


def run_items(spec: RunSpec) -> tuple[str, tuple]:
    """(task description, items) of one run; several tasks per run are only the per-head matmuls."""
    kinds = {t.kind for t in spec.tasks}
    if kinds == {"matmul"}:
        return describe(spec.tasks[0], len(spec.tasks)), matmul_items(spec.tasks)
    if len(spec.tasks) != 1:
        raise ConfigError(f"run {spec.name}: {len(spec.tasks)} tasks share the run (--chains > 1); the closed "
                          "forms cover one task per run (flushes shared between staggered chains depend on "
                          "their interleaving): use --chains 1")
    task: TaskSpec = spec.tasks[0]
    return describe(task), task_items(task)


@dataclass(frozen=True)
class Checklist:
    """Closed-form counts of one configuration. ``per_layer`` is per party; see ``per_party``/``bench``."""

    model: ModelSpec
    seq_len: int
    batch: int
    layers: int
    settings: Settings
    runs: tuple[RunChecklist, ...]
    per_layer: Counts

    @property
    def per_party(self) -> Counts:
        """One party, all layers run."""
        return self.per_layer * self.layers

    @property
    def bench(self) -> Counts:
        """Both parties, all layers run: what the SUF bench JSON's counters sum."""
        return self.per_layer * (self.layers * PARTIES)

    def phase_counts(self, phase: str) -> Counts:
        """Per party per layer counts of a phase label (LN1, ...) or a run name (decode runs by base name)."""
        total, found = Counts(), False
        for run in self.runs:
            if phase in (run.phase, run.name, run.name.split("@")[0]):
                total, found = total + run.counts, True
        if not found:
            raise ConfigError(f"unknown phase {phase!r}; allowed: {', '.join(phase_names(self.runs))}")
        return total


def phase_names(runs) -> list[str]:
    """Phase labels, then run names (decode-path runs by their base name), in order."""
    out: list[str] = []
    for key in [r.phase for r in runs] + [r.name.split("@")[0] for r in runs]:
        if key not in out:
            out.append(key)
    return out


def planner_allowed(spec: RunSpec, settings: Settings) -> bool:
    """The executor uses a planner for this run (not in the device pipeline: it disables it)."""
    return spec.planner and not settings.device_pipeline


def checklist_runs(specs: list[RunSpec], settings: Settings, ring_bits: int = 0) -> tuple[RunChecklist, ...]:
    """The runs' closed forms; SIGMA's graph (``settings.graph``) at its ring ``ring_bits``."""
    out = []
    for i, spec in enumerate(specs):
        if settings.graph == SIGMA_GRAPH:
            task, items = sigma_items(spec.tasks[0], ring_bits, settings.sigma_merge)
        else:
            task, items = run_items(spec)
        total = Counts()
        for item in items:
            total = total + item_counts(item, settings.wire)
        out.append(RunChecklist(i, spec.name, spec.phase, task, items, total, planner_allowed(spec, settings)))
    return tuple(out)


def build_checklist(model: ModelSpec, seq_len: int, batch: int, settings: Settings,
                    layers: int | None = None) -> Checklist:
    """The checklist of a configuration (``layers``: layers run, default all of the model's)."""
    if settings.graph == SIGMA_GRAPH:
        runs = checklist_runs(sigma_block(model, seq_len), settings, model.n_bits)
    else:
        runs = checklist_runs(transformer_layer(model, seq_len, batch, settings.layer), settings)
    per_layer = Counts()
    for run in runs:
        per_layer = per_layer + run.counts
    return Checklist(model, seq_len, batch, layers or model.n_layers, settings, runs, per_layer)


# -- the flush sequence a run's items imply (trace attribution) ----------------------------------------

@dataclass(frozen=True)
class PredictedFlush:
    """One flush a run's closed form implies, in order, per party.

    ``branch``: the executor path of the SUF snapshot policy (``demand_open`` for opens; for PFSS the
    planner on the run's first PFSS demand when a planner is installed, then ``demand_coeff`` for
    coeff-batch jobs and ``lastchance`` for trunc-batch jobs, since the trunc batch is the coeff batch).
    ``path``: the item labels from the task down to the step.
    """

    event: FlushKind
    open_kind: str
    words: int
    jobs: int
    gate: str
    branch: FlushBranch
    path: tuple[str, ...]


def _steps(items: tuple, path: tuple[str, ...] = ()) -> Iterator[tuple[Step, tuple[str, ...]]]:
    for item in items:
        if isinstance(item, Step):
            yield item, (*path, item.label)
        else:
            for r in range(item.repeat):
                tag = f"{item.label} [{r + 1}/{item.repeat}]" if item.repeat > 1 else item.label
                yield from _steps(item.items, (*path, tag))


def flush_sequence(run: RunChecklist) -> list[PredictedFlush]:
    """The ordered flushes of one run (per party) implied by its items."""
    out: list[PredictedFlush] = []
    planner_used = not run.planner
    for step, path in _steps(run.items):
        if step.open_kind:
            out.append(PredictedFlush(FlushKind.OPEN, step.open_kind, step.words, 0, "", FlushBranch.DEMAND_OPEN, path))
        for chunk in range(step.pfss_flushes):
            if step.pfss_flushes == 1:
                size, jobs = step.hatx_words, step.pfss_jobs
            else:  # per-element masks: chunks of PER_ELEMENT_CHUNK one-word jobs
                size = jobs = min(PER_ELEMENT_CHUNK, step.hatx_words - chunk * PER_ELEMENT_CHUNK)
            if not planner_used:
                branch, planner_used = FlushBranch.PLANNER, True
            else:
                branch = FlushBranch.DEMAND_COEFF if step.batch == Batch.COEFF else FlushBranch.LASTCHANCE
            out.append(PredictedFlush(FlushKind.PFSS, "", size, jobs, step.gate, branch, path))
    return out
