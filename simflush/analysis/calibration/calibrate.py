"""``simflush calibrate``: fit a cost profile from measured flush traces, with error bars.

Every flush of the trace is matched to simflush's own schedule of the same configuration (taken
from the bench JSON of the traced run; ``samples``), which names its run and PFSS gates.
Then seven groups of parameters are fitted (``robust_fit``), each by robust least squares (Huber IRLS,
rows weighted by 1/sqrt(time) so that the floors of small flushes count as much as the slopes of big
ones), constrained to reproduce the group's measured total (the noise is skewed: waits, occasional long
gaps; see docs/cost_model.md):

- ``open_pack_host`` / ``open_pack_device``: the open's pack + unpack timer (``pack_s``) against its
  words, on the two sides of the device-packing threshold (the trace's ``dev`` flag splits them);
- ``open_exchange``: the rest of the open (its duration minus ``pack_s``: the exchange through the ring
  with the wait for the peer, and the host's scatter) against its wire bytes and, for host-packed opens,
  its words (the GPU path scatters on the device), over every open. Open times are the mean of the two
  parties' (the mean wait for the peer that run-to-run jitter causes at each synchronisation, which
  symmetric simulated parties would not produce);
- ``pfss_eval``: ``floor + kind floor + slope * hatx * (1 + o)`` per gate kind, where ``o`` is the
  measured fraction of the evaluation during which the other party also evaluated (both share one
  GPU; the engine's processor-sharing GPU puts the contention back);
- ``pfss_finish``: materialize/finalize, ``floor + slope_gate * hatx``;
- ``step``: the local compute between flushes, ``floor + a * words of the next open`` before a flush
  and ``b * opened words + c * hatx`` after one (exactly what the engine charges). The floor is the
  mean gap of the steps with (almost) no words around them; the slopes are fitted with it fixed, so a
  model of small tensors is not charged the per-word work of bert-base's as a floor;
- ``run_gap``: between two runs, ``floor + d * flops`` of the public matmul ``+ e * B*T*D`` (reshapes,
  residual adds of the hidden state). The floor is the median gap of the run type with the smallest one
  (a run whose input needs no work, e.g. a truncation straight after its matmul).

Only iterations >= 1 are used when the trace has several (iteration 0 also generates key material).
Gates that the trace cannot identify get derived values (see ``_derived_slope``) and no interval.
With ``--untraced BENCH.json`` (a profiled run of the same configuration without tracing), each
group is scaled by measured untraced/traced time of its component (``online_profile`` timers), so
the profile predicts untraced runs; the factors are kept in the provenance.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...api import Result
from ...errors import ConfigError
from ...executor.records import FlushKind
from ...io.suf_bench import BenchRun
from ...io.trace_schema import Trace
from ...sim.cost import CostModel
from ...units import ns_to_s_per_party
from ...version import __version__
from .robust_fit import Z95, Fit, huber_fit
from .samples import ALL_GATES, Rows, Select, Source, collect, flush_key, steady_iterations

if TYPE_CHECKING:  # matplotlib is imported only by what draws
    from matplotlib.figure import Figure

LARGE_HATX = 16384          # a gate needs flushes this large for its per-element slope
SPREAD = 4.0                # and sizes spread by this factor for floor and slope together


# -- fitting -----------------------------------------------------------------------------------------

def _cost_units(gate: str) -> int:
    g = ALL_GATES[gate]
    return g.r + g.ell


def _derived_slope(gate: str, slopes: dict[str, float]) -> float:
    """A gate without its own slope: the calibrated gate of closest r + ell, scaled by r + ell."""
    ref = min(slopes, key=lambda g: (abs(_cost_units(g) - _cost_units(gate)), g))
    return slopes[ref] * _cost_units(gate) / _cost_units(ref)


def design(group: str, names: list[str], samples) -> np.ndarray:
    """Design matrix of ``group``'s parameters ``names`` for its samples (as ``collect`` gives them)."""
    if group == "run_gap":
        return samples.arrays()[0]
    if group == "step":
        X = samples.arrays()[0]
        labels = np.array(samples.labels)
        cols = {"step_floor_s": X[:, 0], "step_s_per_matmul_out": X[:, 2], "gpu_stage_s_per_word": X[:, 3]}
        return np.column_stack([cols[n] if n in cols else
                                (X[:, 0] if n.startswith("step_floor_s.") else X[:, 1]) * (labels == n.split(".", 1)[1])
                                for n in names])
    rows = []
    for sample in samples:
        if group in ("open_pack_host", "open_pack_device"):
            rows.append([1.0, sample[0]])
            continue
        if group == "open_exchange":
            rows.append([1.0, sample[4], 0.0 if sample[1] else sample[0], sample[5]])
            continue
        gate, hatx = sample[0][0], sample[1]
        load = hatx * (1 + sample[2]) if group == "pfss_eval" else hatx
        row = []
        for name in names:
            kind, _, g = name.partition(".")
            row.append(hatx * sample[3] if name == "gpu_stage_s_per_word" else
                       1.0 if not g and kind.endswith("floor_s") else
                       float(g == gate) if kind.endswith("floor_s") else load * (g == gate))
        rows.append(row)
    return np.array(rows, dtype=float).reshape(len(rows), len(names))


