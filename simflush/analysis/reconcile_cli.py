"""``simflush reconcile``: measured counts (a phase's, a bench JSON's or a trace's) -> the settings that explain them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import ConfigError
from ..io.suf_bench import read_bench
from ..options import add_config_options, build_config
from ..profiles import parse_overrides
from .checklist import BENCH_FIELDS
from .reconcile import (
    AGGREGATIONS,
    PHASES,
    Problem,
    aggregation_factor,
    candidate,
    search,
)
from .reconcile_space import search_space

TOP = 5
# the bench JSON's echoes of env flags (``preprocessing``), pinned when present
ECHOES = {"gelu_const": "SUF_GELU_CONST", "per_element_masks": "SUF_PER_ELEMENT_MASKS",
          "open_pack_effbits": "SUF_OPEN_PACK_EFFBITS"}


def _count(name: str):
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a non-negative integer, got {raw!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{name} must be a non-negative integer, got {raw!r}")
        return value
    return parse


def reconcile_counts(problem: Problem, measured: dict[str, int], aggregations: tuple[str, ...],
                     top: int = TOP) -> dict:
    """The reconcile document for counts measured at one of ``aggregations`` (each tried in turn)."""
    tries = []
    for agg in aggregations:
        factor = aggregation_factor(agg, problem.layers)
        whole = all(v % factor == 0 for v in measured.values())
        target = {k: round(v / factor) for k, v in measured.items()}
        exact, n_exact, near = search(problem, target, top)
        if not whole:  # a count that is not a whole number per party per layer explains nothing exactly
            exact, n_exact, near = [], 0, exact or near
        tries.append({"aggregation": agg, "factor": factor, "explained": bool(exact), "exact_matches": n_exact,
                      "per_party_per_layer": target if whole else None,
                      "candidates": [candidate(problem, m, factor, measured) for m in exact],
                      "nearest": [candidate(problem, m, factor, measured) for m in near]})
    space = problem.space
    explained = [t for t in tries if t["explained"]]
    likely = min(explained, key=lambda t: t["candidates"][0]["distance"])["aggregation"] if explained else None
    return {"model": problem.model.name, "seq_len": problem.seq_len, "batch_size": problem.batch,
            "n_layers_run": problem.layers, "runtime_profile": space.profile,
            "scope": problem.scope or "layer", "measured": measured, "pinned": space.pinned,
            "search_space": {"knobs": space.knobs, "configurations": space.size},
            "explained": bool(explained), "most_likely_aggregation": likely, "aggregations": tries}


# -- the readable explanation ------------------------------------------------------------------------------

FIELD_WORDS = {"open_flushes": "open flushes", "pfss_flushes": "PFSS flushes", "pfss_jobs": "PFSS jobs",
               "words_beaver": "Beaver words", "words_mask": "mask words", "hatx_words": "hatx words",
               "wire_bytes": "wire bytes"}
AGG_WORDS = {"per-party-per-layer": "per party per layer", "per-party": "per party, summed over {L} layers",
             "bench": "summed over both parties and {L} layers (the bench JSON's convention)"}


def _counts_text(counts: dict) -> str:
    return ", ".join(f"{v:,} {FIELD_WORDS.get(k, k)}" for k, v in counts.items())


def _settings_text(c: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in c["changed"].items()) or "the profile's defaults"


def _breakdown_text(c: dict) -> list[str]:
    rows = []
    for b in c["breakdown"]:
        direct = f", {b['direct_fss']} direct FSS" if b["direct_fss"] else ""
        rows.append(f"      {b['run']}: {b['task']}: {b['open_flushes']} open + {b['pfss_flushes']} PFSS flushes{direct}")
    return rows


def explain(doc: dict) -> str:
    L = doc["n_layers_run"]
    scope = "the whole layer" if doc["scope"] == "layer" else f"phase {doc['scope']}"
    out = [f"Measured ({scope}, {doc['model']}, T = {doc['seq_len']}, B = {doc['batch_size']}, {L} layers): "
           f"{_counts_text(doc['measured'])}.",
           f"Searched {doc['search_space']['configurations']:,} configurations of "
           f"{len(doc['search_space']['knobs'])} settings around profile {doc['runtime_profile']}"
           + (f" (pinned: {', '.join(f'{k}={v}' for k, v in doc['pinned'].items())})" if doc["pinned"] else "") + "."]
    if doc["most_likely_aggregation"] and len(doc["aggregations"]) > 1:
        t = next(t for t in doc["aggregations"] if t["aggregation"] == doc["most_likely_aggregation"])
        out.append(f"Most likely: the counts are {AGG_WORDS[t['aggregation']].format(L=L)}, under "
                   f"{_settings_text(t['candidates'][0])} (the reading that needs the fewest changed settings).")
    for t in doc["aggregations"]:
        agg = AGG_WORDS[t["aggregation"]].format(L=L)
        out.append("")
        if t["explained"]:
            per = _counts_text(t["per_party_per_layer"])
            best = t["candidates"][0]
            ties = sum(1 for c in t["candidates"] if c["distance"] == best["distance"])
            out.append(f"Read as {agg}: that is {per} per party per layer (÷ {t['factor']}). "
                       f"{t['exact_matches']:,} configurations reproduce it exactly; the closest to the profile:")
            for i, c in enumerate(t["candidates"], 1):
                out.append(f"  {i}. [{c['distance']} changed] {_settings_text(c)}")
                if i == 1:
                    out += _breakdown_text(c)
            if ties > 1:
                out.append(f"  ({ties} candidates tie at {best['distance']} changed settings: they are "
                           "indistinguishable by these counts; a trace or more counters would separate them.)")
        else:
            out.append(f"Read as {agg}: nothing in the search space explains it"
                       + ("" if t["per_party_per_layer"] else
                          f" ({_counts_text(doc['measured'])} is not a multiple of {t['factor']})") + ". Nearest:")
            for i, c in enumerate(t["nearest"], 1):
                res = ", ".join(f"{v:+,} {FIELD_WORDS.get(k, k)}" for k, v in c["residual_at_aggregation"].items())
                out.append(f"  {i}. [{c['distance']} changed] {_settings_text(c)}: predicts "
                           f"{_counts_text(c['predicted_at_aggregation'])}; residual (measured − predicted) {res}")
    return "\n".join(out) + "\n"


# -- the command -----------------------------------------------------------------------------------------

def register(subparsers) -> None:
    p = subparsers.add_parser("reconcile", help="find the settings that explain measured flush counts")
    add_config_options(p)
    p.set_defaults(model=None, seq_len=None, batch=None, runtime=None)
    p.add_argument("--phase", help=f"phase ({', '.join(PHASES)}) or run name (e.g. LN1, Softmax, MLP_act); "
                   "without it --open/--pfss count the whole layer")
    p.add_argument("--open", type=_count("--open"), help="measured open flushes")
    p.add_argument("--pfss", type=_count("--pfss"), help="measured PFSS flushes")
    p.add_argument("--aggregate", default="auto",
                   help=f"how the counts were summed: {', '.join(AGGREGATIONS)}, or auto (try each; default)")
    p.add_argument("--bench-json", type=Path, help="a SUF bench JSON (whole-model counters, both parties)")
    p.add_argument("--trace", type=Path, help="a SUF flush trace: attribute every flush to a task and branch")
    p.add_argument("--top", type=_count("--top"), default=TOP, help=f"candidates to show (default {TOP})")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_reconcile)


def _fill_config(args: argparse.Namespace, model: str | None, seq_len: int | None, batch: int | None,
                 layers: int | None, backend: str | None, source: str) -> None:
    """Take the configuration from the measured file; refuse one that contradicts the options given."""
    for opt, given, found in (("--model", args.model, model), ("--seq-len", args.seq_len, seq_len),
                              ("--batch", args.batch, batch), ("--layers", args.layers, layers)):
        if given is not None and found is not None and given != found:
            raise ConfigError(f"{source} is of {opt} {found}, not {given}: a measurement of another model or size")
    args.model = args.model or model
    args.seq_len = args.seq_len or seq_len
    args.batch = args.batch or batch
    args.layers = args.layers or layers
    if args.runtime is None and backend is not None:
        args.runtime = "suf-cpu-bench" if backend == "cpu" else "suf-gpu-bench"


def _bench_measurement(args: argparse.Namespace) -> dict[str, int]:
    bench = read_bench(args.bench_json)
    _fill_config(args, bench.model, bench.seq_len, bench.batch, bench.layers, bench.backend, str(args.bench_json))
    doc = json.loads(Path(args.bench_json).read_text())
    pre = doc.get("preprocessing") or {}
    for echo, knob in ECHOES.items():
        if isinstance(pre.get(echo), bool) and not any(s.startswith(knob + "=") for s in args.set):
            args.set.append(f"{knob}={int(pre[echo])}")
    measured = {}
    for field, name in BENCH_FIELDS.items():
        section, key = field.split(".")
        value = (doc.get(section) or {}).get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            measured[name] = value
    return measured


def _problem(args: argparse.Namespace, scope: str | None) -> Problem:
    args.model = args.model or "bert-base"
    args.seq_len = args.seq_len or 128
    args.batch = args.batch or 1
    args.runtime = args.runtime or "suf-gpu-bench"
    cfg = build_config(args)
    if args.chains != 1:
        raise ConfigError("--chains: reconcile explains one chain per run (the SUF schedule); use --chains 1")
    space = search_space(cfg.settings.profile, cfg.model, parse_overrides(args.set))
    return Problem(cfg.model, cfg.seq_len, cfg.batch, cfg.layers, space, scope)


def cmd_reconcile(args: argparse.Namespace) -> str:
    sources = [x for x in (args.phase is not None or args.open is not None or args.pfss is not None,
                           args.bench_json, args.trace) if x]
    if len(sources) != 1:
        raise ConfigError("give one measurement: --phase NAME --open N --pfss K, or --bench-json FILE, or --trace FILE")
    if args.aggregate != "auto" and args.aggregate not in AGGREGATIONS:
        raise ConfigError(f"unknown aggregation {args.aggregate!r}; allowed: {', '.join(AGGREGATIONS)}, auto")
    if args.trace:
        from .reconcile_trace import explain_trace, reconcile_trace

        doc = reconcile_trace(args, _problem, args.top)
        return json.dumps(doc, indent=2) + "\n" if args.json else explain_trace(doc)
    if args.bench_json:
        measured = _bench_measurement(args)
        problem = _problem(args, None)
        aggregations = ("bench",) if args.aggregate == "auto" else (args.aggregate,)
    else:
        if args.open is None and args.pfss is None:
            raise ConfigError("--phase needs --open N and/or --pfss K (the measured counts)")
        measured = {k: v for k, v in (("open_flushes", args.open), ("pfss_flushes", args.pfss)) if v is not None}
        problem = _problem(args, args.phase)
        aggregations = AGGREGATIONS if args.aggregate == "auto" else (args.aggregate,)
    doc = reconcile_counts(problem, measured, aggregations, args.top)
    return json.dumps(doc, indent=2) + "\n" if args.json else explain(doc)
