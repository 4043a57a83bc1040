"""The checklist's closed forms against the simulator's schedule (the oracle) and the golden counters."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.specs import MODELS, get_model
from simflush.analysis.checklist.counts import BENCH_FIELDS, build_checklist, flush_sequence
from simflush.errors import ConfigError, SufRuntimeError
from simflush.profiles import resolve
from simflush.sim.schedule import flush_schedule

# every variant knob with the values it takes (contradictory combinations are dropped by resolve)
VARIANTS = {
    "rsqrt_iters": ["0", "1", "2", "3", "4"], "recip_iters": ["0", "1", "2", "3", "4"],
    "rsqrt_init_mode": ["local", "mul_trunc"], "SUF_RSQRT_MODE": ["suf", "sigma_gpu"],
    "SUF_ROWMAX_MODE": ["suf", "sigma_gpu"], "SUF_NEXP_MODE": ["suf", "sigma_gpu"],
    "SUF_INV_MODE": ["suf", "sigma_gpu"], "inv_sigma_muls": ["0", "1", "2", "3"],
    "SUF_GELU_MODE": ["suf", "sigma_gpu"], "SUF_GELU_CONST": ["0", "1"],
    "sigma_fss_via_pfss_batch": ["0", "1"], "nexp_final_trunc": ["0", "1"], "prob_trunc": ["0", "1"],
    "SOFTMAX_TRUNC_REF": ["0", "1"], "SUF_BENCH_DEVICE_PIPELINE": ["0", "1"], "SUF_LN_GPU": ["0", "1"],
    "SUF_PER_ELEMENT_MASKS": ["0", "1"], "SUF_BENCH_EAGER_PFSS": ["0", "1"],
    "SUF_MATMUL_BEAVER_BATCHED": ["0", "1"], "SUF_CAUSAL_PREFILL": ["0", "1"],
    "SUF_OPEN_PACK_EFFBITS": ["0", "1"], "SUF_OPEN_PACK_NO_NEGOTIATE": ["0", "1"],
}
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def configurations(draw):
    model = get_model(draw(st.sampled_from(sorted(MODELS))))
    overrides = draw(st.dictionaries(st.sampled_from(sorted(VARIANTS)), st.none(), max_size=8))
    overrides = {k: draw(st.sampled_from(VARIANTS[k])) for k in overrides}
    runtime = draw(st.sampled_from(["suf-gpu-bench", "suf-cpu-bench"]))
    causal_decode = model.causal and overrides.get("SUF_CAUSAL_PREFILL") == "0"
    T = draw(st.integers(1, 6 if causal_decode else 40))
    B = draw(st.integers(1, 2))
    try:
        s = resolve(runtime, model, overrides)
    except ConfigError:
        s = resolve(runtime, model, {})
    return model, T, B, s


def _sim_runs(model, T, B, s, policy="suf"):
    by_run: dict[str, list] = {}
    for r in flush_schedule(model, T, B, s, 1, policy):
        by_run.setdefault(r.run, []).append(r)
    return by_run


@FAST
@given(cfg=configurations(), policy=st.sampled_from(["suf", "have_pfss_work", "pfss_eager"]))
def test_closed_forms_equal_the_simulated_schedule(cfg, policy):
    model, T, B, s = cfg
    try:
        sim = _sim_runs(model, T, B, s, policy)
    except SufRuntimeError:  # a single reservation over SUF's caps: the checklist still counts it
        return
    check = build_checklist(model, T, B, s, 1)
    for run in check.runs:
        recs = sim.get(run.name, [])
        opens = [r for r in recs if r.event == "OPEN"]
        pfss = [r for r in recs if r.event == "PFSS"]
        c = run.counts
        assert c.open_flushes == len(opens), run.name
        assert c.pfss_flushes == len(pfss), run.name
        assert c.pfss_jobs == sum(r.jobs for r in pfss)
        assert c.words_beaver == sum(r.words_beaver for r in opens)
        assert c.words_mask == sum(r.words_mask for r in opens)
        assert c.hatx_words == sum(r.words for r in pfss)
        assert c.wire_bytes == sum(r.wire_bytes for r in opens)
        if policy == "suf":  # the implied order, sizes and branches, flush by flush
            predicted = [(f.event, f.open_kind, f.words, f.jobs, f.branch) for f in flush_sequence(run)]
            assert predicted == [(r.event, r.open_kind, r.words, r.jobs, r.branch) for r in recs], run.name


def test_direct_fss_counts_replace_pfss_flushes():
    m = get_model("bert-base")
    sets = {"SUF_NEXP_MODE": "sigma_gpu", "SUF_GELU_MODE": "sigma_gpu", "SUF_ROWMAX_MODE": "sigma_gpu"}
    via = build_checklist(m, 128, 1, resolve("suf-gpu-bench", m, {**sets, "sigma_fss_via_pfss_batch": "1"}))
    direct = build_checklist(m, 128, 1, resolve("suf-gpu-bench", m, {**sets, "sigma_fss_via_pfss_batch": "0"}))
    K = 7
    assert via.per_layer.pfss_flushes - direct.per_layer.pfss_flushes == K + 1 + 1
    assert direct.per_layer.direct_fss == K + 2 and via.per_layer.direct_fss == 0
    assert via.per_layer.open_flushes == direct.per_layer.open_flushes


def test_bert_base_matches_the_measured_bench_counters(golden):
    bench = json.loads((golden / "gpu_h100_prof_bert-base.json").read_text())
    m = get_model("bert-base")
    check = build_checklist(m, 128, 1, resolve("suf-gpu-bench", m, {}))
    for field, name in BENCH_FIELDS.items():
        section, key = field.split(".")
        assert getattr(check.bench, name) == bench[section][key], field
    assert (check.per_layer.open_flushes, check.per_layer.pfss_flushes) == (55, 36)


def test_cpu_bert_tiny_matches_the_measured_bench_counters(golden):
    bench = json.loads((golden / "cpu_bt_cpu.json").read_text())
    m = get_model("bert-tiny")
    check = build_checklist(m, 128, 1, resolve("suf-cpu-bench", m, {"SUF_GELU_CONST": "1"}))
    for field, name in BENCH_FIELDS.items():
        section, key = field.split(".")
        assert getattr(check.bench, name) == bench[section][key], field


def test_staggered_chains_are_refused():
    m = get_model("bert-tiny")
    with pytest.raises(ConfigError, match="--chains 1"):
        build_checklist(m, 16, 1, resolve("suf-gpu-bench", m, {}, chains=2))


def test_phase_counts_and_unknown_phase():
    m = get_model("bert-base")
    check = build_checklist(m, 128, 1, resolve("suf-gpu-bench", m, {}))
    assert check.phase_counts("Softmax").open_flushes == 22 + 1 + 1
    assert check.phase_counts("LN1").open_flushes == 12
    with pytest.raises(ConfigError, match="unknown phase 'LN3'"):
        check.phase_counts("LN3")
