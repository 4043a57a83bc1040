"""Calibration samples: a measured trace matched flush by flush to simflush's schedule of the same
configuration, and the observations each fitted group is made of (opens, PFSS evaluations and finishes,
local-compute gaps inside and between runs)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from models.layer import RunSpec
from models.specs import get_model

from ...api import Result, make_config, simulate_config
from ...errors import ConfigError
from ...executor.records import FlushKind
from ...io.suf_bench import BenchRun, read_bench
from ...io.suf_trace import read_suf_trace
from ...io.trace_schema import FlushEvent, Trace, TraceMeta, read_trace
from ...profiles import REAL_BACKEND_GPU_KNOBS, resolve
from ...sim.cost import CostModel
from ...sim.engine import SimConfig
from ...tasks import gates as gate_defs

# SUF's own gates; sigma gates are costed from the ReLU slope by their PRG calls (Gate.cost_scale)
ALL_GATES = {g.name: g for g in vars(gate_defs).values() if isinstance(g, gate_defs.Gate) and g.suf_kind >= 0}
Key = tuple[int, int, int, int]   # party, iteration, layer, run_index
Select = Callable[[Key], bool]


@dataclass
class Source:
    """A measured trace with the schedule of the same configuration."""

    trace: Trace
    result: Result               # simflush's schedule (any cost model) of the traced configuration
    bench: BenchRun | None

    def run_work(self) -> list[list[float]]:
        """Per run of a layer: [flops, matmul elements, hidden elements] of the work before it."""
        return [[spec.local_flops_before, spec.local_matmul_elems, spec.hidden_elems]
                for spec in self.result.runs_per_layer]


def config_for(model: str, seq_len: int, batch: int, layers: int, backend: str, cost: CostModel,
               device_min_words: int | None = None, knobs: list[str] = ()) -> SimConfig:
    """The simulated configuration of a SUF bench run (GPU or CPU bench defaults, then ``knobs``: NAME=VALUE)."""
    profile = "suf-gpu-bench" if backend == "gpu" else "suf-cpu-bench"
    pairs = []
    if backend == "gpu" and device_min_words is not None:
        pairs.append(f"SUF_OPEN_PACK_DEVICE_MIN_WORDS={device_min_words}")
    return make_config(model=model, seq_len=seq_len, batch=batch, layers=layers, runtime=profile,
                       knobs=pairs + list(knobs), cost=cost)


def load_source(trace_path: Path, bench_path: Path | None, knobs: list[str] = ()) -> Source:
    """A SUF trace (with the bench JSON of the same run, whose echoed flags and then ``knobs`` set the
    schedule's knobs) or a trace already in simflush's schema."""
    bench = read_bench(bench_path) if bench_path else None
    if in_simflush_schema(trace_path):
        trace = read_trace(trace_path)
        result = simulate_config(replace(config_of_trace(trace.meta), layers=1))
    else:
        if bench is None:
            raise ConfigError(f"{trace_path}: a SUF trace needs --bench (the bench JSON of the same run) "
                              "to know the model, T, B and layers")
        config = config_for(bench.model, bench.seq_len, bench.batch, bench.layers, bench.backend,
                            _schedule_cost(), bench.device_min_words, bench.knobs(knobs))
        meta = TraceMeta(system=bench.system, backend=bench.backend, model=bench.model, seq_len=bench.seq_len,
                         batch=bench.batch, layers=bench.layers, runtime_profile=config.settings.profile,
                         n_bits=bench.n_bits, online_time_s=bench.online_time_s, traced=True)
        result = simulate_config(replace(config, layers=1))
        trace = read_suf_trace(trace_path, [spec.name for spec in result.runs_per_layer], bench.layers, meta)
    _annotate(trace, result.trace, trace_path)
    return Source(trace, result, bench)


def in_simflush_schema(trace_path: Path) -> bool:
    """Whether the trace file is in simflush's schema (a real backend's or an export), not SUF's text format."""
    return trace_path.name.endswith((".json", ".json.gz"))


def profile_of_trace(m: TraceMeta) -> str:
    """The runtime profile of a trace in simflush's schema (the bench defaults of its backend when it names none)."""
    return m.runtime_profile or ("suf-gpu-bench" if m.backend == "gpu" else "suf-cpu-bench")


