"""The 2026-12-03 backend's 39 runs in three batches, each held out in turn: a profile fitted (``simflush
calibrate``, the command of docs/validation.md) on the other two batches predicts each configuration's median of
the held-out batch. The batches ran on three device calls, i.e. three machines of one kind, so this is the error a
user sees when the profile meets another day's machine.

    python validation/real_backend_h200/s13_2026-12-03/cross_batch.py [--step-floors idle|family] [--refit]

``--step-floors``: calibrate's (the local steps' floor: one for all, or one per task family). The profiles are
stored beside this file (cross_batch/FLOORS/without_*.json); ``--refit`` makes them anew (7 s each).
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

from simflush.analysis.calibration.validate import compare_trace  # noqa: E402
from simflush.io.trace_schema import read_trace  # noqa: E402
from simflush.sim.cost import load_cost  # noqa: E402

BATCHES = {"s12": HERE.parent / "calibration_2026-12-03",   # session 12, rounds 0-1 (15 runs)
           "s13-pinned": HERE / "callB" / "cal",           # session 13 call B, round 0, --pin-cores (8 runs)
           "s13": HERE / "callC" / "cal"}                   # session 13 call C, rounds 2-3 (16 runs)
GRID = HERE.parent / "s11_2026-12-03" / "interval_grid_fold2.jsonl"
PROFILES = HERE / "cross_batch"


def traces(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.trace.json.gz"))


def refit(held: str, floors: str) -> None:
    args = [a for name, folder in BATCHES.items() if name != held for t in traces(folder) for a in ("--trace", str(t))]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "simflush", "calibrate", *args, "--interval-bench", str(GRID),
                        "--out", str(PROFILES / floors / f"without_{held}.json"), "--plot", f"{tmp}/fit.png",
                        "--step-floors", floors,
                        "--device", "NVIDIA H200 (both parties, MPS, loopback TCP)"],
                       cwd=REPO, check=True, capture_output=True)


def rows(floors: str = "idle") -> list[dict]:
    """Per held-out batch and configuration: the batch's median, the prediction of the profile without it, error."""
    out = []
    for held, folder in BATCHES.items():
        cost = load_cost(str(PROFILES / floors / f"without_{held}.json"))
        groups: dict[tuple, list] = defaultdict(list)
        for path in traces(folder):
            trace = read_trace(path)
            groups[(trace.meta.model, trace.meta.seq_len, trace.meta.layers)].append(trace)
        for (model, seq_len, layers), runs in sorted(groups.items()):
            median = statistics.median(t.meta.online_time_s for t in runs)
            predicted = compare_trace(cost, runs[0])["totals"][0]["predicted"]
            out.append({"held_out": held, "model": model, "seq_len": seq_len, "layers": layers, "runs": len(runs),
                        "median_s": median, "predicted_s": predicted, "rel_err": predicted / median - 1})
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--refit", action="store_true")
    p.add_argument("--step-floors", choices=("idle", "family"), default="idle")
    args = p.parse_args()
    if args.refit:
        (PROFILES / args.step_floors).mkdir(parents=True, exist_ok=True)
        for held in BATCHES:
            refit(held, args.step_floors)
    table = rows(args.step_floors)
    print("| held-out batch | model | T | layers | runs | median ms | predicted ms | error |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for r in table:
        print(f"| {r['held_out']} | {r['model']} | {r['seq_len']} | {r['layers']} | {r['runs']} | "
              f"{r['median_s'] * 1e3:.1f} | {r['predicted_s'] * 1e3:.1f} | {r['rel_err']:+.1%} |")
    within = sum(abs(r["rel_err"]) <= 0.10 for r in table)
    print(f"\nwithin 10 %: {within} of {len(table)}")


if __name__ == "__main__":
    main()
