"""``simflush checklist``: the closed-form checklist as Markdown (the 核对表 for a report), CSV or JSON."""

from __future__ import annotations

import csv
import io
import json

from ...profiles import PROFILES
from ...units import PARTIES
from .counts import (
    BENCH_FIELDS,
    COUNT_FIELDS,
    Checklist,
    Counts,
    RunChecklist,
    item_counts,
)
from .forms import SHORTCUTS, Block, Step

FORMATS = ("md", "csv", "json")


def changed_settings(check: Checklist) -> dict[str, str]:
    """Knobs whose value differs from the runtime profile's."""
    base = PROFILES.get(check.settings.profile).env
    return {k: v for k, v in sorted(check.settings.env.items()) if base.get(k) != v}


def bench_counters(c: Counts) -> dict[str, int]:
    """Counts under the SUF bench JSON's field names (add ``pfss.opened_words``)."""
    out = {field: getattr(c, name) for field, name in BENCH_FIELDS.items()}
    out["pfss.opened_words"] = c.opened_words
    return out


def _fss(step: Step) -> str:
    if step.fss == "batch":
        return f"PFSS · {step.gate} ({step.batch} batch)"
    if step.fss == "direct":
        return f"direct · {step.gate} (no flush)"
    return "local" if not step.open_kind else "—"


def _items_json(items: tuple, wire) -> list[dict]:
    out = []
    for item in items:
        counts = item_counts(item, wire).as_dict()
        if isinstance(item, Step):
            out.append({"label": item.label, "formula": item.formula, "open_kind": item.open_kind,
                        "words_per_open": item.words, "gate": item.gate, "fss": item.fss or "local",
                        "batch": item.batch or "", "suf_shortcuts": list(item.shortcuts), "counts": counts})
        else:
            out.append({"label": item.label, "repeat": item.repeat, "repeat_from": item.count,
                        "counts": counts, "items": _items_json(item.items, wire)})
    return out


def to_json(check: Checklist) -> dict:
    """The checklist as a document; counts per party per layer unless the key says otherwise."""
    wire = check.settings.wire
    return {
        "model": check.model.name, "seq_len": check.seq_len, "batch_size": check.batch,
        "n_layers_run": check.layers, "runtime_profile": check.settings.profile,
        "settings_changed": changed_settings(check),
        "units": "counts per party per layer unless the key says otherwise; words are ring words; bytes are "
                 "what one party sends",
        "per_party_per_layer": check.per_layer.as_dict(),
        "per_party": check.per_party.as_dict(),
        "bench_both_parties_all_layers": bench_counters(check.bench),
        "runs": [{"index": r.index, "name": r.name, "phase": r.phase, "task": r.task, "planner": r.planner,
                  "counts": r.counts.as_dict(), "items": _items_json(r.items, wire)} for r in check.runs],
        "suf_shortcuts": {key: SHORTCUTS[key] for key in shortcuts_used(check)},
    }


def shortcuts_used(check: Checklist) -> list[str]:
    """The SHORTCUTS keys that occur in ``check``'s steps, in SHORTCUTS' order."""
    used = {key for r in check.runs for _label, step, _m, _t in _flat(r.items, check.settings.wire)
            for key in step.shortcuts}
    return [key for key in SHORTCUTS if key in used]


def _marks(step: Step) -> str:
    """Footnote marks of a step's shortcuts, e.g. `` [S1, S3]`` (numbered in SHORTCUTS' order)."""
    order = list(SHORTCUTS)
    return f" [{', '.join(f'S{order.index(k) + 1}' for k in step.shortcuts)}]" if step.shortcuts else ""


def _flat(items: tuple, wire, mult: int = 1, path: str = ""):
    for item in items:
        label = f"{path} / {item.label}" if path else item.label
        if isinstance(item, Step):
            yield label, item, mult, step_total(item, wire, mult)
        else:
            yield from _flat(item.items, wire, mult * item.repeat, label)


def step_total(step: Step, wire, mult: int) -> Counts:
    return item_counts(step, wire) * mult


