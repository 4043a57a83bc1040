"""validation/real_whatifs.py: predictions on record with their commit, the runs that measure them, and the check
of predicted against measured speed-ups (on runs written here, not measured ones)."""
import json
import sys

import pytest
from paths import REPO

sys.path.insert(0, str(REPO / "validation"))
import real_whatifs


@pytest.fixture(scope="module")
def predictions():
    return real_whatifs.predict("bert-tiny", 16, 1, "suf-h100")


def test_predictions_carry_their_commit_and_a_speedup_per_whatif(predictions):
    assert len(predictions["commit"]) == 40 and predictions["cost"] == "suf-h100"
    rows = predictions["whatifs"]
    assert [r["name"] for r in rows] == [w.name for w in real_whatifs.WHATIFS]
    for r in rows:
        assert r["speedup"] == pytest.approx(r["base_s"] / r["variant_s"]) and r["base_s"] > 0
    assert len({round(r["speedup"], 6) for r in rows}) > 1   # the variants do move the time


def test_the_command_measures_each_configuration_once_in_rounds(predictions):
    line = real_whatifs.command(predictions, "OUT")
    configs = [c.strip("'") for c in line.split(" --config ")[1:]]
    distinct = {real_whatifs.key(real_whatifs._config(w[k]))
                for w in predictions["whatifs"] for k in ("base", "variant")}
    assert "--case bert-tiny:16:1" in line and len(configs) == len(set(configs)) == len(distinct)
    assert "policy=have_pfss_work,chains=2,net=wan" in configs
    assert "SUF_INV_MODE=sigma_gpu,inv_sigma_muls=0" in configs
    assert "" in configs   # the runtime's defaults: the base of every knob what-if, measured once


def test_check_takes_medians_and_compares_speedups(predictions, tmp_path):
    first = predictions["whatifs"][0]
    runs = []

    def add(config, seconds, exact=True):
        runs.append({"case": "bert-tiny:16:1", "policy": config["policy"], "chains": config["chains"],
                     "net": config["net"], "knobs": config["knobs"], "online_s": seconds, "bit_exact": exact,
                     "schedule_equal": True})

    for s in (1.0, 1.1, 5.0):                  # median 1.1
        add(first["base"], s)
    for s in (0.5, 0.55, 0.6):                 # median 0.55: measured speed-up 2.0
        add(first["variant"], s)
    add(first["variant"], 0.01, exact=False)   # a run that is not bit-exact is left out
    (tmp_path / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    rows = real_whatifs.check(predictions, tmp_path / "runs.jsonl")
    assert rows[0]["measured"] == pytest.approx(2.0) and rows[0]["runs"] == (3, 3)
    assert rows[0]["ratio"] == pytest.approx(first["speedup"] / 2.0)
    assert rows[0]["range"] == pytest.approx((1.0 / 0.6, 5.0 / 0.5))   # slowest against fastest, both ways
    assert all(r["measured"] is None for r in rows[1:])
