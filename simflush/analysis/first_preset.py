"""Derive the first ``suf-h100`` cost preset from the golden bert-base layer CSV.

    python -m simflush.analysis.first_preset ../shared/data/suf_h100/gpu_h100_bert-base_L128_layer_events.csv \
        -o simflush/presets/suf-h100.json

The CSV gives, per flush of one bert-base layer (T = 128), the mean start and duration per party
over the 12 steady-state layers, and for PFSS flushes the eval and finalize parts. The gate of each
PFSS row is taken from simflush's own schedule of that layer (the rows match one for one). Fits,
all by least squares (see docs/cost_model.md):

- open: the earlier-arriving party waits for the peer, so the per-party intrinsic open time is the
  *shorter* of the two durations; ``floor + slope * words``, separately below and above the bench's
  device-packing threshold (2^18 words);
- PFSS eval: a floor from the small flushes (<= 256 words), then per gate kind a slope through the
  origin of the remaining time. Both parties ran on one GPU: where their evaluations overlapped for a
  fraction ``o`` of the time, each saw about ``1 + o`` times its own work, so the intrinsic work is
  divided by that before fitting (the engine's processor-sharing GPU puts the contention back).
  A kind seen at >= 16384 words gets ``kind floor + slope * hatx``; a kind seen only smaller gets its
  mean excess as a kind floor and the slope of nExp (r = 4 kinds) or GapARS scaled by (r + ell) / 2;
- materialize/finalize: ``floor + slope * hatx``;
- local compute between flushes (the gaps): ``floor + a * words of the next open + b * words of the
  previous open + public-matmul floor and flops`` where a run starts after a matmul; coefficients
  that come out negative are dropped and the rest refitted.
"""

import argparse
import csv
import hashlib
import sys
from pathlib import Path

import numpy as np

from models.specs import get_model

from .. import __version__
from ..profiles import resolve
from ..sim.cost import CostModel, get_network
from ..sim.engine import SimConfig, simulate

US = 1e-6
DEVICE_MIN_WORDS = 1 << 18
LARGE_HATX = 16384  # a kind needs flushes this large for its per-element slope to be identifiable
ALL_GATES = ("GapARS", "FaithfulARS", "ReLU", "RsqrtInit", "nExp", "Recip", "GeLUConst", "GeLUSpline", "SiLU")
GATE_OUTPUTS = {"GapARS": 2, "FaithfulARS": 4, "ReLU": 1, "RsqrtInit": 2, "nExp": 4, "Recip": 4,
                "GeLUConst": 1, "GeLUSpline": 4, "SiLU": 4}  # r + ell


