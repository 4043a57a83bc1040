"""The ``simflush`` command.

Exit codes: 0 ok; 2 bad input (one line naming the bad value and what is allowed); 3 the simulated
SUF runtime would throw for this configuration (which run, which cap).
"""

import argparse
import json
import sys

from models.specs import MODELS

from .analysis import calibrate, checklist_render, compare, reconcile_cli, validate
from .errors import ConfigError, SufRuntimeError
from .io.bench_json import bench_document
from .io.report import models_report, simulate_report
from .io.schedule_csv import schedule_csv
from .options import add_config_options, build_config, warn_foreign_cost
from .sim.engine import SimResult, simulate

# Commands defined in other modules: each is ``register(subparsers)`` and sets ``func`` on its parser;
# ``func(args) -> str`` returns what to print. Add yours here.
COMMANDS: list = [calibrate.register, validate.register, compare.register, checklist_render.register,
                   reconcile_cli.register]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        raise ConfigError(f"{self.prog}: {message}")


def _run(args: argparse.Namespace) -> SimResult:
    config = build_config(args)
    warn_foreign_cost(config)
    return simulate(config)


def cmd_simulate(args: argparse.Namespace) -> str:
    doc = bench_document(_run(args))
    return json.dumps(doc, indent=2) + "\n" if args.json else simulate_report(doc)


def cmd_schedule(args: argparse.Namespace) -> str:
    result = _run(args)
    if not 0 <= args.layer < result.config.layers:
        raise ConfigError(f"--layer {args.layer}: allowed 0..{result.config.layers - 1}")
    return schedule_csv(result, args.layer)


def cmd_models(args: argparse.Namespace) -> str:
    return models_report(MODELS)


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="simflush", description="Flush-schedule simulator of SUF-style 2PC FSS inference.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("simulate", help="every open and PFSS flush of a model run, with totals and times")
    add_config_options(p)
    p.add_argument("--json", action="store_true", help="a JSON document with the SUF bench field names")
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("schedule", help="one row per flush of one layer, in order")
    add_config_options(p)
    p.add_argument("--layer", type=int, default=0, help="which layer (default 0)")
    p.add_argument("--format", choices=["csv"], default="csv")
    p.set_defaults(func=cmd_schedule)
    p = sub.add_parser("models", help="list the models and their specs")
    p.set_defaults(func=cmd_models)
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = make_parser().parse_args(argv)
        sys.stdout.write(args.func(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SufRuntimeError as exc:
        print(f"runtime error (the SUF runtime would throw) in {exc.run}: {exc.message}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
