"""PNG figures of traces: a per-configuration timeline and a per-run stacked bar chart (one layer of each
trace's last iteration)."""

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .timeline import timeline_events
from .trace_schema import Trace


def _run_colours(names: list[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab20")
    return {name: cmap(i % 20) for i, name in enumerate(dict.fromkeys(names))}


def _party0_runs(trace: Trace):
    return [s for s in trace.last_iteration().runs if s.party == 0]


def plot_timeline(trace: Trace, path: Path, title: str, layer: int = 0) -> Path:
    """Lanes per party (network, GPU, CPU, with sub-lanes for overlaps) over one layer, by run."""
    events = [e for e in timeline_events(trace.last_iteration()) if e.layer == layer and e.lane != "runs"]
    lanes = sorted({(e.party, e.lane) for e in events})
    colours = _run_colours([s.run for s in _party0_runs(trace)])
    fig, ax = plt.subplots(figsize=(14, 0.5 * len(lanes) + 1.8))
    for row, lane in enumerate(lanes):
        bars = [(e.start_s * 1e3, max(e.duration_s * 1e3, 1e-4), colours.get(e.run, "grey"))
                for e in events if (e.party, e.lane) == lane]
        ax.broken_barh([(s, d) for s, d, _ in bars], (row - 0.4, 0.8), facecolors=[c for _, _, c in bars])
    ax.set_yticks(range(len(lanes)), [f"P{p} {lane}" for p, lane in lanes])
    ax.invert_yaxis()  # party 0 on top
    ax.set_xlabel("simulated time (ms)")
    ax.set_title(title)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    ax.legend(handles, list(colours), ncol=6, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_run_bars(rows: list[tuple[str, Trace]], path: Path, title: str, layer: int = 0) -> Path:
    """For each (label, trace) a bar of party 0's layer time, stacked by run."""
    per_config = []
    for label, trace in rows:
        times = defaultdict(float)
        for s in _party0_runs(trace):
            if s.layer == layer:
                times[s.run] += (s.end_s - s.start_s) * 1e3
        per_config.append((label, times))
    runs = list(dict.fromkeys(r for _, t in per_config for r in t))
    colours = _run_colours(runs)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(per_config) + 3), 5))
    bottoms = [0.0] * len(per_config)
    for run in runs:
        heights = [t.get(run, 0.0) for _, t in per_config]
        ax.bar(range(len(per_config)), heights, bottom=bottoms, color=colours[run], label=run)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ax.set_xticks(range(len(per_config)), [label for label, _ in per_config], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(f"layer {layer} time, party 0 (ms)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
