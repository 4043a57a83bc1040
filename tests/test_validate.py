"""simflush validate and the cross-validation on the measured bert-base trace."""

import json

import pytest
from paths import REPO

from simflush.analysis.calibration.samples import load_source
from simflush.analysis.calibration.validate import compare_trace, cross_validate
from simflush.cli import main
from simflush.errors import ConfigError
from simflush.io.suf_bench import read_bench
from simflush.io.trace_schema import read_trace
from simflush.sim.cost import load_cost

REAL_RUN = REPO / "validation/real_backend_h200/calibration/bert-base_T128_L1_r1"


def test_validate_json_compares_totals_and_runs_with_intervals(golden, capsys, tmp_path):
    measured = golden / "gpu_h100_traced_bert-base.json"
    code = main(["validate", "--measured", str(measured), "--trace", str(golden / "gpu_h100_trace_bert-base.txt.gz"),
                 "--traced", "--json", "--plot", str(tmp_path)])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    totals = {r["quantity"]: r for r in doc["totals"]}
    bench = read_bench(measured)
    online = totals["timing.online_time_s"]
    assert online["measured"] == bench.online_time_s
    assert online["interval"][0] < online["predicted"] < online["interval"][1]
    # the calibration's uncertainty is a few percent, not the prediction itself (a covariance read in
    # another order than it was written gave intervals of +-100x)
    assert online["interval"][1] - online["interval"][0] < 0.2 * online["predicted"]
    assert abs(online["rel_err"]) < 0.10
    for key in ("pfss.open_flushes", "pfss.num_flushes", "pfss.opened_words", "communication.net_bytes"):
        assert totals[key]["rel_err"] == 0, key
    runs = doc["runs"]
    assert len(runs) == 12 and sum(r["measured"] for r in runs) > 0
    for r in runs:
        assert 0 < r["interval"][0] < r["predicted"] < r["interval"][1] < 2 * r["predicted"], r
    # the bar on the calibration trace: every run longer than 2 ms within 20 %
    assert all(abs(r["rel_err"]) <= 0.20 for r in runs if r["measured"] > 2e-3), runs
    assert (tmp_path / "validate.png").stat().st_size > 5_000


def test_validate_untraced_run_within_ten_percent_with_components(golden, capsys):
    assert main(["validate", "--measured", str(golden / "gpu_h100_prof_bert-base.json"), "--json"]) == 0
    totals = {r["quantity"]: r for r in json.loads(capsys.readouterr().out)["totals"]}
    assert abs(totals["timing.online_time_s"]["rel_err"]) < 0.10
    assert abs(totals["pfss_eval_s_per_party"]["rel_err"]) < 0.10


def test_cross_validation_folds_predict_held_out_runs(golden):
    source = load_source(golden / "gpu_h100_trace_bert-base.txt.gz", golden / "gpu_h100_traced_bert-base.json")
    folds = cross_validate(source)
    layer_folds = [f for f in folds if f["fold"].startswith("layers")]
    assert len(layer_folds) == 2 and all(abs(f["rel_err"]) < 0.10 for f in layer_folds)
    assert len(folds) == 14


def test_validate_honours_the_bench_preprocessing_flags_and_set(golden, capsys):
    """The CPU golden run echoes gelu_const=1 (the CPU profile's default is 0): counts exact, words were +60%."""
    measured = str(golden / "cpu_bt_cpu.json")
    assert main(["validate", "--measured", measured, "--json"]) == 0
    totals = {r["quantity"]: r for r in json.loads(capsys.readouterr().out)["totals"]}
    for key in ("pfss.open_flushes", "pfss.num_flushes", "pfss.opened_words", "pfss.total_hatx_words",
                "communication.net_bytes"):
        assert totals[key]["rel_err"] == 0, key
    # --set overrides an echoed flag (and then the counts no longer match the measurement)
    assert main(["validate", "--measured", measured, "--json", "--set", "SUF_GELU_CONST=0"]) == 0
    totals = {r["quantity"]: r for r in json.loads(capsys.readouterr().out)["totals"]}
    assert totals["pfss.opened_words"]["rel_err"] > 0.5
    assert main(["validate", "--measured", measured, "--set", "NOPE=1"]) == 2
    assert "NOPE" in capsys.readouterr().err