GROUP_SAMPLES = {"open_pack_host": "opens", "open_pack_device": "opens", "open_exchange": "opens",
                 "pfss_eval": "evals", "pfss_finish": "finishes", "step": "steps", "run_gap": "run_gaps"}
OPEN_PACK_PARAMS = {"open_pack_host": ["open_host_pack_floor_s", "open_host_pack_s_per_word"],
                    "open_pack_device": ["open_device_pack_floor_s", "open_device_pack_s_per_word"]}


def _fit_opens(opens: list[tuple]) -> dict[str, Fit]:
    """Pack + unpack per side of the device-packing threshold; the rest (exchange, scatter), all opens."""
    fits = {}
    for device, group in ((False, "open_pack_host"), (True, "open_pack_device")):
        samples = [o for o in opens if o[1] == device]
        if not samples:
            continue
        names = OPEN_PACK_PARAMS[group]
        fits[group] = huber_fit(group, design(group, names, samples), np.array([o[3] for o in samples]), names,
                                keep_total=True)
    names = ["open_exchange_floor_s", "open_s_per_wire_byte", "open_host_scatter_s_per_word", "open_wait_per_s_apart"]
    fits["open_exchange"] = huber_fit("open_exchange", design("open_exchange", names, opens),
                                  np.array([o[2] - o[3] for o in opens]), names, keep_total=True)
    return fits


def _gate_roles(samples: list[tuple]) -> tuple[str, dict[str, str]]:
    """Per gate: 'both' (floor and slope), 'floor' (small flushes only) or 'slope' (one large size)."""
    sizes: dict[str, list[int]] = defaultdict(list)
    for gates, hatx, *_ in samples:
        sizes[gates[0]].append(hatx)
    reference = max(sizes, key=lambda g: (len(sizes[g]), g))
    roles = {}
    for g, hs in sizes.items():
        lo, hi = min(hs), max(hs)
        if hi >= LARGE_HATX and hi >= SPREAD * lo:
            roles[g] = "both"
        elif hi < LARGE_HATX:
            roles[g] = "floor"
        else:
            roles[g] = "slope"
    return reference, roles


def _fit_evals(evals: list[tuple]) -> tuple[Fit, dict[str, float], dict[str, float]]:
    """PFSS eval: global floor, kind floors, per-gate GPU slopes (contention-corrected)."""
    reference, roles = _gate_roles(evals)
    floor_gates = sorted(g for g, r in roles.items() if r in ("both", "floor") and g != reference)
    slope_gates = sorted(g for g, r in roles.items() if r in ("both", "slope"))
    if reference not in slope_gates:
        raise ConfigError(f"calibration: the commonest PFSS gate {reference} has no flush >= {LARGE_HATX} words")
    names = (["pfss_floor_s"] + [f"pfss_kind_floor_s.{g}" for g in floor_gates]
             + [f"pfss_s_per_elem.{g}" for g in slope_gates] + ["gpu_stage_s_per_word"])
    X_arr, y_arr = design("pfss_eval", names, evals), np.array([t for *_, t, _ in evals])
    loads = [(gates[0], hatx * (1 + o)) for gates, hatx, o, *_ in evals]
    # slopes of floor-only gates are derived from the fitted gates: a first fit gives those
    first = huber_fit("pfss_eval", X_arr, y_arr, names)
    slopes = {g: float(first.coef[names.index(f"pfss_s_per_elem.{g}")]) for g in slope_gates}
    derived = {g: _derived_slope(g, slopes) for g in ALL_GATES if g not in slopes}
    offset = np.array([derived.get(g, 0.0) * load for g, load in loads])
    fit = huber_fit("pfss_eval", X_arr, y_arr, names, offset, keep_total=True)
    slopes = {g: float(fit.coef[names.index(f"pfss_s_per_elem.{g}")]) for g in slope_gates}
    kind_floors = {g: float(fit.coef[names.index(f"pfss_kind_floor_s.{g}")]) for g in floor_gates}
    slopes.update({g: _derived_slope(g, slopes) for g in ALL_GATES if g not in slopes})
    return fit, slopes, kind_floors


