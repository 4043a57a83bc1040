"""Values through staggered chains (``--chains K``): every task's rows are independent, so a layer split into K
chains gives the unsplit layer's words bit for bit, and its flushes are the simulator's for K chains."""
import numpy as np
import pytest
from tiny_models import TINY_BERT, TINY_GPT2

from models.layer import split_into_chains, transformer_layer
from models.weights import random_hidden_states, random_weights
from simflush.plain.layer import ValueRun, encode_real, fixed_layer
from simflush.profiles import resolve
from simflush.sim.schedule import flush_schedule
from simflush.tasks.values import FixedPoint, RingArith

FIXED = FixedPoint(48, 12)


def layer_run(spec, seq_len, chains, knobs=None):
    settings = resolve("suf-gpu-bench", spec, knobs or {}, chains=chains)
    runner = ValueRun(spec, settings, FIXED, RingArith(48, np), 1, seq_len)
    x = runner.ring(encode_real(random_hidden_states(spec, seq_len, 1), 12), 12)
    out = runner.layer_forward(x, fixed_layer(random_weights(spec, 1, 1).layers[0], spec, 12))["out_ring"]
    return out.data, runner.ctx.executor.records, settings


@pytest.mark.parametrize(("spec", "seq_len", "knobs"), [
    (TINY_BERT, 5, None),                              # odd rows: pieces of unequal size
    (TINY_GPT2, 5, None),                              # causal prefill: ragged softmax rows dealt by length
    (TINY_GPT2, 3, {"SUF_CAUSAL_PREFILL": "0"}),       # the per-token path: decode softmax with its values
], ids=["bert", "causal", "decode"])
@pytest.mark.parametrize("chains", [2, 3])
def test_chains_give_the_unsplit_words_and_the_simulated_schedule(spec, seq_len, knobs, chains):
    whole, _, _ = layer_run(spec, seq_len, 1, knobs)
    split, records, settings = layer_run(spec, seq_len, chains, knobs)
    assert np.array_equal(split, whole)
    assert records == flush_schedule(spec, seq_len, 1, settings)
    assert records != flush_schedule(spec, seq_len, 1, resolve("suf-gpu-bench", spec, knobs or {}))


def test_the_pieces_are_the_split_runs_tasks():
    """``ValueRun`` splits each unsplit task with ``split_into_chains`` and feeds the pieces in the split run's
    order: that order must be the layer's own."""
    for spec in (TINY_BERT, TINY_GPT2):
        opts = resolve("suf-gpu-bench", spec, {}, chains=3).layer
        unsplit = transformer_layer(spec, 5, 1, resolve("suf-gpu-bench", spec, {}).layer)
        for whole, split in zip(unsplit, transformer_layer(spec, 5, 1, opts), strict=True):
            assert [c for t in whole.tasks for c in split_into_chains(t, 3)] == list(split.tasks)
