"""Predictions from the bert-base calibration against SUF runs of other models measured on H100s
(validation/suf_h100_device; each machine's speed is taken from its own bert-base runs only)."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "validation"))

from check_suf_runs import RUNS, compare  # noqa: E402

from models.specs import get_model  # noqa: E402
from simflush.profiles import default_device_min_words  # noqa: E402
from simflush.sim.cost import load_cost  # noqa: E402

SUF_MODELS = ("bert-tiny", "bert-base", "bert-large", "gpt2", "gpt-neo-1.3b")


@pytest.fixture(scope="module")
def rows():
    runs = [json.loads(line) for line in RUNS.read_text().splitlines() if line.strip()]
    return compare(runs, load_cost("suf-h100"))


@pytest.mark.parametrize("model", SUF_MODELS)
def test_online_time_of_every_suf_model_at_t128_is_within_10_percent(rows, model):
    """The issue's bar, on the measured runs: every SUF model at T = 128, all its layers."""
    spec = get_model(model)
    [row] = [r for r in rows if (r["model"], r["seq_len"], r["layers"], r["gelu_const"], r["device_min_words"])
             == (model, 128, spec.n_layers, True, default_device_min_words(spec))]
    assert abs(row["rel_err"]) <= 0.10, row


def test_the_traced_runs_of_other_models_match_simflush_schedules_flush_by_flush():
    """The scratch build's trace lines import into the trace schema and every flush matches the
    simulated schedule of its model (words, kind, run), as the calibration requires."""
    from simflush.analysis.calibration.samples import load_source
    data = RUNS.parent
    for model in ("gpt2", "bert-tiny"):
        source = load_source(data / f"tr_{model}.trace.gz", data / f"tr_{model}.json")
        assert source.trace.meta.iterations == 2
        per_layer = sum(f.party == 0 for f in source.result.trace.flushes)
        assert len(source.trace.flushes) == 2 * 2 * source.trace.meta.layers * per_layer


def test_a_profile_from_bert_bases_trace_predicts_the_same_machines_traces_of_other_models():
    """Same machine, traced level, no machine factor: bert-base's own trace predicts bert-tiny, bert-large
    and gpt2 within 10 % (gpt-neo is the documented exception, docs/validation.md)."""
    from cross_model import matrix
    errors = matrix(("bert-base", "bert-tiny", "bert-large", "gpt2"), sources=("bert-base",))["bert-base"]
    assert all(abs(e) <= 0.10 for e in errors.values()), errors
