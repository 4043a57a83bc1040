"""Re-check the stored real runs of issue 14 against the cost profiles (CPU only, from the files in the repository).

    python validation/check_real_runs.py [--plot docs/real_validation_h200.png] [--json]

1. ``real-h200`` against our backend's runs on the H200 (validation/real_backend_h200/calibration): per
   configuration the median online time of the runs not used in the fit (the fit used each configuration's r0) and
   its error, the run-to-run spread of all its runs, and the per-run (simflush run) errors of runs over 2 ms.
2. The what-ifs, in the measured rounds (``ROUNDS``: each a predictions file committed before the runs of its
   folder): predicted and measured speed-ups and their ratio. Round 2 re-predicts after the model fix of the misses
   of round 1 (sigma LUT gates costed as this backend's interval kernel) and measures the what-ifs it changed;
   round 4 predicts all nine from the profile recalibrated on the backend with folded interval keys (round 3's
   predictions describe a backend and profile since changed and were not measured); round 5 predicts them from the
   profile fitted on the 39 runs of the backend after the fifth round and measures them in three device calls (D:
   the three with the largest predicted effects; E: four more; F: the last two and SIGMA inverse again, its gate now
   built before the clock); round 6 re-predicts after the model fix of round 5's LAN miss (a concurrent flush's PFSS
   launched on the party's one thread) and measures the two that missed (call G).
   The 2026-12-03 set (``CURRENT_SET``, the backend after docs/real_backend.md's fifth round) against ``real-h200``
   and against the candidate profile fitted on that set's r0 runs (``CANDIDATE``; not adopted: docs/validation.md).
3. SUF's bench on the H200 (validation/suf_h200_device) against ``suf-h100`` and ``suf-h200``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import real_whatifs  # noqa: E402

from simflush.analysis.calibration.validate import compare_trace, predict  # noqa: E402
from simflush.io.suf_bench import read_bench  # noqa: E402
from simflush.io.trace_schema import read_trace  # noqa: E402
from simflush.sim.cost import load_cost  # noqa: E402

REAL = HERE / "real_backend_h200"
CALIBRATION = REAL / "calibration"
ROUNDS = [("1", "predictions_bert-base_T128_L1.json", "whatifs"),
          ("2", "predictions2_bert-base_T128_L1.json", "whatifs2"),
          ("4", "predictions4_bert-base_T128_L1.json", "whatifs4"),
          ("5D", "s13_2026-12-03/predictions5_bert-base_T128_L1.json", "s13_2026-12-03/callD/whatifs5"),
          ("5E", "s13_2026-12-03/predictions5_bert-base_T128_L1.json", "s14_2026-12-03/callE/whatifs5b"),
          ("5F", "s13_2026-12-03/predictions5_bert-base_T128_L1.json", "s14_2026-12-03/callF/whatifs5c"),
          ("6G", "s14_2026-12-03/predictions6_bert-base_T128_L1.json", "s14_2026-12-03/callG/whatifs6")]
# (round and the device call that measured it, predictions, runs folder), under REAL; each call measures its
# own baseline, since machines of different calls differ by up to 20 %
CURRENT_SET = REAL / "calibration_2026-12-03"   # runs of the backend after the fifth round (docs/validation.md)
CANDIDATE = CURRENT_SET / "candidate_real-h200.json"   # simflush calibrate on that set's r0 runs (not the preset)
SUF_H200 = HERE / "suf_h200_device"
FIT_RUN = "_r0."            # the runs the real-h200 preset was calibrated on
BIG_RUN_S = 2e-3            # per-run errors are judged on runs longer than this


def real_totals(cost_name: str = "real-h200", folder: Path = CALIBRATION) -> list[dict]:
    """Per configuration of a set of runs (by default the calibration set): held-out median, prediction, error,
    spread, per-run errors (each held-out run through ``simflush validate``'s comparison); a configuration with no
    held-out run has None for its median and error. ``cost_name``: a preset or a profile's JSON file."""
    cost = load_cost(cost_name)
    groups: dict[tuple, list[Path]] = defaultdict(list)
    for path in sorted(folder.glob("*.trace.json.gz")):
        m = read_trace(path).meta
        groups[(m.model, m.seq_len, m.layers)].append(path)
    out = []
    for (model, seq_len, layers), paths in groups.items():
        times = [read_trace(p).meta.online_time_s for p in paths]
        held = [compare_trace(cost, read_trace(p)) for p in paths if FIT_RUN not in p.name]
        median = statistics.median(doc["totals"][0]["measured"] for doc in held) if held else None
        predicted = compare_trace(cost, read_trace(paths[0]))["totals"][0]["predicted"]   # one per configuration
        run_errors = [r["rel_err"] for doc in held for r in doc["runs"] if r["measured"] > BIG_RUN_S]
        out.append({"model": model, "seq_len": seq_len, "layers": layers, "runs": len(times),
                    "held_out": len(held), "measured_median_s": median, "predicted_s": predicted,
                    "rel_err": None if median is None else predicted / median - 1,
                    "spread": (max(times) - min(times)) / statistics.median(times),
                    "runs_over_2ms": len(run_errors),
                    "runs_within_20pct": sum(abs(e) <= 0.20 for e in run_errors)})
    return out


def whatif_rounds() -> list[tuple[str, dict, list[dict]]]:
    """Each round: its label, its predictions file's document and ``real_whatifs.check``'s rows."""
    out = []
    for number, predictions, runs in ROUNDS:
        doc = json.loads((REAL / predictions).read_text())
        out.append((number, doc, real_whatifs.check(doc, REAL / runs / "runs.jsonl")))
    return out


def suf_h200_rows() -> list[dict]:
    rows = []
    for path in sorted(SUF_H200.glob("*_*.json")):
        bench = read_bench(path)
        row = {"run": path.stem, "model": bench.model, "seq_len": bench.seq_len, "measured_s": bench.online_time_s}
        for name in ("suf-h100", "suf-h200"):
            row[name] = predict(load_cost(name), bench).online_time_s
        rows.append(row)
    return rows


def plot(totals: list[dict], rounds: list[tuple[str, dict, list[dict]]], path: Path) -> None:
    from matplotlib.figure import Figure

    from simflush.io.plots import DPI

    fig = Figure(figsize=(12, 6.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    labels = [f"{r['model']}\nT={r['seq_len']} L={r['layers']}" for r in totals]
    x = range(len(totals))
    left.bar([i - 0.2 for i in x], [r["measured_median_s"] * 1e3 for r in totals], 0.4,
             label="measured (median of held-out runs)")
    left.bar([i + 0.2 for i in x], [r["predicted_s"] * 1e3 for r in totals], 0.4, label="predicted (real-h200)")
    left.set_xticks(list(x), labels, fontsize=7, rotation=45, ha="right")
    left.set_ylabel("online time, ms")
    left.set_title("real backend on one H200 (MPS, loopback TCP)", fontsize=9)
    left.legend(fontsize=7)
    done = [{**r, "name": f"({n}) {r['name']}"} for n, _, rows in rounds for r in rows if r["measured"] is not None]
    y = range(len(done))
    right.barh(list(y), [r["ratio"] for r in done], color=["tab:green" if abs(r["ratio"] - 1) <= 0.1 else "tab:red"
                                                          for r in done])
    right.axvspan(0.9, 1.1, color="tab:green", alpha=0.15, label="within 10 %")
    right.axvline(1.0, color="k", lw=0.8)
    right.set_xscale("log")
    right.set_yticks(list(y), [f"{r['name']} ({r['predicted']:.2f} / {r['measured']:.2f})" for r in done],
                     fontsize=7)
    right.invert_yaxis()
    right.set_xlabel("predicted / measured speed-up (log)")
    right.set_title("what-ifs, bert-base T=128, 1 layer, by (round and device call)", fontsize=9)
    right.legend(fontsize=7)
    fig.savefig(path, dpi=DPI)


def print_totals(title: str, rows: list[dict]) -> None:
    print(title)
    print("| model | T | layers | runs (held out) | measured median ms | predicted ms | error | spread | runs > 2 ms "
          "within 20 % |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        median = "—" if r["measured_median_s"] is None else f"{r['measured_median_s'] * 1e3:.1f}"
        error = "—" if r["rel_err"] is None else f"{r['rel_err']:+.1%}"
        print(f"| {r['model']} | {r['seq_len']} | {r['layers']} | {r['runs']} ({r['held_out']}) | {median} | "
              f"{r['predicted_s'] * 1e3:.1f} | {error} | {r['spread']:.0%} | {r['runs_within_20pct']} / "
              f"{r['runs_over_2ms']} |")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--plot", type=Path)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    totals, rounds, suf = real_totals(), whatif_rounds(), suf_h200_rows()
    current = {name: real_totals(str(cost), CURRENT_SET) for name, cost in (("real-h200", "real-h200"),
                                                                           ("candidate", CANDIDATE))}
    if args.plot:
        plot(totals, rounds, args.plot)
    if args.json:
        print(json.dumps({"real_totals": totals, "current_set": current,
                          "whatifs": {n: rows for n, _, rows in rounds}, "suf_h200": suf}, indent=2))
        return
    print_totals("real-h200 vs held-out real runs (NVIDIA H200, both parties, MPS, loopback TCP)", totals)
    for name, rows in current.items():
        print_totals(f"\nthe 2026-12-03 set (the backend after the fifth round) against {name}", rows)
    for number, doc, rows in rounds:
        print(f"\nwhat-ifs, round {number}: predictions of {doc['commit'][:12]} ({doc['cost']}), {doc['model']} "
              f"T={doc['seq_len']} L={doc['layers']}")
        print("| what-if | predicted speed-up | measured | run against run | runs (base, variant) | "
              "predicted / measured |")
        print("|---|--:|--:|--:|--:|--:|")
        for r in rows:
            measured = "not measured" if r["measured"] is None else f"{r['measured']:.3f}"
            ratio = "" if r["ratio"] is None else f"{r['ratio']:.3f}"
            reach = "" if r["range"] is None else "{:.3f}-{:.3f}".format(*r["range"])
            print(f"| {r['name']} | {r['predicted']:.3f} | {measured} | {reach} | {r['runs'] or ''} | {ratio} |")
    print("\nSUF's bench on the H200: measured and predicted online time (s)")
    print("| run | model | T | measured | suf-h100 | suf-h200 |")
    print("|---|---|--:|--:|--:|--:|")
    for r in suf:
        print(f"| {r['run']} | {r['model']} | {r['seq_len']} | {r['measured_s']:.3f} | "
              f"{r['suf-h100']:.3f} ({r['suf-h100'] / r['measured_s'] - 1:+.1%}) | "
              f"{r['suf-h200']:.3f} ({r['suf-h200'] / r['measured_s'] - 1:+.1%}) |")


if __name__ == "__main__":
    main()
