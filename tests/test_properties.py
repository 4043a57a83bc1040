"""Hypothesis properties: per-layer counts follow the spec's closed forms, and structural invariants."""

from closed_forms import layer_counts, wire_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simhelpers import run_sim

from models.specs import get_model
from simflush.errors import SufRuntimeError
from simflush.io.bench_json import bench_document
from simflush.sim.trace import to_trace

# (model, activation override) covering dense/causal and GeLU-const / GeLU-spline / SiLU
CASES = [("bert-tiny", "SUF_GELU_CONST=1"), ("bert-tiny", "SUF_GELU_CONST=0"), ("gpt2", "SUF_GELU_CONST=1"),
         ("gpt2", "SUF_GELU_CONST=0"), ("llama2-7b", "SUF_GELU_CONST=1")]
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _layer0(result):
    return [r for r in result.parties[0].records if r.layer == 0]


@FAST
@given(case=st.sampled_from(CASES), T=st.integers(2, 160), B=st.integers(1, 3),
       i_r=st.integers(0, 3), i_c=st.integers(0, 3))
def test_layer_counts_follow_closed_forms(case, T, B, i_r, i_c):
    model_name, act = case
    m = get_model(model_name)
    full_cubic = m.activation == "silu" or act.endswith("=0")
    want = layer_counts(B, T, m.d_model, m.n_heads, m.d_ff, m.causal, full_cubic, i_r, i_c)
    try:
        result = run_sim(model_name, T, B, layers=1, sets=(act, f"rsqrt_iters={i_r}", f"recip_iters={i_c}"))
    except SufRuntimeError:  # only where some single reservation exceeds SUF's 2^23-word open cap
        assert want["largest_open"] > 1 << 23
        return
    recs = _layer0(result)
    opens = [r for r in recs if r.event == "OPEN"]
    pfss = [r for r in recs if r.event == "PFSS"]
    assert len(opens) == want["open_flushes"]
    assert len(pfss) == want["pfss_flushes"] == sum(r.jobs for r in pfss)
    assert sum(r.words_mask for r in opens) == want["opened_words_mask"]
    assert sum(r.words_beaver for r in opens) == want["opened_words_beaver"]
    assert sum(r.words for r in pfss) == want["hatx_words"]
    assert [r.wire_bytes for r in opens] == [wire_bytes(r.words, m.n_bits) for r in opens]


@FAST
@given(case=st.sampled_from(CASES), T=st.integers(2, 64), B=st.integers(1, 2))
def test_every_mask_open_feeds_one_pfss_job_of_its_size(case, T, B):
    recs = _layer0(run_sim(case[0], T, B, layers=1, sets=(case[1],)))
    for i, r in enumerate(recs):
        if r.event == "OPEN" and r.words_mask:
            assert r.words_beaver == 0
            nxt = recs[i + 1]
            assert (nxt.event, nxt.words, nxt.jobs) == ("PFSS", r.words_mask, 1)
    assert sum(r.event == "PFSS" for r in recs) == sum(r.event == "OPEN" and r.words_mask > 0 for r in recs)


@settings(max_examples=10, deadline=None)
@given(model=st.sampled_from(["bert-tiny", "bert-base", "gpt2"]), T=st.integers(2, 48), layers=st.integers(1, 4))
def test_counts_scale_linearly_with_layers(model, T, layers):
    one = bench_document(to_trace(run_sim(model, T, layers=1)))
    many = bench_document(to_trace(run_sim(model, T, layers=layers)))
    for key in ("open_flushes", "num_flushes", "opened_words", "total_hatx_words"):
        assert many["pfss"][key] == layers * one["pfss"][key]
    assert many["communication"]["net_bytes"] == layers * one["communication"]["net_bytes"]
    assert one["pfss"]["open_flushes"] == 2 * one["per_party_per_layer"]["open_flushes"]


@FAST
@given(T=st.integers(1, 24), B=st.integers(1, 2))
def test_decode_path_counts(T, B):
    """Causal models without prefill (spec §4.3): per token a score-matmul run, a score-trunc run and
    a softmax run whose rows each do a matmul open and a Dh truncation."""
    m = get_model("gpt2")
    recs = _layer0(run_sim("gpt2", T, B, layers=1, sets=("SUF_CAUSAL_PREFILL=0",)))
    rows = B * m.n_heads
    token_opens = sum(1 + 1 + (cur - 1).bit_length() + 15 + 2 * rows for cur in range(1, T + 1))
    token_pfss = sum(1 + (cur - 1).bit_length() + 8 + rows for cur in range(1, T + 1))
    # LN1, QKV, OutProj, LN2, MLP (GeLU const) as in prefill
    assert sum(r.event == "OPEN" for r in recs) == 12 + 1 + token_opens + 1 + 12 + 3
    assert sum(r.event == "PFSS" for r in recs) == 7 + 1 + token_pfss + 1 + 7 + 3
    score = [r for r in recs if r.run.startswith("Score_matmul@") and r.event == "OPEN"]
    assert [r.words_beaver for r in score] == [rows * m.head_dim * (1 + cur) for cur in range(1, T + 1)]
