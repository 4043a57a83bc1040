"""Figures: bounded sizes from a few to thousands of configurations, titles that say what they show,
legible log axes, and no matplotlib backend chosen by importing or calling any plot function."""

import json
import os
import struct
import subprocess
import sys
import textwrap

import pytest
from matplotlib.figure import Figure
from paths import REPO

import simflush
from simflush.io.plots import (
    DPI,
    MAX_FACETS,
    TOP,
    log_axis,
    pareto_front,
    plot_error_vs_time,
    plot_run_bars,
    plot_sweep,
    plot_timeline,
)

NETS = ("lan", "wan", "loopback")


def png_size(path) -> tuple[int, int]:
    """(width, height) in pixels, from the PNG header."""
    return struct.unpack(">II", path.read_bytes()[16:24])


def pixels(fig: Figure) -> tuple[int, int]:
    w, h = fig.get_size_inches() * DPI
    return round(w), round(h)


def records(n: int, nets=NETS) -> list[dict]:
    """``n`` summary records like ``compare.summaries``, spread over ``nets``, times spanning decades."""
    out = []
    for i in range(n):
        net = nets[i % len(nets)]
        rec = {"config": f"net={net} policy=p{i % 4} chains={i % 7} rsqrt_iters={i}", "net": net}
        rec["online_time_s"] = (0.04 if net != "wan" else 3.5) * (1 + (i * 37 % 101) / 50)
        out.append(rec)
    out[5] = {"config": out[5]["config"], "net": out[5]["net"], "error": "runtime error in L0/Score_trunc"}
    return out


@pytest.fixture(scope="module")
def traces():
    """bert-tiny, one short layer, on LAN and on WAN."""
    return {net: simflush.simulate(model="bert-tiny", seq_len=16, layers=1, net=net, chains=2,
                                   policy="have_pfss_work").trace for net in ("lan", "wan")}


def test_sweep_overview_keeps_a_bounded_size_from_24_to_10000_configurations(tmp_path):
    sizes = {}
    for n in (24, 500, 10_000):
        path = tmp_path / f"overview_{n}.png"
        fig = plot_sweep(records(n), path, "bert-tiny, 1 layer")
        sizes[n] = png_size(path)
        assert sizes[n] == pixels(fig)
        named = fig.axes[1::2]  # the right-hand panels: the named configurations
        assert len(named) == len(NETS) and all(len(ax.get_yticks()) <= TOP for ax in named)
        assert all(ax.get_xscale() == "log" for ax in fig.axes)
    assert sizes[500] == sizes[10_000] and sizes[24][1] < sizes[500][1]  # 8 names a panel, then TOP
    width, height = sizes[10_000]
    assert width <= 1600 and height <= 1600
    titles = [ax.get_title(loc="left") for ax in fig.axes[::2]]
    assert titles[0] == "net lan: 3334 configurations" and titles[2] == "net loopback: 3333 configurations, 1 failed"


def test_sweep_overview_puts_networks_beyond_the_panel_limit_together():
    nets = tuple(f"custom:{i},1" for i in range(MAX_FACETS + 3))
    fig = plot_sweep(records(200, nets))
    titles = [ax.get_title(loc="left") for ax in fig.axes[::2]]
    assert len(titles) == MAX_FACETS and titles[-1].startswith("net 4 others: ")
    assert pixels(fig)[1] <= 2400


def test_sweep_labels_drop_the_setting_their_panel_names():
    fig = plot_sweep(records(30))
    labels = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert labels[0] == "policy=p0 chains=0 rsqrt_iters=0" and not any("net=" in lb for lb in labels)


