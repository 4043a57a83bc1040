"""Issue 14's bars on the stored runs (validation/check_real_runs.py; CPU only): the what-ifs predicted within 10 %
of what the real backend measured stay so, the configurations whose held-out median real-h200 predicts within 10 %
stay so, and suf-h200 predicts SUF's held-out H200 runs better than suf-h100 does. The misses are strict xfails: if
a change closes one, the test says so and the bar moves into the held list."""
import json
import sys

import pytest
from paths import REPO

sys.path.insert(0, str(REPO / "validation"))
import check_real_runs
import real_whatifs

# (round, what-if): round 1 at fddcf86 (sigma LUTs costed by SIGMA's PRG calls), round 2 at af9526b (as this
# backend's interval kernel), round 4 at 40dea01 (recalibrated on the folded-key backend), round 5 at 0d4e3a9 (the
# 39-run profile of the backend after the fifth round; measured in calls D, E, F), round 6 at 9cb3abf (that profile,
# the model's concurrent flush on one host thread; call G), each measured after its predictions were committed
# (docs/validation.md)
HELD_WHATIFS = [("1", "have_pfss_work, 2 chains, LAN"), ("1", "have_pfss_work, 2 chains, WAN"),
                ("1", "rsqrt_iters 2 vs 1"), ("1", "nexp_final_trunc=0"), ("1", "SIGMA rowmax"), ("2", "SIGMA inverse"),
                ("2", "SIGMA rsqrt LUT"), ("4", "have_pfss_work, 2 chains, WAN"), ("4", "rsqrt_iters 2 vs 1"),
                ("4", "nexp_final_trunc=0"), ("4", "SIGMA rowmax"), ("5D", "have_pfss_work, 2 chains, WAN"),
                ("5D", "SIGMA nExp"), ("5D", "interval keys folded"), ("5E", "rsqrt_iters 2 vs 1"),
                ("5E", "nexp_final_trunc=0"), ("5E", "SIGMA rowmax"), ("5F", "SIGMA rsqrt LUT"),
                ("6G", "have_pfss_work, 2 chains, LAN"), ("6G", "SIGMA inverse")]
# round 1: the profile costed SIGMA's LUTs by PRG calls, the backend builds them as interval gates; round 2: nExp's
# variant is predicted within 9 % but the baseline's run-to-run spread (158-288 ms) moves the ratio; round 4: the
# kernel fit (on fold-0 sets) under-prices folded interval keys (nExp, folded), the overlap's own cost on a LAN's
# round-heavy runs is not modelled (have_pfss_work LAN), and 2-3 runs with 20-37 % spread (inverse, rsqrt LUT);
# round 5: the backend built SIGMA's inverse LUT inside its flush (call E), and with it built before the clock the
# variant came out 12 % faster than predicted on three runs with the baseline spread 98-138 ms (call F); the model
# let a concurrent flush's PFSS launches overlap the wire, which the backend's one thread cannot (LAN, call F)
MISSED_WHATIFS = [("1", "SIGMA nExp"), ("1", "SIGMA inverse"), ("2", "SIGMA nExp"),
                  ("4", "have_pfss_work, 2 chains, LAN"), ("4", "SIGMA nExp"), ("4", "SIGMA inverse"),
                  ("4", "SIGMA rsqrt LUT"), ("4", "interval keys folded"), ("5E", "SIGMA inverse"),
                  ("5F", "SIGMA inverse"), ("5F", "have_pfss_work, 2 chains, LAN")]
HELD_TOTALS = [("bert-base", 128), ("bert-base", 64), ("bert-large", 128), ("bert-tiny", 128), ("bert-tiny", 64)]
# within 10 % on the one run held out (the day's batch lost a round to the device's time limit): not yet a bar
ONE_HELD_OUT = [("bert-large", 64), ("gpt2", 64)]
MISSED_TOTALS = [("gpt2", 128)]


@pytest.fixture(scope="module")
def whatifs():
    return {(n, r["name"]): r for n, _, rows in check_real_runs.whatif_rounds() for r in rows}


@pytest.fixture(scope="module")
def totals():
    return {(r["model"], r["seq_len"]): r for r in check_real_runs.real_totals()}


@pytest.mark.parametrize("name", HELD_WHATIFS)
def test_the_whatif_is_predicted_within_10pct_of_its_measured_speedup(whatifs, name):
    row = whatifs[name]
    assert min(row["runs"]) >= 2 and abs(row["ratio"] - 1) <= 0.10, row


@pytest.mark.xfail(strict=True, reason="see MISSED_WHATIFS")
@pytest.mark.parametrize("name", MISSED_WHATIFS)
def test_missed_whatif_within_10pct(whatifs, name):
    assert abs(whatifs[name]["ratio"] - 1) <= 0.10


