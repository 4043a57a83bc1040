"""``simflush accuracy``: the plaintext fixed-point model against float64, per phase, with the range check."""

import argparse
import json
import sys

from ..analysis.accuracy import accuracy_table, measure_accuracy
from .options import add_model_options, non_negative, positive


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
    add_model_options(p, "bert-tiny")
    p.add_argument("--n-bits", type=positive("--n-bits"), help="ring bits n (default: the model's)")
    p.add_argument("--frac-bits", type=positive("--frac-bits"), help="frac bits f (default: the model's)")
    p.add_argument("--seed", type=non_negative("--seed"), default=0, help="seed of the random weights and input")
    p.add_argument("--weights", metavar="FILE", help="a safetensors checkpoint (default: seeded random weights)")
    p.add_argument("--json", action="store_true", help="a JSON document instead of the table")
    p.set_defaults(func=cmd_accuracy)
