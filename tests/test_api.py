"""The library API (``simflush.simulate``) and the trace as the common record of every exporter."""

import csv
import io
import json
import subprocess
import sys
from dataclasses import replace

import pytest

import simflush
from simflush.analysis.calibration.validate import predicted_runs
from simflush.api import Result, make_config
from simflush.cli import main
from simflush.errors import ConfigError
from simflush.io.bench_json import RunRow, bench_document
from simflush.io.chrome_trace import chrome_trace, validate_chrome_trace
from simflush.io.plots import plot_run_bars, plot_timeline
from simflush.io.schedule_csv import schedule_csv
from simflush.io.timeline import timeline_events
from simflush.io.trace_schema import read_trace

README_CALL = dict(model="bert-base", seq_len=128, knobs={"SUF_GELU_CONST": "0"}, policy="suf", net="lan",
                   cost="suf-h100")


def test_the_readme_call_gives_the_document_of_simulate_json(capsys):
    r = simflush.simulate(**README_CALL)
    assert isinstance(r, Result)
    assert main(["simulate", "--model", "bert-base", "--seq-len", "128", "--set", "SUF_GELU_CONST=0",
                 "--policy", "suf", "--net", "lan", "--cost", "suf-h100", "--json"]) == 0
    assert json.dumps(r.bench_json(), indent=2) + "\n" == capsys.readouterr().out
    assert r.online_time_s == r.bench_json()["timing"]["online_time_s"] > 0
    assert r.config.settings.env["SUF_GELU_CONST"] == "0" and r.config.network.name == "lan"
    # per-run records: typed, in the bench document's order and values
    assert all(isinstance(row, RunRow) for row in r.runs)
    assert [row.__dict__ for row in r.runs] == r.bench_json()["runs"]
    pfss = r.bench_json()["pfss"]  # both parties summed, as the trace holds both parties' flushes
    assert len(r.trace.flushes) == pfss["open_flushes"] + pfss["num_flushes"]


def test_defaults_are_the_clis(capsys):
    assert main(["simulate", "--model", "bert-tiny", "--json"]) == 0
    assert simflush.simulate(model="bert-tiny").bench_json() == json.loads(capsys.readouterr().out)


def test_knobs_as_a_mapping_with_ints_or_as_set_strings_are_one_configuration():
    a = make_config(model="bert-tiny", knobs={"rsqrt_iters": 2, "SUF_GELU_CONST": False})
    b = make_config(model="bert-tiny", knobs=["rsqrt_iters=2", "SUF_GELU_CONST=0"])
    assert a == b and a.settings.env["rsqrt_iters"] == "2"