def to_csv(check: Checklist) -> str:
    """One row per step (counts per party per layer, multiplied out), then run, layer and model totals."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["level", "run_index", "run", "phase", "task", "step", "formula", "multiplicity", "fss", *COUNT_FIELDS])
    wire = check.settings.wire
    for r in check.runs:
        for label, step, mult, total in _flat(r.items, wire):
            w.writerow(["step", r.index, r.name, r.phase, r.task, label, step.formula, mult, _fss(step),
                        *total.as_tuple()])
        w.writerow(["run", r.index, r.name, r.phase, r.task, "", "", 1, "", *r.counts.as_tuple()])
    for level, c in (("per_party_per_layer", check.per_layer), ("per_party", check.per_party),
                     ("bench_both_parties_all_layers", check.bench)):
        w.writerow([level, "", "", "", "", "", "", "", "", *c.as_tuple()])
    return buf.getvalue()


# -- Markdown ---------------------------------------------------------------------------------------------

def _n(x: int) -> str:
    return f"{x:,}"


TOTAL_HEAD = ("| scope | open flushes | PFSS flushes | PFSS jobs | Beaver words | mask words | hatx words "
              "| wire bytes | direct FSS |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|")


def _total_row(scope: str, c: Counts) -> str:
    return (f"| {scope} | {_n(c.open_flushes)} | {_n(c.pfss_flushes)} | {_n(c.pfss_jobs)} | {_n(c.words_beaver)} "
            f"| {_n(c.words_mask)} | {_n(c.hatx_words)} | {_n(c.wire_bytes)} | {_n(c.direct_fss)} |")


def _sizes(check: Checklist) -> str:
    m, T, B = check.model, check.seq_len, check.batch
    N = B * T
    parts = [f"N = B·T = {_n(N)}", f"D = {_n(m.d_model)}", f"F = {_n(m.d_ff)}", f"H = {m.n_heads}",
             f"Dh = {m.head_dim}", f"R_s = B·H·T = {_n(B * m.n_heads * T)}"]
    soft = [r for r in check.runs if r.name == "Softmax"]
    if soft:
        for item in soft[0].items:
            if isinstance(item, Block) and item.count.startswith("K ="):
                parts.append(item.count.replace(" rounds", "") + " (⌈log2 T⌉)")
    wire = check.settings.wire
    neg = wire.negotiation_exchanges
    per_open = f"8·⌈W·{wire.eff_bits}/64⌉" if wire.eff_bits < 64 else "8·W"
    parts.append(f"n_bits = {m.n_bits}; wire bytes per open = {per_open}"
                 + (f" + {8 * neg} (negotiation)" if neg else ""))
    return ", ".join(parts)


def _step_rows(items: tuple, wire, depth: int = 0) -> list[str]:
    rows = []
    pad = "&nbsp;&nbsp;" * depth + ("↳ " if depth else "")
    for item in items:
        c = item_counts(item, wire)
        if isinstance(item, Step):
            rows.append(f"| {pad}{item.label}{_marks(item)} | {item.formula} | 1 | {c.open_flushes} | {c.pfss_flushes} "
                        f"| {_n(c.words_beaver)} | {_n(c.words_mask)} | {_n(c.wire_bytes)} | {_fss(item)} |")
        else:
            times = item.count or str(item.repeat)
            rows.append(f"| {pad}**{item.label}** | | {times} | **{c.open_flushes}** | **{c.pfss_flushes}** "
                        f"| {_n(c.words_beaver)} | {_n(c.words_mask)} | {_n(c.wire_bytes)} | |")
            rows += _step_rows(item.items, wire, depth + 1)
    return rows


def _run_section(r: RunChecklist, wire, repeats: int) -> str:
    title = f"### Run {r.index + 1} · {r.name} (phase {r.phase})"
    if repeats > 1:
        title += f" — first of {repeats} per-token runs"
    first = ("; its first PFSS demand is served by " + ("the phase planner" if r.planner else
             "the executor (no planner)")) if r.counts.pfss_flushes else ""
    lines = [title, "", f"{r.task}{first}.", "",
             "| step | formula (per occurrence) | × | open flushes | PFSS flushes | Beaver words | mask words "
             "| wire bytes | FSS evaluated |", "|---|---|---|--:|--:|--:|--:|--:|---|"]
    lines += _step_rows(r.items, wire)
    c = r.counts
    lines.append(f"| **run total** | | | **{c.open_flushes}** | **{c.pfss_flushes}** | {_n(c.words_beaver)} "
                 f"| {_n(c.words_mask)} | {_n(c.wire_bytes)} | |")
    return "\n".join(lines)


def _grouped(check: Checklist) -> list[tuple[RunChecklist, int, Counts]]:
    """Runs with per-token repeats (decode path) grouped by base name: (first run, how many, total)."""
    groups: dict[str, list] = {}
    for r in check.runs:
        key = r.name.split("@")[0]
        if key in groups:
            groups[key][1] += 1
            groups[key][2] = groups[key][2] + r.counts
        else:
            groups[key] = [r, 1, r.counts]
    return [tuple(g) for g in groups.values()]


def to_markdown(check: Checklist) -> str:
    wire, L = check.settings.wire, check.layers
    changed = changed_settings(check)
    agg = PARTIES * L
    out = [f"# 核对表 · flush-count checklist: {check.model.name}, T = {check.seq_len}, B = {check.batch}, "
           f"{L} layer{'s' if L > 1 else ''}", "",
           f"Runtime profile `{check.settings.profile}`; settings that differ from it: "
           + (", ".join(f"`{k}={v}`" for k, v in changed.items()) or "none") + ".",
           "Closed forms of the task definitions (spec §3-§4, DESIGN.md §5), not a simulation. Counts are **per "
           "party** unless a row says otherwise, and every layer is identical. The SUF bench JSON sums both "
           f"parties and all layers run: its `pfss.*` counters and `communication.net_bytes` are {agg} × "
           f"(2 parties × {L} layers) the per-party-per-layer numbers.", "",
           f"Sizes: {_sizes(check)}.", "", "## Totals", "", TOTAL_HEAD,
           _total_row("per party, per layer", check.per_layer),
           _total_row(f"per party, {L} layers", check.per_party),
           _total_row(f"**bench: 2 parties × {L} layers**", check.bench), "",
           "Bench JSON fields: " + ", ".join(f"`{k}` = {_n(v)}" for k, v in bench_counters(check.bench).items())
           + ".", "", "## Per layer, per run (per party)", "",
           f"| # | run | phase | task | open flushes | PFSS flushes | Beaver words | mask words | wire bytes "
           f"| bench opens (×{agg}) | bench PFSS (×{agg}) |", "|--:|---|---|---|--:|--:|--:|--:|--:|--:|--:|"]
    groups = _grouped(check)
    for first, k, c in groups:
        name = first.name if k == 1 else f"{first.name.split('@')[0]}@t0..t{k - 1} ({k} runs)"
        out.append(f"| {first.index + 1} | {name} | {first.phase} | {first.task} | {c.open_flushes} | "
                   f"{c.pfss_flushes} | {_n(c.words_beaver)} | {_n(c.words_mask)} | {_n(c.wire_bytes)} | "
                   f"{_n(c.open_flushes * agg)} | {_n(c.pfss_flushes * agg)} |")
    p = check.per_layer
    out += [f"| | **layer** | | | **{p.open_flushes}** | **{p.pfss_flushes}** | {_n(p.words_beaver)} "
            f"| {_n(p.words_mask)} | {_n(p.wire_bytes)} | {_n(p.open_flushes * agg)} | {_n(p.pfss_flushes * agg)} |",
            "", "## Each run's tasks and formulas (per party, one layer)", "",
            "A block row (bold) gives its total over its repetitions (× column); the rows under it (↳) give one "
            "repetition. `O(w, K)` is one open flush of w words of kind K (B Beaver, M masked input); `P(h)` is one "
            "PFSS flush of h hatx words; a direct FSS is evaluated inside the task and is no flush.", ""]
    for first, k, _c in groups:
        out += [_run_section(first, wire, k), ""]
    used = shortcuts_used(check)
    if used:
        order = list(SHORTCUTS)
        out += ["## SUF's shortcuts", "", "Steps marked [S*] are where SUF's code (the snapshot simulated here) does "
                "what no secure two-party protocol may; the counts above are the code's. docs/accuracy.md says what "
                "the value path does instead.", ""]
        out += [f"- **S{order.index(k) + 1}**: {SHORTCUTS[k]}" for k in used] + [""]
    return "\n".join(out)


RENDER = {"md": to_markdown, "csv": to_csv, "json": lambda c: json.dumps(to_json(c), indent=2) + "\n"}
