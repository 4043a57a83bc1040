"""Command-line options that choose a configuration, and the ``SimConfig`` they give.

Shared by every command that simulates or counts (``simulate``, ``schedule``, ``compare``, ``checklist``,
``reconcile``, ``validate``); validation errors are ``ConfigError`` (one line, exit 2).
"""

import argparse
import sys

from models.specs import MODELS, get_model

from ..errors import ConfigError
from ..executor.policies import POLICIES
from ..profiles import KNOBS, PROFILES, parse_overrides, resolve
from ..sim.cost import NETWORKS, get_network, load_cost
from ..sim.engine import DEPLOYMENTS, SimConfig


def positive(name: str):
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
    p.add_argument("--seq-len", type=positive("--seq-len"), default=128, help="sequence length T (default 128)")
    p.add_argument("--batch", type=positive("--batch"), default=1, help="batch size B (default 1)")
    p.add_argument("--layers", type=positive("--layers"), help="run the first L layers (default: all)")
    p.add_argument("--runtime", default="suf-gpu-bench", help=f"runtime profile: {', '.join(PROFILES)}")
    p.add_argument("--set", action="append", default=[], metavar="K=V",
                   help="override a runtime knob by its SUF env name (repeatable)")
    p.add_argument("--net", default="loopback",
                   help=f"network: {', '.join(NETWORKS)} or custom:BW_GBPS,RTT_MS")
    p.add_argument("--cost", default="suf-h100", help="cost preset name or profile .json")
    p.add_argument("--policy", default="suf", help=f"flush policy: {', '.join(POLICIES)}")
    p.add_argument("--deploy", default="colocated", help=f"deployment: {', '.join(DEPLOYMENTS)}")
    p.add_argument("--chains", type=positive("--chains"), default=1,
                   help="split every run into K staggered independent tasks (default 1: the snapshot)")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = settings_help()


def settings_help() -> str:
    """What --runtime, --policy and --set accept, with one line each (shown under ``--help``)."""
    lines = ["runtime profiles:"] + [f"  {n:<15} {p.description}" for n, p in PROFILES.items()]
    lines += ["flush policies:"] + [f"  {n:<15} {p.description}" for n, p in POLICIES.items()]
    lines += ["knobs for --set NAME=VALUE:"] + [f"  {n:<31} {k.help}" for n, k in KNOBS.items()]
    return "\n".join(lines)


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