@pytest.mark.parametrize("kwargs, needle", [
    ({"model": "gpt5"}, "'gpt5'"),
    ({"seq_len": 0}, "got 0"),
    ({"seq_len": "128"}, "got '128'"),
    ({"seq_len": 4096}, "--seq-len 4096 exceeds"),
    ({"batch": -1}, "got -1"),
    ({"layers": 13}, "--layers 13"),
    ({"chains": 0}, "--chains must be an integer in 1..64"),
    ({"runtime": "suf-tpu"}, "'suf-tpu'"),
    ({"knobs": {"SUF_NOPE": 1}}, "SUF_NOPE"),
    ({"knobs": {"SUF_GELU_CONST": "yes"}}, "SUF_GELU_CONST=yes"),
    ({"knobs": {"rsqrt_iters": 99}}, "rsqrt_iters=99"),
    ({"knobs": "rsqrt_iters=1"}, "'rsqrt_iters=1'"),
    ({"policy": "x"}, "'x'"),
    ({"net": "moon"}, "'moon'"),
    ({"cost": "nope"}, "'nope'"),
    ({"deploy": "moon"}, "'moon'"),
])
def test_a_bad_keyword_value_is_a_config_error_naming_it(kwargs, needle):
    with pytest.raises(ConfigError) as err:
        simflush.simulate(**{"model": "bert-tiny", **kwargs})
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_import_simflush_loads_the_api_only_when_used():
    code = ("import sys, simflush; before = 'simflush.api' in sys.modules or 'simpy' in sys.modules; "
            "simflush.simulate; print(before, 'simflush.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["False", "True"]
    assert simflush.simulate is simflush.api.simulate
    with pytest.raises(AttributeError):
        simflush.no_such_name  # noqa: B018


# -- the trace as the common record: every exporter gives the same output from a trace read back ------------

@pytest.fixture(scope="module")
def run_and_reread(tmp_path_factory):
    r = simflush.simulate(model="bert-tiny", seq_len=32, policy="pfss_eager", chains=2, net="lan")
    path = tmp_path_factory.mktemp("trace") / "run.json"
    path.write_text(r.trace.to_json())
    return r, read_trace(path)


def test_every_exporter_reads_a_trace_read_back_from_its_file(run_and_reread, tmp_path):
    r, again = run_and_reread
    assert (again.runs, again.flushes) == (r.trace.runs, r.trace.flushes)
    assert replace(again.meta, source=r.trace.meta.source, sha256=r.trace.meta.sha256) == r.trace.meta  # known by file
    assert json.dumps(bench_document(again), indent=2) == json.dumps(r.bench_json(), indent=2)
    assert schedule_csv(again, 1) == schedule_csv(r.trace, 1)
    assert timeline_events(again) == timeline_events(r.trace)
    assert json.dumps(chrome_trace([("x", again)])) == json.dumps(chrome_trace([("x", r.trace)]))
    assert predicted_runs(again) == predicted_runs(r.trace)
    for name, trace in (("sim", r.trace), ("read", again)):
        plot_timeline(trace, tmp_path / f"timeline_{name}.png")
        plot_run_bars([("a", trace)], tmp_path / f"bars_{name}.png", "t")
    for figure in ("timeline", "bars"):
        assert (tmp_path / f"{figure}_sim.png").read_bytes() == (tmp_path / f"{figure}_read.png").read_bytes()


def test_a_measured_suf_trace_gets_the_exporters_too(golden):
    """The SUF runtime's own trace of bert-base: its bench document has the measured bench's counters,
    its schedule the golden CSV's columns, and its Chrome trace nests."""
    from simflush.analysis.calibration.samples import load_source
    from simflush.io.suf_bench import read_bench

    source = load_source(golden / "gpu_h100_trace_bert-base.txt.gz", golden / "gpu_h100_traced_bert-base.json")
    bench = read_bench(golden / "gpu_h100_traced_bert-base.json")
    doc = bench_document(source.trace)
    for key in ("open_flushes", "num_flushes", "num_jobs", "opened_words", "opened_words_beaver",
                "opened_words_mask", "total_hatx_words"):
        assert doc["pfss"][key] == bench.pfss[key], key
    assert doc["communication"]["net_bytes"] == bench.communication["net_bytes"]
    assert doc["system"] == "suf" and doc["timing"]["online_time_s"] == bench.online_time_s
    six = ["seq", "run", "event", "open_kind", "words_or_hatx", "wire_bytes_per_party"]
    ours = list(csv.DictReader(io.StringIO(schedule_csv(source.trace, 0))))
    gold = list(csv.DictReader((golden / "gpu_h100_bert-base_L128_layer_events.csv").open()))
    assert [[row[c] for c in six] for row in ours] == [[row[c] for c in six] for row in gold]
    assert validate_chrome_trace(chrome_trace([("measured", source.trace)])) == []


def test_an_untimed_trace_is_refused_by_the_timed_exporters(golden):
    from simflush.io.suf_trace import read_suf_trace

    trace = read_suf_trace(golden / "cpu_bt_cpu.trace.gz", [f"r{i}" for i in range(12)], 2)
    with pytest.raises(ConfigError, match="no timestamps"):
        timeline_events(trace)
    with pytest.raises(ConfigError, match="no timestamps"):
        schedule_csv(trace, 0)
