"""The fixed-point model against float64 (``simflush accuracy``), the range check, and the value path's schedule.

bert-tiny, 2 layers, T = 128, seeded random weights, N(0, 1) input, at n_bits 48 (the range check's 39 plus a margin)
and ``recip_iters = 4`` (SUF's one iteration leaves the probabilities 38 % off, docs/accuracy.md). The bounds are
docs/accuracy.md's: the LayerNorm output within 1 % RMS (the 2.2 % init after a Newton step, the rounding of x - mu),
the scores within 2 % (weights at Qf: 1/82 of a typical entry, summed over D), the probabilities within 5 % (1 u of
1/128 = 32 u is 3 %), the GeLU-const output within 10 % (its 0.036 against an RMS of 0.5), the final hidden state
within 1 % (the residual carries the input exactly; the MLP's error is 8 % of a term 1/20 of the state).
"""

import json

import numpy as np
import pytest
from test_weights import bert_checkpoint, without, write

from models.layer import transformer_layer
from models.specs import MODELS
from simflush.analysis.accuracy import measure_accuracy
from simflush.cli import main
from simflush.errors import ConfigError
from simflush.plain.layer import ValueRun
from simflush.profiles import resolve
from simflush.sim.schedule import flush_schedule
from simflush.tasks import local_ops
from simflush.tasks.values import FixedPoint, RingArith

SAFE = {"model": "bert-tiny", "seq_len": 128, "n_bits": 48, "knobs": {"recip_iters": 4}}
BOUNDS = {"ln1": 0.01, "scores": 0.02, "probs": 0.05, "act": 0.10, "final hidden state": 0.01}


def rel_errors(**kw) -> dict[str, float]:
    report = measure_accuracy(**{**SAFE, **kw})
    return {p.phase: p.rel_rms_error for p in (*report.phases, report.final)}


def within(errors: dict[str, float]) -> dict[str, bool]:
    return {phase: errors[phase] <= bound for phase, bound in BOUNDS.items()}


def test_bert_tiny_fixed_point_is_within_the_stated_bounds():
    errors = rel_errors()
    assert all(within(errors).values()), errors


def test_bert_tiny_with_biases_and_layernorm_affine_maps(monkeypatch):
    """Gamma and beta folded into the next public matmul: the same bounds hold with them."""
    from models import weights as W
    weights = W.random_weights(MODELS["bert-tiny"], 0, affine=True)
    assert all(within(rel_errors(weights=weights)).values())


def test_a_dropped_horner_term_breaks_the_softmax(monkeypatch):
    add_part = local_ops.LOCAL_OPS[local_ops.LocalOp.ADD_PART]

    def without_c1(a, party, x, out, *, index, shift):
        return x if index == 1 else add_part.apply(a, party, x, out, index=index, shift=shift)

    monkeypatch.setitem(local_ops.LOCAL_OPS, local_ops.LocalOp.ADD_PART,
                        local_ops.LocalOpDef(add_part.meaning, add_part.size, without_c1))
    assert not within(rel_errors())["probs"]


def test_a_wrong_truncation_shift_breaks_layernorm(monkeypatch):
    from simflush.tasks import layernorm as ln
    trunc = ln.trunc
    monkeypatch.setattr(ln, "trunc", lambda ctx, x, gate, shift, **kw: trunc(ctx, x, gate, shift - (shift == 24), **kw))
    assert not within(rel_errors())["ln1"]


def test_a_wrong_scale_breaks_the_scores(monkeypatch):
    """The score truncation loses its halvings (the task spec's scale), the Q weights still carry theirs."""
    import models.layer as layer
    monkeypatch.setattr(layer, "score_halvings", lambda head_dim: 0)
    errors = rel_errors()
    assert not within(errors)["scores"] and not within(errors)["probs"]


def test_range_check_flags_the_37_bit_ring_and_passes_48():
    """At SUF's n = 37 the LayerNorm variance (Q3f, var about 1: 2^36) does not fit; 48 bits hold everything."""
    tight = measure_accuracy(model="bert-tiny", seq_len=128, n_bits=37, layers=1)
    sites = {(r.run, r.value, r.scale) for r in tight.ranges.overflows}
    assert ("LN1", "row_sum_scaled", 36) in sites
    assert "LN1" in tight.ranges.warning() and tight.ranges.n_bits_needed > 37
    assert tight.phases[0].rel_rms_error > 0.5          # and the overflow shows in the error
    safe = measure_accuracy(model="bert-tiny", seq_len=128, n_bits=tight.ranges.n_bits_needed, layers=1)
    assert safe.ranges.warning() is None and not safe.ranges.overflows
    assert safe.phases[0].rel_rms_error < 0.01


