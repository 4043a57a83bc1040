"""``simflush reconcile --trace``: attribute every flush of a SUF trace to a task step and branch.

The trace (``io.suf_trace``) gives, per party, iteration, layer and run, the flushes in order. Each run's
measured sequence (the one most instances share) is compared with the sequence the closed forms imply
(``checklist.flush_sequence``) for every assignment of the run's group (``reconcile_space``): a flush is
``("OPEN", kind, words)`` or ``("PFSS", hatx words, jobs, branch)``, where the branch is what SUF prints
(``BRANCH planner`` / ``BRANCH lastchance``; the demand-open and demand-coeff paths print none). Groups are
matched independently; the candidates are the products of matching assignments, ranked by distance
from the profile. Flushes that the best configuration does not produce are listed with their lines.
"""

from __future__ import annotations

from collections import Counter
from difflib import SequenceMatcher
from itertools import product
from pathlib import Path

from models.layer import transformer_layer

from ...errors import ConfigError
from ...executor.records import FlushBranch, FlushKind
from ...io.suf_trace import read_suf_trace
from ...io.trace_schema import FlushEvent
from ...profiles import resolve
from ..checklist.counts import PredictedFlush, build_checklist, checklist_runs, flush_sequence
from .search import RELEVANT_SHARED, Problem

VISIBLE = (FlushBranch.PLANNER, FlushBranch.LASTCHANCE)   # the branches SUF's trace prints


def measured_sig(f: FlushEvent) -> tuple:
    if f.kind == FlushKind.OPEN:
        return (FlushKind.OPEN, f.open_kind, f.words)
    return (FlushKind.PFSS, f.words, f.jobs, f.branch)


def predicted_sig(f: PredictedFlush) -> tuple:
    if f.event == FlushKind.OPEN:
        return (FlushKind.OPEN, f.open_kind, f.words)
    return (FlushKind.PFSS, f.words, f.jobs, f.branch if f.branch in VISIBLE else "")


def _mismatch(measured: list, predicted: list) -> int:
    if measured == predicted:
        return 0
    matched = sum(b.size for b in SequenceMatcher(None, measured, predicted, autojunk=False).get_matching_blocks())
    return len(measured) + len(predicted) - 2 * matched


def _instances(flushes: list[FlushEvent]) -> dict[tuple, list[FlushEvent]]:
    """(party, iteration, layer, run index) -> its flushes in order."""
    out: dict[tuple, list[FlushEvent]] = {}
    for f in flushes:
        out.setdefault((f.party, f.iteration, f.layer, f.run_index), []).append(f)
    return out


def _predicted_runs(problem: Problem, *assignments, only: list[int] | None = None):
    """(run specs, closed-form runs) of a combination; ``only``: evaluate just these runs (the rest None)."""
    settings = resolve(problem.space.profile, problem.model, problem.space.overrides(*assignments))
    specs = transformer_layer(problem.model, problem.seq_len, problem.batch, settings.layer)
    if only is None:
        return specs, checklist_runs(specs, settings)
    runs: list = [None] * len(specs)
    for i, run in zip(only, checklist_runs([specs[i] for i in only], settings), strict=True):
        runs[i] = run
    return specs, runs


