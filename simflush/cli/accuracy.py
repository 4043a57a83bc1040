"""``simflush accuracy``: the plaintext fixed-point model against float64, per phase, with the range check."""

import argparse
import json
import sys

from models.specs import MODELS

from ..analysis.accuracy import accuracy_table, measure_accuracy
from ..profiles import PROFILES
from .options import non_negative, positive, settings_help


def cmd_accuracy(args: argparse.Namespace) -> str:
    report = measure_accuracy(model=args.model, seq_len=args.seq_len, batch=args.batch, layers=args.layers,
                              runtime=args.runtime, knobs=args.set, n_bits=args.n_bits, frac_bits=args.frac_bits,
                              seed=args.seed, weights=args.weights)
    if not args.json:
        return accuracy_table(report)
    warning = report.ranges.warning()
    if warning:  # the table says it on its last line; a JSON document says it in "range" and here
        print(f"warning: {warning}", file=sys.stderr)
    return json.dumps(report.to_json(), indent=2) + "\n"


def register(sub) -> None:
    p = sub.add_parser("accuracy", help="fixed-point error of the model against float64, per phase")
    p.add_argument("--model", default="bert-tiny", help=f"one of: {', '.join(MODELS)} (default bert-tiny)")
    p.add_argument("--seq-len", type=positive("--seq-len"), default=128, help="sequence length T (default 128)")
    p.add_argument("--batch", type=positive("--batch"), default=1, help="batch size B (default 1)")
    p.add_argument("--layers", type=positive("--layers"), help="run the first L layers (default: all)")
    p.add_argument("--runtime", default="suf-gpu-bench", help=f"runtime profile: {', '.join(PROFILES)}")
    p.add_argument("--set", action="append", default=[], metavar="K=V",
                   help="override a runtime knob by its SUF env name (repeatable)")
    p.add_argument("--n-bits", type=positive("--n-bits"), help="ring bits n (default: the model's)")
    p.add_argument("--frac-bits", type=positive("--frac-bits"), help="frac bits f (default: the model's)")
    p.add_argument("--seed", type=non_negative("--seed"), default=0, help="seed of the random weights and input")
    p.add_argument("--weights", metavar="FILE", help="a safetensors checkpoint (default: seeded random weights)")
    p.add_argument("--json", action="store_true", help="a JSON document instead of the table")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = settings_help()
    p.set_defaults(func=cmd_accuracy)
