"""Robust fitting, calibration from traces (simulated round trip and the measured bert-base trace)."""

import json
from dataclasses import replace

import numpy as np
import pytest
from paths import REPO
from simhelpers import run_sim

from simflush.analysis.calibration.calibrate import calibrate
from simflush.analysis.calibration.robust_fit import huber_fit
from simflush.analysis.calibration.samples import Source, config_of_trace, load_source
from simflush.api import simulate_config
from simflush.cli import main
from simflush.errors import ConfigError
from simflush.sim.cost import COST_SCHEMA_VERSION, load_cost
from simflush.sim.engine import simulate
from simflush.sim.trace import to_trace


def test_huber_recovers_line_despite_outliers_and_ci_covers_truth():
    rng = np.random.default_rng(7)
    x = rng.uniform(1e3, 4e5, 400)
    y = 20e-6 + 8e-9 * x + rng.normal(0, 5e-6, 400)
    y[::10] += 5e-3                                   # 10% gross outliers (a peer's skew)
    fit = huber_fit("g", np.c_[np.ones(400), x], y, ["floor", "slope"])
    lo, hi = fit.coef - 1.96 * fit.se, fit.coef + 1.96 * fit.se
    assert lo[1] <= 8e-9 <= hi[1] and abs(fit.coef[0] - 20e-6) < 5e-6
    ols = np.linalg.lstsq(np.c_[np.ones(400), x], y, rcond=None)[0]
    assert abs(ols[0] - 20e-6) > 10 * abs(fit.coef[0] - 20e-6)   # plain least squares is pulled away
    assert fit.quality()["outliers"] >= 40


def test_negative_estimate_is_dropped_and_refitted():
    x = np.arange(1.0, 50.0)
    fit = huber_fit("g", np.c_[np.ones(49), x], 3e-9 * x, ["floor", "slope"])
    assert fit.dropped == [] or fit.dropped == ["floor"]
    assert fit.coef[0] >= 0 and fit.coef[1] == pytest.approx(3e-9, rel=1e-3)


def test_calibrating_a_simulated_trace_recovers_the_cost_that_made_it():
    """Round trip: simulate bert-base (2 layers) with a known profile, calibrate from its trace."""
    truth = load_cost("suf-h100")
    result = run_sim("bert-base", layers=2)
    source = Source(to_trace(result), simulate_config(replace(result.config, layers=1)), None)
    cal = calibrate([source])
    got = cal.cost
    for name in ("open_floor_s", "open_s_per_wire_byte", "open_wait_per_s_apart", "open_host_pack_s_per_word",
                 "open_device_pack_floor_s",
                 "open_device_pack_s_per_word", "run_gap_floor_s", "run_gap_s_per_flop", "run_gap_s_per_matmul_elem",
                 "run_gap_s_per_elem"):
        assert getattr(got, name) == pytest.approx(getattr(truth, name), rel=0.02), name
    # the step floor is the mean of the idle steps, whose few words still cost a little
    assert truth.step_floor_s <= got.step_floor_s <= 1.05 * truth.step_floor_s
    for gate in ("GapARS", "FaithfulARS", "nExp", "ReLU", "GeLUConst"):
        assert got.pfss_s_per_elem[gate] == pytest.approx(truth.pfss_s_per_elem[gate], rel=0.05), gate
        assert got.pfss_finish_s_per_elem[gate] == pytest.approx(truth.pfss_finish_s_per_elem[gate], rel=0.02)
    assert got.pfss_floor_s == pytest.approx(truth.pfss_floor_s, rel=0.05)
    for family in ("trunc", "layernorm", "attention_softmax", "matmul", "cubic"):
        assert got.step_s_per_word[family] == pytest.approx(truth.step_s_per_word[family], rel=0.02), family
    assert got.step_s_per_matmul_out == pytest.approx(truth.step_s_per_matmul_out, rel=0.05, abs=1e-11)
    assert got.gpu_stage_s_per_word == pytest.approx(truth.gpu_stage_s_per_word, rel=0.05)
    again = simulate(replace(result.config, cost=got)).online_time_s
    assert again == pytest.approx(result.online_time_s, rel=0.01)