def reconcile_trace(problem: Problem, trace_path: Path, top: int) -> dict:
    """The trace reconcile document: every flush of the SUF trace at ``trace_path`` attributed to a task
    and branch under the ``top`` best-matching settings of ``problem``'s search space."""
    specs, base_runs = _predicted_runs(problem)
    names = [s.name for s in specs]
    try:
        trace = read_suf_trace(trace_path, names, problem.layers)
    except ConfigError as exc:
        if "RUN count" in str(exc):
            raise ConfigError(f"{exc} — is the trace of another model or size than {problem.model.name} "
                              f"with {problem.layers} layers and {len(names)} runs per layer?") from None
        raise
    instances = _instances(trace.flushes)
    measured: dict[int, list] = {}
    for i in range(len(names)):
        sigs = Counter(tuple(measured_sig(f) for f in fl) for k, fl in instances.items() if k[3] == i)
        measured[i] = list(sigs.most_common(1)[0][0]) if sigs else []
    _check_size(problem, specs, base_runs, measured)
    space = problem.space
    best: list[tuple] = []   # (total mismatch, distance, assignments)
    exact: list[tuple] = []
    cache: dict = {}
    for shared in space.shared:
        planners = [r.planner for r in _predicted_runs(problem, shared)[1]]
        per_group = []
        for g in space.groups:
            idx = [i for i, s in enumerate(specs) if {t.kind for t in s.tasks} & g.kinds]
            rel = tuple((k, v) for k, v in shared if k in RELEVANT_SHARED[g.name])
            rows = []
            for a in g.assignments:
                key = (g.name, a, rel, tuple(planners[i] for i in idx))
                if key not in cache:
                    runs = _predicted_runs(problem, shared, a, only=idx)[1]
                    cache[key] = sum(_mismatch(measured[i], [predicted_sig(f) for f in flush_sequence(runs[i])])
                                     for i in idx)
                rows.append((cache[key], space.distance(a), a))
            per_group.append(sorted(rows, key=lambda r: (r[0], r[1])))
        runs = _predicted_runs(problem, shared)[1]
        fixed = [i for i, s in enumerate(specs) if not any({t.kind for t in s.tasks} & g.kinds for g in space.groups)]
        fixed_cost = sum(_mismatch(measured[i], [predicted_sig(f) for f in flush_sequence(runs[i])]) for i in fixed)
        d0 = space.distance(shared)
        best.append((fixed_cost + sum(r[0][0] for r in per_group), d0 + sum(r[0][1] for r in per_group),
                     (shared, *tuple(r[0][2] for r in per_group))))
        if fixed_cost == 0 and all(r[0][0] == 0 for r in per_group):
            zero = [[x for x in r if x[0] == 0] for r in per_group]
            for combo in product(*zero):
                exact.append((0, d0 + sum(x[1] for x in combo), (shared, *tuple(x[2] for x in combo))))
    exact.sort(key=lambda m: m[1])
    chosen = exact[:top] if exact else sorted(best, key=lambda m: (m[0], m[1]))[:top]
    return _document(problem, trace, instances, names, chosen, len(exact), bool(exact))


def _check_size(problem: Problem, specs, runs, measured: dict[int, list]) -> None:
    """Runs of truncations and matmuls open the same words under every searched setting: if the trace's
    differ, it is a trace of another model or size."""
    for i, spec in enumerate(specs):
        if {t.kind for t in spec.tasks} <= {"trunc", "matmul"} and measured[i]:
            want = next(f.words for f in flush_sequence(runs[i]) if f.event == FlushKind.OPEN)
            got = measured[i][0][2] if measured[i][0][0] == FlushKind.OPEN else None
            if got != want:
                raise ConfigError(
                    f"the trace's run {spec.name} opens {got} words first, but {problem.model.name} at "
                    f"T = {problem.seq_len}, B = {problem.batch} opens {want:,}: the trace is of another model "
                    "or size (give its --model, --seq-len, --batch)")


