"""Predicted vs measured online time for the SUF runs measured on the device H100s (validation/suf_h100_device).

The runs come from three machines of the same kind (H100 80GB HBM3, 16 vCPU) whose speed differs by up to
25 % on the same configuration. Each machine's speed relative to the machine of the calibration data
(../shared/data/suf_h100) is taken from its own bert-base T=128 runs alone, the calibration configuration:
the prediction for a run is ``simflush's online time x (mean bert-base online on that machine /
1.78165 s)``. Nothing of the other models' measurements enters a prediction.

    python validation/check_suf_runs.py            # Markdown table, one row per configuration
    python validation/check_suf_runs.py --json     # the same, for machines
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import simflush  # noqa: E402
from models.specs import get_model  # noqa: E402
from simflush.profiles import default_device_min_words  # noqa: E402
from simflush.sim.cost import load_cost  # noqa: E402

RUNS = HERE / "suf_h100_device" / "runs.jsonl"
CALIBRATION_ONLINE_S = 1.78165   # bert-base T=128 untraced, gpu_h100_prof_bert-base.json (the calibration run)


def config_key(run: dict) -> tuple:
    pre = run["preprocessing"]
    return (run["model"], run["seq_len"], run["n_layers_run"], bool(pre["gelu_const"]),
            int(pre["open_pack_device_min_words"]))


def is_reference(key: tuple) -> bool:
    spec = get_model(key[0])
    return key[:2] == ("bert-base", 128) and key[2] == spec.n_layers and key[3] and key[4] == 1 << 18


def predict_s(key: tuple, cost) -> float:
    model, seq_len, layers, gelu_const, min_words = key
    knobs = {"SUF_GELU_CONST": int(gelu_const), "SUF_OPEN_PACK_DEVICE_MIN_WORDS": min_words}
    return simflush.simulate(model=model, seq_len=seq_len, layers=layers, knobs=knobs, cost=cost).online_time_s


def compare(runs: list[dict], cost) -> list[dict]:
    """One row per configuration: measured runs normalised to the calibration machine, and the prediction."""
    untraced = [r for r in runs if not r["_tag"].startswith("tr")]   # tr_*, tr5_*: traced runs
    reference: dict[int, list[float]] = defaultdict(list)
    for r in untraced:
        if is_reference(config_key(r)):
            reference[r["_machine"]].append(r["timing"]["online_time_s"])
    speed = {m: statistics.mean(v) / CALIBRATION_ONLINE_S for m, v in reference.items()}
    by_config: dict[tuple, list[dict]] = defaultdict(list)
    for r in untraced:
        if r["_machine"] in speed:
            by_config[config_key(r)].append(r)
    rows = []
    for key, group in sorted(by_config.items()):
        predicted = predict_s(key, cost)
        normalised = [r["timing"]["online_time_s"] / speed[r["_machine"]] for r in group]
        measured = statistics.mean(normalised)
        rows.append({"model": key[0], "seq_len": key[1], "layers": key[2], "gelu_const": key[3],
                     "device_min_words": key[4], "runs": len(group), "machines": sorted({r["_machine"] for r in group}),
                     "measured_s": measured, "spread": (max(normalised) - min(normalised)) / measured,
                     "predicted_s": predicted, "rel_err": predicted / measured - 1})
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| model | T | layers | variant | runs (machines) | measured s (normalised) | spread | predicted s "
             "| error |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        variant = [] if r["gelu_const"] or get_model(r["model"]).activation != "gelu" else ["GeLU spline"]
        if r["device_min_words"] != default_device_min_words(get_model(r["model"])):
            variant.append(f"device pack >= {r['device_min_words']}")
        lines.append(f"| {r['model']} | {r['seq_len']} | {r['layers']} | {', '.join(variant) or '-'} | "
                     f"{r['runs']} ({','.join(map(str, r['machines']))}) | {r['measured_s']:.4f} | "
                     f"{r['spread']:.0%} | {r['predicted_s']:.4f} | {r['rel_err']:+.1%} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cost", default="suf-h100", help="cost preset or profile JSON (default suf-h100)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args(argv)
    runs = [json.loads(line) for line in RUNS.read_text().splitlines() if line.strip()]
    rows = compare(runs, load_cost(args.cost))
    print(json.dumps(rows, indent=2) if args.json else markdown(rows), end="" if not args.json else "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