def test_per_family_step_floors_come_back_from_a_trace_made_with_them():
    """A profile whose local steps cost their family's floor and nothing a word (as the real backend's, whose steps
    cost their launches), simulated and calibrated back with ``step_floors="family"``: each family's floor, and the
    run's time, come back; the default fit keeps one floor for all."""
    floors = {"attention_softmax": 300e-6, "layernorm": 200e-6, "trunc": 60e-6, "matmul": 150e-6, "cubic": 90e-6}
    truth = replace(load_cost("suf-h100"), step_floor_s_per_family=floors, step_s_per_matmul_out=0.0,
                    step_s_per_word=dict.fromkeys([*floors, "*"], 0.0))
    result = run_sim("bert-base", layers=2, cost=truth)
    source = Source(to_trace(result), simulate_config(replace(result.config, layers=1)), None)
    got = calibrate([source], step_floors="family").cost
    assert got.provenance["step_floors"] == "family"
    for family, floor in floors.items():
        assert got.step_floor_s_per_family[family] == pytest.approx(floor, rel=0.05), family
    assert simulate(replace(result.config, cost=got)).online_time_s == pytest.approx(result.online_time_s, rel=0.01)
    assert calibrate([source]).cost.step_floor_s_per_family == {}
    with pytest.raises(ConfigError, match="--step-floors 'each': allowed: idle, family"):
        calibrate([source], step_floors="each")


@pytest.fixture(scope="module")
def bert_profile(tmp_path_factory, golden):
    out = tmp_path_factory.mktemp("cal") / "h100.json"
    code = main(["calibrate", "--trace", str(golden / "gpu_h100_trace_bert-base.txt.gz"),
                 "--bench", str(golden / "gpu_h100_traced_bert-base.json"),
                 "--untraced", str(golden / "gpu_h100_prof_bert-base.json"), "--device", "H100", "--out", str(out)])
    assert code == 0
    return out


def test_calibrate_cli_writes_profile_with_provenance_intervals_and_plot(bert_profile, golden):
    import hashlib
    cost = load_cost(str(bert_profile))
    prov = cost.provenance
    assert prov["level"] == "untraced" and prov["runtime_profile"] == "suf-gpu-bench" and prov["device"] == "H100"
    digest = hashlib.sha256((golden / "gpu_h100_trace_bert-base.txt.gz").read_bytes()).hexdigest()
    assert prov["sources"][0]["sha256"] == digest
    assert all(0 < s < 1.2 for s in prov["untraced_scale"].values())
    for group in ("open_pack_host", "open_pack_device", "open_exchange", "pfss_eval", "pfss_finish", "step", "run_gap"):
        params = cost.fits[group]["params"]
        for p in params.values():
            assert p["ci95"][0] <= p["estimate"] <= p["ci95"][1]
        assert cost.fits[group]["quality"]["n"] > 10
    # a fitted (not fixed, not dropped) parameter has an uncertainty, whatever its scale (the wait is
    # per second apart, the exchange per byte: 1e-3 against 1e6 in one design)
    for name, p in cost.fits["open_exchange"]["params"].items():
        assert p["se"] > 0, name
    assert bert_profile.with_suffix(".png").stat().st_size > 10_000


def test_profile_of_another_schema_version_is_exit_2(bert_profile, tmp_path, capsys, golden):
    doc = json.loads(bert_profile.read_text())
    doc["schema_version"] = COST_SCHEMA_VERSION - 1
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc, indent=2))
    code = main(["validate", "--measured", str(golden / "gpu_h100_prof_bert-base.json"), "--cost", str(old)])
    err = capsys.readouterr().err
    assert code == 2 and "old.json:" in err and "schema_version" in err


def test_foreign_runtime_profile_is_reported(bert_profile):
    cost = load_cost(str(bert_profile))
    assert cost.foreign_use("suf-gpu-bench") == []
    assert "suf-gpu-bench" in cost.foreign_use("suf-cpu-bench")[0]
    with pytest.warns(UserWarning, match="calibrated on device"):
        from simflush.sim.cost import warn_if_foreign
        warn_if_foreign(cost, "suf-gpu-bench", "A100")


def test_matmul_kernel_share_of_run_gaps_comes_from_the_bench_timer(bert_profile, golden):
    """With --untraced, the public matmul's per-flop cost is its measured kernel timer, not a fit."""
    from models.layer import transformer_layer
    from models.specs import get_model
    from simflush.profiles import resolve
    bench = json.loads((golden / "gpu_h100_prof_bert-base.json").read_text())
    m = get_model("bert-base")
    flops = sum(r.local_flops_before for r in transformer_layer(m, 128, 1, resolve("suf-gpu-bench", m).layer))
    want = bench["online_profile"]["matmul_kernel_ns"] / 2e9 / (12 * flops)
    assert load_cost(str(bert_profile)).run_gap_s_per_flop == pytest.approx(want, rel=1e-9)