def _fit_finishes(finishes: list[tuple]) -> tuple[Fit, dict[str, float]]:
    seen = sorted({gates[0] for gates, *_ in finishes})
    names = ["pfss_finish_floor_s"] + [f"pfss_finish_s_per_elem.{g}" for g in seen]
    fit = huber_fit("pfss_finish", design("pfss_finish", names, finishes),
                    np.array([t for *_, t, _ in finishes]), names, keep_total=True)
    slopes = {g: float(fit.coef[i + 1]) for i, g in enumerate(seen)}
    slopes.update({g: _derived_slope(g, slopes) for g in ALL_GATES if g not in slopes})
    return fit, slopes


RUN_GAP_PARAMS = ["run_gap_floor_s", "run_gap_s_per_flop", "run_gap_s_per_matmul_elem", "run_gap_s_per_elem"]
IDLE_STEP_WORDS = 1024      # a step with fewer words around it than this does (almost) no work


def _floor_then_slopes(group: str, X: np.ndarray, y: np.ndarray, names: list[str], floor: np.ndarray,
                       fixed: dict[int, float] | None = None) -> Fit:
    """Least squares of the slopes (columns 1..) with the floor (column 0) fixed at ``floor``'s mean
    and the columns in ``fixed`` (index -> coefficient) fixed at theirs.

    The floor's standard error is that of the mean of ``floor``; fixed columns have none; the other
    slopes' come from the fit, which keeps the group's measured total. Ordinary least squares (no
    Huber, unweighted): gaps have skewed noise and their sum is what the online time is made of."""
    if len(floor) < 2:
        raise ConfigError(f"calibration group {group!r}: no idle samples to take its floor from")
    fixed = {0: float(floor.mean()), **(fixed or {})}
    free = [i for i in range(len(names)) if i not in fixed]
    offset = sum(v * X[:, i] for i, v in fixed.items())
    slopes = huber_fit(group, X[:, free], y, [names[i] for i in free], offset=offset, delta=np.inf,
                       weighted=False, keep_total=True)
    coef, cov = np.zeros(len(names)), np.zeros((len(names), len(names)))
    for i, v in fixed.items():
        coef[i] = v
    coef[free] = slopes.coef
    cov[np.ix_(free, free)] = slopes.cov
    cov[0, 0] = float(floor.var(ddof=1)) / len(floor)
    return Fit(group, list(names), coef, cov, y, slopes.fitted, slopes.weights, slopes.dropped)


STEP_FLOORS = ("idle", "family")   # ``calibrate``'s ways to take the local steps' floor (docs/cost_model.md)


def _fit_steps(rows: Rows, stage_s_per_word: float, floors: str = "idle") -> Fit:
    """``stage_s_per_word``: the host-to-GPU copy, as the PFSS evaluations measured it (fixed here). ``floors``:
    ``idle``, one floor for every family, the mean of the idle steps (few words, no matmul), then the slopes;
    ``family``, a floor per task family fitted with the slopes (least squares keeping the total), for a backend
    whose steps cost their launches: each family's steps take about the same time at any size."""
    X, y = rows.arrays()
    families = sorted(set(rows.labels))
    slopes = [*(f"step_s_per_word.{f}" for f in families), "step_s_per_matmul_out", "gpu_stage_s_per_word"]
    if floors == "idle":
        idle = (X[:, 0] == 1) & (X[:, 1] < IDLE_STEP_WORDS) & (X[:, 2] == 0)
        names = ["step_floor_s", *slopes]
        return _floor_then_slopes("step", design("step", names, rows), y, names, y[idle],
                                  {len(names) - 1: stage_s_per_word})
    names = [*(f"step_floor_s.{f}" for f in families), *slopes]
    D = design("step", names, rows)
    free = names[:-1]
    fit = huber_fit("step", D[:, :-1], y, free, offset=stage_s_per_word * D[:, -1], delta=np.inf, weighted=False,
                    keep_total=True)
    cov = np.zeros((len(names), len(names)))
    cov[:-1, :-1] = fit.cov
    return Fit("step", names, np.r_[fit.coef, stage_s_per_word], cov, y, fit.fitted, fit.weights, fit.dropped)


