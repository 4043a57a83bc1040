"""Reconcile measured flush counts with the settings that explain them (``simflush reconcile``).

A measurement is a set of counts (``checklist.Counts`` field names) for a scope (a phase label, a run
name, or the whole layer) at an aggregation: ``per-party-per-layer``, ``per-party`` (all layers run) or
``bench`` (both parties, all layers run: what the SUF bench JSON sums). The search runs over the variant
settings of ``reconcile_space``: every group assignment is evaluated once with the closed forms of
``checklist``, and the combinations are scored by broadcasting sums over the groups (the counts are
additive over runs), so the full product (a few hundred thousand configurations) costs milliseconds.

Candidates that reproduce every measured count exactly are ranked by how few settings differ from the
runtime profile's defaults (ties: observationally equivalent settings, listed in a fixed order). When
none does, the nearest ones (smallest sum of relative residuals) are given with their residuals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.layer import RunSpec
from models.specs import ModelSpec

from ...errors import ConfigError
from ...profiles import resolve
from ...sigma_workload import layer_workload
from ...units import PARTIES
from ..checklist.counts import COUNT_FIELDS, Counts, build_checklist, checklist_runs, phase_names
from .space import SearchSpace

AGGREGATIONS = ("per-party-per-layer", "per-party", "bench")
PHASES = ("LN1", "QKV_Score", "Softmax", "OutProj", "LN2_MLP")
# shared knobs that change a group's counts (the others change only which branch flushes)
RELEVANT_SHARED = {"layernorm": ("sigma_fss_via_pfss_batch", "SUF_BENCH_DEVICE_PIPELINE", "SUF_LN_GPU"),
                   "softmax": ("sigma_fss_via_pfss_batch",), "activation": ("sigma_fss_via_pfss_batch",),
                   "truncations": (), "sigma": ()}


def aggregation_factor(aggregation: str, layers: int) -> int:
    """How many per-party-per-layer units one measured count at ``aggregation`` sums."""
    if aggregation not in AGGREGATIONS:
        raise ConfigError(f"unknown aggregation {aggregation!r}; allowed: {', '.join(AGGREGATIONS)}")
    return {"per-party-per-layer": 1, "per-party": layers, "bench": PARTIES * layers}[aggregation]


@dataclass(frozen=True)
class Problem:
    """What to explain: a configuration (model, sizes, profile, pinned knobs) and a scope."""

    model: ModelSpec
    seq_len: int
    batch: int
    layers: int
    space: SearchSpace
    scope: str | None = None   # a phase label or run name; None: the whole layer

    def in_scope(self, spec: RunSpec) -> bool:
        return self.scope is None or self.scope in (spec.phase, spec.name, spec.name.split("@")[0])


def _specs(problem: Problem, *assignments) -> list[RunSpec]:
    settings = resolve(problem.space.profile, problem.model, problem.space.overrides(*assignments))
    return settings, layer_workload(problem.model, problem.seq_len, problem.batch, settings)[0]


def _counts(runs) -> Counts:
    total = Counts()
    for r in runs:
        total = total + r.counts
    return total


@dataclass
class Tables:
    """Per shared assignment: each group's contributions (assignments x fields) and distances."""

    fixed: np.ndarray                              # fields
    groups: list[tuple[list, np.ndarray, np.ndarray]]  # per group: (assignments, contributions, distances)


def contribution_tables(problem: Problem) -> list[Tables]:
    """Evaluate each group assignment once (per relevant shared assignment) with the closed forms."""
    space = problem.space
    settings, specs = _specs(problem)
    if not any(problem.in_scope(s) for s in specs):
        raise ConfigError(f"unknown phase {problem.scope!r}; allowed: {', '.join(phase_names(specs))}")
    grouped = {k for g in space.groups for k in g.kinds}
    fixed = [s for s in specs if problem.in_scope(s) and not {t.kind for t in s.tasks} & grouped]
    ring = problem.model.n_bits
    fixed_counts = np.array(_counts(checklist_runs(fixed, settings, ring)).as_tuple(), dtype=np.int64)
    cache: dict = {}
    out = []
    for shared in space.shared:
        tables = []
        for g in space.groups:
            touched = any(problem.in_scope(s) and {t.kind for t in s.tasks} & g.kinds for s in specs)
            assignments = list(g.assignments) if touched else [min(g.assignments, key=space.distance)]
            rel = tuple((k, v) for k, v in shared if k in RELEVANT_SHARED[g.name])
            rows = []
            for a in assignments:
                key = (g.name, a, rel)
                if key not in cache:
                    s, sp = _specs(problem, shared, a)
                    runs = [x for x in sp if problem.in_scope(x) and {t.kind for t in x.tasks} & g.kinds]
                    cache[key] = _counts(checklist_runs(runs, s, ring)).as_tuple()
                rows.append(cache[key])
            tables.append((assignments, np.array(rows, dtype=np.int64),
                           np.array([space.distance(a) for a in assignments], dtype=np.int64)))
        out.append(Tables(fixed_counts, tables))
    return out


