"""Seeded random weights (models/weights.py) and the safetensors checkpoint loader (simflush/io/checkpoint.py)."""

from dataclasses import fields

import numpy as np
import pytest
from safetensors.numpy import save_file
from tiny_models import TINY_BERT, TINY_GPT2

from models.specs import MODELS, get_model
from models.weights import (
    INIT_STD,
    LayerWeights,
    ModelWeights,
    check_layer_weights,
    expected_shapes,
    random_hidden_states,
    random_weights,
)
from simflush.errors import ConfigError
from simflush.io.checkpoint import load_checkpoint


def assert_same_layers(a: ModelWeights, b: ModelWeights) -> None:
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers, strict=True):
        for f in fields(LayerWeights):
            x, y = getattr(la, f.name), getattr(lb, f.name)
            assert (x is None) == (y is None), f.name
            if x is not None:
                np.testing.assert_array_equal(x, y, err_msg=f.name)


# -- random weights ------------------------------------------------------------------------------------------

def test_random_weights_are_deterministic_for_a_seed():
    spec = get_model("bert-tiny")
    assert_same_layers(random_weights(spec, 7), random_weights(spec, 7))
    assert not np.array_equal(random_weights(spec, 7).layers[0].wqkv, random_weights(spec, 8).layers[0].wqkv)
    assert not np.array_equal(random_weights(spec, 7).layers[0].wqkv, random_weights(spec, 7).layers[1].wqkv)


def test_a_layer_does_not_depend_on_how_many_layers_are_drawn():
    spec = get_model("bert-tiny")
    assert_same_layers(random_weights(spec, 3, layers=1), ModelWeights(random_weights(spec, 3).layers[:1], ""))


def test_random_weights_have_the_stated_scale_and_shapes():
    spec = get_model("bert-tiny")
    w = random_weights(spec, 0)
    assert len(w.layers) == spec.n_layers and "seed=0" in w.origin
    for layer in w.layers:
        check_layer_weights(layer, spec)
        for name in ("wqkv", "wo", "w1", "w2"):
            m = getattr(layer, name)
            assert abs(m.mean()) < 0.05 * INIT_STD, name
            assert m.std() == pytest.approx(INIT_STD, rel=0.03), name
        # SUF's bench has no biases and no LayerNorm affine maps
        assert all(getattr(layer, f) is None for f in ("bqkv", "bo", "b1", "b2", "ln1_gamma", "ln1_beta"))


def test_std_sets_the_scale():
    w = random_weights(get_model("bert-tiny"), 0, layers=1, std=0.05)
    assert w.layers[0].w1.std() == pytest.approx(0.05, rel=0.03) and "std=0.05" in w.origin
    with pytest.raises(ValueError, match="std = 0: must be positive"):
        random_weights(get_model("bert-tiny"), 0, std=0)


def test_affine_draws_biases_and_layer_norm_parameters():
    spec = get_model("bert-tiny")
    layer = random_weights(spec, 0, layers=1, affine=True).layers[0]
    check_layer_weights(layer, spec)
    assert layer.ln1_gamma.mean() == pytest.approx(1.0, abs=0.01) and layer.ln2_beta.std() < 2 * INIT_STD
    assert layer.b1.std() == pytest.approx(INIT_STD, rel=0.2)


def test_q_k_v_are_the_thirds_of_wqkv():
    layer = random_weights(TINY_BERT, 0, layers=1).layers[0]
    d = TINY_BERT.d_model
    np.testing.assert_array_equal(np.concatenate([layer.wq, layer.wk, layer.wv], axis=1), layer.wqkv)
    assert layer.wq.shape == layer.wk.shape == layer.wv.shape == (d, d)


@pytest.mark.parametrize("name", list(MODELS))
def test_expected_shapes_follow_the_spec(name):
    spec = MODELS[name]
    shapes = expected_shapes(spec)
    assert shapes["wqkv"] == (spec.d_model, 3 * spec.d_model) and shapes["w2"] == (spec.d_ff, spec.d_model)
    assert set(shapes) == {f.name for f in fields(LayerWeights)}


def test_random_weights_refuse_a_layer_count_out_of_range():
    with pytest.raises(ValueError, match="layers = 3: bert-tiny has 1 to 2 layers"):
        random_weights(get_model("bert-tiny"), 0, layers=3)


def test_random_hidden_states_are_seeded_unit_normal():
    spec = get_model("bert-tiny")
    x = random_hidden_states(spec, 64, seed=1, batch=2)
    assert x.shape == (2, 64, spec.d_model) and x.std() == pytest.approx(1.0, rel=0.03)
    np.testing.assert_array_equal(x, random_hidden_states(spec, 64, seed=1, batch=2))


def test_check_layer_weights_names_the_bad_field():
    layer = random_weights(TINY_BERT, 0, layers=1).layers[0]
    bad = LayerWeights(layer.wqkv, layer.wo, layer.w1.T, layer.w2)
    with pytest.raises(ValueError, match=r"w1 has shape \(24, 16\); expected \(16, 24\) for tiny-bert"):
        check_layer_weights(bad, TINY_BERT)