def _fit_run_gaps(rows: Rows, s_per_flop: float | None) -> Fit:
    """``s_per_flop``: the matmul kernel's cost when a bench profile measured it (else it is fitted)."""
    X, y = rows.arrays()
    by_run: dict[int, list[float]] = defaultdict(list)
    for key, gap in zip(rows.keys, y, strict=True):
        by_run[key[3]].append(gap)
    idle_run = min(by_run, key=lambda r: np.median(by_run[r]))
    fixed = {1: s_per_flop} if s_per_flop is not None else None
    return _floor_then_slopes("run_gap", X, y, RUN_GAP_PARAMS, np.array(by_run[idle_run]), fixed)


def _by_family(step: Fit, rows: Rows, prefix: str) -> tuple[dict[str, float], float]:
    """The step fit's parameters ``prefix``FAMILY by family, and their mean weighted by their columns (words for a
    slope, steps for a floor): what families the traces lack are charged."""
    X = design("step", step.names, rows)
    values, weighted, weight = {}, 0.0, 0.0
    for i, name in enumerate(step.names):
        if name.startswith(prefix):
            w = float(X[:, i].sum())
            values[name.removeprefix(prefix)] = float(step.coef[i])
            weighted, weight = weighted + float(step.coef[i]) * w, weight + w
    return values, weighted / weight if weight else 0.0


def _family_slopes(step: Fit, rows: Rows) -> dict[str, float]:
    """Per task family; ``*`` (families the trace lacks): the calibration's mean cost per word."""
    slopes, mean = _by_family(step, rows, "step_s_per_word.")
    return {**slopes, "*": mean}


def fit_groups(data: dict, s_per_flop: float | None = None, step_floors: str = "idle") -> tuple[dict[str, Fit], dict]:
    """All groups; returns the fits and the CostModel field values they give. ``s_per_flop``: the
    public matmul kernel's measured cost per flop at the trace's level, if known. ``step_floors``: see
    ``_fit_steps``."""
    fits = _fit_opens(data["opens"])
    eval_fit, slopes, kind_floors = _fit_evals(data["evals"])
    finish_fit, finish_slopes = _fit_finishes(data["finishes"])
    stage = float(eval_fit.coef[eval_fit.names.index("gpu_stage_s_per_word")])
    fits.update({"pfss_eval": eval_fit, "pfss_finish": finish_fit,
                 "step": _fit_steps(data["steps"], stage, step_floors),
                 "run_gap": _fit_run_gaps(data["run_gaps"], s_per_flop)})
    value = {name: float(c) for fit in fits.values() for name, c in zip(fit.names, fit.coef, strict=True)}
    # the engine charges the host pack's floor with the open's; a trace with opens packed on one side only (the real
    # backend packs every open on the GPU) costs the other side as that one
    host_pack_floor = value.get("open_host_pack_floor_s", 0.0)
    device_pack_floor = value.get("open_device_pack_floor_s", host_pack_floor)
    host_pack_slope = value.get("open_host_pack_s_per_word", value.get("open_device_pack_s_per_word"))
    values = {
        "open_floor_s": value["open_exchange_floor_s"] + host_pack_floor,
        "open_s_per_wire_byte": value["open_s_per_wire_byte"],
        "open_host_scatter_s_per_word": value["open_host_scatter_s_per_word"],
        "open_wait_per_s_apart": value["open_wait_per_s_apart"],
        "open_host_pack_s_per_word": host_pack_slope,
        "open_device_pack_floor_s": device_pack_floor - host_pack_floor,
        "open_device_pack_s_per_word": value.get("open_device_pack_s_per_word", host_pack_slope),
        "pfss_floor_s": value["pfss_floor_s"], "pfss_s_per_elem": dict(sorted(slopes.items())),
        "gpu_stage_s_per_word": value["gpu_stage_s_per_word"],
        "pfss_kind_floor_s": dict(sorted(kind_floors.items())),
        "pfss_finish_floor_s": value["pfss_finish_floor_s"],
        "pfss_finish_s_per_elem": dict(sorted(finish_slopes.items())),
        "step_s_per_word": _family_slopes(fits["step"], data["steps"]),
        **{k: value[k] for k in ("step_s_per_matmul_out", *RUN_GAP_PARAMS)},
    }
    if step_floors == "idle":
        values["step_floor_s"] = value["step_floor_s"]
    else:
        values["step_floor_s_per_family"], values["step_floor_s"] = _by_family(fits["step"], data["steps"],
                                                                                 "step_floor_s.")
    return fits, values


