"""The command line: outputs, JSON fields, bad input (exit 2) and simulated runtime errors (exit 3)."""

import json

import pytest

from simflush.cli import main

REQUIRED = ["model", "seq_len", "batch_size", "n_layers", "n_bits", "pfss.open_flushes", "pfss.num_flushes",
            "pfss.num_jobs", "pfss.opened_words", "pfss.opened_words_beaver", "pfss.opened_words_mask",
            "pfss.total_hatx_words", "communication.net_bytes", "communication.pfss_bytes",
            "communication.online_bytes", "timing.online_time_s", "per_party_per_layer", "branches", "runs"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_simulate_json_has_the_bench_fields(capsys):
    code, out, _ = run_cli(capsys, "simulate", "--model", "bert-tiny", "--json")
    assert code == 0
    doc = json.loads(out)
    for path in REQUIRED:
        node = doc
        for part in path.split("."):
            node = node[part]
    assert doc["pfss"]["open_flushes"] == 2 * 2 * doc["per_party_per_layer"]["open_flushes"]
    assert len(doc["runs"]) == 2 * 12 and all(len(r["time_s"]) == 2 for r in doc["runs"])
    assert doc["timing"]["online_time_s"] > 0


def test_simulate_table_and_models(capsys):
    code, out, _ = run_cli(capsys, "simulate", "--model", "bert-tiny", "--layers", "1", "--set", "rsqrt_iters=2")
    assert code == 0 and "layer total" in out and "LN1" in out and "pfss.open_flushes=" in out
    code, out, _ = run_cli(capsys, "models")
    assert code == 0 and "llama2-13b" in out and "silu" in out


def test_schedule_csv_columns(capsys):
    code, out, _ = run_cli(capsys, "schedule", "--model", "bert-tiny", "--layer", "1", "--format", "csv")
    assert code == 0
    header = out.splitlines()[0].split(",")
    assert header[:6] == ["seq", "run", "event", "open_kind", "words_or_hatx", "wire_bytes_per_party"]


@pytest.mark.parametrize("argv,needle", [
    (["simulate", "--model", "gpt5"], "allowed: bert-tiny"),
    (["simulate", "--model", "bert-base", "--seq-len", "0"], "--seq-len"),
    (["simulate", "--model", "bert-base", "--batch", "-1"], "--batch"),
    (["simulate", "--model", "bert-base", "--seq-len", "4096"], "max_seq 512"),
    (["simulate", "--model", "bert-base", "--layers", "13"], "allowed 1..12"),
    (["simulate", "--model", "bert-base", "--set", "SUF_NOPE=1"], "allowed: SUF_FORCE_PFSS"),
    (["simulate", "--model", "bert-base", "--set", "SUF_GELU_CONST=yes"], "0 or 1"),
    (["simulate", "--model", "bert-base", "--set", "rsqrt_iters=99"], "[0, 16]"),
    (["simulate", "--model", "bert-base", "--set", "SUF_FORCE_PFSS=0"], "allowed values are 1"),
    (["simulate", "--model", "bert-base", "--runtime", "suf-tpu"], "suf-gpu-bench"),
    (["simulate", "--model", "bert-base", "--net", "moon"], "loopback"),
    (["simulate", "--model", "bert-base", "--cost", "nope"], "suf-h100"),
    (["simulate", "--model", "bert-base", "--policy", "x"], "have_pfss_work"),
    (["simulate", "--model", "bert-base", "--chains", "0"], "--chains"),
    (["simulate", "--model", "bert-base", "--deploy", "moon"], "two-gpu"),
    (["simulate", "--model", "bert-base", "--net", "custom:0,5"], "custom:BW_GBPS,RTT_MS"),
    (["simulate", "--model", "bert-base", "--set", "SUF_RSQRT_MODE=sigma_gpu", "--set", "rsqrt_init_mode=mul_trunc"],
     "contradictory"),
    (["simulate", "--model", "llama2-7b", "--set", "SUF_GELU_MODE=sigma_gpu"], "silu"),
    (["simulate", "--model", "bert-base", "--set", "SUF_NEXP_MODE=lut"], "suf, sigma_gpu"),
    (["schedule", "--model", "bert-tiny", "--layer", "5"], "allowed 0..1"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, needle):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err


@pytest.mark.parametrize("argv,needle", [
    (["simulate", "--model", "gpt2", "--seq-len", "1024"], "L0/Score_trunc: OpenCollector::reserve"),
    (["simulate", "--model", "bert-base", "--seq-len", "512", "--runtime", "suf-cpu-bench"],
     "L0/Score_trunc: PfssSuperBatch::enqueue_composite"),
])
def test_suf_caps_are_reported_as_runtime_errors_exit_3(capsys, argv, needle):
    code, _out, err = run_cli(capsys, *argv)
    errors = [line for line in err.strip().splitlines() if not line.startswith("warning: ")]
    assert code == 3 and len(errors) == 1
    assert needle.split(": ")[1] in errors[0] and "L0/Score_trunc" in errors[0]


def test_a_cost_profile_of_another_runtime_profile_is_warned_about(capsys):
    code, _, err = run_cli(capsys, "simulate", "--model", "bert-tiny", "--runtime", "suf-cpu-bench")
    assert code == 0 and "calibrated on runtime profile 'suf-gpu-bench', applied to 'suf-cpu-bench'" in err