def test_the_value_run_takes_the_simulated_schedule():
    """The same tasks through the same executor: the value run's flush records equal the symbolic schedule's."""
    spec = MODELS["bert-tiny"]
    settings = resolve("suf-gpu-bench", spec)
    from models.weights import random_hidden_states, random_weights
    from simflush.plain.layer import fixed_layer
    runner = ValueRun(spec, settings, FixedPoint(48, 12), RingArith(48, np), 1, 64)
    x = random_hidden_states(spec, 64, 0)
    hidden = runner.ring(np.round(x * 4096).astype(np.int64), 12)
    runner.layer_forward(hidden, fixed_layer(random_weights(spec, 0, 1).layers[0], spec, 12))
    symbolic = flush_schedule(spec, 64, 1, settings)
    assert runner.ctx.executor.records == symbolic
    assert {r.run for r in symbolic} == {r.name for r in transformer_layer(spec, 64, 1, settings.layer)}


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_accuracy_cli_json(capsys):
    code, out, err = run_cli(capsys, "accuracy", "--model", "bert-tiny", "--seq-len", "32", "--layers", "1",
                             "--n-bits", "37", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["n_bits"] == 37 and doc["layers"] == 1
    assert [p["phase"] for p in doc["phases"]][:3] == ["ln1", "q", "k"]
    assert doc["range"]["n_bits_needed"] > 37 and doc["range"]["overflows"]
    assert "warning: the 37-bit ring overflows" in err


@pytest.mark.parametrize("argv, message", [
    (["--n-bits", "100"], "n_bits = 100: allowed are 8 to 64"),
    (["--frac-bits", "30"], "frac_bits = 30: allowed are 6 to 17"),
    (["--set", "SUF_INV_MODE=sigma_gpu"], "inv_sigma_muls=2: what those multiplies compute is not known"),
    (["--set", "SOFTMAX_TRUNC_REF=1"], "SOFTMAX_TRUNC_REF=1 shifts each share locally"),
    (["--set", "SUF_BENCH_DEVICE_PIPELINE=1", "--set", "SUF_LN_GPU=1"], "SUF_LN_GPU=1"),
])
def test_accuracy_bad_input_is_one_line_exit_2(capsys, argv, message):
    code, out, err = run_cli(capsys, "accuracy", "--seq-len", "16", "--layers", "1", *argv)
    assert code == 2 and message in err and err.count("\n") == 1 and not out


def test_accuracy_refuses_a_checkpoint_with_a_missing_tensor(tmp_path, capsys):
    from models.weights import random_weights
    tensors = bert_checkpoint(random_weights(MODELS["bert-tiny"], 1, affine=True))
    path = write(tmp_path, without(tensors, "encoder.layer.0.output.dense.weight"))
    code, _, err = run_cli(capsys, "accuracy", "--seq-len", "16", "--weights", str(path))
    assert code == 2 and "encoder.layer.0.output.dense.weight" in err and err.count("\n") == 1


def test_measure_accuracy_refuses_bits_out_of_range():
    with pytest.raises(ConfigError, match="n_bits = 0"):
        measure_accuracy(model="bert-tiny", seq_len=8, layers=1, n_bits=0)


def test_compare_adds_the_accuracy_columns(capsys, tmp_path):
    """Once per model, size, runtime and knobs: the networks share theirs, rsqrt_iters changes it, and a setting
    without a value definition says so in its row."""
    out_json = tmp_path / "c.json"
    code, out, _ = run_cli(capsys, "compare", "--model", "bert-tiny", "--seq-len", "32", "--layers", "1",
                           "--net", "lan,wan", "--set", "rsqrt_iters=0,1", "--set", "SUF_INV_MODE=suf,sigma_gpu",
                           "--accuracy", "--n-bits", "48", "--json", str(out_json))
    assert code == 0 and "rel err" in out.splitlines()[0] and "no value definition" in out
    records = json.loads(out_json.read_text())["configs"]
    by = {(r["net"], r["rsqrt_iters"], r["SUF_INV_MODE"]): r for r in records}
    assert by["lan", "1", "suf"]["final_rel_rms_error"] == by["wan", "1", "suf"]["final_rel_rms_error"]
    assert by["lan", "0", "suf"]["final_rel_rms_error"] > by["lan", "1", "suf"]["final_rel_rms_error"]
    assert "inv_sigma_muls" in by["lan", "1", "sigma_gpu"]["accuracy_error"]
    assert by["lan", "1", "suf"]["n_bits"] == 48


def test_the_decode_path_has_values_too():
    """gpt2 without causal prefill takes the per-token path: its runs compute the same layer (no scores or probs
    phase: they stay inside each token's softmax run), within the same bounds as the prefill path."""
    decode = measure_accuracy(model="gpt2", seq_len=4, layers=1, n_bits=48, knobs={"SUF_CAUSAL_PREFILL": "0"})
    prefill = measure_accuracy(model="gpt2", seq_len=4, layers=1, n_bits=48)
    assert "probs" not in {p.phase for p in decode.phases}
    assert abs(decode.final.rel_rms_error - prefill.final.rel_rms_error) < 0.005 and decode.final.rel_rms_error < 0.03


def test_a_sweep_carries_the_accuracy_columns(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    code, text, _ = run_cli(capsys, "sweep", "--model", "bert-tiny", "--seq-len", "16", "--layers", "1", "--net",
                            "lan,wan", "--set", "rsqrt_iters=0,1", "--accuracy", "--n-bits", "48", "--jobs", "1",
                            "--out", str(out), "--plot", str(tmp_path / "s.png"))
    assert (tmp_path / "s_accuracy.png").stat().st_size > 10_000 and "s_accuracy.png" in text
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 0 and len(records) == 4
    by = {(r["net"], r["knobs.rsqrt_iters"]): r for r in records}
    assert by["lan", "1"]["accuracy.final_rel_rms_error"] == by["wan", "1"]["accuracy.final_rel_rms_error"]
    assert by["lan", "0"]["accuracy.final_rel_rms_error"] != by["lan", "1"]["accuracy.final_rel_rms_error"]
    assert all(r["accuracy.n_bits"] == 48 and r["accuracy.n_bits_needed"] > 30 for r in records)