# -- untraced level -----------------------------------------------------------------------------------

FIELD_COMPONENT = {"open_floor_s": "open", "open_s_per_wire_byte": "open", "open_host_scatter_s_per_word": "open",
                   "open_wait_per_s_apart": "open", "open_host_pack_s_per_word": "open",
                   "open_device_pack_floor_s": "open", "open_device_pack_s_per_word": "open",
                   "pfss_floor_s": "pfss_eval", "pfss_s_per_elem": "pfss_eval", "gpu_stage_s_per_word": "pfss_eval",
                   "pfss_kind_floor_s": "pfss_eval", "pfss_finish_floor_s": "pfss_finish",
                   "pfss_finish_s_per_elem": "pfss_finish", "step_floor_s": "local", "step_s_per_word": "local",
                   "step_floor_s_per_family": "local",
                   "step_s_per_matmul_out": "local", "run_gap_floor_s": "local",
                   "run_gap_s_per_flop": "local", "run_gap_s_per_matmul_elem": "local", "run_gap_s_per_elem": "local"}
GROUP_COMPONENT = {"open_pack_host": "open", "open_pack_device": "open", "open_exchange": "open",
                   "pfss_eval": "pfss_eval", "pfss_finish": "pfss_finish", "step": "local", "run_gap": "local"}


def traced_components(trace: Trace, select: Select) -> dict[str, float]:
    """Per party per iteration (mean over the selected ones): open, eval, finish, local seconds."""
    totals: dict[str, float] = defaultdict(float)
    walls: dict[tuple[int, int], list[float]] = defaultdict(list)
    for f in trace.flushes:
        if not select(flush_key(f)):
            continue
        if f.kind == FlushKind.OPEN:
            totals["open"] += f.duration_s
        else:
            totals["pfss_eval"] += f.timers["eval_s"]
            totals["pfss_finish"] += f.timers.get("finish_s", 0.0)
            totals["pfss_other"] += f.duration_s - f.timers["eval_s"] - f.timers.get("finish_s", 0.0)
    for r in trace.runs:
        if select((r.party, r.iteration, r.layer, r.run_index)):
            walls[(r.party, r.iteration)] += [r.start_s, r.end_s]
    count = len(walls)
    wall = sum(max(v) - min(v) for v in walls.values())
    out = {k: v / count for k, v in totals.items()}
    out["local"] = wall / count - out["open"] - out["pfss_eval"] - out["pfss_finish"]
    out["wall"] = wall / count
    return out


def untraced_scale(traced: dict[str, float], bench: BenchRun) -> dict[str, float]:
    """Measured untraced/traced time per component, from a profiled untraced bench JSON."""
    t = bench.online_profile
    need = ("open_flush_ns", "pfss_flush_eval_ns", "pfss_finalize_ns", "pfss_materialize_ns")
    if not bench.profiled or any(k not in t for k in need):
        raise ConfigError(f"{bench.path}: field 'online_profile' has no timers: --untraced needs a run "
                          "with SUF_BENCH_PROFILE=1")
    per_party = {"open": ns_to_s_per_party(t["open_flush_ns"]), "pfss_eval": ns_to_s_per_party(t["pfss_flush_eval_ns"]),
                 "pfss_finish": ns_to_s_per_party(t["pfss_finalize_ns"] + t["pfss_materialize_ns"])}
    per_party["local"] = bench.online_time_s - sum(per_party.values())
    return {k: per_party[k] / traced[k] for k in per_party}


