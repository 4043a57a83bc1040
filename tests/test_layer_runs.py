"""The local work a layer's runs carry (what the cost model's run gaps and opens are charged on)."""

from dataclasses import replace

import pytest
from simhelpers import run_sim

from models.layer import transformer_layer
from models.specs import get_model
from simflush.profiles import resolve
from simflush.sim.cost import load_cost


@pytest.mark.parametrize("model", ["bert-base", "gpt2", "llama2-7b"])
def test_public_matmuls_carry_their_flops_and_copied_elements(model):
    spec = get_model(model)
    N, D, F = 128, spec.d_model, spec.d_ff
    runs = {r.name: r for r in transformer_layer(spec, 128, 1, resolve("suf-gpu-bench", spec).layer)}
    assert (runs["QKV_trunc"].local_flops_before, runs["QKV_trunc"].local_matmul_elems) == (2 * N * D * 3 * D,
                                                                                            N * 4 * D)
    assert runs["MLP_trunc2"].local_matmul_elems == N * (F + D)
    assert runs["Softmax"].local_flops_before == runs["Softmax"].local_matmul_elems == 0


def test_a_beaver_matmul_product_is_truncated_without_hidden_state_work_before_it():
    spec = get_model("bert-base")
    runs = transformer_layer(spec, 128, 1, resolve("suf-gpu-bench", spec).layer)
    idle = [r.name for r in runs if r.hidden_elems == 0]
    assert idle == ["Score_trunc", "Ctx_trunc"]
    assert {r.hidden_elems for r in runs if r.hidden_elems} == {128 * 768}


def test_a_wider_ring_costs_only_the_exchange_of_its_extra_bytes():
    """Packing and scattering are per word; the exchange through the ring is per packed byte."""
    cost = load_cost("suf-h100")
    words, threshold = 100_000, 1 << 18
    bytes37, bytes50 = 8 * -(-words * 37 // 64), 8 * -(-words * 50 // 64)
    t37, t50 = cost.open_local_s(words, bytes37, threshold), cost.open_local_s(words, bytes50, threshold)
    assert t50 - t37 == pytest.approx(cost.open_s_per_wire_byte * (bytes50 - bytes37))


def test_packing_on_the_gpu_above_the_threshold_replaces_host_pack_and_scatter():
    cost = load_cost("suf-h100")
    words, wire = 300_000, 8 * -(-300_000 * 37 // 64)
    host, device = cost.open_local_s(words, wire, 0), cost.open_local_s(words, wire, words)
    assert host - device == pytest.approx(
        (cost.open_host_pack_s_per_word + cost.open_host_scatter_s_per_word) * words
        - cost.open_device_pack_floor_s - cost.open_device_pack_s_per_word * words)


def test_opened_words_are_copied_to_the_gpu_only_after_a_host_packed_open():
    cost = load_cost("suf-h100")
    threshold = 1 << 18
    assert cost.gpu_stage_s(1000, threshold - 1, threshold) == pytest.approx(cost.gpu_stage_s_per_word * 1000)
    assert cost.gpu_stage_s(1000, threshold, threshold) == 0.0
    assert cost.gpu_stage_s(1000, threshold, 0) > 0          # no device packing: always copied


def test_score_matmul_pays_the_copy_of_its_host_packed_differences_and_ctx_matmul_does_not():
    """bert-base: Q.K^T's open (196,608 words) is packed on the host, P.V's (294,912) on the GPU."""
    # without the drift wait, which would carry the PFSS staging removed too into later opens' waits
    cost = replace(load_cost("suf-h100"), open_wait_per_s_apart=0.0)
    base = run_sim("bert-base", layers=1, cost=cost)
    free = run_sim("bert-base", layers=1, cost=replace(cost, gpu_stage_s_per_word=0.0))
    def run_s(result, name):
        return sum(s.end_s - s.start_s for s in result.parties[0].spans if s.run == name)
    assert run_s(base, "Score_matmul") - run_s(free, "Score_matmul") == pytest.approx(
        base.config.cost.gpu_stage_s_per_word * 196_608, rel=0.05)
    assert run_s(base, "Ctx_matmul") == pytest.approx(run_s(free, "Ctx_matmul"), rel=1e-6)


def test_task_families_without_a_calibrated_slope_get_the_mean_one():
    cost = load_cost("suf-h100")
    assert cost.step_s_per_word_of("decode_softmax") == cost.step_s_per_word["*"]
    assert min(cost.step_s_per_word.values()) <= cost.step_s_per_word["*"] <= max(cost.step_s_per_word.values())


def test_an_open_waits_for_the_peer_in_proportion_to_the_time_worked_apart_since_the_last_one():
    """The parties drift apart while each works alone: an open after a long stretch waits longer."""
    base = run_sim("bert-base", layers=1)
    cost = base.config.cost
    still = run_sim("bert-base", layers=1, cost=replace(cost, open_wait_per_s_apart=0.0))
    opens = [r for r in base.parties[0].records if r.event == "OPEN"]
    opens0 = [r for r in still.parties[0].records if r.event == "OPEN"]
    assert opens[0].duration_s == pytest.approx(opens0[0].duration_s)      # the first open: nothing before it
    extra = [a.duration_s - b.duration_s for a, b in zip(opens[1:], opens0[1:], strict=True)]
    assert all(e > 0 for e in extra) and max(extra) > 10 * min(extra)
    assert cost.open_wait_per_s_apart > 0
