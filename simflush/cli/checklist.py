"""``simflush checklist``: the closed-form counts of a configuration as Markdown, CSV or JSON."""

import argparse

from ..analysis.checklist.counts import build_checklist
from ..analysis.checklist.render import FORMATS, RENDER
from ..errors import ConfigError
from .options import add_config_options, build_config


def register(subparsers) -> None:
    p = subparsers.add_parser("checklist", help="closed-form flush counts per task, run, layer and model (核对表)")
    add_config_options(p)
    p.add_argument("--format", default="md", help=f"output format: {', '.join(FORMATS)} (default md)")
    p.set_defaults(func=cmd_checklist)


def cmd_checklist(args: argparse.Namespace) -> str:
    if args.format not in FORMATS:
        raise ConfigError(f"--format {args.format!r}: allowed {', '.join(FORMATS)}")
    cfg = build_config(args)
    return RENDER[args.format](build_checklist(cfg.model, cfg.seq_len, cfg.batch, cfg.settings, cfg.layers))
