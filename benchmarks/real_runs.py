"""A batch of real two-party runs, each written as its JSON and trace: the measured side of calibration and validation.

    python benchmarks/real_runs.py --out DIR [--gpu] [--mps] [--runs 3] [--budget-s 540] \
        [--case bert-tiny:128:2] [--case bert-base:64:1 ...] [--net lan] [--policy P] [--chains K] [--set K=V]

Each case is MODEL:SEQ_LEN:LAYERS, run ``--runs`` times with ``python -m real_backend run`` (two party processes
over loopback TCP; ``--mps`` starts the MPS daemon first and stops it after, so both parties share the GPU instead of
time-slicing it). Files: DIR/MODEL_T{T}_L{L}_r{i}.json and .trace.json.gz, the card named in DIR/runs.jsonl (one
line a run: the case, online seconds, bit-exactness, schedule equality). Cases run in the order given and stop
before the one that would start past ``--budget-s`` (a device call has a time limit). Prints a table last.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--case", action="append", default=[], metavar="MODEL:T:LAYERS")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--gpu", action="store_true")
    p.add_argument("--mps", action="store_true", help="run under the CUDA MPS daemon (started and stopped here)")
    p.add_argument("--budget-s", type=float, default=540.0)
    p.add_argument("--net", default="loopback")
    p.add_argument("--policy", default="suf")
    p.add_argument("--chains", type=int, default=1)
    p.add_argument("--set", action="append", default=[], metavar="K=V")
    args = p.parse_args()
    for case in args.case or ["bert-tiny:128:2"]:
        parts = case.split(":")
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            p.error(f"--case {case!r}: expected MODEL:SEQ_LEN:LAYERS, e.g. bert-base:128:1")
    if args.runs < 1:
        p.error(f"--runs {args.runs}: must be at least 1")
    return args


def mps(command: str) -> None:
    env = {**os.environ, "CUDA_MPS_PIPE_DIRECTORY": "/tmp/mps_pipe", "CUDA_MPS_LOG_DIRECTORY": "/tmp/mps_log"}
    for folder in ("/tmp/mps_pipe", "/tmp/mps_log"):
        os.makedirs(folder, exist_ok=True)
    if command == "start":
        subprocess.run(["nvidia-cuda-mps-control", "-d"], env=env, check=True, timeout=30)
    else:
        subprocess.run(["nvidia-cuda-mps-control"], input="quit\n", text=True, env=env, timeout=30)
    os.environ.update({k: v for k, v in env.items() if k.startswith("CUDA_MPS")})


def main() -> None:
    args = parse()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.mps:
        mps("start")
    start, rows = time.monotonic(), []
    try:
        for case in args.case or ["bert-tiny:128:2"]:
            model, seq_len, layers = case.split(":")
            for i in range(args.runs):
                if time.monotonic() - start > args.budget_s:
                    print(f"budget of {args.budget_s:g} s spent: {case} run {i} and after not run", file=sys.stderr)
                    raise StopIteration
                stem = args.out / f"{model}_T{seq_len}_L{layers}_r{i}"
                cmd = [sys.executable, "-m", "real_backend", "run", "--model", model, "--seq-len", seq_len,
                       "--layers", layers, "--net", args.net, "--policy", args.policy, "--chains", str(args.chains),
                       "--json", f"{stem}.json", "--trace", f"{stem}.trace.json.gz",
                       *(["--gpu"] if args.gpu else []), *(a for k in args.set for a in ("--set", k))]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode:
                    print(f"{case} run {i}: exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}",
                          file=sys.stderr)
                    continue
                doc = json.loads(Path(f"{stem}.json").read_text())
                row = {"case": case, "run": i, "mps": args.mps, "net": args.net, "policy": args.policy,
                       "chains": args.chains, "knobs": args.set, "online_s": doc["timing"]["online_time_s"],
                       "keygen_s": doc["keygen_s"], "bit_exact": doc["bit_exact_with_plaintext"],
                       "schedule_equal": all(doc["schedule_equals_dealer_pass"]), "card": doc["device"]}
                rows.append(row)
                with (args.out / "runs.jsonl").open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
    except StopIteration:
        pass
    finally:
        if args.mps:
            mps("stop")
    print(f"{'case':24s} {'run':>3s} {'online s':>9s} {'keygen s':>9s}  exact schedule")
    for r in rows:
        print(f"{r['case']:24s} {r['run']:3d} {r['online_s']:9.3f} {r['keygen_s']:9.1f}  {r['bit_exact']!s:5s} "
              f"{r['schedule_equal']}")


if __name__ == "__main__":
    main()