def _grid(tables: Tables, fields_idx: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Predicted counts (combos x fields) and distances (combos) over the product of the groups."""
    pred = tables.fixed[fields_idx].reshape((1,) * len(tables.groups) + (len(fields_idx),))
    dist = np.zeros((1,) * len(tables.groups), dtype=np.int64)
    for axis, (_a, contrib, d) in enumerate(tables.groups):
        shape = [1] * len(tables.groups)
        shape[axis] = len(d)
        pred = pred + contrib[:, fields_idx].reshape([*shape, len(fields_idx)])
        dist = dist + d.reshape(shape)
    return pred.reshape(-1, len(fields_idx)), dist.reshape(-1)


@dataclass(frozen=True)
class Match:
    """One configuration: its assignments (shared first), distance and per-party-per-layer prediction."""

    assignments: tuple
    distance: int
    predicted: dict[str, int]
    score: float   # sum over measured fields of |predicted - measured| / max(measured, 1)


def search(problem: Problem, target: dict[str, int], top: int = 5) -> tuple[list[Match], int, list[Match]]:
    """(exact matches ranked, how many exact matches in all, nearest non-matches ranked).

    ``target``: measured counts per party per layer, by ``Counts`` field name (a count that is not a
    whole number per party per layer is rounded: it can only have nearest candidates).
    """
    fields_idx = [COUNT_FIELDS.index(f) for f in target]
    want = np.array(list(target.values()), dtype=np.int64)
    exact: list[tuple] = []
    near: list[tuple] = []
    n_exact = 0
    all_tables = contribution_tables(problem)
    for si, tables in enumerate(all_tables):
        shared_d = problem.space.distance(problem.space.shared[si])
        pred, dist = _grid(tables, fields_idx)
        dist = dist + shared_d
        score = (np.abs(pred - want) / np.maximum(want, 1)).sum(axis=1)
        hit = np.flatnonzero(score == 0)
        n_exact += len(hit)
        order = hit[np.lexsort((hit, dist[hit]))][:top]
        exact += [(int(dist[i]), si, int(i), 0.0, pred[i]) for i in order]
        if not len(hit):
            miss = np.lexsort((dist, score))[:top]
            near += [(int(dist[i]), si, int(i), float(score[i]), pred[i]) for i in miss]
    exact.sort(key=lambda m: (m[0], m[1], m[2]))
    near.sort(key=lambda m: (m[3], m[0], m[1], m[2]))
    distinct = list({tuple(m[4]): m for m in reversed(near)}.values())[::-1]  # one per prediction
    return ([_match(problem, all_tables, m, target) for m in exact[:top]], n_exact,
            [] if exact else [_match(problem, all_tables, m, target) for m in distinct[:top]])


def _match(problem: Problem, tables: list[Tables], m: tuple, target: dict) -> Match:
    dist, si, flat, score, pred = m
    t = tables[si]
    sizes = [len(d) for _a, _c, d in t.groups]
    index = np.unravel_index(flat, sizes)
    assignments = (problem.space.shared[si], *tuple(t.groups[g][0][i] for g, i in enumerate(index)))
    return Match(assignments, dist, dict(zip(target, (int(x) for x in pred), strict=True)), score)


def candidate(problem: Problem, match: Match, factor: int, measured: dict[str, int]) -> dict:
    """A match as a document: flat settings, what differs from the profile, predicted counts and the
    per-task breakdown of the runs in scope (per party per layer)."""
    space = problem.space
    flat = dict(space.pinned)
    for a in match.assignments:
        flat.update(a)
    overrides = space.overrides(*match.assignments)
    settings = resolve(space.profile, problem.model, overrides)
    check = build_checklist(problem.model, problem.seq_len, problem.batch, settings, problem.layers)
    breakdown = [{"run": r.name, "task": r.task, "open_flushes": r.counts.open_flushes,
                  "pfss_flushes": r.counts.pfss_flushes, "direct_fss": r.counts.direct_fss}
                 for r in check.runs if problem.scope is None or problem.scope in (r.phase, r.name,
                                                                                  r.name.split("@")[0])]
    return {"distance": match.distance, "settings": dict(sorted(flat.items())),
            "changed": {k: v for k, v in sorted(overrides.items()) if k not in space.pinned},
            "predicted_per_party_per_layer": match.predicted,
            "predicted_at_aggregation": {k: v * factor for k, v in match.predicted.items()},
            "residual_at_aggregation": {k: measured[k] - v * factor for k, v in match.predicted.items()},
            "relative_residual": round(match.score, 6), "breakdown": breakdown}
