"""simflush compare: the product of settings, its outputs, figures and Chrome trace."""

import json

from simhelpers import run_sim

import simflush
from simflush.analysis.whatif import compare
from simflush.cli import main
from simflush.io.chrome_trace import chrome_trace, validate_chrome_trace
from simflush.sim.trace import to_trace


def test_compare_runs_the_product_and_writes_every_output(tmp_path, capsys):
    out_json, out_csv, plots, trace = tmp_path / "c.json", tmp_path / "c.csv", tmp_path / "plots", tmp_path / "t.json"
    code = main(["compare", "--model", "bert-tiny", "--seq-len", "16", "--policy", "suf,have_pfss_work",
                 "--net", "lan,custom:1,10", "--chains", "1,2", "--set", "rsqrt_iters=1,2",
                 "--json", str(out_json), "--csv", str(out_csv), "--plot", str(plots), "--chrome-trace", str(trace)])
    captured = capsys.readouterr()
    assert code == 0
    table = captured.out.splitlines()
    assert len(table) == 2 + 16 and "1.000x" in table[2]  # header, rule, 16 rows; first row is the base
    assert captured.err == ""  # the progress bar is quiet when stderr is not a terminal
    configs = json.loads(out_json.read_text())["configs"]
    assert len(configs) == 16 and configs[0]["speedup"] == 1.0
    assert {c["net"] for c in configs} == {"lan", "custom:1,10"} and {c["rsqrt_iters"] for c in configs} == {"1", "2"}
    assert len(out_csv.read_text().splitlines()) == 17
    pngs = sorted(plots.glob("*.png"))
    assert len(pngs) == 18 and all(p.stat().st_size > 10_000 and p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    doc = json.loads(trace.read_text())
    assert validate_chrome_trace(doc) == []
    assert len({e["pid"] for e in doc["traceEvents"]}) == 16


def test_compare_reports_a_runtime_error_per_row(capsys):
    assert main(["compare", "--model", "gpt2", "--seq-len", "64,1024", "--layers", "1"]) == 0
    out = capsys.readouterr().out
    assert "runtime error in L0/Score_trunc" in out


def test_compare_bad_value_in_a_list_is_exit_2(capsys):
    assert main(["compare", "--model", "bert-tiny", "--policy", "suf,nope"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "have_pfss_work" in err


def test_chrome_trace_of_background_flushes_keeps_tracks_nested():
    """pfss_eager overlaps PFSS flushes on one GPU: they go on sub-lanes so that tracks nest."""
    result = run_sim("bert-tiny", 32, layers=1, policy="pfss_eager", chains=2)
    doc = chrome_trace([("eager", to_trace(result))])
    assert validate_chrome_trace(doc) == []
    durations = [e["dur"] for e in doc["traceEvents"] if e["ph"] == "X"]
    assert durations and min(durations) >= 0


def test_validator_catches_broken_traces():
    bad = {"traceEvents": [
        {"name": "a", "ph": "X", "ts": 0, "dur": 10, "pid": 0, "tid": 1},
        {"name": "b", "ph": "X", "ts": 5, "dur": 10, "pid": 0, "tid": 1},   # partial overlap
        {"name": "c", "ph": "X", "ts": 0, "dur": -1, "pid": 0, "tid": 2},   # negative duration
        {"ph": "X", "ts": 0, "dur": 1, "pid": 0, "tid": 3},                 # no name
    ]}
    problems = validate_chrome_trace(bad)
    assert len(problems) == 3


def test_the_comparison_is_keyword_dicts_through_the_api():
    combos = compare.expand({"model": "bert-tiny", "layers": "1", "policy": "suf,have_pfss_work"}, ["rsqrt_iters=1,2"])
    assert len(combos) == 4 and combos[1] == {
        "model": "bert-tiny", "seq_len": 128, "batch": 1, "layers": 1, "runtime": "suf-gpu-bench", "net": "loopback",
        "cost": "suf-h100", "policy": "suf", "deploy": "colocated", "chains": 1, "knobs": {"rsqrt_iters": "2"}}
    rows = compare.run_all(combos[:2])
    assert rows[1].result.bench_json() == simflush.simulate(**combos[1]).bench_json()
    assert [r["config"] for r in compare.summaries(rows)] == ["rsqrt_iters=1", "rsqrt_iters=2"]
    assert not hasattr(compare, "argparse")
