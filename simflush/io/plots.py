"""PNG figures: a per-configuration timeline, a per-run bar chart (one layer of each trace's last
iteration) and a sweep overview (one flat summary record per configuration).

Every function builds a ``matplotlib.figure.Figure`` itself (no pyplot), returns it and saves it as PNG
when given a path. No backend is chosen or switched: a headless process saves through Agg without
``matplotlib.use``, and a notebook shows the returned figure inline with its own backend untouched.
Sizes are bounded whatever the number of configurations: at most ``MAX_FACETS`` network panels and
``TOP`` configurations named per panel.
"""

import math
import textwrap
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

from .timeline import timeline_events
from .trace_schema import Trace, TraceMeta

DPI = 110
MAX_FACETS = 5      # network panels per figure; further networks share the last panel
TOP = 12            # configurations named per panel: the panel's first one and its fastest
NAMED = 24          # points an error-against-time figure names one by one (past it: its Pareto fronts)
TITLE_WIDTH = 120   # characters per title line

T = TypeVar("T")


# -- shared pieces --------------------------------------------------------------------------------------

def _save(fig: Figure, path: Path | str | None) -> Figure:
    if path is not None:
        fig.savefig(path, dpi=DPI)
    return fig


def _wrap(text: str, width: int = TITLE_WIDTH) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _run_colours(names: Sequence[str]) -> dict[str, tuple]:
    cmap = matplotlib.colormaps["tab20"]
    return {name: cmap(i % 20) for i, name in enumerate(dict.fromkeys(names))}


def log_axis(ax: Axes, which: str = "x") -> None:
    """Make ``ax``'s ``which`` axis ("x" or "y") logarithmic, labelled in plain numbers (0.2, 50, 1000)
    as densely as its span allows: decades over two decades, 1-2-5 over one, evenly spaced values under
    one (where log ticks would leave one label or none, and matplotlib's scientific-notation minor labels
    overlap). Call it once the limits are set."""
    getattr(ax, f"set_{which}scale")("log")
    ax.autoscale_view()  # limits set by hand stay; autoscaled ones are recomputed for the log scale
    axis = getattr(ax, f"{which}axis")
    lo, hi = sorted(axis.get_view_interval())
    span = math.log10(hi / lo)
    if span > 1:
        axis.set_major_locator(LogLocator(subs=(1.0,) if span > 2 else (1.0, 2.0, 5.0)))
        axis.set_minor_locator(LogLocator(subs=tuple(range(2, 10))))
    else:
        axis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
    axis.set_minor_formatter(NullFormatter())


def first_and_fastest(items: Sequence[T], time: Callable[[T], float], n: int) -> list[T]:
    """At most ``n`` of ``items``: the first (the comparison's base), then the fastest by ``time``."""
    if len(items) <= n:
        return list(items)
    return [items[0], *sorted(items[1:], key=time)[:n - 1]]