# -- checkpoints: the test's own writers of each naming scheme ------------------------------------------------

def bert_checkpoint(w: ModelWeights, prefix: str = "", dtype=np.float64) -> dict[str, np.ndarray]:
    """HF BertModel names; nn.Linear weights (out, in), so every matrix is written transposed."""
    out = {f"{prefix}embeddings.word_embeddings.weight": np.zeros((30, 16)),   # not a layer tensor: ignored
           f"{prefix}pooler.dense.weight": np.zeros((16, 16))}
    for i, layer in enumerate(w.layers):
        p, d = f"{prefix}encoder.layer.{i}.", layer.wo.shape[0]
        for j, part in enumerate(("query", "key", "value")):
            out[f"{p}attention.self.{part}.weight"] = layer.wqkv[:, j * d:(j + 1) * d].T
            out[f"{p}attention.self.{part}.bias"] = layer.bqkv[j * d:(j + 1) * d]
        out[f"{p}attention.output.dense.weight"] = layer.wo.T
        out[f"{p}attention.output.dense.bias"] = layer.bo
        out[f"{p}attention.output.LayerNorm.weight"] = layer.ln1_gamma
        out[f"{p}attention.output.LayerNorm.bias"] = layer.ln1_beta
        out[f"{p}intermediate.dense.weight"] = layer.w1.T
        out[f"{p}intermediate.dense.bias"] = layer.b1
        out[f"{p}output.dense.weight"] = layer.w2.T
        out[f"{p}output.dense.bias"] = layer.b2
        out[f"{p}output.LayerNorm.weight"] = layer.ln2_gamma
        out[f"{p}output.LayerNorm.bias"] = layer.ln2_beta
    return {k: np.ascontiguousarray(v, dtype=dtype) for k, v in out.items()}


def gpt2_checkpoint(w: ModelWeights, prefix: str = "", dtype=np.float64) -> dict[str, np.ndarray]:
    """HF GPT2Model names; Conv1D weights (in, out), written as they are."""
    out = {f"{prefix}wte.weight": np.zeros((30, 16)), f"{prefix}ln_f.weight": np.ones(16)}
    for i, layer in enumerate(w.layers):
        p = f"{prefix}h.{i}."
        out |= {f"{p}ln_1.weight": layer.ln1_gamma, f"{p}ln_1.bias": layer.ln1_beta,
                f"{p}attn.bias": np.tril(np.ones((1, 1, 64, 64))),       # the causal-mask buffer: ignored
                f"{p}attn.c_attn.weight": layer.wqkv, f"{p}attn.c_attn.bias": layer.bqkv,
                f"{p}attn.c_proj.weight": layer.wo, f"{p}attn.c_proj.bias": layer.bo,
                f"{p}ln_2.weight": layer.ln2_gamma, f"{p}ln_2.bias": layer.ln2_beta,
                f"{p}mlp.c_fc.weight": layer.w1, f"{p}mlp.c_fc.bias": layer.b1,
                f"{p}mlp.c_proj.weight": layer.w2, f"{p}mlp.c_proj.bias": layer.b2}
    return {k: np.ascontiguousarray(v, dtype=dtype) for k, v in out.items()}


WRITERS = {"bert": (TINY_BERT, bert_checkpoint), "gpt2": (TINY_GPT2, gpt2_checkpoint)}


def write(tmp_path, tensors: dict, name: str = "model.safetensors"):
    path = tmp_path / name
    save_file(tensors, str(path))
    return path


def load_error(path, spec=TINY_BERT, **kw) -> str:
    with pytest.raises(ConfigError) as exc:
        load_checkpoint(path, spec, **kw)
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("family, prefix", [("bert", ""), ("bert", "bert."), ("gpt2", ""), ("gpt2", "transformer.")])
def test_checkpoint_round_trips_in_each_naming_scheme(tmp_path, family, prefix):
    spec, writer = WRITERS[family]
    weights = random_weights(spec, 5, affine=True)
    loaded = load_checkpoint(write(tmp_path, writer(weights, prefix)), spec)
    assert_same_layers(loaded, weights)
    assert loaded.origin == f"model.safetensors ({family} names)"
    for layer in loaded.layers:
        check_layer_weights(layer, spec)


def test_bert_matrices_are_transposed_from_out_in(tmp_path):
    weights = random_weights(TINY_BERT, 5, affine=True)
    tensors = bert_checkpoint(weights)
    loaded = load_checkpoint(write(tmp_path, tensors), TINY_BERT).layers[0]
    stored = tensors["encoder.layer.0.attention.output.dense.weight"]   # square: only the values tell
    np.testing.assert_array_equal(loaded.wo, stored.T)
    assert not np.allclose(loaded.wo, stored)
    d = TINY_BERT.d_model
    np.testing.assert_array_equal(loaded.wqkv[:, d:2 * d], tensors["encoder.layer.0.attention.self.key.weight"].T)


