"""Time ``simflush calibrate`` (bert-base trace, ~4,400 flush records) and ``simflush validate``.

    python benchmarks/bench_calibrate.py [--shared ../shared] [--repeat 3]

Prints the best of ``--repeat`` wall times of each command run in-process (targets: calibrate
< 5 s, validate < 2 s; docs/validation.md has the numbers).
"""

import argparse
import contextlib
import io
import os
import tempfile
import time
from pathlib import Path

from simflush.cli import main


def _best(argv: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        best = min(best, time.perf_counter() - start)
        if code != 0:
            raise SystemExit(f"{argv[0]} failed with exit code {code}")
    return best


def run(shared: Path, repeat: int) -> dict[str, float]:
    data = shared / "data" / "suf_h100"
    trace, traced = data / "gpu_h100_trace_bert-base.txt.gz", data / "gpu_h100_traced_bert-base.json"
    untraced = data / "gpu_h100_prof_bert-base.json"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "profile.json"
        calibrate = ["calibrate", "--trace", str(trace), "--bench", str(traced), "--untraced", str(untraced),
                     "--out", str(out)]
        times = {"calibrate (incl. PNG)": _best(calibrate, repeat)}
        times["validate (totals)"] = _best(["validate", "--measured", str(untraced), "--cost", str(out)], repeat)
        times["validate --trace (per run)"] = _best(
            ["validate", "--measured", str(traced), "--trace", str(trace), "--traced", "--cost", str(out)], repeat)
    return times


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(os.environ.get("SIMFLUSH_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
    parser.add_argument("--shared", type=Path, default=default)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, seconds in run(args.shared, args.repeat).items():
        print(f"{name:30s} {seconds:6.2f} s (best of {args.repeat}, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main_()