def kernel_s_per_flop(bench: BenchRun, schedule: Result) -> float | None:
    """The public matmuls' measured kernel time (``matmul_kernel_ns``) per flop, per party."""
    kernel_ns = bench.online_profile.get("matmul_kernel_ns", 0)
    flops = bench.layers * sum(spec.local_flops_before for spec in schedule.runs_per_layer)
    return ns_to_s_per_party(kernel_ns) / flops if kernel_ns > 0 and flops > 0 else None


# -- the profile ------------------------------------------------------------------------------------

@dataclass
class Calibration:
    cost: CostModel
    fits: dict[str, Fit]
    data: dict


def calibrate(sources: list[Source], untraced: BenchRun | None = None, name: str = "calibrated",
              select: Select | None = None, step_floors: str = "idle") -> Calibration:
    """Fit a CostModel from one or more measured traces (their samples are pooled). ``step_floors``: how the local
    steps' floor is taken (``STEP_FLOORS``; ``_fit_steps``)."""
    if step_floors not in STEP_FLOORS:
        raise ConfigError(f"--step-floors {step_floors!r}: allowed: {', '.join(STEP_FLOORS)}")
    build = _interval_build(sources)   # refused before any fitting when the traces mix constructions
    data: dict = {"opens": [], "evals": [], "finishes": [], "steps": Rows([], [], []),
                  "run_gaps": Rows([], [], [])}
    traced: dict[str, float] = {}
    for src in sources:
        sel = select or steady_iterations(src.trace)
        part = collect(src, sel)
        for k in ("opens", "evals", "finishes"):
            data[k] += part[k]
        for k in ("steps", "run_gaps"):
            for attr in ("X", "y", "keys", "labels"):
                getattr(data[k], attr).extend(getattr(part[k], attr))
        traced = traced or traced_components(src.trace, sel)
    scale = untraced_scale(traced, untraced) if untraced is not None else None
    s_per_flop = None
    if scale is not None:  # the kernel's own timer fixes its share of the run gaps, at the traced level
        kernel = kernel_s_per_flop(untraced, sources[0].result)
        s_per_flop = kernel / scale["local"] if kernel is not None else None
    fits, values = fit_groups(data, s_per_flop, step_floors)
    first = sources[0].trace.meta
    provenance = {
        "method": "simflush calibrate (Huber IRLS; docs/cost_model.md)", "simflush_version": __version__,
        "runtime_profile": first.runtime_profile, "device": first.device, "deploy": first.deploy or "colocated",
        "sources": [{"file": s.trace.meta.source, "sha256": s.trace.meta.sha256, "model": s.trace.meta.model,
                     "seq_len": s.trace.meta.seq_len, "batch": s.trace.meta.batch,
                     "bench": Path(s.bench.path).name if s.bench else None,
                     "bench_sha256": s.bench.sha256 if s.bench else None} for s in sources],
        "traced_components_s": traced, "level": "traced", "step_floors": step_floors,
    }
    if build:
        provenance["interval_build"] = build
    if scale is not None:
        values = _scaled(values, fits, scale)
        provenance.update({"level": "untraced", "untraced_scale": scale,
                           "untraced_bench": {"file": Path(untraced.path).name, "sha256": untraced.sha256}})
    fit_docs = {g: f.to_dict() for g, f in fits.items()}
    return Calibration(CostModel(name=name, **values, fits=fit_docs, provenance=provenance), fits, data)


def _interval_build(sources: list[Source]) -> dict | None:
    """How the real backend's traces built their interval keys (its SUF gates' traced costs are that construction's:
    ``sim.charges.gate_job_s`` scales them to another); None for other traces. One construction a profile."""
    builds = {(s.result.config.settings.wire.ring_bits, s.result.config.settings.interval_fold)
              for s in sources if s.trace.meta.system == "real_backend"}
    if len(builds) > 1:
        listed = ", ".join(f"ring_bits={r} interval_fold={f}" for r, f in sorted(builds))
        raise ConfigError(f"--trace: the real backend's traces built their interval keys differently ({listed}); "
                          "calibrate on one construction")
    if not builds:
        return None
    ring_bits, fold = builds.pop()
    return {"ring_bits": ring_bits, "fold": fold}


