"""``simflush reconcile``: measured counts (a phase's, a bench JSON's or a trace's) -> the settings behind them."""

import argparse
import json
from pathlib import Path

from ..analysis.checklist.counts import BENCH_FIELDS
from ..analysis.reconcile.report import TOP, explain, reconcile_counts
from ..analysis.reconcile.search import AGGREGATIONS, PHASES, Problem
from ..analysis.reconcile.space import search_space
from ..errors import ConfigError
from ..io.suf_bench import read_bench
from ..profiles import parse_overrides
from .options import add_config_options, build_config, non_negative

# -- the command -----------------------------------------------------------------------------------------

def register(subparsers) -> None:
    p = subparsers.add_parser("reconcile", help="find the settings that explain measured flush counts")
    add_config_options(p)
    p.set_defaults(model=None, seq_len=None, batch=None, runtime=None)
    p.add_argument("--phase", help=f"phase ({', '.join(PHASES)}) or run name (e.g. LN1, Softmax, MLP_act); "
                   "without it --open/--pfss count the whole layer")
    p.add_argument("--open", type=non_negative("--open"), help="measured open flushes")
    p.add_argument("--pfss", type=non_negative("--pfss"), help="measured PFSS flushes")
    p.add_argument("--aggregate", default="auto",
                   help=f"how the counts were summed: {', '.join(AGGREGATIONS)}, or auto (try each; default)")
    p.add_argument("--bench-json", type=Path, help="a SUF bench JSON (whole-model counters, both parties)")
    p.add_argument("--trace", type=Path, help="a SUF flush trace: attribute every flush to a task and branch")
    p.add_argument("--top", type=non_negative("--top"), default=TOP, help=f"candidates to show (default {TOP})")
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
    args.set = bench.knobs(args.set)
    doc = json.loads(Path(args.bench_json).read_text())
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
        from ..analysis.reconcile.trace import explain_trace, reconcile_trace

        doc = reconcile_trace(_problem(args, None), args.trace, args.top)
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