def test_floors_are_those_of_idle_gaps_not_the_intercept_of_big_ones(bert_profile):
    """A step with no words around it and a run with no work before it cost tens of µs (the trace's
    idle gaps), not the intercept a fit through bert-base's big gaps would give (~70 µs and ~360 µs)."""
    cost = load_cost(str(bert_profile))
    assert 5e-6 < cost.step_floor_s < 40e-6
    assert 1e-6 < cost.run_gap_floor_s < 40e-6
    assert cost.fits["step"]["quality"]["sum_rel_err"] == pytest.approx(0.0, abs=1e-4)   # totals kept
    assert cost.fits["open_exchange"]["quality"]["sum_rel_err"] == pytest.approx(0.0, abs=1e-4)


def test_a_trace_in_simflushs_schema_is_simulated_with_its_own_knobs_and_policy(tmp_path):
    """``load_source`` of a trace in simflush's schema (a real backend's, gzipped as it writes them): the schedule
    it is matched against is the one of the knobs, policy and chains it records, not the bench defaults."""
    import gzip

    from simflush.analysis.calibration.samples import load_source
    result = run_sim("bert-tiny", layers=1, sets=("rsqrt_iters=2",), policy="have_pfss_work", chains=2)
    path = tmp_path / "run.trace.json.gz"
    path.write_bytes(gzip.compress(to_trace(result).to_json().encode()))
    source = load_source(path, None)
    assert source.result.config.settings.env["rsqrt_iters"] == "2"
    assert source.result.config.policy == "have_pfss_work" and source.result.config.settings.layer.chains == 2
    assert [f.words for f in source.result.trace.flushes] == [
        f.words for f in to_trace(result).flushes if f.layer == 0]


def test_a_real_backend_gpu_trace_calibrates_with_every_open_packed_on_the_gpu():
    """Its opens are all packed on the GPU: the host path is costed as the device's, and the schedule it is matched
    against packs every open there too (a trace from before the knob was recorded reads as saying so)."""
    path = REPO / "validation/real_backend_h200/calibration_host_clock/bert-base_T128_L1_r0.trace.json.gz"
    source = load_source(path, None)
    assert "SUF_OPEN_PACK_DEVICE_MIN_WORDS" not in source.trace.meta.settings   # a run of 2026-12-01
    later = REPO / "validation/real_backend_h200/calibration/bert-base_T128_L1_r0.trace.json.gz"
    assert load_source(later, None).trace.meta.settings["SUF_OPEN_PACK_DEVICE_MIN_WORDS"] == "1"
    assert config_of_trace(source.trace.meta).settings.device_pack_min_words == 1
    assert all(f.device for f in source.trace.flushes if f.kind == "OPEN")
    cost = calibrate([source]).cost
    assert cost.open_host_pack_s_per_word == cost.open_device_pack_s_per_word > 0
    assert cost.open_host_scatter_s_per_word == 0 and cost.provenance["sources"][0]["file"] == path.name


def test_a_real_backend_profile_records_how_its_traces_built_their_interval_keys():
    """Traces from before the fold read as fold 0 at their ring, and the profile says so (its SUF gates' traced costs
    are that construction's); traces of two constructions are refused in one line."""
    from simflush.errors import ConfigError
    path = REPO / "validation/real_backend_h200/calibration_fold0/bert-base_T128_L1_r0.trace.json.gz"
    source = load_source(path, None)
    assert "interval_fold" not in source.trace.meta.settings
    assert calibrate([source]).cost.provenance["interval_build"] == {"ring_bits": 48, "fold": 0}
    folded = load_source(REPO / "validation/real_backend_h200/calibration/bert-base_T128_L1_r0.trace.json.gz", None)
    assert folded.trace.meta.settings["interval_fold"] == "2"
    assert calibrate([folded]).cost.provenance["interval_build"] == {"ring_bits": 48, "fold": 2}
    with pytest.raises(ConfigError, match=r"built their interval keys differently \(ring_bits=48 interval_fold=0, "
                                          r"ring_bits=48 interval_fold=2\)"):
        calibrate([source, folded])


def test_a_trace_of_a_two_gpu_run_is_simulated_two_gpu():
    """A real run's trace says where its parties ran (``--deploy``): its schedule and prediction use that deployment
    (no GPU shared between the parties); a trace that says nothing is colocated."""
    path = REPO / "validation/real_backend_h200/calibration/bert-base_T128_L1_r0.trace.json.gz"
    meta = load_source(path, None).trace.meta
    assert config_of_trace(meta).deploy == "colocated"
    assert config_of_trace(replace(meta, deploy="two-gpu")).deploy == "two-gpu"
