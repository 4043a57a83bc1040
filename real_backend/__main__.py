"""``python -m real_backend run ...``: the two-party run on one host (``real_backend.run``), or ``run --deal-to DIR``,
then ``party`` on each host and ``combine DIR``; ``selftest``: the primitives'."""

import sys

from . import run, selftest

COMMANDS = {"run": run.main, "party": run.party_main, "combine": run.combine_main, "selftest": selftest.main}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python -m real_backend {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
