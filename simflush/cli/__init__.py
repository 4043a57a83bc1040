"""The ``simflush`` command: one module per command (or family of commands), each with
``register(subparsers)``, which sets ``func(args) -> str`` (what to print) on its parser.

Exit codes: 0 ok; 2 bad input (one line naming the bad value and what is allowed); 3 the simulated
SUF runtime would throw for this configuration (which run, which cap).
"""

import argparse
import sys

from ..errors import ConfigError, SufRuntimeError
from . import calibrate, checklist, compare, reconcile, simulate, sweep, validate, whatif_report

# Add a command here: its module's ``register`` adds its parser, in this order in ``--help``.
COMMANDS = (simulate, calibrate, validate, compare, sweep, checklist, reconcile, whatif_report)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        raise ConfigError(f"{self.prog}: {message}")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="simflush", description="Flush-schedule simulator of SUF-style 2PC FSS inference.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        command.register(sub)
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
