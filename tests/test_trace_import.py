"""SUF trace and bench JSON importers, and simflush's trace schema."""

import hashlib
import json
from dataclasses import replace

import pytest
from simhelpers import run_sim

from simflush.cli import main
from simflush.errors import ConfigError
from simflush.io.suf_bench import read_bench
from simflush.io.suf_trace import read_suf_trace
from simflush.io.trace_schema import TRACE_SCHEMA_VERSION, read_trace
from simflush.sim.trace import to_trace

GOOD = """\
[trace] t=1000 p=0 RUN begin tasks=1
[trace] t=1100 p=1 RUN begin tasks=1
[trace] t=1200 p=0 OPEN words=128 beaver=0 mask=128 other=0 reqs=1
[trace] t=1250 p=1 OPEN words=128 beaver=0 mask=128 other=0 reqs=1
[trace] t=1500 p=0 OPEN_DONE packed=1 eff=37 wire=592 total_ns=320 pack2_ns=20 dev=0
[trace] t=1510 p=1 OPEN_DONE packed=1 eff=37 wire=592 total_ns=270 pack2_ns=20 dev=0
[trace] t=1600 p=0 BRANCH planner
[trace] t=1610 p=0 PFSS jobs=1 hatx=128 batch=0x1
[trace] t=1620 p=1 PFSS jobs=1 hatx=128 batch=0x2
[trace] t=2000 p=0 PFSS_EVAL_DONE ns=395
[trace] t=2010 p=0 PFSS_FINALIZE_DONE ns=5
[trace] t=2100 p=1 PFSS_EVAL_DONE ns=480
[trace] t=2120 p=1 PFSS_MATERIALIZE_DONE ns=10
[trace] t=2200 p=0 RUN end
[trace] t=2300 p=1 RUN end
"""


def _write(tmp_path, text, name="t.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_small_trace_rebuilds_intervals_from_done_lines(tmp_path):
    trace = read_suf_trace(_write(tmp_path, GOOD), ["R"], 1)
    p0 = [f for f in trace.flushes if f.party == 0]
    assert [(f.kind, f.words) for f in p0] == [("OPEN", 128), ("PFSS", 128)]
    op, pf = p0
    assert op.start_s == pytest.approx(1180e-9) and op.duration_s == pytest.approx(320e-9)
    assert op.wire_bytes == 592 and op.open_kind == "M" and op.timers["pack_s"] == pytest.approx(20e-9)
    assert pf.branch == "planner" and pf.finish == "finalize"
    assert pf.start_s == pytest.approx(1605e-9) and pf.end_s == pytest.approx(2010e-9)
    p1 = [f for f in trace.flushes if f.party == 1]
    assert p1[1].branch == "" and p1[1].finish == "materialize"
    assert [(r.party, r.layer, r.run) for r in trace.runs] == [(0, 0, "R"), (1, 0, "R")]


@pytest.mark.parametrize("edit, line, field", [
    (lambda t: t.replace("[trace] t=1500 p=0 OPEN_DONE", "[trace] t=1500 p=0 XOPEN_DONE"), 8, "OPEN_DONE"),
    (lambda t: t.replace("t=1600 p=0 BRANCH", "t=900 p=0 BRANCH"), 7, "t=900"),
    (lambda t: t.replace("[trace] t=2000 p=0 PFSS_EVAL_DONE ns=395\n", ""), 10, "PFSS_EVAL_DONE"),
    (lambda t: t.replace("total_ns=320 ", ""), 5, "total_ns"),
    (lambda t: t.replace("[trace] t=2300 p=1 RUN end\n", ""), 14, "RUN end"),
    (lambda t: t.replace("words=128 beaver=0 mask=128 other=0 reqs=1\n[trace] t=1250",
                         "words=x beaver=0 mask=128 other=0 reqs=1\n[trace] t=1250"), 3, "words"),
])
def test_bad_trace_names_file_line_and_field(tmp_path, edit, line, field):
    path = _write(tmp_path, edit(GOOD))
    with pytest.raises(ConfigError) as err:
        read_suf_trace(path, ["R"], 1)
    message = str(err.value)
    assert f"{path}:{line}:" in message and field in message


def test_real_trace_has_every_flush_of_two_iterations(golden):
    trace = read_suf_trace(golden / "gpu_h100_trace_bert-base.txt.gz", [f"r{i}" for i in range(12)], 12)
    bench = read_bench(golden / "gpu_h100_traced_bert-base.json")
    assert trace.meta.iterations == bench.iterations == 2
    assert len(trace.runs) == 2 * 2 * 12 * 12
    per_iteration = {k: sum(1 for f in trace.flushes if f.kind == k) / 2 for k in ("OPEN", "PFSS")}
    assert per_iteration == {"OPEN": bench.pfss["open_flushes"], "PFSS": bench.pfss["num_flushes"]}
    wire = sum(f.wire_bytes for f in trace.flushes if f.iteration == 1)
    assert wire == bench.communication["net_bytes"]
    for party in (0, 1):
        starts = [f.start_s for f in trace.flushes if f.party == party]
        assert starts == sorted(starts)


def test_cpu_trace_without_timestamps_keeps_job_gates(golden):
    trace = read_suf_trace(golden / "cpu_bt_cpu.trace.gz", [f"r{i}" for i in range(12)], 2)
    pfss = [f for f in trace.flushes if f.kind == "PFSS"]
    assert not trace.timed and len(pfss) == read_bench(golden / "cpu_bt_cpu.json").pfss["num_flushes"]
    assert all(len(f.gates) == f.jobs for f in pfss) and pfss[0].gates == ("GapARS",)


def test_schema_round_trip_and_version_check(tmp_path):
    result = run_sim("bert-tiny", layers=1)
    trace = to_trace(result)
    assert len(trace.flushes) == sum(len(p.records) for p in result.parties)
    assert trace.meta.online_time_s == result.online_time_s
    path = tmp_path / "sim.json"
    path.write_text(trace.to_json())
    again = read_trace(path)
    assert again.flushes == trace.flushes and again.runs == trace.runs
    # a trace its writer did not fingerprint is known by its file when read
    assert (again.meta.source, again.meta.sha256) == (path.name, hashlib.sha256(path.read_bytes()).hexdigest())
    assert replace(again.meta, source=trace.meta.source, sha256=trace.meta.sha256) == trace.meta
    doc = json.loads(path.read_text())
    doc["schema_version"] = TRACE_SCHEMA_VERSION + 1
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="schema_version"):
        read_trace(path)