def with_interval_kernel(cal: Calibration, grid: Path) -> Calibration:
    """``cal`` with the interval kernel fitted on ``grid`` (``interval_fit``) and the grid in its provenance."""
    from dataclasses import replace

    from .interval_fit import fit_interval_kernel, grid_provenance, read_grid
    rows = read_grid(grid)
    cost = replace(cal.cost, **fit_interval_kernel(rows),
                   provenance={**cal.cost.provenance, "interval_bench": grid_provenance(grid, rows)})
    return replace(cal, cost=cost)


def _scaled(values: dict, fits: dict[str, Fit], scale: dict[str, float]) -> dict:
    """Multiply every parameter of each group by its component's untraced/traced factor."""
    out = dict(values)
    for name, component in FIELD_COMPONENT.items():
        if name not in values:   # step_floor_s_per_family: only with --step-floors family
            continue
        s = scale[component]
        out[name] = {k: v * s for k, v in values[name].items()} if isinstance(values[name], dict) \
            else values[name] * s
    for group, fit in fits.items():
        s = scale[GROUP_COMPONENT[group]]
        fit.coef, fit.cov = fit.coef * s, fit.cov * s * s
        fit.measured, fit.fitted = fit.measured * s, fit.fitted * s
    return out


# -- the figure ---------------------------------------------------------------------------------------

def plot_fits(fits: dict[str, Fit], path: Path | str | None = None) -> Figure:
    """Measured vs fitted per group (ms, log-log on one square range per panel, y = x dashed), one
    panel each; returns the figure and saves it as PNG when given a path (no matplotlib backend is
    chosen: ``simflush.io.plots``)."""
    from matplotlib.figure import Figure

    from ...io.plots import DPI, log_axis

    groups = list(fits)
    cols = 3
    rows = -(-len(groups) // cols)
    fig = Figure(figsize=(4.2 * cols, 4.0 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, group in zip(axes.flat, groups, strict=False):  # the grid may have a spare cell
        fit = fits[group]
        m, f = np.maximum(fit.measured, 1e-7) * 1e3, np.maximum(fit.fitted, 1e-7) * 1e3
        ax.scatter(f, m, s=6, alpha=0.4, c=np.where(fit.weights < 0.5, "tab:red", "tab:blue"))
        lo, hi = min(m.min(), f.min()) / 1.5, max(m.max(), f.max()) * 1.5
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set(xlim=(lo, hi), ylim=(lo, hi), aspect="equal")
        log_axis(ax, "x")
        log_axis(ax, "y")
        q = fit.quality()
        ax.set_title(f"{group}: n={q['n']} R²={q['r2']:.3f}", fontsize=9)
        ax.set_xlabel("fitted ms")
        ax.set_ylabel("measured ms")
    for ax in list(axes.flat)[len(groups):]:
        ax.set_axis_off()
    fig.suptitle("simflush calibrate: measured vs fitted per flush (red: down-weighted outliers)", fontsize=10)
    if path is not None:
        fig.savefig(path, dpi=DPI)
    return fig


# -- report and CLI -----------------------------------------------------------------------------------

def report(cal: Calibration) -> str:
    lines = [f"cost profile {cal.cost.name!r} ({cal.cost.provenance['level']} level) from "
             + ", ".join(s["file"] for s in cal.cost.provenance["sources"])]
    scale = cal.cost.provenance.get("untraced_scale")
    if scale:
        lines.append("untraced/traced scale per component: "
                     + ", ".join(f"{k} {v:.3f}" for k, v in scale.items()))
    for group, fit in cal.fits.items():
        q = fit.quality()
        lines.append(f"\n[{group}] n={q['n']} R²={q['r2']:.4f} rmse={q['rmse_s'] * 1e6:.1f} µs "
                     f"median |rel err|={q['median_rel_err']:.1%} total bias={q['sum_rel_err']:+.2%} "
                     f"outliers={q['outliers']}")
        for name, est, se in zip(fit.names, fit.coef, fit.se, strict=True):
            note = "  (dropped: negative)" if name in fit.dropped else ""
            lines.append(f"  {name:40s} {est: .4e}  ± {Z95 * se:.2e} (95%){note}")
    return "\n".join(lines) + "\n"