def test_run_bars_are_faceted_by_network_and_bounded(traces, tmp_path):
    sizes = {}
    for n in (30, 500):
        rows = [(f"net={net} chains={i}", traces[net]) for i in range(n // 2) for net in ("lan", "wan")]
        path = tmp_path / f"runs_{n}.png"
        fig = plot_run_bars(rows, path)
        sizes[n] = png_size(path)
        panels = [ax.get_title(loc="left") for ax in fig.axes]
        assert panels == [f"net {net}: {n // 2} configurations, the first and the {TOP - 1} fastest shown"
                          for net in ("lan", "wan")]
        assert all(len(ax.get_yticks()) == TOP for ax in fig.axes)
        # each network its own axis: the LAN panel is not drawn on the WAN panel's scale
        lan, wan = (ax.get_xlim()[1] for ax in fig.axes)
        assert wan > 10 * lan
    assert sizes[30] == sizes[500] and sizes[500][0] <= 1400 and sizes[500][1] <= 1400
    assert fig._suptitle.get_text() == "bert-tiny, layer 0: time per run"


def test_timeline_title_says_model_layer_and_settings(traces, tmp_path):
    fig = plot_timeline(traces["wan"], tmp_path / "t.png", {"chains": 2})
    title = fig.axes[0].get_title()
    assert title == "bert-tiny, layer 0 — policy have_pfss_work, net wan, deploy colocated, chains 2"
    assert "(" not in title and (tmp_path / "t.png").stat().st_size > 10_000


def test_plot_functions_return_the_figure_and_save_only_when_given_a_path(traces, tmp_path):
    for fig in (plot_timeline(traces["lan"]), plot_run_bars([("a", traces["lan"])]), plot_sweep(records(10))):
        assert isinstance(fig, Figure)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("lo, hi, at_least, at_most", [(42.5, 54.0, 4, 7), (35.0, 46.0, 4, 7),
                                                       (0.004, 2.0, 3, 4), (0.2, 6.5, 4, 7)])
def test_log_axes_get_readable_plain_labels_at_any_span(lo, hi, at_least, at_most):
    ax = Figure().subplots()
    ax.plot([lo, hi], [1, 2])
    ax.set_xlim(lo, hi)
    log_axis(ax)
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    labels = [ax.xaxis.get_major_formatter()(t) for t in ticks]
    assert at_least <= len(labels) <= at_most and all(lb and "$" not in lb and "e" not in lb for lb in labels)


def test_no_plot_function_chooses_a_matplotlib_backend(tmp_path):
    """In a fresh process (an import acts once): a notebook's backend (here svg) survives importing
    and calling every plot function."""
    script = textwrap.dedent("""
        import matplotlib
        matplotlib.use("svg")
        import numpy as np
        import simflush
        from simflush.io.plots import plot_run_bars, plot_sweep, plot_timeline
        from simflush.analysis.calibration.calibrate import plot_fits
        from simflush.analysis.calibration.robust_fit import Fit
        from simflush.analysis.calibration.validate import plot_runs
        trace = simflush.simulate(model="bert-tiny", seq_len=16, layers=1).trace
        plot_timeline(trace, "t.png")
        plot_run_bars([("a", trace)], "r.png")
        plot_sweep([{"config": "a", "online_time_s": 0.1}, {"config": "b", "online_time_s": 0.2}], "s.png")
        x = np.array([1e-4, 1e-3, 1e-2])
        plot_fits({"g": Fit("g", ["a"], np.ones(1), np.eye(1), x, x, np.ones(3), [])}, "f.png")
        plot_runs({"runs": [{"run": "LN1", "measured": 1e-3, "predicted": 1.1e-3, "interval": [1e-3, 1.2e-3]}],
                   "model": "bert-tiny", "measured": "m.json", "cost": "suf-h100"}, "v.png")
        print(matplotlib.get_backend())
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "svg"


def test_compare_plot_writes_the_overview_and_at_most_24_timelines(tmp_path, capsys):
    from simflush.cli import main
    assert main(["compare", "--model", "bert-tiny", "--seq-len", "16", "--layers", "1", "--net", "lan,wan",
                 "--chains", "1,2,3,4,5,6,7", "--policy", "suf,have_pfss_work", "--plot", str(tmp_path),
                 "--json", str(tmp_path / "c.json")]) == 0
    capsys.readouterr()
    times = [c["online_time_s"] for c in json.loads((tmp_path / "c.json").read_text())["configs"]]
    slowest = sorted(range(1, len(times)), key=lambda i: times[i])[23:]
    timelines = {p.name for p in tmp_path.glob("timeline_*.png")}
    assert timelines == {f"timeline_{i:03d}.png" for i in range(len(times)) if i not in slowest}  # first + fastest
    assert png_size(tmp_path / "overview.png")[0] <= 1600 and png_size(tmp_path / "runs.png")[0] <= 1400


def test_pareto_front_keeps_what_nothing_beats_in_time_and_error():
    points = [(1.0, 5.0), (2.0, 1.0), (1.5, 6.0), (3.0, 0.5), (2.5, 2.0)]
    assert pareto_front(points) == [0, 1, 3]


def test_error_against_time_names_every_point(tmp_path):
    rows = [{"label": f"variant {i}", "group": "changes probs" if i % 2 else "changes ln1",
             "online_time_s": 0.08 + 0.002 * i, "final_rel_rms_error": 0.006 / (i + 1), "changed": 0.3 / (i + 1)}
            for i in range(13)]
    path = tmp_path / "d.png"
    fig = plot_error_vs_time(rows, path, "bert-tiny: error against time",
                             (("final_rel_rms_error", "final hidden state"), ("changed", "the phase it changes")))
    key = fig.axes[-1].get_legend().get_title().get_text()
    assert all(f"{i + 1:>2}  variant {i}" in key for i in range(13))
    assert {t.get_text() for t in fig.axes[0].texts} == {str(i) for i in range(1, 14)}
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "log"
    assert png_size(path)[0] <= 1700


def test_error_against_time_names_only_the_fronts_of_a_large_sweep():
    rows = [{"label": f"c{i}", "group": f"net {'lan' if i % 2 else 'wan'}", "online_time_s": 0.01 * (1 + i % 7),
             "final_rel_rms_error": 0.001 * (1 + (i * 7) % 11)} for i in range(200)]
    fig = plot_error_vs_time(rows, front_per_group=True)
    fronts = [pareto_front([(r["online_time_s"], r["final_rel_rms_error"]) for r in rows if r["group"] == g])
              for g in ("net lan", "net wan")]
    assert len(fig.axes[0].texts) == sum(len(f) for f in fronts) < 30
    assert pixels(fig)[0] < 1200
