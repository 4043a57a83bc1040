"""``simflush whatif-report --out docs``: write docs/whatif.md and its figures."""

import argparse
from pathlib import Path

from .options import check_outputs
from .progress import callback


def cmd_whatif_report(args: argparse.Namespace) -> str:
    check_outputs(dirs={"--out": args.out})
    from ..analysis.whatif.report import write_report  # matplotlib: imported only by the command that plots

    return write_report(Path(args.out), callback("what-if study"))


def register(sub) -> None:
    p = sub.add_parser("whatif-report", help="write docs/whatif.md and its figures (the three questions)")
    p.add_argument("--out", default="docs", help="folder for whatif.md (figures go to OUT/whatif/)")
    p.set_defaults(func=cmd_whatif_report)
