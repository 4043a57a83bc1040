"""Timing of the plaintext fixed-point run (PlainContext, NumPy); figures go in docs/accuracy.md.

    python benchmarks/bench_plain.py

Best of 3 per configuration, in this process (imports and weight generation excluded; the layers' weight
encoding included). Targets (issue #11): bert-tiny, 2 layers, T = 128 <= 5 s; bert-base, one layer <= 30 s.
The range probe (the same run on float64) and the whole ``measure_accuracy`` (probe, fixed point, float reference)
are timed beside it.
"""

import numpy as np
from bench_checklist import best_of

from models.specs import get_model
from models.weights import random_hidden_states, random_weights
from simflush.analysis.accuracy import measure_accuracy
from simflush.plain.layer import run_model
from simflush.plain.ranges import range_check
from simflush.profiles import resolve
from simflush.tasks.values import FixedPoint, RingArith


def main() -> None:
    print("| model | layers | T | PlainContext s | range probe s | measure_accuracy s | target s |\n"
          "|---|--:|--:|--:|--:|--:|--:|")
    for name, layers, target in (("bert-tiny", 2, 5), ("bert-base", 1, 30)):
        spec = get_model(name)
        weights, x = random_weights(spec, 0, layers), random_hidden_states(spec, 128, 0)
        settings, fixed = resolve("suf-gpu-bench", spec), FixedPoint(48, 12)
        plain = best_of(lambda: run_model(spec, weights, x, settings, fixed, RingArith, np, layers), 3)  # noqa: B023
        probe = best_of(lambda: range_check(spec, weights, x, settings, fixed, layers), 3)  # noqa: B023
        whole = best_of(lambda: measure_accuracy(name, 128, layers=layers, n_bits=48), 1)  # noqa: B023
        print(f"| {name} | {layers} | 128 | {plain:.2f} | {probe:.2f} | {whole:.2f} | {target} |")


if __name__ == "__main__":
    main()
