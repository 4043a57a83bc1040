"""The ``simflush`` command.

Exit codes: 0 ok; 2 bad input (one line naming the bad value and what is allowed); 3 the simulated
SUF runtime would throw for this configuration (which run, which cap).
"""

import argparse
import json
import sys

from models.specs import MODELS, get_model

from .analysis import calibrate, checklist_render, compare, reconcile_cli, validate
from .errors import ConfigError, SufRuntimeError
from .executor.policies import POLICIES
from .io.bench_json import bench_document
from .io.report import models_report, simulate_report
from .io.schedule_csv import schedule_csv
from .profiles import PROFILES, parse_overrides, resolve
from .sim.cost import NETWORKS, get_network, load_cost
from .sim.engine import DEPLOYMENTS, SimConfig, SimResult, simulate


# Commands defined in other modules: each is ``register(subparsers)`` and sets ``func`` on its parser;
# ``func(args) -> str`` returns what to print. Add yours here.
COMMANDS: list = [calibrate.register, validate.register, compare.register, checklist_render.register,
                   reconcile_cli.register]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        raise ConfigError(f"{self.prog}: {message}")


def _positive(name: str):
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {raw!r}")
        return value
    return parse


def add_config_options(p: argparse.ArgumentParser) -> None:
    """The options that pick a configuration to simulate (shared by every command that simulates)."""
    p.add_argument("--model", default="bert-base", help=f"one of: {', '.join(MODELS)} (default bert-base)")
    p.add_argument("--seq-len", type=_positive("--seq-len"), default=128, help="sequence length T (default 128)")
    p.add_argument("--batch", type=_positive("--batch"), default=1, help="batch size B (default 1)")
    p.add_argument("--layers", type=_positive("--layers"), help="run the first L layers (default: all)")
    p.add_argument("--runtime", default="suf-gpu-bench", help=f"runtime profile: {', '.join(PROFILES)}")
    p.add_argument("--set", action="append", default=[], metavar="K=V",
                   help="override a runtime knob by its SUF env name (repeatable)")
    p.add_argument("--net", default="loopback",
                   help=f"network: {', '.join(NETWORKS)} or custom:BW_GBPS,RTT_MS")
    p.add_argument("--cost", default="suf-h100", help="cost preset name or profile .json")
    p.add_argument("--policy", default="suf", help=f"flush policy: {', '.join(POLICIES)}")
    p.add_argument("--deploy", default="colocated", help=f"deployment: {', '.join(DEPLOYMENTS)}")
    p.add_argument("--chains", type=_positive("--chains"), default=1,
                   help="split every run into K staggered independent tasks (default 1: the snapshot)")


def build_config(args: argparse.Namespace) -> SimConfig:
    try:
        model = get_model(args.model)
    except KeyError as exc:
        raise ConfigError(exc.args[0]) from None
    if args.seq_len > model.max_seq:
        raise ConfigError(f"--seq-len {args.seq_len} exceeds {model.name}'s max_seq {model.max_seq}")
    layers = args.layers or model.n_layers
    if layers > model.n_layers:
        raise ConfigError(f"--layers {layers}: {model.name} has {model.n_layers} layers (allowed 1..{model.n_layers})")
    if args.policy not in POLICIES:
        raise ConfigError(f"unknown policy {args.policy!r}; allowed: {', '.join(sorted(POLICIES))}")
    if args.deploy not in DEPLOYMENTS:
        raise ConfigError(f"unknown deployment {args.deploy!r}; allowed: {', '.join(DEPLOYMENTS)}")
    settings = resolve(args.runtime, model, parse_overrides(args.set), chains=args.chains)
    cost = load_cost(args.cost)
    return SimConfig(model, args.seq_len, args.batch, layers, settings, cost, get_network(args.net),
                     args.policy, args.deploy)


def warn_foreign_cost(config: SimConfig) -> None:
    """One stderr line per way the cost profile does not fit this run (its times are then suspect)."""
    for message in config.cost.foreign_use(config.settings.profile):
        print(f"warning: {message}", file=sys.stderr)


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
