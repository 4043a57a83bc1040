"""``simflush validate``: predicted vs measured, per run and in total, with intervals.

The configuration (model, T, B, layers, backend, device-packing threshold) is read from the bench
JSON, simulated with the cost profile, and compared with the bench's counters and times, its
``online_profile`` timers if it has them, and, with ``--trace``, the measured time of every run
(mean over layers, steady iterations and both parties). A run traced in simflush's schema (the real
backend's) carries all of that itself: its meta is the configuration and the online time, its
records the components, counts and per-run times (``compare_trace``).

Intervals (95%) come from the calibration: the parameters' covariance, propagated linearly through
the work the prediction charges (the same design rows the fit used, built from the simulated
trace), plus each group's residual noise over that many flushes. They say how well the parameters
are pinned down, not how right the model's form is: the cross-validation (``cross_validate``,
docs/validation.md) measures that.

``cross_validate`` calibrates on part of a trace (even or odd layers; all runs but one) and
predicts the rest.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...api import Result, simulate_config
from ...errors import ConfigError
from ...executor.records import FlushKind
from ...io.bench_json import bench_document
from ...io.suf_bench import BenchRun
from ...io.trace_schema import Trace
from ...sim.cost import CostModel
from ...units import ns_to_s_per_party
from .calibrate import FIELD_COMPONENT, GROUP_SAMPLES, calibrate, design
from .samples import Source, collect, config_for, config_of_trace, steady_iterations

if TYPE_CHECKING:  # matplotlib is imported only by what draws
    from matplotlib.figure import Figure

Z95 = 1.959964
COUNTS = ("open_flushes", "num_flushes", "opened_words")   # compared on every run (a SUF bench: total_hatx_words too)


def predict(cost: CostModel, bench: BenchRun, knobs: list[str] = ()) -> Result:
    """Simulate the configuration of ``bench`` (its echoed flags, then ``knobs``: NAME=VALUE) with ``cost``."""
    config = config_for(bench.model, bench.seq_len, bench.batch, bench.layers, bench.backend, cost,
                        bench.device_min_words, bench.knobs(knobs))
    return simulate_config(config)


def at_traced_level(cost: CostModel) -> CostModel:
    """Undo the untraced scaling of a profile, to predict a traced run."""
    scale = cost.provenance.get("untraced_scale")
    if not scale:
        return cost
    changes = {}
    for name, component in FIELD_COMPONENT.items():
        value, s = getattr(cost, name), scale[component]
        changes[name] = {k: v / s for k, v in value.items()} if isinstance(value, dict) else value / s
    return replace(cost, **changes, provenance={**cost.provenance, "level": "traced"})


# -- intervals ------------------------------------------------------------------------------------------

def interval_s(cost: CostModel, result: Result, party: int, run_index: int | None = None) -> float:
    """Half-width (95%) of a predicted time of ``party`` (one run's, summed over layers, or all)."""
    select = (lambda key: key[0] == party) if run_index is None else \
        (lambda key: key[0] == party and key[3] == run_index)
    data = collect(Source(result.trace, result, None), select)
    var = 0.0
    for group, doc in cost.fits.items():
        names = doc["names"]
        samples = data[GROUP_SAMPLES[group]]
        if group in ("open_pack_host", "open_pack_device"):
            samples = [s for s in samples if s[1] == (group == "open_pack_device")]
        if not len(samples.y if hasattr(samples, "y") else samples):
            continue
        X = design(group, names, samples)
        c = X.sum(axis=0)
        cov = np.array(doc["cov"])
        var += float(c @ cov @ c) + doc["quality"]["rmse_s"] ** 2 * len(X)
    return Z95 * var ** 0.5


# -- measured per run -------------------------------------------------------------------------------------

def measured_runs(trace: Trace) -> dict[int, float]:
    """Run index -> measured seconds per layer (mean over steady iterations, layers and parties)."""
    steady = steady_iterations(trace)
    acc: dict[int, list[float]] = defaultdict(list)
    for r in trace.runs:
        if steady((r.party, r.iteration, r.layer, r.run_index)):
            acc[r.run_index].append(r.end_s - r.start_s)
    return {i: float(np.mean(v)) for i, v in acc.items()}


def predicted_runs(trace: Trace) -> dict[int, float]:
    """Run index -> simulated seconds per layer (mean over layers and parties)."""
    acc: dict[int, list[float]] = defaultdict(list)
    for r in trace.runs:
        acc[r.run_index].append(r.end_s - r.start_s)
    return {i: float(np.mean(v)) for i, v in acc.items()}


def _rel(pred: float, meas: float) -> float | None:
    return (pred - meas) / meas if meas else None


def compare(cost: CostModel, bench: BenchRun, trace: Trace | None = None, knobs: list[str] = ()) -> dict:
    """The whole comparison with a SUF bench run (and its trace, for per-run rows) as a document (what
    ``--json`` prints)."""
    measured = {"timing.online_time_s": bench.online_time_s}
    if bench.profiled:
        t = bench.online_profile
        measured |= {"open_s_per_party": ns_to_s_per_party(t.get("open_flush_ns", 0)),
                     "pfss_eval_s_per_party": ns_to_s_per_party(t.get("pfss_flush_eval_ns", 0)),
                     "pfss_finish_s_per_party": ns_to_s_per_party(t.get("pfss_finalize_ns", 0)
                                                                  + t.get("pfss_materialize_ns", 0))}
    measured |= _counts(bench.pfss, bench.communication, (*COUNTS, "total_hatx_words"))
    return _comparison(predict(cost, bench, knobs), Path(bench.path).name, measured, trace)


def compare_trace(cost: CostModel, trace: Trace, knobs: list[str] = ()) -> dict:
    """The comparison with a run traced in simflush's schema (the real backend's): its meta is the configuration
    (then ``knobs``: NAME=VALUE) and its online time, its records the measured components, counts and runs."""
    if trace.meta.online_time_s is None:
        raise ConfigError(f"{trace.meta.source}: field online_time_s: the trace records no online time to compare")
    parts = _components(trace.last_iteration())
    measured = {"timing.online_time_s": trace.meta.online_time_s, "open_s_per_party": parts["open_s_per_party"],
                "pfss_eval_s_per_party": parts["pfss_eval_s_per_party"]}
    if parts["pfss_finish_s_per_party"]:   # the real backend times no finish
        measured["pfss_finish_s_per_party"] = parts["pfss_finish_s_per_party"]
    doc = bench_document(trace, runs=False)
    measured |= _counts(doc["pfss"], doc["communication"], COUNTS)
    result = simulate_config(config_of_trace(trace.meta, cost, knobs))
    return _comparison(result, trace.meta.source, measured, trace)


def _counts(pfss: dict, communication: dict, keys: tuple[str, ...]) -> dict[str, float]:
    return {**{f"pfss.{k}": pfss[k] for k in keys}, "communication.net_bytes": communication["net_bytes"]}


def _comparison(result: Result, name: str, measured: dict[str, float], trace: Trace | None) -> dict:
    """Rows of ``measured`` (quantity -> value) against the same quantities of ``result``, the online time with
    its interval; per-run rows if the measured ``trace`` is given."""
    cost, sim_trace = result.config.cost, result.trace
    doc = result.bench_json(runs=False)
    predicted = {"timing.online_time_s": result.online_time_s, **_components(sim_trace),
                 **_counts(doc["pfss"], doc["communication"], tuple(doc["pfss"]))}
    late = max((0, 1), key=sim_trace.end_s)
    half = interval_s(cost, result, late)
    rows = [_row(k, v, predicted[k], half if k == "timing.online_time_s" else None) for k, v in measured.items()]
    runs = []
    if trace is not None:
        meas = measured_runs(trace)
        pred = predicted_runs(sim_trace)
        layers = result.config.layers
        for i, spec in enumerate(result.runs_per_layer):
            half_i = interval_s(cost, result, late, i) / layers
            runs.append({"run": spec.name, **_row("", meas.get(i, 0.0), pred[i], half_i)})
    c = result.config
    return {"model": c.model.name, "seq_len": c.seq_len, "batch": c.batch, "layers": c.layers,
            "measured": name, "cost": cost.name, "level": cost.provenance.get("level", ""),
            "warnings": cost.foreign_use(c.settings.profile), "totals": rows, "runs": runs,
            "scope": {"runs": "seconds per layer, mean over layers, steady iterations and both parties",
                      "*_per_party": "one party, one online iteration",
                      "pfss.*, net_bytes": "both parties summed, all layers (as the bench)"}}


def _row(name: str, measured: float, predicted: float, half: float | None) -> dict:
    row = {"quantity": name, "measured": measured, "predicted": predicted, "rel_err": _rel(predicted, measured)}
    if half is not None:
        row["interval"] = [predicted - half, predicted + half]
    if not name:
        del row["quantity"]
    return row


def _components(trace: Trace) -> dict[str, float]:
    """Per party, one iteration: seconds in opens, PFSS evaluations and PFSS finishes."""
    out: dict[str, float] = defaultdict(float)
    for f in trace.flushes:
        if f.kind == FlushKind.OPEN:
            out["open_s_per_party"] += f.duration_s / 2
        else:
            out["pfss_eval_s_per_party"] += f.timers["eval_s"] / 2
            out["pfss_finish_s_per_party"] += f.timers.get("finish_s", 0.0) / 2   # a real run times none
    return out


def report(doc: dict) -> str:
    lines = [f"{doc['model']} T={doc['seq_len']} B={doc['batch']} layers={doc['layers']}: measured {doc['measured']}"
             f" vs cost profile {doc['cost']} ({doc['level']} level)"]
    lines += [f"warning: {w}" for w in doc["warnings"]]
    lines.append(f"\n{'quantity':28s} {'measured':>14s} {'predicted':>14s} {'rel.err':>8s}  95% interval")
    for r in doc["totals"]:
        lines.append(f"{r['quantity']:28s} {_fmt(r['measured'])} {_fmt(r['predicted'])} {_pct(r['rel_err'])}  "
                     + (f"[{r['interval'][0]:.4g}, {r['interval'][1]:.4g}]" if "interval" in r else ""))
    if doc["runs"]:
        lines.append(f"\n{'run (ms per layer)':28s} {'measured':>14s} {'predicted':>14s} {'rel.err':>8s}  95% interval")
        for r in doc["runs"]:
            lines.append(f"{r['run']:28s} {r['measured'] * 1e3:14.3f} {r['predicted'] * 1e3:14.3f} "
                         f"{_pct(r['rel_err'])}  [{r['interval'][0] * 1e3:.3f}, {r['interval'][1] * 1e3:.3f}]")
    return "\n".join(lines) + "\n"


def _fmt(v: float) -> str:
    return f"{v:14.6g}" if isinstance(v, float) else f"{v:14d}"


def _pct(v: float | None) -> str:
    return f"{v:+8.1%}" if v is not None else f"{'-':>8s}"


def plot_runs(doc: dict, path: Path | str | None = None) -> Figure:
    """Bar chart of measured vs predicted per run (ms per layer), with the predicted intervals; returns
    the figure and saves it as PNG when given a path (no matplotlib backend is chosen)."""
    from matplotlib.figure import Figure

    from ...io.plots import DPI

    runs = doc["runs"] or [{"run": "online", "measured": doc["totals"][0]["measured"],
                            "predicted": doc["totals"][0]["predicted"], "interval": doc["totals"][0]["interval"]}]
    x = np.arange(len(runs))
    meas = np.array([r["measured"] for r in runs]) * 1e3
    pred = np.array([r["predicted"] for r in runs]) * 1e3
    err = np.array([(r["interval"][1] - r["interval"][0]) / 2 for r in runs]) * 1e3
    fig = Figure(figsize=(min(max(6, 0.7 * len(runs) + 2), 16), 4.4), layout="constrained")
    ax = fig.subplots()
    ax.bar(x - 0.2, meas, 0.4, label="measured")
    ax.bar(x + 0.2, pred, 0.4, yerr=err, capsize=3, label="predicted (95% from calibration)")
    ax.set_xticks(x, [r["run"] for r in runs], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("ms" + (" per layer" if doc["runs"] else ""))
    ax.set_title(f"{doc['model']}: measured {doc['measured']} vs {doc['cost']}", fontsize=9)
    ax.legend(fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=DPI)
    return fig


# -- cross-validation ---------------------------------------------------------------------------------------

def cross_validate(source: Source) -> list[dict]:
    """Calibrate on part of the trace and predict the rest, at the trace's (traced) level.

    Folds: even layers -> odd layers and back (per-run times); each run left out in turn (the
    held-out run's time, predicted from a profile that never saw it).
    """
    trace = source.trace
    steady = steady_iterations(trace)
    bench = _bench_of(source)
    folds = [("layers even->odd", lambda k: k[2] % 2 == 0, lambda k: k[2] % 2 == 1),
             ("layers odd->even", lambda k: k[2] % 2 == 1, lambda k: k[2] % 2 == 0)]
    names = [s.name for s in source.result.runs_per_layer]
    folds += [(f"leave out {n}", lambda k, i=i: k[3] != i, lambda k, i=i: k[3] == i) for i, n in enumerate(names)]
    out = []
    for label, train, test in folds:
        cal = calibrate([source], select=lambda k, t=train: steady(k) and t(k))
        pred = predicted_runs(predict(cal.cost, bench).trace)
        held = Trace(trace.meta, [r for r in trace.runs if test((r.party, r.iteration, r.layer, r.run_index))],
                     [])
        meas = measured_runs(held)
        runs = [{"run": names[i], "measured": meas[i], "predicted": pred[i], "rel_err": _rel(pred[i], meas[i])}
                for i in sorted(meas)]
        total_m, total_p = sum(r["measured"] for r in runs), sum(r["predicted"] for r in runs)
        out.append({"fold": label, "runs": runs, "measured_s": total_m, "predicted_s": total_p,
                    "rel_err": _rel(total_p, total_m)})
    return out


def cross_validation_report(folds: list[dict]) -> str:
    """One line per fold: held-out total error and the worst run > 2 ms; then per-run errors."""
    lines = ["cross-validation (traced level, ms per layer; held-out runs/layers only):",
             f"{'fold':28s} {'measured':>9s} {'predicted':>9s} {'err':>7s}  worst run > 2 ms"]
    for f in folds:
        big = [r for r in f["runs"] if r["measured"] > 2e-3]
        worst = max(big, key=lambda r: abs(r["rel_err"]), default=None)
        tail = f"{worst['run']} {worst['rel_err']:+.1%}" if worst else "-"
        lines.append(f"{f['fold']:28s} {f['measured_s'] * 1e3:9.2f} {f['predicted_s'] * 1e3:9.2f} "
                     f"{f['rel_err']:+7.1%}  {tail}")
    return "\n".join(lines) + "\n"


def _bench_of(source: Source) -> BenchRun:
    """One layer of the traced configuration."""
    if source.bench is not None:
        return replace(source.bench, layers=1)
    m = source.trace.meta
    return BenchRun(path=m.source, sha256=m.sha256, system=m.system, backend=m.backend, model=m.model,
                    seq_len=m.seq_len, batch=m.batch, layers=1, iterations=1, n_bits=m.n_bits,
                    online_time_s=m.online_time_s or 0.0, pfss={}, communication={})
