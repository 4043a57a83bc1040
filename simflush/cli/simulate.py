"""``simflush simulate``, ``schedule`` and ``models``: one configuration's flushes, totals and times."""

import argparse
import json

from models.specs import MODELS

from ..api import Result, simulate_config
from ..errors import ConfigError
from ..io.report import models_report, simulate_report
from ..io.schedule_csv import schedule_csv
from .options import add_config_options, build_config, warn_foreign_cost


def _run(args: argparse.Namespace) -> Result:
    config = build_config(args)
    warn_foreign_cost(config.cost, config.settings.profile)
    return simulate_config(config)


def cmd_simulate(args: argparse.Namespace) -> str:
    doc = _run(args).bench_json()
    return json.dumps(doc, indent=2) + "\n" if args.json else simulate_report(doc)


def cmd_schedule(args: argparse.Namespace) -> str:
    result = _run(args)
    if not 0 <= args.layer < result.config.layers:
        raise ConfigError(f"--layer {args.layer}: allowed 0..{result.config.layers - 1}")
    return schedule_csv(result.trace, args.layer)


def cmd_models(args: argparse.Namespace) -> str:
    return models_report(MODELS)


def register(sub) -> None:
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
