"""Calibrate on one model's trace, predict the others: the traced runs of validation/suf_h100_device.

All five traces (bert-tiny, bert-base, bert-large, gpt2, gpt-neo-1.3b; T = 128) come from one machine, so
no machine factor enters: each profile is fitted at the traced level from one trace alone and predicts
the traced online time of every model.

    python validation/cross_model.py            # Markdown matrix: rows calibrated on, columns predicted
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from simflush.analysis.calibration.calibrate import calibrate  # noqa: E402
from simflush.analysis.calibration.samples import load_source  # noqa: E402
from simflush.analysis.calibration.validate import predict  # noqa: E402
from simflush.io.suf_bench import read_bench  # noqa: E402

DATA = HERE / "suf_h100_device"
MODELS = ("bert-tiny", "bert-base", "bert-large", "gpt2", "gpt-neo-1.3b")


def matrix(models: tuple[str, ...] = MODELS, sources: tuple[str, ...] | None = None) -> dict[str, dict[str, float]]:
    """calibrated-on (``sources``, default all ``models``) -> predicted model -> relative error of the
    traced online time."""
    benches = {m: read_bench(DATA / f"tr_{m}.json") for m in models}
    out: dict[str, dict[str, float]] = {}
    for source_model in sources or models:
        source = load_source(DATA / f"tr_{source_model}.trace.gz", DATA / f"tr_{source_model}.json")
        cost = calibrate([source], name=f"from-{source_model}").cost
        out[source_model] = {m: predict(cost, b).online_time_s / b.online_time_s - 1 for m, b in benches.items()}
    return out


def markdown(errors: dict[str, dict[str, float]]) -> str:
    models = list(errors)
    lines = ["| calibrated on \\ predicted | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for source, row in errors.items():
        lines.append(f"| {source} | " + " | ".join(f"{row[m]:+.1%}" for m in models) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args(argv)
    errors = matrix()
    print(json.dumps(errors, indent=2) if args.json else markdown(errors), end="\n" if args.json else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
