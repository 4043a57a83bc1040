"""benchmarks/real_runs.py: configs read from their specs and back, and runs planned in rounds (no GPU: no run)."""
import sys

import pytest
from paths import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import real_runs
from real_runs import RunConfig


def test_a_config_reads_back_from_its_spec_and_names_its_files():
    c = RunConfig.parse("policy=have_pfss_work,chains=2,net=wan,SUF_INV_MODE=sigma_gpu,inv_sigma_muls=0")
    assert c == RunConfig("have_pfss_work", 2, "wan", ("SUF_INV_MODE=sigma_gpu", "inv_sigma_muls=0"))
    assert RunConfig.parse(c.spec()) == c and RunConfig.parse("") == RunConfig()
    assert RunConfig.parse("net=custom:1,5,chains=3") == RunConfig(chains=3, net="custom:1,5")
    assert c.tag() == "policy-have_pfss_work_chains-2_net-wan_SUF_INV_MODE-sigma_gpu_inv_sigma_muls-0"
    assert real_runs.stem(REPO, "bert-base:128:1", RunConfig(), 2).name == "bert-base_T128_L1_r2"


@pytest.mark.parametrize("bad", ["chains=0", "policy", "rsqrt_iters="])
def test_a_bad_config_is_one_line_naming_it(bad, capsys):
    with pytest.raises(SystemExit):
        real_runs.parse(["--out", "x", "--config", bad])
    assert f"--config {bad!r}" in capsys.readouterr().err


def test_runs_go_in_rounds_every_configuration_once_a_round():
    configs = [RunConfig(), RunConfig(knobs=("rsqrt_iters=2",))]
    order = real_runs.plan(["bert-tiny:16:1", "gpt2:16:1"], configs, 2)
    assert len(order) == 8 and [i for i, *_ in order] == [0] * 4 + [1] * 4
    assert order[:4] == [(0, case, c) for case in ("bert-tiny:16:1", "gpt2:16:1") for c in configs]


def test_a_config_can_set_the_ring():
    c = RunConfig.parse("n_bits=52,SUF_RSQRT_MODE=sigma_gpu")
    assert c == RunConfig(knobs=("SUF_RSQRT_MODE=sigma_gpu",), n_bits=52) and RunConfig.parse(c.spec()) == c
    assert c.args()[c.args().index("--n-bits") + 1] == "52" and "n_bits-52" in c.tag()
    with pytest.raises(ValueError, match="n_bits=x"):
        RunConfig.parse("n_bits=x")


def test_a_config_can_set_the_channels_spin():
    c = RunConfig.parse("spin_us=500,rsqrt_iters=2")
    assert c == RunConfig(knobs=("rsqrt_iters=2",), spin_us=500) and RunConfig.parse(c.spec()) == c
    assert c.args()[c.args().index("--spin-us") + 1] == "500" and "spin_us-500" in c.tag()
    assert RunConfig.parse("spin_us=0").spin_us == 0 and "--spin-us" not in RunConfig().args()
    with pytest.raises(ValueError, match="spin_us=-1"):
        RunConfig.parse("spin_us=-1")


def test_a_config_can_set_the_rehearsals_length():
    c = RunConfig.parse("rehearse_tokens=128")
    assert c == RunConfig(rehearse_tokens=128) and RunConfig.parse(c.spec()) == c
    assert c.args()[c.args().index("--rehearse-tokens") + 1] == "128" and "rehearse_tokens-128" in c.tag()
    assert "--rehearse-tokens" not in RunConfig().args()
    with pytest.raises(ValueError, match="rehearse_tokens=0"):
        RunConfig.parse("rehearse_tokens=0")
    c = RunConfig.parse("keys_own_pool=1,rehearse_tokens=128")
    assert c.keys_own_pool and RunConfig.parse(c.spec()) == c and "--keys-own-pool" in c.args()
    assert "--keys-own-pool" not in RunConfig.parse("keys_own_pool=0").args()
    with pytest.raises(ValueError, match="keys_own_pool=yes"):
        RunConfig.parse("keys_own_pool=yes")


def test_warm_up_runs_are_the_first_pair_kept_out_of_the_rounds(tmp_path, monkeypatch):
    calls = []

    def fake_run(args, i, case, config):
        calls.append((args.out.name, i, case, config.spec()))
        return {"file": f"{case}_{i}", "online_s": 0.1, "keygen_s": 1.0, "bit_exact": True, "schedule_equal": True}

    monkeypatch.setattr(real_runs, "run_one", fake_run)
    monkeypatch.setattr(sys, "argv", ["real_runs.py", "--out", str(tmp_path), "--warm-up", "2", "--runs", "1",
                                      "--case", "bert-tiny:2:1", "--case", "gpt2:2:1", "--config", "rsqrt_iters=2"])
    real_runs.main()
    assert calls[:2] == [("warm-up", 0, "bert-tiny:2:1", "rsqrt_iters=2"), ("warm-up", 1, "bert-tiny:2:1",
                                                                             "rsqrt_iters=2")]
    assert [c[0] for c in calls[2:]] == [tmp_path.name] * 2
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 2 and (tmp_path / "warm-up").is_dir()