def test_validate_refuses_an_untimed_trace(golden, capsys):
    argv = ["validate", "--measured", str(golden / "cpu_bt_cpu.json"), "--trace", str(golden / "cpu_bt_cpu.trace.gz")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "untimed trace" in err
    # the cost preset is of the GPU profile: one plain warning line, no Python warning
    assert "warning: cost profile 'suf-h100' was calibrated on runtime profile 'suf-gpu-bench'" in err
    assert "UserWarning" not in err


def _one_error_line(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_validate_a_real_backend_run_from_its_trace_alone(capsys, tmp_path):
    trace_path = REAL_RUN.with_name(REAL_RUN.name + ".trace.json.gz")
    assert main(["validate", "--trace", str(trace_path), "--cost", "real-h200", "--json", "--plot",
                 str(tmp_path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["model"], doc["seq_len"], doc["layers"]) == ("bert-base", 128, 1)
    assert (doc["measured"], doc["cost"]) == (trace_path.name, "real-h200")
    totals = {r["quantity"]: r for r in doc["totals"]}
    online = totals["timing.online_time_s"]
    assert online["measured"] == read_trace(trace_path).meta.online_time_s
    assert online["interval"][0] < online["predicted"] < online["interval"][1]
    # the schedule is the simulator's by construction; the run's own JSON counted the same flushes and words
    run = json.loads(REAL_RUN.with_suffix(".json").read_text())
    for key in ("open_flushes", "num_flushes", "opened_words"):
        assert totals[f"pfss.{key}"]["measured"] == totals[f"pfss.{key}"]["predicted"] == run["pfss"][key], key
    # the opens go at the run's 48-bit ring in the trace and the simulation, as the channel sent them (its count
    # adds only its handshake)
    sent = run["communication"]["net_bytes"]
    assert totals["communication.net_bytes"]["rel_err"] == 0
    assert 0 <= sent - totals["communication.net_bytes"]["predicted"] < 1e-5 * sent
    # a trace of 2026-12-01 recorded them at the model's 37-bit ring; it is simulated at its run's 48 bits
    old = REAL_RUN.parent.parent / "calibration_host_clock" / (REAL_RUN.name + ".trace.json.gz")
    assert main(["validate", "--trace", str(old), "--cost", "real-h200", "--json"]) == 0
    net = {r["quantity"]: r for r in json.loads(capsys.readouterr().out)["totals"]}["communication.net_bytes"]
    assert net["measured"] * 48 == net["predicted"] * 37
    # components measured from the trace's flushes; the real backend times no PFSS finish: no row
    assert totals["open_s_per_party"]["measured"] > 0 and totals["pfss_eval_s_per_party"]["measured"] > 0
    assert "pfss_finish_s_per_party" not in totals
    runs = doc["runs"]
    assert [r["run"] for r in runs][:2] == ["LN1", "QKV_trunc"] and len(runs) == 12
    # the runs hold most of the online time; the rest is the gaps between them (public matmuls, residual adds)
    assert 0.9 * online["measured"] < sum(r["measured"] for r in runs) < online["measured"]
    assert (tmp_path / "validate.png").stat().st_size > 5_000


def test_validate_real_run_set_changes_the_prediction_and_the_report_names_its_inputs(capsys):
    trace_path = REAL_RUN.with_name(REAL_RUN.name + ".trace.json.gz")
    argv = ["validate", "--trace", str(trace_path), "--cost", "real-h200"]
    assert main(argv) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert f"measured {trace_path.name} vs cost profile real-h200" in head
    trace, cost = read_trace(trace_path), load_cost("real-h200")
    base = {r["quantity"]: r for r in compare_trace(cost, trace)["totals"]}
    more = {r["quantity"]: r for r in compare_trace(cost, trace, ["rsqrt_iters=2"])["totals"]}
    assert more["pfss.open_flushes"]["predicted"] > base["pfss.open_flushes"]["predicted"]
    assert more["pfss.open_flushes"]["measured"] == base["pfss.open_flushes"]["measured"]


def test_validate_refuses_bad_combinations_in_one_line(capsys, tmp_path):
    trace_path = REAL_RUN.with_name(REAL_RUN.name + ".trace.json.gz")
    run_json = REAL_RUN.with_suffix(".json")
    line = _one_error_line(capsys, ["validate", "--trace", str(trace_path), "--measured", str(run_json)])
    assert "carries its run" in line and "leave --measured out" in line
    line = _one_error_line(capsys, ["validate", "--trace", str(tmp_path / "suf.trace.gz")])
    assert "--measured is required" in line and "suf.trace.gz" in line
    assert "--measured" in _one_error_line(capsys, ["validate"])
    untimed = read_trace(trace_path)
    untimed.meta.online_time_s = None
    with pytest.raises(ConfigError, match="online_time_s"):
        compare_trace(load_cost("real-h200"), untimed)