def config_of_trace(m: TraceMeta, cost: CostModel | None = None, knobs: list[str] = ()) -> SimConfig:
    """The simulated configuration of a trace in simflush's schema (``cost``: charges nothing if None): its runtime
    profile, the knobs it records that differ from that profile's, then ``knobs`` (NAME=VALUE, on top), its
    policy, chains, network and deployment (a real backend's run records them all)."""
    profile = profile_of_trace(m)
    defaults = resolve(profile, get_model(m.model)).env
    settings = dict(m.settings)
    # its GPU traces before 2026-12-01 did not record its device packing, nor before 2026-12-03 its one-thread overlap
    if m.system == "real_backend" and m.backend == "gpu":
        settings = REAL_BACKEND_GPU_KNOBS | settings
    if m.system == "real_backend" and m.n_bits:   # nor, before 2026-12-02, that its opens went at its own ring
        settings = {"ring_bits": str(m.n_bits)} | settings
    if m.system == "real_backend":   # nor, before the fold (2026-12-02), how it built its interval keys
        settings = {"interval_fold": "0"} | settings
    recorded = [f"{k}={v}" for k, v in sorted(settings.items()) if defaults.get(k) != v]
    return make_config(model=m.model, seq_len=m.seq_len, batch=m.batch, layers=m.layers, runtime=profile,
                       knobs=recorded + list(knobs), policy=m.policy or "suf", chains=m.chains,
                       net=m.network or "loopback", deploy=m.deploy or "colocated", cost=cost or _schedule_cost())


def _schedule_cost() -> CostModel:
    """A cost model that charges nothing: only the schedule of the simulation is used."""
    zero = dict.fromkeys(ALL_GATES, 0.0)
    return CostModel("schedule-only", 0, 0, 0, 0, 0, 0, 0, 0, zero, 0, {}, 0, zero, 0, {"*": 0.0}, 0, 0, 0, 0, 0)


def _annotate(trace: Trace, schedule: Trace, path: Path) -> None:
    """Give each measured flush its gates (and branch, if unknown) from the simulated schedule."""
    expected = [r for r in schedule.flushes if r.party == 0 and r.layer == 0]
    counters: dict[tuple[int, int, int], int] = defaultdict(int)
    for f in trace.flushes:
        slot = (f.party, f.iteration, f.layer)
        i = counters[slot]
        counters[slot] += 1
        if i >= len(expected):
            raise ConfigError(f"{path}:{f.line}: party {f.party} layer {f.layer} has more than the "
                              f"{len(expected)} flushes the schedule of {trace.meta.model} has per layer")
        want = expected[i]
        if (f.kind, f.words) != (want.kind, want.words) or f.run != want.run:
            raise ConfigError(f"{path}:{f.line}: field words: {f.kind} {f.words} in {f.run}, the schedule of "
                              f"{trace.meta.model} expects {want.kind} {want.words} in {want.run} "
                              f"(flush {i} of layer {f.layer}, party {f.party})")
        f.gates = tuple(want.gates)
        f.words_matmul = want.words_matmul
        f.branch = f.branch or want.branch


# -- observations per group ---------------------------------------------------------------------------

@dataclass
class Rows:
    """Design rows of one group: ``y ~ X @ coef`` (+ offset), and which run each row belongs to."""

    X: list[list[float]]
    y: list[float]
    keys: list[Key]
    labels: list[str] = field(default_factory=list)   # step rows: the task family of the row's run

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.X, dtype=float).reshape(len(self.y), -1), np.array(self.y, dtype=float)


def _overlap(a: FlushEvent, b: FlushEvent) -> float:
    """Fraction of ``a``'s evaluation during which ``b`` was evaluating too."""
    ea, eb = a.timers.get("eval_s", 0.0), b.timers.get("eval_s", 0.0)
    if ea <= 0:
        return 0.0
    both = min(a.start_s + ea, b.start_s + eb) - max(a.start_s, b.start_s)
    return max(0.0, both) / ea


def flush_key(f) -> Key:
    return (f.party, f.iteration, f.layer, f.run_index)


def steady_iterations(trace: Trace) -> Select:
    first = 1 if trace.meta.iterations > 1 else 0
    return lambda key: key[1] >= first


