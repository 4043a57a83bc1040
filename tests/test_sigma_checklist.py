"""SIGMA's closed forms (``analysis/checklist/sigma_forms.py``, written from the protocol descriptions)
against the simulated schedule of its tasks (``tasks/sigma_runtime.py``): per run, the same exchanges,
words and wire bytes, in program order and merged."""

import json
from collections import defaultdict

import pytest

import simflush
from simflush.analysis.checklist.counts import build_checklist
from simflush.api import make_config
from simflush.cli import main
from simflush.io.bench_json import bench_document
from simflush.io.trace_schema import read_trace
from simflush.sim.schedule import flush_schedule


@pytest.mark.parametrize("merge", ["0", "1"])
@pytest.mark.parametrize(("model", "seq_len"), [("bert-tiny", 16), ("bert-base", 128), ("gpt2", 64),
                                                ("gpt-neo-1.3b", 32), ("llama2-7b", 128), ("llama2-13b", 8)])
def test_closed_forms_equal_the_schedule(model, seq_len, merge):
    cfg = make_config(model=model, seq_len=seq_len, runtime="sigma-gpu", policy="sigma" if merge == "0" else "suf",
                      knobs={"sigma_merge": merge})
    check = build_checklist(cfg.model, cfg.seq_len, cfg.batch, cfg.settings, 1)
    simulated = defaultdict(lambda: [0, 0, 0])
    for r in flush_schedule(cfg.model, cfg.seq_len, cfg.batch, cfg.settings, 1, cfg.policy):
        simulated[r.run][0] += 1
        simulated[r.run][1] += r.words_mask
        simulated[r.run][2] += r.wire_bytes
    closed = {run.name: [run.counts.open_flushes, run.counts.words_mask, run.counts.wire_bytes] for run in check.runs}
    assert closed == dict(simulated)


def test_reconcile_names_the_merge_behind_a_bench_count(capsys):
    """2,304 exchanges over both parties and 12 bert-base blocks are 96 a block: the merged schedule."""
    assert main(["reconcile", "--runtime", "sigma-gpu", "--model", "bert-base", "--open", "2304", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    bench = next(t for t in doc["aggregations"] if t["aggregation"] == "bench")
    assert doc["most_likely_aggregation"] == "bench"
    assert [c["changed"] for c in bench["candidates"]] == [{"sigma_merge": "1"}]
    softmax = next(b for b in bench["candidates"][0]["breakdown"] if b["run"] == "Softmax")
    assert softmax["open_flushes"] == 30


@pytest.mark.parametrize(("argv", "message"), [
    (["--seq-len", "100"], "error: --seq-len 100: SIGMA's code runs powers of 2 only (--runtime sigma-gpu)"),
    (["--batch", "2"], "error: --batch 2: SIGMA's code runs batch 1 only (--runtime sigma-gpu)"),
    (["--chains", "2"], "error: --chains 2: splits SUF's runs; --runtime sigma-gpu allows 1"),
    (["--runtime", "suf-gpu-bench", "--set", "sigma_merge=1"],
     "error: --set sigma_merge: shapes SIGMA's graph; --runtime suf-gpu-bench runs SUF's"),
    (["--set", "sigma_merge=2"], "error: --set sigma_merge=2: allowed values are 0 or 1"),
    (["--set", "rsqrt_iters=2"], "error: --set rsqrt_iters: shapes SUF's graph; --runtime sigma-gpu takes "
     "SUF_OVERLAP_PFSS_OPEN, pfss_channel, sigma_fss_via_pfss_batch, sigma_merge and budget_*"),
])
def test_bad_sigma_settings_are_one_line_errors(capsys, argv, message):
    assert main(["simulate", "--runtime", "sigma-gpu", *argv]) == 2
    assert capsys.readouterr().err.strip() == message


def test_a_sigma_trace_reads_back_to_the_same_bench_json(tmp_path):
    result = simflush.simulate(model="gpt2", seq_len=32, layers=2, runtime="sigma-gpu", policy="sigma",
                               cost="sigma-a6000", deploy="two-gpu", net="lan")
    path = tmp_path / "sigma-trace.json"
    path.write_text(result.trace.to_json())
    assert bench_document(read_trace(path)) == result.bench_json()
