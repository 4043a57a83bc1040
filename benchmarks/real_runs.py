"""A batch of real two-party runs, each written as its JSON and trace: the measured side of calibration and validation.

    python benchmarks/real_runs.py --out DIR [--gpu] [--mps] [--pin-cores] [--deploy two-gpu] [--runs 3] \
        [--first-round 0] [--warm-up 0] [--budget-s 540] [--case bert-tiny:128:2 --case bert-base:64:1 ...] \
        [--config policy=have_pfss_work,chains=2,net=wan --config rsqrt_iters=2,n_bits=52 ...]

Each case is MODEL:SEQ_LEN:LAYERS; each config a comma-separated list of ``policy=P``, ``chains=K``, ``net=N``,
``n_bits=B`` (the ring, 48 by default), ``spin_us=S`` (the channels' receive spin, run's ``--spin-us``),
``rehearse_tokens=N`` (the rehearsal's length, run's ``--rehearse-tokens``), ``keys_own_pool=1`` (run's
``--keys-own-pool``) and runtime knobs ``K=V`` (``--config ''`` or none given: SUF's policy, one chain, loopback, 48
bits, the defaults). ``--pin-cores``: each party on its own physical cores; ``--deploy two-gpu``: each on its own GPU
(``real_backend run --deploy``; recorded in each line). Every
(case, config) pair is run ``--runs`` times with ``python -m real_backend run`` (two party processes over loopback
TCP; ``--mps`` starts the MPS daemon first and stops it after, so both parties share the GPU instead of
time-slicing it), in rounds: round i runs every pair once before round i+1 starts, so a drift of the machine's speed
falls on every configuration alike rather than on the last ones. Files: DIR/MODEL_T{T}_L{L}[_CONFIG]_r{i}.json and
.trace.json.gz, and DIR/runs.jsonl (a line a run: case, config, online seconds, bit-exactness, schedule equality,
the card). ``--warm-up N``: N unrecorded runs of the first pair before the rounds (in DIR/warm-up; the budget counts
them). A run that would start past ``--budget-s`` is not started (a device call has a time limit). Prints a
table last.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

RING_BITS = 48   # ``python -m real_backend run``'s default --n-bits


@dataclass(frozen=True)
class RunConfig:
    policy: str = "suf"
    chains: int = 1
    net: str = "loopback"
    knobs: tuple[str, ...] = ()
    n_bits: int = RING_BITS
    spin_us: int | None = None   # the channels' receive spin (run's --spin-us; None: the channel's default)
    rehearse_tokens: int | None = None   # the rehearsal's tokens (run's --rehearse-tokens; None: run's default)
    keys_own_pool: bool = False          # each party's keys in a pool of their own (run's --keys-own-pool)

    @classmethod
    def parse(cls, text: str) -> "RunConfig":
        fields, knobs = {}, []
        for item in filter(None, re.split(r",(?=\w+=)", text)):   # a comma of net=custom:BW,RTT splits nothing
            key, sep, value = item.partition("=")
            if not sep or not value:
                raise ValueError(f"--config {text!r}: {item!r} is not KEY=VALUE (policy=, chains=, net= or a knob)")
            if key in ("policy", "net"):
                fields[key] = value
            elif key == "keys_own_pool":
                if value not in ("0", "1"):
                    raise ValueError(f"--config {text!r}: keys_own_pool={value}: expected 0 or 1")
                fields[key] = value == "1"
            elif key in ("chains", "n_bits", "spin_us", "rehearse_tokens"):
                least = 0 if key == "spin_us" else 1
                if not value.isdigit() or int(value) < least:
                    raise ValueError(f"--config {text!r}: {key}={value}: expected a whole number >= {least}")
                fields[key] = int(value)
            else:
                knobs.append(item)
        return cls(**fields, knobs=tuple(knobs))

    def spec(self) -> str:
        """What ``parse`` reads back as this config ('' for the default one)."""
        return ",".join([*([f"policy={self.policy}"] if self.policy != "suf" else []),
                         *([f"chains={self.chains}"] if self.chains != 1 else []),
                         *([f"net={self.net}"] if self.net != "loopback" else []),
                         *([f"n_bits={self.n_bits}"] if self.n_bits != RING_BITS else []),
                         *([f"spin_us={self.spin_us}"] if self.spin_us is not None else []),
                         *([f"rehearse_tokens={self.rehearse_tokens}"] if self.rehearse_tokens is not None else []),
                         *(["keys_own_pool=1"] if self.keys_own_pool else []),
                         *self.knobs])

    def tag(self) -> str:
        """The config in a file name ('' for the default one)."""
        return re.sub(r"[^A-Za-z0-9._-]", "-", self.spec().replace(",", "_"))

    def args(self) -> list[str]:
        return ["--policy", self.policy, "--chains", str(self.chains), "--net", self.net, "--n-bits", str(self.n_bits),
                *(["--spin-us", str(self.spin_us)] if self.spin_us is not None else []),
                *(["--rehearse-tokens", str(self.rehearse_tokens)] if self.rehearse_tokens is not None else []),
                *(["--keys-own-pool"] if self.keys_own_pool else []),
                *(a for k in self.knobs for a in ("--set", k))]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--case", action="append", default=[], metavar="MODEL:T:LAYERS")
    p.add_argument("--config", action="append", default=[], metavar="policy=P,chains=K,net=N,K=V,...")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--first-round", type=int, default=0, help="number the rounds from this one (a later batch)")
    p.add_argument("--gpu", action="store_true")
    p.add_argument("--mps", action="store_true", help="run under the CUDA MPS daemon (started and stopped here)")
    p.add_argument("--pin-cores", action="store_true", help="each party on its own physical cores (run's flag)")
    p.add_argument("--deploy", default="colocated", help="colocated or two-gpu (run's flag)")
    p.add_argument("--budget-s", type=float, default=540.0)
    p.add_argument("--warm-up", type=int, default=0, metavar="N",
                   help="first run the first case and config N times, kept in DIR/warm-up and out of runs.jsonl")
    args = p.parse_args(argv)
    args.case = args.case or ["bert-tiny:128:2"]
    for case in args.case:
        parts = case.split(":")
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            p.error(f"--case {case!r}: expected MODEL:SEQ_LEN:LAYERS, e.g. bert-base:128:1")
    try:
        args.config = [RunConfig.parse(c) for c in args.config or [""]]
    except ValueError as exc:
        p.error(str(exc))
    if args.runs < 1:
        p.error(f"--runs {args.runs}: must be at least 1")
    if args.warm_up < 0:
        p.error(f"--warm-up {args.warm_up}: must be 0 or more")
    return args


def plan(cases: list[str], configs: list[RunConfig], runs: int, first: int = 0) -> list[tuple[int, str, RunConfig]]:
    """Every (run index, case, config), round by round."""
    return [(i, case, config) for i in range(first, first + runs) for case in cases for config in configs]


def warm_up(args: argparse.Namespace) -> None:
    """Runs of the first case and config that measure nothing: the first run of a fresh machine was the slowest
    baseline in two of three leases (docs/validation.md), and a warm-up keeps it out of the rounds."""
    if not args.warm_up:
        return
    folder = args.out / "warm-up"
    folder.mkdir(exist_ok=True)
    for i in range(args.warm_up):
        run_one(argparse.Namespace(**{**vars(args), "out": folder}), i, args.case[0], args.config[0])


def stem(out: Path, case: str, config: RunConfig, i: int) -> Path:
    model, seq_len, layers = case.split(":")
    tag = config.tag()
    return out / f"{model}_T{seq_len}_L{layers}{'_' + tag if tag else ''}_r{i}"


def mps(command: str) -> None:
    env = {**os.environ, "CUDA_MPS_PIPE_DIRECTORY": "/tmp/mps_pipe", "CUDA_MPS_LOG_DIRECTORY": "/tmp/mps_log"}
    for folder in ("/tmp/mps_pipe", "/tmp/mps_log"):
        os.makedirs(folder, exist_ok=True)
    if command == "start":
        subprocess.run(["nvidia-cuda-mps-control", "-d"], env=env, check=True, timeout=30)
    else:
        subprocess.run(["nvidia-cuda-mps-control"], input="quit\n", text=True, env=env, timeout=30)
    os.environ.update({k: v for k, v in env.items() if k.startswith("CUDA_MPS")})


def run_one(args: argparse.Namespace, i: int, case: str, config: RunConfig) -> dict | None:
    model, seq_len, layers = case.split(":")
    path = stem(args.out, case, config, i)
    cmd = [sys.executable, "-m", "real_backend", "run", "--model", model, "--seq-len", seq_len, "--layers", layers,
           *config.args(), "--json", f"{path}.json", "--trace", f"{path}.trace.json.gz",
           *(["--gpu"] if args.gpu else []), *(["--pin-cores"] if args.pin_cores else []), "--deploy", args.deploy]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        print(f"{path.name}: exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    doc = json.loads(Path(f"{path}.json").read_text())
    return {"case": case, "run": i, "mps": args.mps, "pin_cores": args.pin_cores, "deploy": args.deploy,
            "n_bits": config.n_bits, "net": config.net, "policy": config.policy, "chains": config.chains,
            "spin_us": config.spin_us, "rehearse_tokens": config.rehearse_tokens, "keys_own_pool": config.keys_own_pool,
            "knobs": list(config.knobs), "online_s": doc["timing"]["online_time_s"],
            "keygen_s": doc["keygen_s"], "bit_exact": doc["bit_exact_with_plaintext"],
            "schedule_equal": all(doc["schedule_equals_dealer_pass"]), "card": doc["device"], "file": path.name}


def main() -> None:
    args = parse()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.mps:
        mps("start")
    start, rows = time.monotonic(), []
    try:
        warm_up(args)
        for i, case, config in plan(args.case, args.config, args.runs, args.first_round):
            if time.monotonic() - start > args.budget_s:
                print(f"budget of {args.budget_s:g} s spent: round {i} of {case} {config.tag() or 'default'} and "
                      "after not run", file=sys.stderr)
                break
            row = run_one(args, i, case, config)
            if row is not None:
                rows.append(row)
                with (args.out / "runs.jsonl").open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
    finally:
        if args.mps:
            mps("stop")
    print(f"{'run':52s} {'online s':>9s} {'keygen s':>9s}  exact schedule")
    for r in rows:
        print(f"{r['file']:52s} {r['online_s']:9.3f} {r['keygen_s']:9.1f}  {r['bit_exact']!s:5s} {r['schedule_equal']}")


if __name__ == "__main__":
    main()
