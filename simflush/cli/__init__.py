"""The ``simflush`` command: one module per command (or family of commands), each with
``register(subparsers)``, which sets ``func(args) -> str`` (what to print) on its parser.

Exit codes (listed under ``simflush --help``): 0 ok; 2 bad input (one line naming the bad value and what
is allowed); 3 the simulated SUF runtime would throw for this configuration (which run, which cap);
130 interrupted (Ctrl-C: one line, no traceback).

SUF's env variables (``simflush.environment``): a command with ``--set`` applies those named like a knob
as if they were given before its own ``--set`` (which wins), with one notice line on stderr; a command
without ``--set`` warns that it ignores them. ``SUF_*`` variables we do not model: one warning line.
"""

import argparse
import codecs
import io
import sys

from ..environment import read_environment
from ..errors import ConfigError, SufRuntimeError
from ..version import __version__
from . import accuracy, calibrate, checklist, compare, reconcile, simulate, sweep, validate, whatif_report

# Add a command here: its module's ``register`` adds its parser, in this order in ``--help``.
COMMANDS = (simulate, calibrate, validate, compare, sweep, checklist, reconcile, whatif_report, accuracy)

EXIT_CODES = {0: "ok", 2: "bad input (one line naming the bad value and what is allowed)",
              3: "the simulated SUF runtime would throw for this configuration (which run, which cap)",
              130: "interrupted (Ctrl-C)"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        raise ConfigError(f"{self.prog}: {message}")


def make_parser() -> argparse.ArgumentParser:
    epilog = "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())
    epilog += ("\n\nSUF env variables named like a knob (SUF_GELU_CONST=0, ...) apply to commands with --set,\n"
               "as if given before their own --set, which wins; a notice on stderr says so.")
    parser = _Parser(prog="simflush", description="Flush-schedule simulator of SUF-style 2PC FSS inference.",
                     epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"simflush {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        command.register(sub)
    return parser


def apply_environment(args: argparse.Namespace) -> None:
    """Put SUF's env knobs in front of ``args.set`` (so ``--set`` wins) and say so on stderr, once;
    warn about ``SUF_*`` variables that are no knob, and about env knobs a command without ``--set`` ignores."""
    env = read_environment()
    if env.unknown:
        print(f"warning: SUF environment variables not modelled by simflush, ignored: {', '.join(env.unknown)}",
              file=sys.stderr)
    if not env.knobs:
        return
    pairs = [f"{name}={value}" for name, value in env.knobs.items()]
    if not hasattr(args, "set"):
        print(f"warning: simflush {args.command} takes no --set; ignored from the environment: {', '.join(pairs)}",
              file=sys.stderr)
        return
    given = {pair.partition("=")[0] for pair in args.set}
    shown = [p + (" (overridden by --set)" if p.partition("=")[0] in given else "") for p in pairs]
    print(f"note: knobs from the environment, as --set: {', '.join(shown)}", file=sys.stderr)
    args.set = [*pairs, *args.set]


def _ascii_safe(stream) -> None:
    """On a terminal whose encoding cannot hold the outputs' ×, µ, ± or 核对表 (LANG=C, PYTHONIOENCODING=ascii),
    write those characters as backslash escapes instead of failing; UTF-8 streams are left as they are."""
    if isinstance(stream, io.TextIOWrapper) and codecs.lookup(stream.encoding).name != "utf-8":
        stream.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    _ascii_safe(sys.stdout)
    try:
        args = make_parser().parse_args(argv)
        apply_environment(args)
        sys.stdout.write(args.func(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SufRuntimeError as exc:
        print(f"runtime error (the SUF runtime would throw) in {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
