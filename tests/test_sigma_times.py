"""The ``sigma-a6000`` preset's predictions of SIGMA's online times (paper Tables 5, 7, 8), and the preset
itself: derived by ``simflush.sim.sigma_preset`` from the 1M-GeLU microbenchmark and the A6000 data sheet,
never fitted to these tables.

Each prediction's error is recorded here and in docs/sigma.md. A prediction within 15 % must stay there;
every one must stay within 1 percentage point of its recorded error, so that a change cannot drift silently.
"""

import json

import pytest

import simflush
from models.layer import RunSpec, TaskSpec
from simflush.api import make_config
from simflush.presets import COST_PRESETS
from simflush.sim.engine import Simulation
from simflush.sim.sigma_preset import derive

TABLE5_LAN_S = {"bert-tiny": 0.09, "bert-base": 1.72, "bert-large": 4.44, "gpt2": 1.51, "gpt-neo-1.3b": 7.19,
                "llama2-7b": 23.09, "llama2-13b": 37.59}
TABLE7_WAN_MIN = {"bert-tiny": 0.12, "bert-base": 0.92, "bert-large": 2.04, "gpt2": 0.88, "gpt-neo-1.3b": 2.50,
                  "llama2-7b": 5.72, "llama2-13b": 8.34}
TABLE8_LAN_S = {64: 0.86, 128: 1.54, 256: 3.06, 512: 7.50, 1024: 21.36}
# error of the prediction, percent (docs/sigma.md says which term each miss comes from)
RECORDED_LAN = {"bert-tiny": -40.1, "bert-base": 20.0, "bert-large": 24.4, "gpt2": 17.3, "gpt-neo-1.3b": 29.4,
                "llama2-7b": 34.0, "llama2-13b": 36.2}
RECORDED_WAN = {"bert-tiny": -7.2, "bert-base": -2.8, "bert-large": -3.8, "gpt2": -3.2, "gpt-neo-1.3b": -6.4,
                "llama2-7b": -10.6, "llama2-13b": -10.5}
RECORDED_GPT2_SWEEP = {64: 3.4, 128: 15.0, 256: 30.2, 512: 36.2, 1024: 40.0}


def predicted_s(model: str, net: str, seq_len: int = 128) -> float:
    result = simflush.simulate(model=model, seq_len=seq_len, layers=1, runtime="sigma-gpu", policy="sigma",
                               net=net, deploy="two-gpu", cost="sigma-a6000")
    return result.online_time_s * result.config.model.n_layers  # every block takes the same time


def check(error_pct: float, recorded: float) -> None:
    assert abs(error_pct - recorded) <= 1.0, (error_pct, recorded)
    if abs(recorded) < 15:
        assert abs(error_pct) < 15, error_pct


def test_preset_is_the_derivation():
    shipped = json.loads(COST_PRESETS.get("sigma-a6000").read_text())
    assert shipped == json.loads(derive().to_json())


@pytest.mark.parametrize("model", sorted(TABLE5_LAN_S))
def test_table5_lan(model):
    check(100 * (predicted_s(model, "lan") / TABLE5_LAN_S[model] - 1), RECORDED_LAN[model])


@pytest.mark.parametrize("model", sorted(TABLE7_WAN_MIN))
def test_table7_wan(model):
    check(100 * (predicted_s(model, "wan") / (60 * TABLE7_WAN_MIN[model]) - 1), RECORDED_WAN[model])


@pytest.mark.parametrize("seq_len", sorted(TABLE8_LAN_S))
def test_table8_gpt2_sweep(seq_len):
    check(100 * (predicted_s("gpt2", "lan", seq_len) / TABLE8_LAN_S[seq_len] - 1), RECORDED_GPT2_SWEEP[seq_len])


def test_preset_gives_back_its_microbenchmark():
    """One million GeLUs at the test's ring (48 bits, Llama2's) take the 34 + 16 + 20 = 70 ms they were
    derived from: the derivation and the simulated protocol agree."""
    config = make_config(model="llama2-7b", layers=1, runtime="sigma-gpu", policy="sigma", net="lan",
                         deploy="two-gpu", cost="sigma-a6000")
    sim = Simulation(config)
    sim.runs = [RunSpec("GeLU", "GeLU", (TaskSpec("sigma_activation", {"elems": 10 ** 6, "silu": False}),), "act",
                        planner=False)]
    assert sim.run().online_time_s == pytest.approx(0.070, rel=0.005)