@pytest.mark.parametrize("case", HELD_TOTALS)
def test_real_h200_predicts_the_held_out_median_within_10pct(totals, case):
    row = totals[case]
    assert row["held_out"] >= 2 and abs(row["rel_err"]) <= 0.10, row


@pytest.mark.parametrize("case", ONE_HELD_OUT)
def test_within_10pct_on_its_one_held_out_run(totals, case):
    row = totals[case]   # a second held-out run makes it a bar: move it to HELD_TOTALS
    assert row["held_out"] == 1 and abs(row["rel_err"]) <= 0.10, row


@pytest.mark.xfail(strict=True, reason="one held-out run 17 % slower than predicted (spread 14 %); docs/validation.md")
@pytest.mark.parametrize("case", MISSED_TOTALS)
def test_missed_total_within_10pct(totals, case):
    assert abs(totals[case]["rel_err"]) <= 0.10


def test_every_configuration_of_the_issue_is_measured_at_least_twice(totals):
    assert {m for m, _ in totals} == {"bert-tiny", "bert-base", "bert-large", "gpt2"}
    assert all(r["runs"] >= 2 for r in totals.values()) and len({t for _, t in totals}) == 2
    assert sum(r["runs"] for r in totals.values()) == 21   # 8 configurations, 3 rounds, the last cut short


def test_suf_h200_beats_suf_h100_on_the_h200_runs_it_did_not_see():
    rows = [r for r in check_real_runs.suf_h200_rows() if r["run"] != "bert-base_a"]   # bert-base_a: its --untraced
    assert len(rows) == 4
    for r in rows:
        err = {name: abs(r[name] / r["measured_s"] - 1) for name in ("suf-h100", "suf-h200")}
        assert err["suf-h200"] <= 0.12, r
        if r["measured_s"] > 0.5:   # bert-tiny is host-bound: the same on both cards
            assert err["suf-h200"] < err["suf-h100"], r


def test_the_current_backends_set_is_checked_against_the_candidate_with_its_unheld_configuration_marked():
    """The 2026-12-03 set (8 configurations, 15 runs: the device's time ran out before bert-large T=64's second run)
    against the profile fitted on its r0 runs: every configuration predicted, the one with no held-out run without
    a median or an error (not a division by nothing)."""
    rows = {(r["model"], r["seq_len"]): r for r in check_real_runs.real_totals(str(check_real_runs.CANDIDATE),
                                                                              check_real_runs.CURRENT_SET)}
    assert len(rows) == 8 and sum(r["runs"] for r in rows.values()) == 15
    unheld = rows[("bert-large", 64)]
    assert unheld["held_out"] == 0 and unheld["measured_median_s"] is None and unheld["rel_err"] is None
    assert all(r["held_out"] == 1 and r["predicted_s"] > 0 for k, r in rows.items() if k != ("bert-large", 64))


def test_the_current_backend_is_checked_batch_against_batch():
    """The 39 runs of the backend after the fifth round, in three device calls' batches, each predicted by the profile
    fitted on the other two (cross_batch.py), with one step floor for all and with one per task family: every
    configuration of every batch predicted, the count within 10 % no lower than when the profiles were fitted (10
    and 11 of 24: the batches' machines differ by up to 20 % on one configuration, docs/validation.md)."""
    sys.path.insert(0, str(REPO / "validation" / "real_backend_h200" / "s13_2026-12-03"))
    import cross_batch

    for floors, within in (("idle", 10), ("family", 11)):   # calibrate --step-floors (docs/cost_model.md)
        rows = cross_batch.rows(floors)
        assert len(rows) == 24 and sum(r["runs"] for r in rows) == 39
        assert {r["held_out"] for r in rows} == set(cross_batch.BATCHES)
        assert sum(abs(r["rel_err"]) <= 0.10 for r in rows) >= within, floors


def test_the_current_model_makes_the_latest_rounds_predictions():
    """The held what-ifs check stored predictions; this ties them to the code: today's simulator, from the round's
    profile, predicts the latest round's speed-ups as its file has them, so a model change that moves a prediction
    cannot pass unnoticed (it then needs a new round: predicted, committed, measured)."""
    label, predictions, _ = check_real_runs.ROUNDS[-1]
    doc = json.loads((check_real_runs.REAL / predictions).read_text())
    cost = str(REPO / doc["cost"])
    for stored in doc["whatifs"]:
        w = next(w for w in real_whatifs.WHATIFS if w.name == stored["name"])
        base, variant = (real_whatifs._simulate(doc["model"], doc["seq_len"], doc["layers"], cost, c)
                         for c in (w.base, w.variant))
        assert base / variant == pytest.approx(stored["speedup"], rel=1e-6), (label, w.name)
