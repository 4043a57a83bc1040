"""Issue 14's what-ifs: predicted from a cost profile first, then measured on the real backend and compared.

    python validation/real_whatifs.py predict --cost PROFILE --model bert-base --seq-len 128 --layers 1 \
        --out validation/real_backend_h200/predictions.json     # PROFILE: real-h200 once it is calibrated
    python validation/real_whatifs.py command --predictions P.json [--only NAME]   # the real runs that measure them
    python validation/real_whatifs.py check --predictions P.json --runs DIR [--json]

Each what-if is a baseline and a variant (a policy, chains, a network or runtime knobs). ``predict`` simulates both
with the cost profile, as the real backend runs them on the GPU, and writes the predicted times and speed-up
(baseline / variant) with the commit it was made at, so that the prediction is on record before anything is
measured. ``command`` prints the ``benchmarks/real_runs.py`` command that measures every configuration, in rounds.
``check`` reads those runs (DIR/runs.jsonl), takes each configuration's median online time, and reports each
what-if's measured speed-up, the range that one baseline run against one variant run gives (how far the runs'
spread reaches), and the ratio of the two speed-ups (predicted / measured; the goal: within 10 %).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "benchmarks")]

from real_runs import RING_BITS  # noqa: E402
from real_runs import RunConfig as Config  # noqa: E402

import simflush  # noqa: E402
from simflush.profiles import REAL_BACKEND_GPU_KNOBS  # noqa: E402

GOAL = 0.10   # |predicted / measured speed-up - 1|


def key(c: Config) -> tuple:
    return c.policy, c.chains, c.net, tuple(sorted(c.knobs)), c.n_bits


@dataclass(frozen=True)
class WhatIf:
    name: str
    base: Config
    variant: Config


def _knob(*variant: str, n_bits: int = RING_BITS) -> tuple[Config, Config]:
    """The runtime's defaults (rsqrt_iters=1 among them) against ``variant``'s knobs, both at ``n_bits``."""
    return Config(n_bits=n_bits), Config(knobs=variant, n_bits=n_bits)


WHATIFS = [
    WhatIf("have_pfss_work, 2 chains, LAN", Config(chains=2, net="lan"),
           Config(policy="have_pfss_work", chains=2, net="lan")),
    WhatIf("have_pfss_work, 2 chains, WAN", Config(chains=2, net="wan"),
           Config(policy="have_pfss_work", chains=2, net="wan")),
    WhatIf("rsqrt_iters 2 vs 1", *_knob("rsqrt_iters=2")),
    WhatIf("SIGMA nExp", *_knob("SUF_NEXP_MODE=sigma_gpu")),
    WhatIf("nexp_final_trunc=0", *_knob("nexp_final_trunc=0")),
    WhatIf("SIGMA inverse", *_knob("SUF_INV_MODE=sigma_gpu", "inv_sigma_muls=0")),
    WhatIf("SIGMA rowmax", *_knob("SUF_ROWMAX_MODE=sigma_gpu")),
    # at 52 bits: with the LUT rsqrt, LayerNorm's FaithfulARS input needs 51 bits (the run's range check)
    WhatIf("SIGMA rsqrt LUT", *_knob("SUF_RSQRT_MODE=sigma_gpu", n_bits=52)),
    # the backend's own change (issue 13): interval keys folded (the default since 2026-12-02) against the first ones
    WhatIf("interval keys folded", Config(knobs=("interval_fold=0",)), Config()),
]


@dataclass
class Prediction:
    name: str
    base: dict
    variant: dict
    base_s: float
    variant_s: float
    speedup: float            # base / variant
    measured: dict = field(default_factory=dict)


def _simulate(model: str, seq_len: int, layers: int, cost: str, c: Config) -> float:
    """The configuration as the real backend runs it on the GPU (every open packed there, at its ring)."""
    knobs = [f"{k}={v}" for k, v in REAL_BACKEND_GPU_KNOBS.items()] + [f"ring_bits={c.n_bits}"] + list(c.knobs)
    return simflush.simulate(model=model, seq_len=seq_len, layers=layers, knobs=knobs, policy=c.policy,
                             net=c.net, cost=cost, chains=c.chains).online_time_s


def predict(model: str, seq_len: int, layers: int, cost: str) -> dict:
    rows = []
    for w in WHATIFS:
        base, variant = (_simulate(model, seq_len, layers, cost, c) for c in (w.base, w.variant))
        rows.append(Prediction(w.name, asdict(w.base), asdict(w.variant), base, variant, base / variant))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    return {"model": model, "seq_len": seq_len, "layers": layers, "cost": cost, "commit": commit,
            "made_at": datetime.now(UTC).isoformat(timespec="seconds"), "whatifs": [asdict(r) for r in rows]}


def _config(d: dict) -> Config:
    """A configuration of a predictions file or runs.jsonl line (those before 2026-12-02 ran at 48 bits)."""
    return Config(d["policy"], d["chains"], d["net"], tuple(d["knobs"]), d.get("n_bits", RING_BITS))


def command(doc: dict, out: str = "DIR", runs: int = 3, only: list[str] = ()) -> str:
    """The ``benchmarks/real_runs.py`` command that measures every distinct configuration of the predictions (of the
    what-ifs named in ``only``, if any), in rounds (each configuration once per round)."""
    unknown = sorted(set(only) - {w["name"] for w in doc["whatifs"]})
    if unknown:
        raise SystemExit(f"error: --only {unknown[0]!r}: allowed: {', '.join(repr(w['name']) for w in doc['whatifs'])}")
    chosen = [w for w in doc["whatifs"] if not only or w["name"] in only]
    configs = {key(c): c for w in chosen for c in (_config(w["base"]), _config(w["variant"]))}
    return (f"python benchmarks/real_runs.py --gpu --mps --out {out} --case {doc['model']}:{doc['seq_len']}:"
            f"{doc['layers']} --runs {runs} " + " ".join(f"--config '{c.spec()}'" for c in configs.values()))


def check(doc: dict, runs_file: Path) -> list[dict]:
    """Each what-if with its measured speed-up (medians of the matching runs) and the ratio of speed-ups."""
    case = f"{doc['model']}:{doc['seq_len']}:{doc['layers']}"
    times: dict[tuple, list[float]] = {}
    for line in runs_file.read_text().splitlines():
        run = json.loads(line)
        if run["case"] != case or not (run["bit_exact"] and run["schedule_equal"]):
            continue
        times.setdefault(key(_config(run)), []).append(run["online_s"])
    out = []
    for w in doc["whatifs"]:
        base, variant = (times.get(key(_config(w[k]))) for k in ("base", "variant"))
        row = {"name": w["name"], "predicted": w["speedup"], "measured": None, "ratio": None, "runs": None,
               "range": None}
        if base and variant:
            measured = statistics.median(base) / statistics.median(variant)
            # what any one baseline run against any one variant run gives: the run-to-run spread's reach
            row.update(measured=measured, ratio=w["speedup"] / measured, runs=(len(base), len(variant)),
                       range=(min(base) / max(variant), max(base) / min(variant)))
        out.append(row)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("predict")
    pr.add_argument("--cost", required=True)
    pr.add_argument("--model", default="bert-base")
    pr.add_argument("--seq-len", type=int, default=128)
    pr.add_argument("--layers", type=int, default=1)
    pr.add_argument("--out", required=True, type=Path)
    co = sub.add_parser("command")
    co.add_argument("--predictions", required=True, type=Path)
    co.add_argument("--out", default="DIR")
    co.add_argument("--only", action="append", default=[], metavar="NAME", help="just this what-if (repeatable)")
    ch = sub.add_parser("check")
    ch.add_argument("--predictions", required=True, type=Path)
    ch.add_argument("--runs", required=True, type=Path, help="the folder of real_runs.py (its runs.jsonl)")
    ch.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.cmd == "predict":
        doc = predict(args.model, args.seq_len, args.layers, args.cost)
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"{len(doc['whatifs'])} predictions at {doc['commit'][:12]} -> {args.out}")
        return
    doc = json.loads(args.predictions.read_text())
    if args.cmd == "command":
        print(command(doc, args.out, only=args.only))
        return
    rows = check(doc, args.runs / "runs.jsonl")
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"predictions of {doc['commit'][:12]} ({doc['cost']}), {doc['model']} T={doc['seq_len']} L={doc['layers']}")
    print("| what-if | predicted speed-up | measured | run against run | predicted / measured | within 10 % |")
    print("|---|--:|--:|--:|--:|---|")
    for r in rows:
        if r["measured"] is None:
            print(f"| {r['name']} | {r['predicted']:.3f} | not measured | | | |")
        else:
            ok = "yes" if abs(r["ratio"] - 1) <= GOAL else "no"
            lo, hi = r["range"]
            print(f"| {r['name']} | {r['predicted']:.3f} | {r['measured']:.3f} | {lo:.3f}-{hi:.3f} | "
                  f"{r['ratio']:.3f} | {ok} |")


if __name__ == "__main__":
    main()