def test_a_version_2_trace_file_still_reads(tmp_path):
    """Version 3 added fields with defaults: a version-2 file reads as a source that did not say them."""
    trace = to_trace(run_sim("bert-tiny", layers=1))
    doc = json.loads(trace.to_json())
    doc["schema_version"] = 2
    for key in ("settings", "policy", "deploy", "network", "cost_preset"):
        del doc["meta"][key]
    for run in doc["runs"]:
        del run["section"]
    for flush in doc["flushes"]:
        del flush["batch"], flush["concurrent"]
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(doc))
    old = read_trace(path)
    assert old.meta.model == "bert-tiny" and old.meta.settings == {} and old.runs[0].section == ""
    assert [(f.kind, f.words, f.start_s) for f in old.flushes] == [(f.kind, f.words, f.start_s) for f in trace.flushes]


def test_bench_json_missing_field_is_exit_2_with_line(tmp_path, golden, capsys):
    doc = json.loads((golden / "gpu_h100_traced_bert-base.json").read_text())
    del doc["timing"]["online_time_s"]
    bad = tmp_path / "bench.json"
    bad.write_text(json.dumps(doc, indent=1))
    with pytest.raises(ConfigError, match=r"bench.json:\d+: missing field 'timing.online_time_s'"):
        read_bench(bad)
    code = main(["validate", "--measured", str(bad)])
    assert code == 2 and "timing.online_time_s" in capsys.readouterr().err


def test_truncated_gzip_and_utf16_are_one_line(tmp_path, golden):
    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes((golden / "cpu_bt_cpu.trace.gz").read_bytes()[:500])
    with pytest.raises(ConfigError, match="truncated or corrupt gzip"):
        read_suf_trace(cut, ["LN1"], 1)
    utf16 = tmp_path / "bench.json"
    utf16.write_bytes((golden / "cpu_bt_cpu.json").read_text().encode("utf-16"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_bench(utf16)


@pytest.mark.parametrize("field,value,needle", [
    ("seq_len", -5, "field seq_len = -5: expected greater than 0"),
    ("n_bits", 64, "field n_bits = 64: expected 37 (the ring of bert-tiny)"),
    ("n_layers_run", 9, "field n_layers_run = 9: expected 1..2"),
    ("timing.online_time_s", float("nan"), "field timing.online_time_s = nan: expected a finite number"),
    ("pfss.opened_words", -1, "field pfss.opened_words = -1: expected greater than or equal to 0"),
])
def test_bench_json_ranges_and_model_consistency(tmp_path, golden, field, value, needle):
    doc = json.loads((golden / "cpu_bt_cpu.json").read_text())
    node = doc
    *parents, key = field.split(".")
    for part in parents:
        node = node[part]
    node[key] = value
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(doc, indent=2))
    with pytest.raises(ConfigError) as err:
        read_bench(path)
    message = str(err.value)
    assert needle in message and "\n" not in message
    line = int(message.split(":")[1])
    assert f'"{key}"' in path.read_text().splitlines()[line - 1]


def test_trace_json_ranges(tmp_path):
    doc = json.loads(to_trace(run_sim(model="bert-tiny", layers=1)).to_json())
    doc["flushes"][3]["words"] = -1
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=r"t.json:1: field flushes\[3\].words = -1: expected greater than or equal"):
        read_trace(path)
