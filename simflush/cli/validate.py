"""``simflush validate``: predicted against measured (bench JSON, optional trace; or a trace in simflush's
schema alone), with intervals."""

import argparse
import json
from pathlib import Path

from ..analysis.calibration.samples import in_simflush_schema, load_source, profile_of_trace
from ..analysis.calibration.validate import at_traced_level, compare, compare_trace, plot_runs, report
from ..errors import ConfigError
from ..io.suf_bench import read_bench
from ..io.trace_schema import read_trace
from ..profiles import parse_overrides
from ..sim.cost import load_cost
from .options import check_outputs, warn_foreign_cost


def register(subparsers) -> None:
    p = subparsers.add_parser("validate", help="predicted vs measured (bench JSON and optional trace, or a real "
                                               "run's trace), with intervals")
    p.add_argument("--measured", type=Path, help="bench JSON of the measured run (a SUF run)")
    p.add_argument("--trace", type=Path,
                   help="the SUF trace of that run (per-run comparison), or a run traced in simflush's schema "
                        "(.json/.json.gz: the real backend's; it carries its run: no --measured)")
    p.add_argument("--cost", default="suf-h100", help="cost preset name or profile .json")
    p.add_argument("--traced", action="store_true",
                   help="the measured run was traced: predict at the profile's traced level")
    p.add_argument("--set", action="append", default=[], metavar="K=V",
                   help="override a runtime knob by its SUF env name (repeatable; after the flags the bench JSON's "
                        "preprocessing block echoes, or the knobs the trace records)")
    p.add_argument("--plot", type=Path, help="directory for the comparison figure (validate.png)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> str:
    check_outputs(dirs={"--plot": args.plot})
    parse_overrides(args.set)  # a bad --set fails here, before any work
    own_run = args.trace is not None and in_simflush_schema(args.trace)
    if own_run and args.measured is not None:
        raise ConfigError(f"--measured {args.measured}: the trace {args.trace} is in simflush's schema and carries "
                          "its run; leave --measured out")
    if not own_run and args.measured is None:
        raise ConfigError("--measured is required (the bench JSON of the run) unless --trace is in simflush's "
                          f"schema (.json/.json.gz); got --trace {args.trace}" if args.trace else
                          "--measured BENCH.json or --trace RUN.trace.json.gz (simflush's schema) is required")
    cost = load_cost(args.cost)
    if args.traced:
        cost = at_traced_level(cost)
    if own_run:
        trace = read_trace(args.trace)
        warn_foreign_cost(cost, profile_of_trace(trace.meta))
    else:
        bench = read_bench(args.measured)
        warn_foreign_cost(cost, "suf-gpu-bench" if bench.backend == "gpu" else "suf-cpu-bench")
        trace = load_source(args.trace, args.measured, args.set).trace if args.trace else None
    if trace is not None and not trace.timed:
        raise ConfigError(f"--trace {args.trace}: an untimed trace (no t= stamps: the CPU bench) has no run times "
                          "to compare; leave --trace out")
    doc = compare_trace(cost, trace, args.set) if own_run else compare(cost, bench, trace, args.set)
    if args.plot:
        args.plot.mkdir(parents=True, exist_ok=True)
        plot_runs(doc, args.plot / "validate.png")
    return json.dumps(doc, indent=2) + "\n" if args.json else report(doc)