def test_checkpoint_loads_a_prefix_of_the_layers_and_half_precision(tmp_path):
    weights = random_weights(TINY_GPT2, 5, affine=True)
    loaded = load_checkpoint(write(tmp_path, gpt2_checkpoint(weights, dtype=np.float16)), TINY_GPT2, layers=1)
    assert len(loaded.layers) == 1 and loaded.layers[0].w1.dtype == np.float64
    np.testing.assert_allclose(loaded.layers[0].w1, weights.layers[0].w1, atol=1e-4)


def without(tensors: dict, name: str) -> dict:
    return {k: v for k, v in tensors.items() if k != name}


@pytest.fixture
def bert_tensors():
    return bert_checkpoint(random_weights(TINY_BERT, 5, affine=True))


def test_missing_tensor_is_named(tmp_path, bert_tensors):
    name = "encoder.layer.1.output.LayerNorm.bias"
    message = load_error(write(tmp_path, without(bert_tensors, name)))
    assert message.endswith(f"model.safetensors: missing tensor {name}; expected shape (16,) for tiny-bert")


def test_missing_layer_is_a_missing_tensor(tmp_path, bert_tensors):
    one_layer = {k: v for k, v in bert_tensors.items() if ".layer.1." not in k}
    message = load_error(write(tmp_path, one_layer))
    assert "missing tensor encoder.layer.1.attention.self.query.weight; expected shape (16, 16) (out, in)" in message


def test_mis_shaped_tensor_names_its_shape_and_the_expected_one(tmp_path, bert_tensors):
    name = "encoder.layer.0.intermediate.dense.weight"
    bert_tensors[name] = np.ascontiguousarray(bert_tensors[name].T)   # stored (in, out) by mistake
    message = load_error(write(tmp_path, bert_tensors))
    assert message.endswith(f"tensor {name} has shape (16, 24); expected (24, 16) (out, in), as nn.Linear stores it "
                            "for tiny-bert")


def test_gpt2_conv1d_weight_stored_out_in_is_mis_shaped(tmp_path):
    tensors = gpt2_checkpoint(random_weights(TINY_GPT2, 5, affine=True))
    tensors["h.0.attn.c_attn.weight"] = np.ascontiguousarray(tensors["h.0.attn.c_attn.weight"].T)
    message = load_error(write(tmp_path, tensors), TINY_GPT2)
    assert "tensor h.0.attn.c_attn.weight has shape (48, 16); expected (16, 48) (in, out), as Conv1D" in message


def test_wrong_dtype_is_named(tmp_path, bert_tensors):
    name = "encoder.layer.0.attention.self.query.weight"
    bert_tensors[name] = bert_tensors[name].astype(np.int32)
    assert load_error(write(tmp_path, bert_tensors)).endswith(f"tensor {name} has dtype I32; allowed: F16, F32, F64")


def test_non_finite_values_are_named(tmp_path, bert_tensors):
    name = "encoder.layer.0.output.dense.bias"
    bert_tensors[name][3] = np.nan
    assert f"tensor {name} holds NaN or infinite values" in load_error(write(tmp_path, bert_tensors))


@pytest.mark.parametrize("content", [b"", b"not a safetensors file at all, just text\n", b"\x08" + b"\x00" * 7 + b"{}"])
def test_garbage_and_empty_files_are_not_safetensors(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    assert load_error(path).startswith(f"{path}: not a safetensors file (")


def test_missing_file_and_directory(tmp_path):
    assert load_error(tmp_path / "nope.safetensors") == f"{tmp_path / 'nope.safetensors'}: cannot read checkpoint " \
                                                        "(no such file)"
    assert load_error(tmp_path).endswith("cannot read checkpoint (a directory)")


def test_unknown_naming_lists_the_allowed_schemes(tmp_path):
    message = load_error(write(tmp_path, {"encoder.blocks.0.wq": np.zeros((16, 16))}))
    assert "unknown tensor naming (encoder.blocks.0.wq, ...); allowed: bert or gpt2 names" in message


def test_llama_checkpoint_is_refused_with_the_reason(tmp_path):
    tensors = {f"model.layers.0.mlp.{m}_proj.weight": np.zeros((24, 16)) for m in ("gate", "up")}
    message = load_error(write(tmp_path, tensors), get_model("llama2-7b"))
    assert "model.layers.0.mlp.gate_proj.weight marks a LLaMA checkpoint: its SwiGLU MLP" in message


def test_family_must_fit_the_spec(tmp_path):
    path = write(tmp_path, gpt2_checkpoint(random_weights(TINY_GPT2, 5, affine=True)))
    message = load_error(path, TINY_BERT)
    assert message.endswith("a gpt2 checkpoint (causal, gelu) does not fit tiny-bert (not causal, gelu); "
                            "pick a model of the same kind")


def test_layer_count_out_of_range(tmp_path, bert_tensors):
    assert load_error(write(tmp_path, bert_tensors), layers=0) == "layers = 0: tiny-bert has 1 to 2 layers"