def collect(source: Source, select: Select) -> dict:
    """Per group, the measured samples of the flushes/runs whose key passes ``select``."""
    trace = source.trace
    if not trace.timed:
        raise ConfigError(f"{trace.meta.source}: the trace has no timestamps (e.g. a CPU trace): "
                          "nothing to calibrate from")
    by_party: dict[int, list[FlushEvent]] = defaultdict(list)
    for f in trace.flushes:
        by_party[f.party].append(f)
    pairs = list(zip(by_party[0], by_party[1], strict=False))
    opens: list[tuple] = []
    evals, finishes = [], []
    min_words = source.result.config.settings.device_pack_min_words
    last_open_end: dict[int, tuple[float, float]] = {}   # iteration -> both parties' previous open end
    for a, b in pairs:
        if a.kind == FlushKind.OPEN:
            previous = last_open_end.get(a.iteration)
            last_open_end[a.iteration] = (a.end_s, b.end_s)
        if not select(flush_key(a)):
            continue
        if a.kind == FlushKind.OPEN:
            if "pack_s" not in a.timers or "pack_s" not in b.timers:
                raise ConfigError(f"{trace.meta.source}:{a.line}: field pack_s: the open has no pack timer")
            pack = (a.timers["pack_s"] + b.timers["pack_s"]) / 2
            # time each party worked on its own since the previous open (0 for an iteration's first)
            apart = 0.0 if previous is None else (a.start_s - previous[0] + b.start_s - previous[1]) / 2
            opens.append((a.words, a.device, (a.duration_s + b.duration_s) / 2, pack, a.wire_bytes, apart,
                          flush_key(a)))
            continue
        for me, peer in ((a, b), (b, a)):
            staged = not CostModel.packed_on_device(me.words, min_words)  # its input came from the host
            evals.append((me.gates, me.words, _overlap(me, peer), float(staged), me.timers["eval_s"], flush_key(me)))
            finishes.append((me.gates, me.words, me.timers.get("finish_s", 0.0), flush_key(me)))
    return {"opens": opens, "evals": evals, "finishes": finishes,
            "steps": _step_rows(trace, source.result.runs_per_layer, select),
            "run_gaps": _run_gap_rows(trace, source.run_work(), select)}


def _step_rows(trace: Trace, specs: list[RunSpec], select: Select) -> Rows:
    """Gaps inside runs, before each flush: [1, words of its open + words opened or evaluated by the
    previous flush, output elements of the matmul product after the previous open, matmul differences
    that open left on the host (copied to the GPU)], labelled by the run's task family; the tail after
    the last flush: the same without the floor and the next open."""
    rows = Rows([], [], [])
    runs = {(r.party, r.iteration, r.layer, r.run_index): r for r in trace.runs}
    flushes: dict[Key, list[FlushEvent]] = defaultdict(list)
    for f in trace.flushes:
        flushes[flush_key(f)].append(f)
    for key, run in runs.items():
        if not select(key) or key not in flushes:
            continue
        spec = specs[key[3]]
        prev_end, prev = run.start_s, None
        for f in flushes[key] + [None]:
            after = prev.words if prev is not None else 0
            opened = prev is not None and prev.kind == FlushKind.OPEN
            outs = prev.words_matmul * spec.matmul_out_per_word if opened else 0.0
            staged = prev.words_matmul if opened and not prev.device else 0
            if f is None:
                rows.X.append([0.0, after, outs, staged])
                rows.y.append(run.end_s - prev_end)
            else:
                rows.X.append([1.0, (f.words if f.kind == FlushKind.OPEN else 0) + after, outs, staged])
                rows.y.append(f.start_s - prev_end)
                prev_end, prev = f.end_s, f
            rows.keys.append(key)
            rows.labels.append(spec.family)
    return rows


def _run_gap_rows(trace: Trace, run_work: list[list[float]], select: Select) -> Rows:
    """Gaps between consecutive runs of a party within an iteration: [1, flops, matmul elements,
    hidden elements] of the work before the later run."""
    rows = Rows([], [], [])
    order = sorted(trace.runs, key=lambda r: (r.party, r.iteration, r.layer, r.run_index))
    for prev, run in itertools.pairwise(order):
        key = (run.party, run.iteration, run.layer, run.run_index)
        if (prev.party, prev.iteration) != (run.party, run.iteration) or not select(key):
            continue
        rows.X.append([1.0, *run_work[run.run_index]])
        rows.y.append(run.start_s - prev.end_s)
        rows.keys.append(key)
    return rows
