"""The fidelity contract (DESIGN.md §4): the SUF snapshot's measured schedule and bench counters."""

import csv
import gzip
import json
import re

import pytest
from simhelpers import run_sim

from simflush.cli import main
from simflush.io.bench_json import bench_document
from simflush.sim.trace import to_trace

SIX = ["seq", "run", "event", "open_kind", "words_or_hatx", "wire_bytes_per_party"]


def test_bert_base_schedule_equals_golden_csv_row_by_row(golden, capsys):
    assert main(["schedule", "--model", "bert-base", "--format", "csv"]) == 0
    ours = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    gold = list(csv.DictReader((golden / "gpu_h100_bert-base_L128_layer_events.csv").open()))
    assert len(ours) == len(gold) == 91
    for mine, theirs in zip(ours, gold, strict=True):
        assert [mine[c] for c in SIX] == [theirs[c] for c in SIX], f"row {theirs['seq']}"


def test_bert_base_every_layer_matches_layer_zero():
    result = run_sim("bert-base")
    layer0 = [(r.run, r.event, r.words, r.branch) for r in result.parties[0].records if r.layer == 0]
    for party in result.parties:
        for layer in range(12):
            assert [(r.run, r.event, r.words, r.branch) for r in party.records if r.layer == layer] == layer0


def _compare_counters(doc: dict, bench: dict) -> None:
    for section in ("pfss", "communication"):
        shared = set(doc[section]) & set(bench[section])
        assert len(shared) >= 10
        for key in sorted(shared):
            assert doc[section][key] == bench[section][key], f"{section}.{key}"


def test_bert_base_totals_equal_bench_json(golden):
    doc = bench_document(to_trace(run_sim("bert-base")))
    for name in ("gpu_h100_prof_bert-base.json", "gpu_h100_traced_bert-base.json"):
        _compare_counters(doc, json.loads((golden / name).read_text()))
    assert doc["pfss"]["open_flushes"] == 1320 and doc["communication"]["net_bytes"] == 580396800


def test_cpu_bench_profile_matches_cpu_json(golden):
    bench = json.loads((golden / "cpu_bt_cpu.json").read_text())
    assert bench["preprocessing"]["gelu_const"] is True  # the CPU run was made with --gelu-const 1
    doc = bench_document(to_trace(run_sim("bert-tiny", layers=2, runtime="suf-cpu-bench", sets=("SUF_GELU_CONST=1",))))
    _compare_counters(doc, bench)


def test_cpu_trace_flush_sequence_and_branches(golden):
    """Every OPEN / PFSS line of the CPU trace, in order per party, with its branch and gate kind."""
    lines = gzip.open(golden / "cpu_bt_cpu.trace.gz", "rt").read().splitlines()
    measured = {0: [], 1: []}
    branch = {0: None, 1: None}
    for line in lines:
        m = re.match(r"\[trace\] p=(\d) (\w+) ?(.*)", line)
        if not m:
            continue
        p, event, rest = int(m.group(1)), m.group(2), m.group(3)
        fields = dict(kv.split("=") for kv in rest.split() if "=" in kv)
        if event == "OPEN":
            measured[p].append(("OPEN", int(fields["words"]), int(fields["beaver"]), "demand_open"))
        elif event == "BRANCH":
            branch[p] = rest.strip()
        elif event == "PFSS":
            measured[p].append(("PFSS", int(fields["hatx"]), 0, branch[p] or "demand_coeff"))
            branch[p] = None
    result = run_sim("bert-tiny", layers=2, runtime="suf-cpu-bench", sets=("SUF_GELU_CONST=1",))
    for p in (0, 1):
        ours = [(r.event, r.words, r.words_beaver, r.branch) for r in result.parties[p].records]
        assert ours == measured[p]


@pytest.mark.parametrize("model,net_bytes", [
    ("bert-tiny", 16_173_440), ("bert-base", 580_396_800), ("bert-large", 1_547_478_528),
    ("gpt2", 608_755_200), ("gpt-neo-1.3b", 2_658_175_488)])
def test_online_bytes_equal_the_suf_report(model, net_bytes):
    """SUF's benchmark_report.md online bytes (spec §5.2), GPU bench, T = 128, B = 1, all layers."""
    assert bench_document(to_trace(run_sim(model)))["communication"]["online_bytes"] == net_bytes


def test_gpt2_opened_words_and_flushes_equal_the_historical_report():
    """gpt2's opened_words 97,400,832 (unchanged since 3d7162e) and today's 1,320 open flushes (spec §5.2)."""
    pfss = bench_document(to_trace(run_sim("gpt2")))["pfss"]
    assert (pfss["opened_words"], pfss["open_flushes"]) == (97_400_832, 1_320)