def _document(problem: Problem, trace, instances, names, chosen, n_exact: int, explained: bool) -> dict:
    space = problem.space
    top_assign = chosen[0][2]
    overrides = space.overrides(*top_assign)
    settings = resolve(space.profile, problem.model, overrides)
    check = build_checklist(problem.model, problem.seq_len, problem.batch, settings, problem.layers)
    predicted = {i: flush_sequence(r) for i, r in enumerate(check.runs)}
    attribution, unexplained = [], []
    rep = max(instances)[:2] if instances else (0, 0)   # party, iteration of the representative layer
    for key, flushes in sorted(instances.items()):
        pred = predicted[key[3]]
        ops = SequenceMatcher(None, [measured_sig(f) for f in flushes], [predicted_sig(p) for p in pred],
                              autojunk=False).get_opcodes()
        for tag, i1, i2, j1, j2 in ops:
            if tag in ("insert", "replace"):   # predicted flushes the trace does not have
                near = flushes[min(i1, len(flushes) - 1)].line if flushes else 0
                unexplained += [{"party": key[0], "iteration": key[1], "layer": key[2], "run": names[key[3]],
                                 "event": p.event, "open_kind": p.open_kind, "words": p.words, "branch_traced": "",
                                 "missing": True, "task_step": " / ".join(p.path), "line": near}
                                for p in pred[j1:j2]]
            for k in range(i1, i2):
                f = flushes[k]
                if tag == "equal":
                    if (key[0], key[1], key[2]) == (0, rep[1], 0):
                        p = pred[j1 + k - i1]
                        attribution.append({"run": names[key[3]], "event": f.kind, "open_kind": f.open_kind,
                                            "words": f.words, "jobs": f.jobs, "branch_traced": f.branch,
                                            "branch": p.branch, "gate": p.gate, "task_step": " / ".join(p.path),
                                            "line": f.line})
                else:
                    unexplained.append({"party": key[0], "iteration": key[1], "layer": key[2], "run": names[key[3]],
                                        "event": f.kind, "open_kind": f.open_kind, "words": f.words,
                                        "branch_traced": f.branch, "missing": False, "task_step": "",
                                        "line": f.line})
    candidates = []
    for _cost, dist, assign in chosen:
        flat = dict(space.pinned)
        for a in assign:
            flat.update(a)
        changed = {k: v for k, v in sorted(space.overrides(*assign).items()) if k not in space.pinned}
        candidates.append({"distance": dist, "settings": dict(sorted(flat.items())), "changed": changed})
    return {"model": problem.model.name, "seq_len": problem.seq_len, "batch_size": problem.batch,
            "n_layers_run": problem.layers, "runtime_profile": space.profile, "trace": trace.meta.source,
            "iterations": trace.meta.iterations, "flushes": len(trace.flushes), "pinned": space.pinned,
            "explained": explained and not unexplained, "exact_matches": n_exact,
            "candidates" if explained else "nearest": candidates,
            "per_party_per_layer": check.per_layer.as_dict(),
            "attribution": {"party": 0, "iteration": rep[1], "layer": 0, "flushes": attribution},
            "unexplained": unexplained}


def explain_trace(doc: dict) -> str:
    L = doc["n_layers_run"]
    out = [f"Trace {doc['trace']}: {doc['flushes']:,} flushes = 2 parties × {doc['iterations']} iterations × {L} "
           f"layers of {doc['model']} (T = {doc['seq_len']}, B = {doc['batch_size']}); per party per layer "
           f"{doc['per_party_per_layer']['open_flushes']} open and {doc['per_party_per_layer']['pfss_flushes']} "
           "PFSS flushes under the best configuration."]
    key = "candidates" if "candidates" in doc else "nearest"
    if key == "candidates":
        out.append(f"{doc['exact_matches']:,} configurations reproduce every run's flush sequence (kinds, words, jobs, "
                   "traced branches); closest to the profile:")
    else:
        out.append("Nothing in the search space reproduces every run's sequence. Nearest:")
    for i, c in enumerate(doc[key], 1):
        out.append(f"  {i}. [{c['distance']} changed] "
                   + (", ".join(f"{k}={v}" for k, v in c["changed"].items()) or "the profile's defaults"))
    att = doc["attribution"]
    out += ["", f"Attribution (party {att['party']}, iteration {att['iteration']}, layer {att['layer']}; every layer "
            "and party is matched the same way):", "",
            "| # | run | flush | words | jobs | branch (traced / predicted) | gate | task / step | line |",
            "|--:|---|---|--:|--:|---|---|---|--:|"]
    for i, a in enumerate(att["flushes"], 1):
        flush = a["event"] + (f" {a['open_kind']}" if a["open_kind"] else "")
        out.append(f"| {i} | {a['run']} | {flush} | {a['words']:,} | {a['jobs'] or ''} | "
                   f"{a['branch_traced'] or '—'} / {a['branch']} | {a['gate']} | {a['task_step']} | {a['line']} |")
    un = doc["unexplained"]
    out.append("")
    if not un:
        out.append("Every flush of the trace is explained.")
    else:
        out.append(f"{len(un)} flushes differ from the best configuration's sequence (traced but not predicted, "
                   "or predicted but missing)" + (" (first 40):" if len(un) > 40 else ":"))
        for u in un[:40]:
            what = (f"missing {u['event']} {u['open_kind']} {u['words']:,} words ({u['task_step']})" if u["missing"]
                    else f"unexplained {u['event']} {u['open_kind']} {u['words']:,} words {u['branch_traced']}")
            out.append(f"  line {u['line']}: party {u['party']} iteration {u['iteration']} layer {u['layer']} "
                       f"{u['run']}: {what}")
    return "\n".join(out) + "\n"