def _facets(items: Sequence[T], key: Callable[[T], str]) -> list[tuple[str, list[T]]]:
    """Items grouped by ``key`` in order of appearance; beyond ``MAX_FACETS`` groups the rest share one."""
    groups: dict[str, list[T]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    named = list(groups.items())
    if len(named) <= MAX_FACETS:
        return named
    rest = named[MAX_FACETS - 1:]
    return [*named[:MAX_FACETS - 1], (f"{len(rest)} others", [i for _, group in rest for i in group])]


def _drop_setting(label: str, name: str, value: str) -> str:
    """``label`` ("k=v k=v") without ``name=value``, which its panel's title already says."""
    return " ".join(t for t in label.split(" ") if t != f"{name}={value}") or label


def describe(meta: TraceMeta, layer: int | None = None, settings: Mapping[str, object] | None = None) -> str:
    """What a trace's figure shows, as a title: ``bert-base, layer 0 — policy suf, net wan, deploy
    colocated, chains 2``. The policy, network and deployment come from the trace's meta; ``settings``
    (e.g. the settings a comparison varies) are added or override them."""
    shown: dict[str, object] = {"policy": meta.policy, "net": meta.network, "deploy": meta.deploy}
    shown.update({k: v for k, v in (settings or {}).items() if k != "model"})
    parts = [f"{k} {v}" for k, v in shown.items() if v not in ("", None)]
    if meta.system and meta.system != "simflush":
        parts.insert(0, f"measured ({meta.system})")
    head = meta.model + ("" if layer is None else f", layer {layer}")
    return f"{head} — {', '.join(parts)}" if parts else head


# -- one trace: the timeline ----------------------------------------------------------------------------

def _party0_runs(trace: Trace):
    return [s for s in trace.last_iteration().runs if s.party == 0]


def plot_timeline(trace: Trace, path: Path | str | None = None, settings: Mapping[str, object] | None = None,
                  layer: int = 0) -> Figure:
    """Lanes per party (network, GPU, CPU, with sub-lanes for overlaps) over one layer, coloured by
    run; titled by ``describe(trace.meta, layer, settings)``."""
    events = [e for e in timeline_events(trace.last_iteration()) if e.layer == layer and e.lane != "runs"]
    lanes = sorted({(e.party, e.lane) for e in events})
    colours = _run_colours([s.run for s in _party0_runs(trace)])
    fig = Figure(figsize=(14, 0.45 * len(lanes) + 2.4), layout="constrained")
    ax = fig.subplots()
    for row, lane in enumerate(lanes):
        bars = [(e.start_s * 1e3, max(e.duration_s * 1e3, 1e-4), colours.get(e.run, "grey"))
                for e in events if (e.party, e.lane) == lane]
        ax.broken_barh([(s, d) for s, d, _ in bars], (row - 0.4, 0.8), facecolors=[c for _, _, c in bars])
    ax.set_yticks(range(len(lanes)), [f"P{p} {lane}" for p, lane in lanes])
    ax.invert_yaxis()  # party 0 on top
    ax.set_xlabel("simulated time (ms)")
    ax.set_title(_wrap(describe(trace.meta, layer, settings)), fontsize=10)
    fig.legend([Patch(color=c) for c in colours.values()], list(colours), ncol=min(len(colours), 6) or 1,
               fontsize=7, loc="outside lower center")
    return _save(fig, path)


# -- several traces: time per run -----------------------------------------------------------------------

def _layer_run_ms(trace: Trace, layer: int) -> dict[str, float]:
    times: dict[str, float] = defaultdict(float)
    for s in _party0_runs(trace):
        if s.layer == layer:
            times[s.run] += (s.end_s - s.start_s) * 1e3
    return times


def plot_run_bars(rows: Sequence[tuple[str, Trace]], path: Path | str | None = None, title: str | None = None,
                  layer: int = 0, top: int = TOP) -> Figure:
    """For each (label, trace) a horizontal bar of party 0's time in ``layer`` (ms), stacked by run.

    One panel per network (each its own linear axis: LAN bars do not vanish beside WAN ones), with at
    most ``top`` bars: the panel's first configuration, then its fastest. ``title`` defaults to the
    first trace's model and the layer.
    """
    items = [(label, trace.meta.network, _layer_run_ms(trace, layer)) for label, trace in rows]
    facets = [(net, group, first_and_fastest(group, lambda it: sum(it[2].values()), top))
              for net, group in _facets(items, key=lambda it: it[1])]
    runs = list(dict.fromkeys(r for _, _, times in items for r in times))
    colours = _run_colours(runs)
    height = sum(0.24 * len(shown) + 0.9 for _, _, shown in facets) + 1.0
    fig = Figure(figsize=(12, height), layout="constrained")
    axes = fig.subplots(len(facets), 1, squeeze=False,
                        gridspec_kw={"height_ratios": [len(shown) + 2.5 for _, _, shown in facets]})[:, 0]
    for ax, (net, group, shown) in zip(axes, facets, strict=True):
        labels = [_drop_setting(label, "net", n) for label, n, _ in shown]
        left = [0.0] * len(shown)
        for run in runs:
            widths = [times.get(run, 0.0) for _, _, times in shown]
            ax.barh(range(len(shown)), widths, left=left, color=colours[run], height=0.75)
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_yticks(range(len(shown)), [textwrap.shorten(lb, 70) for lb in labels], fontsize=7)
        ax.invert_yaxis()  # the first configuration on top
        count = f"{len(group)} configurations" + (f", the first and the {len(shown) - 1} fastest shown"
                                                 if len(shown) < len(group) else "")
        ax.set_title(f"net {net}: {count}" if net else count, fontsize=9, loc="left")
        ax.set_xlabel(f"layer {layer} time, party 0 (ms)", fontsize=8)
    model = rows[0][1].meta.model if rows else ""
    fig.suptitle(_wrap(title or f"{model}, layer {layer}: time per run"), fontsize=10)
    fig.legend([Patch(color=colours[r]) for r in runs], runs, fontsize=7, loc="outside right upper")
    return _save(fig, path)


# -- a sweep: online time per configuration -------------------------------------------------------------

def plot_sweep(records: Sequence[Mapping], path: Path | str | None = None, title: str | None = None,
               facet: str = "net", top: int = TOP) -> Figure:
    """The overview of a sweep: ``online_time_s`` of every configuration, one row of panels per value of
    ``facet`` (the network), on log time axes; a fixed size from 10 to 10,000 configurations.

    ``records``: flat summary records (``simflush.analysis.whatif.compare.summaries``): ``config`` (the
    varying settings as ``k=v k=v``), ``online_time_s`` (a record without one, e.g. a runtime error,
    is counted as failed), and ``facet`` where it varies. Left: every configuration's time by rank (1 =
    fastest), the shape of the sweep. Right: the panel's first configuration (dashed line) and its
    fastest, named. A time/accuracy Pareto front belongs beside it once records carry an accuracy.
    """
    facets = _facets(records, key=lambda r: str(r.get(facet, "")))
    rows = min(top, max(len(group) for _, group in facets))  # names per panel, at most
    fig = Figure(figsize=(14, len(facets) * (0.2 * rows + 1.6) + 0.8), layout="constrained")
    axes = fig.subplots(len(facets), 2, squeeze=False, width_ratios=[1, 1.6])
    for (spread, named), (value, group) in zip(axes, facets, strict=True):
        ok = [r for r in group if r.get("online_time_s")]
        name = f"{facet} {value}" if value else "all configurations"
        failed = f", {len(group) - len(ok)} failed" if len(ok) < len(group) else ""
        spread.set_title(f"{name}: {len(group)} configurations{failed}", fontsize=9, loc="left")
        if not ok:
            spread.set_axis_off()
            named.set_axis_off()
            continue
        times = sorted(r["online_time_s"] * 1e3 for r in ok)
        first_ms = ok[0]["online_time_s"] * 1e3
        ranks = range(1, len(times) + 1)
        spread.plot(times, ranks, color="tab:blue", lw=1, marker="." if len(times) <= 200 else None, ms=4)
        shown = first_and_fastest(ok, lambda r: r["online_time_s"], top)
        fastest = len(shown) if len(shown) == len(ok) else len(shown) - 1  # those named on the right
        spread.plot(times[:fastest], ranks[:fastest], ".", color="tab:orange", ms=5)
        spread.axvline(first_ms, color="grey", ls="--", lw=0.8)
        spread.invert_yaxis()  # the fastest on top, as on the right
        spread.set_ylabel("rank (1 = fastest)", fontsize=8)
        spread.yaxis.set_major_locator(MaxNLocator(integer=True))
        spread.set_xlabel("online time (ms)", fontsize=8)
        log_axis(spread)

        shown_ms = [r["online_time_s"] * 1e3 for r in shown]
        named.plot(shown_ms, range(len(shown)), "o", color="tab:orange", ms=5)
        named.plot(shown_ms[:1], [0], "o", color="grey", ms=5)
        named.axvline(first_ms, color="grey", ls="--", lw=0.8)
        for y, ms in enumerate(shown_ms):
            shown_time = f"{ms:,.0f}" if ms >= 1e3 else f"{ms:.4g}"  # WAN times: 69,660 ms, not 6.966e+04
            named.annotate(f"{shown_time} ms  {first_ms / ms:.2f}x", (ms, y), xytext=(6, 0), textcoords="offset points",
                           va="center", fontsize=7)
        labels = [_drop_setting(r.get("config", ""), facet, value) for r in shown]
        named.set_yticks(range(len(shown)), [textwrap.shorten(lb, 70) for lb in labels], fontsize=7)
        named.set_ylim(len(shown) - 0.5, -0.5)  # the first configuration on top, then the fastest
        lo, hi = min(shown_ms), max(shown_ms)
        pad = max(1.15, math.sqrt(2.5 * lo / hi))  # at least a 2.5x span, so the axis gets labels
        named.set_xlim(lo / pad, hi * pad * 1.3)   # room for the annotations
        named.set_xlabel("online time (ms); x: speed-up against the panel's first configuration", fontsize=8)
        log_axis(named)
    n = len(records)
    fig.suptitle(_wrap(title or f"online time of {n} configurations"), fontsize=10)
    return _save(fig, path)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats in both coordinates (smaller is better), by the first one."""
    order = sorted(range(len(points)), key=lambda i: points[i])
    front, best = [], math.inf
    for i in order:
        if points[i][1] < best:
            front.append(i)
            best = points[i][1]
    return front


def plot_error_vs_time(rows: Sequence[Mapping], path: Path | str | None = None, title: str | None = None,
                       errors: Sequence[tuple[str, str]] = (("final_rel_rms_error", "final hidden state"),),
                       front_per_group: bool = False) -> Figure:
    """Error against online time, one panel per ``errors`` entry (record key, what it is), log-log. Points are
    numbered (the key beside the panels names them) and coloured by their ``group`` (what they change, or their
    network); the first panel joins the Pareto front (no other point both faster and more accurate), or, with
    ``front_per_group``, each group's (a network's: its own time scale). ``rows``: records with ``label``,
    ``online_time_s``, optionally ``group``, and the error keys. Past ``NAMED`` rows only the Pareto fronts are
    numbered and named (the figure keeps its size whatever the sweep's)."""
    groups = list(dict.fromkeys(r.get("group", "") for r in rows))
    colours = {g: matplotlib.colormaps["tab10"](i % 10) for i, g in enumerate(groups)}
    fig = Figure(figsize=(6 * len(errors) + 2.6, 5), layout="constrained")
    axes = fig.subplots(1, len(errors), squeeze=False)[0]
    first = errors[0][0]
    fronts = []   # the rows of each Pareto front of the first panel
    for g in groups if front_per_group else [None]:
        members = [r for r in rows if g in (None, r.get("group", "")) and r.get(first) is not None
                   and r.get("online_time_s")]
        fronts.append([members[i] for i in pareto_front([(r["online_time_s"], r[first]) for r in members])])
    on_front = {id(r) for front in fronts for r in front}
    named = list(range(len(rows))) if len(rows) <= NAMED else [i for i, r in enumerate(rows) if id(r) in on_front]
    numbers = {id(rows[i]): n for n, i in enumerate(named, 1)}
    for panel, (ax, (key, what)) in enumerate(zip(axes, errors, strict=True)):
        ok = [r for r in rows if r.get(key) is not None and r.get("online_time_s")]
        points = [(r["online_time_s"] * 1e3, r[key]) for r in ok]
        for (ms, err), r in zip(points, ok, strict=True):
            ax.plot(ms, err, "o", color=colours[r.get("group", "")], ms=6 if len(rows) <= NAMED else 3)
            if id(r) in numbers:
                ax.annotate(str(numbers[id(r)]), (ms, err), xytext=(4, 3), textcoords="offset points", fontsize=7)
        if panel == 0:
            for front in fronts:
                ax.plot([r["online_time_s"] * 1e3 for r in front], [r[first] for r in front], "-", color="grey",
                        lw=0.8)
        ax.set_xlabel("online time (ms)", fontsize=8)
        ax.set_ylabel("relative RMS error", fontsize=8)
        ax.set_title(what + (" (grey: Pareto front)" if panel == 0 else ""), fontsize=9, loc="left")
        ax.grid(True, which="both", lw=0.3, alpha=0.5)
        log_axis(ax, "x")
        log_axis(ax, "y")
    handles = [Patch(color=colours[g], label=g) for g in groups if g]
    key = "\n".join(f"{n:>2}  {textwrap.shorten(rows[i]['label'], 60)}" for n, i in enumerate(named, 1))
    axes[-1].legend(handles=handles, title=key, title_fontsize=7, fontsize=7, loc="upper left",
                    bbox_to_anchor=(1.02, 1.0), alignment="left", frameon=False)
    fig.suptitle(_wrap(title or "error against online time"), fontsize=10)
    return _save(fig, path)