def _nonneg_lstsq(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares with coefficients >= 0 by dropping negative columns and refitting."""
    keep = np.ones(X.shape[1], dtype=bool)
    while True:
        coef = np.zeros(X.shape[1])
        coef[keep] = np.linalg.lstsq(X[:, keep], y, rcond=None)[0]
        negative = keep & (coef < 0)
        if not negative.any():
            return coef
        keep &= ~negative


def _schedule_gates(n_rows: int) -> list:
    """simflush's own schedule of one bert-base layer (T = 128), used to name each row's gate."""
    model = get_model("bert-base")
    zero = CostModel("zero", 0, 0, 0, 0, 0, dict.fromkeys(ALL_GATES, 0.0), {}, 0, 0, 0, 0, 0, 0, 0)
    result = simulate(SimConfig(model, 128, 1, 1, resolve("suf-gpu-bench", model), zero, get_network("loopback")))
    records = result.parties[0].records
    if len(records) != n_rows:
        raise SystemExit(f"schedule has {len(records)} flushes, CSV has {n_rows}")
    return records



def derive(csv_path: Path) -> CostModel:
    rows = list(csv.DictReader(csv_path.open()))
    records = _schedule_gates(len(rows))
    f = lambda r, k: float(r[k]) * US  # noqa: E731
    for row, rec in zip(rows, records):
        if (row["event"], int(row["words_or_hatx"])) != (rec.event, rec.words):
            raise SystemExit(f"CSV row {row['seq']} does not match the simulated schedule")

    # -- opens ---------------------------------------------------------------------------------
    opens = [(int(r["words_or_hatx"]), min(f(r, "p0_mean_dur_us"), f(r, "p1_mean_dur_us")))
             for r in rows if r["event"] == "OPEN"]
    host = np.array([(w, t) for w, t in opens if w < DEVICE_MIN_WORDS])
    dev = np.array([(w, t) for w, t in opens if w >= DEVICE_MIN_WORDS])
    open_floor, host_slope = _nonneg_lstsq(np.c_[np.ones(len(host)), host[:, 0]], host[:, 1])
    dev_floor, dev_slope = _nonneg_lstsq(np.c_[np.ones(len(dev)), dev[:, 0]], dev[:, 1] - open_floor)

    # -- PFSS eval -----------------------------------------------------------------------------
    pfss = [(r, rec) for r, rec in zip(rows, records) if r["event"] == "PFSS"]
    evals = lambda r: (f(r, "p0_mean_pfss_eval_us"), f(r, "p1_mean_pfss_eval_us"))  # noqa: E731
    floor = float(np.median([e for r, _ in pfss if int(r["words_or_hatx"]) <= 256 for e in evals(r)]))
    samples: dict[str, list[tuple[float, float]]] = {}
    for r, rec in pfss:
        hatx = int(r["words_or_hatx"])
        if hatx < 1024:
            continue
        e0, e1 = evals(r)
        s0, s1 = f(r, "p0_mean_start_us"), f(r, "p1_mean_start_us")
        overlap = max(0.0, min(s0 + e0, s1 + e1) - max(s0, s1)) / ((e0 + e1) / 2)
        for e in (e0, e1):
            samples.setdefault(rec.gates[0], []).append((hatx, max(0.0, e - floor) / (1 + overlap)))
    slopes, kind_floors = {}, {}
    for gate, pts in samples.items():
        h, w = np.array(pts).T
        if h.max() >= LARGE_HATX:
            kind_floors[gate], slopes[gate] = _nonneg_lstsq(np.c_[np.ones(len(h)), h], w)
        else:  # only small flushes: their excess over the floor is a floor of this kind
            kind_floors[gate] = float(w.mean())
    gapars = slopes["GapARS"]
    for gate in ALL_GATES:
        if gate not in slopes:
            slopes[gate] = slopes["nExp"] if GATE_OUTPUTS[gate] == 4 and "nExp" in slopes \
                else gapars * GATE_OUTPUTS[gate] / GATE_OUTPUTS["GapARS"]

    # -- materialize / finalize -------------------------------------------------------------------
    fin = np.array([(int(r["words_or_hatx"]), f(r, k)) for r, _ in pfss
                    for k in ("p0_mean_pfss_finalize_us", "p1_mean_pfss_finalize_us")])
    fin_floor, fin_slope = _nonneg_lstsq(np.c_[np.ones(len(fin)), fin[:, 0]], fin[:, 1])

    # -- local compute between flushes -------------------------------------------------------------
    model = get_model("bert-base")
    N, D, F = 128, model.d_model, model.d_ff
    flops_before = {"QKV_trunc": 2 * N * D * 3 * D, "OutProj_trunc": 2 * N * D * D,
                    "MLP_trunc1": 2 * N * D * F, "MLP_trunc2": 2 * N * F * D}
    X, y = [], []
    for i in range(1, len(rows)):
        prev, cur = rows[i - 1], rows[i]
        flops = flops_before.get(cur["run"], 0) if cur["run"] != prev["run"] else 0
        next_open = int(cur["words_or_hatx"]) if cur["event"] == "OPEN" else 0
        prev_open = int(prev["words_or_hatx"]) if prev["event"] == "OPEN" else 0
        for p in ("p0", "p1"):
            gap = f(cur, f"{p}_mean_start_us") - f(prev, f"{p}_mean_start_us") - f(prev, f"{p}_mean_dur_us")
            X.append([1.0, next_open, prev_open, 1.0 if flops else 0.0, flops])
            y.append(gap)
    step_floor, per_open, per_opened, mm_floor, per_flop = _nonneg_lstsq(np.array(X), np.array(y))

    digest = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    return CostModel(
        name="suf-h100", open_floor_s=open_floor, open_host_s_per_word=host_slope,
        open_device_s_per_word=dev_slope, open_device_floor_s=dev_floor, pfss_floor_s=floor,
        pfss_s_per_elem=dict(sorted(slopes.items())),
        pfss_kind_floor_s={g: v for g, v in sorted(kind_floors.items()) if v > 0}, pfss_finish_floor_s=fin_floor,
        pfss_finish_s_per_elem=fin_slope, step_floor_s=step_floor, step_s_per_open_word=per_open,
        step_s_per_opened_word=per_opened, matmul_floor_s=mm_floor, matmul_s_per_flop=per_flop,
        provenance={"method": "simflush.analysis.first_preset", "source": csv_path.name, "sha256": digest,
                    "runtime_profile": "suf-gpu-bench", "device": "NVIDIA H100 80GB HBM3 (both parties)",
                    "deploy": "colocated", "simflush_version": __version__})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("-o", "--out", type=Path)
    args = parser.parse_args(argv)
    text = derive(args.csv).to_json() + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
