"""Command-line options that choose a configuration, and the ``SimConfig`` they give.

Shared by every command that simulates or counts (``simulate``, ``schedule``, ``compare``, ``checklist``,
``reconcile``, ``validate``); validation errors are ``ConfigError`` (one line, exit 2).
"""

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from models.specs import MODELS

from ..api import make_config, positive_int
from ..errors import ConfigError
from ..executor.policies import POLICIES
from ..limits import MAX_CHAINS
from ..networks import NETWORKS
from ..profiles import KNOBS, PROFILES
from ..sim.cost import CostModel
from ..sim.engine import DEPLOYMENTS, SimConfig


def positive(name: str, most: int | None = None):
    """An argparse ``type``: an integer in 1..``most`` (``simflush.api.positive_int``, as the API checks)."""
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = raw
        try:
            return positive_int(name, value, most)
        except ConfigError as exc:  # argparse shows an ArgumentTypeError's own message
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def non_negative(name: str):
    """An argparse ``type``: an integer >= 0 (a count)."""
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if value < 0:
            raise argparse.ArgumentTypeError(f"{name} must be a non-negative integer, got {raw!r}")
        return value
    return parse


def check_outputs(files: Mapping[str, str | Path | None] | None = None,
                  dirs: Mapping[str, str | Path | None] | None = None) -> None:
    """Refuse, before any work, an output path the command could not write at the end.

    ``files``/``dirs``: option name -> path (None: not given). A file must not be a directory, a
    directory not a file; the nearest existing parent must be a writable directory. A file's missing
    parent directories are created here, so every command can write it at the end.
    """
    outputs = [(opt, Path(p), False) for opt, p in (files or {}).items() if p]
    outputs += [(opt, Path(p), True) for opt, p in (dirs or {}).items() if p]
    for option, path, is_dir in outputs:
        if is_dir and path.exists() and not path.is_dir():
            raise ConfigError(f"{option} {path}: is a file, expected a directory")
        if not is_dir and path.is_dir():
            raise ConfigError(f"{option} {path}: is a directory, expected a file")
        if not is_dir and path.exists() and not os.access(path, os.W_OK):
            raise ConfigError(f"{option} {path}: the file is not writable")
        parent = path if is_dir else path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise ConfigError(f"{option} {path}: {parent} is not a directory")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(f"{option} {path}: {parent} is not writable")
    for _option, path, is_dir in outputs:
        if not is_dir:
            path.parent.mkdir(parents=True, exist_ok=True)


def add_model_options(p: argparse.ArgumentParser, model: str = "bert-base") -> None:
    """The options that pick a model run and its runtime settings (what the values depend on)."""
    p.add_argument("--model", default=model, help=f"one of: {', '.join(MODELS)} (default {model})")
    p.add_argument("--seq-len", type=positive("--seq-len"), default=128, help="sequence length T (default 128)")
    p.add_argument("--batch", type=positive("--batch"), default=1, help="batch size B (default 1)")
    p.add_argument("--layers", type=positive("--layers"), help="run the first L layers (default: all)")
    p.add_argument("--runtime", default="suf-gpu-bench", help=f"runtime profile: {', '.join(PROFILES)}")
    p.add_argument("--set", action="append", default=[], metavar="K=V",
                   help="override a runtime knob by its SUF env name (repeatable)")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = settings_help()


def add_config_options(p: argparse.ArgumentParser) -> None:
    """The options that pick a configuration to simulate (shared by every command that simulates)."""
    add_model_options(p)
    p.add_argument("--net", default="loopback",
                   help=f"network: {', '.join(NETWORKS)} or custom:BW_GBPS,RTT_MS")
    p.add_argument("--cost", default="suf-h100", help="cost preset name or profile .json")
    p.add_argument("--policy", default="suf", help=f"flush policy: {', '.join(POLICIES)}")
    p.add_argument("--deploy", default="colocated", help=f"deployment: {', '.join(DEPLOYMENTS)}")
    p.add_argument("--chains", type=positive("--chains", MAX_CHAINS), default=1,
                   help="split every run into K staggered independent tasks (default 1: the snapshot)")


def settings_help() -> str:
    """What --runtime, --policy and --set accept, with one line each (shown under ``--help``)."""
    lines = ["runtime profiles:"] + [f"  {n:<15} {p.description}" for n, p in PROFILES.items()]
    lines += ["flush policies:"] + [f"  {n:<15} {p.description}" for n, p in POLICIES.items()]
    lines += ["knobs for --set NAME=VALUE:"] + [f"  {n:<31} {k.help}" for n, k in KNOBS.items()]
    return "\n".join(lines)


def build_config(args: argparse.Namespace) -> SimConfig:
    """The configuration the options of ``add_config_options`` chose (``simflush.api.make_config``)."""
    return make_config(model=args.model, seq_len=args.seq_len, batch=args.batch, layers=args.layers,
                       runtime=args.runtime, knobs=args.set, policy=args.policy, net=args.net, cost=args.cost,
                       deploy=args.deploy, chains=args.chains)


def warn_foreign_cost(cost: CostModel, runtime_profile: str) -> None:
    """One stderr line per way the cost profile does not fit a run of ``runtime_profile`` (its times are
    then suspect)."""
    for message in cost.foreign_use(runtime_profile):
        print(f"warning: {message}", file=sys.stderr)
