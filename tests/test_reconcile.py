"""reconcile: the simulator's counts for a random setting are explained by that setting; traces; bad input."""

import gzip
import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from models.specs import get_model
from simflush.analysis.checklist.counts import COUNT_FIELDS, build_checklist
from simflush.analysis.reconcile.search import Problem, search
from simflush.analysis.reconcile.space import search_space
from simflush.cli import main
from simflush.errors import SufRuntimeError
from simflush.profiles import resolve
from simflush.sim.schedule import flush_schedule

SPACES = {(p, m): search_space(p, get_model(m), {}) for p in ("suf-gpu-bench", "suf-cpu-bench")
          for m in ("bert-tiny", "gpt2", "llama2-7b")}


def simulated_counts(model, T, B, s) -> dict[str, int]:
    """Per party per layer counts of the simulator's schedule (the oracle)."""
    recs = flush_schedule(model, T, B, s, 1)
    opens = [r for r in recs if r.event == "OPEN"]
    pfss = [r for r in recs if r.event == "PFSS"]
    return {"open_flushes": len(opens), "pfss_flushes": len(pfss), "pfss_jobs": sum(r.jobs for r in pfss),
            "words_beaver": sum(r.words_beaver for r in opens), "words_mask": sum(r.words_mask for r in opens),
            "hatx_words": sum(r.words for r in pfss), "wire_bytes": sum(r.wire_bytes for r in opens)}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(SPACES)), T=st.integers(2, 24), B=st.integers(1, 2), data=st.data())
def test_reconcile_returns_the_setting_that_produced_the_counts(key, T, B, data):
    space = SPACES[key]
    model = get_model(key[1])
    truth = (data.draw(st.sampled_from(space.shared)),
             *(data.draw(st.sampled_from(g.assignments)) for g in space.groups))
    s = resolve(space.profile, model, space.overrides(*truth))
    try:
        measured = simulated_counts(model, T, B, s)
    except SufRuntimeError:  # SUF throws on this configuration (e.g. a run over max_flushes): nothing to measure
        assume(False)
    fields = data.draw(st.sampled_from([("open_flushes", "pfss_flushes"), tuple(measured)]))
    target = {f: measured[f] for f in fields}
    exact, n_exact, near = search(Problem(model, T, B, 1, space), target, top=10 ** 6)
    assert not near and n_exact == len(exact)
    assert truth in [m.assignments for m in exact]
    # equally explaining candidates are ranked by distance, and the first one really reproduces the counts
    assert [m.distance for m in exact] == sorted(m.distance for m in exact)
    best = resolve(space.profile, model, space.overrides(*exact[0].assignments))
    got = build_checklist(model, T, B, best, 1).per_layer
    assert {f: getattr(got, f) for f in fields} == target
    assert set(fields) <= set(COUNT_FIELDS)


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bench_counts_read_per_party_suggest_three_rsqrt_iterations_but_mean_one(capsys):
    code, out, _ = _run(capsys, "reconcile", "--phase", "LN1", "--open", "288", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["most_likely_aggregation"] == "bench"
    by = {t["aggregation"]: t for t in doc["aggregations"]}
    assert by["bench"]["per_party_per_layer"] == {"open_flushes": 12}
    assert by["bench"]["candidates"][0]["changed"] == {}
    assert by["per-party"]["candidates"][0]["changed"] == {"rsqrt_iters": "3"}
    assert by["per-party-per-layer"]["explained"] is False and by["per-party-per-layer"]["nearest"]


def test_bench_json_is_explained_by_the_profile_defaults(golden, capsys):
    code, out, _ = _run(capsys, "reconcile", "--bench-json", str(golden / "gpu_h100_prof_bert-base.json"), "--json")
    doc = json.loads(out)
    best = doc["aggregations"][0]["candidates"][0]
    assert code == 0 and doc["explained"] and best["changed"] == {}
    assert best["predicted_per_party_per_layer"]["open_flushes"] == 55
    assert best["residual_at_aggregation"] == {k: 0 for k in best["residual_at_aggregation"]}
    code, out, _ = _run(capsys, "reconcile", "--bench-json", str(golden / "cpu_bt_cpu.json"))
    assert code == 0 and "SUF_GELU_CONST=1" in out   # pinned from the JSON's preprocessing echo


def test_golden_trace_every_flush_attributed(golden, capsys):
    code, out, _ = _run(capsys, "reconcile", "--trace", str(golden / "gpu_h100_trace_bert-base.txt.gz"), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["explained"] and doc["candidates"][0]["changed"] == {}
    assert doc["unexplained"] == [] and len(doc["attribution"]["flushes"]) == 91
    rsqrt = [a for a in doc["attribution"]["flushes"] if a["run"] == "LN1" and "Newton" in a["task_step"]]
    assert len(rsqrt) == 9   # one Newton iteration: 3 multiplies + 3 x (trunc open + PFSS)


def _untraced_trace(records, layers_runs, path, drop=None):
    """A SUF untimed trace (CPU format) of a simulated schedule, both parties identical."""
    lines = []
    for party in (0, 1):
        by_run: dict = {}
        for r in records:
            by_run.setdefault((r.layer, r.run), []).append(r)
        for key in layers_runs:
            lines.append(f"[trace] p={party} RUN begin tasks=1")
            for i, r in enumerate(by_run.get(key, [])):
                if drop == (key, i):
                    continue
                if r.event == "OPEN":
                    lines.append(f"[trace] p={party} OPEN words={r.words} beaver={r.words_beaver} "
                                 f"mask={r.words_mask} other=0 reqs=1")
                else:
                    if r.branch in ("planner", "lastchance"):
                        lines.append(f"[trace] p={party} BRANCH {r.branch}")
                    lines.append(f"[trace] p={party} PFSS jobs={r.jobs} hatx={r.words}")
            lines.append(f"[trace] p={party} RUN end")
    path.write_bytes(gzip.compress("\n".join(lines).encode()))


def test_synthetic_trace_reveals_the_iterations_and_an_unexplained_flush(tmp_path, capsys):
    m = get_model("bert-tiny")
    s = resolve("suf-gpu-bench", m, {"rsqrt_iters": "3", "SUF_INV_MODE": "sigma_gpu"})
    recs = flush_schedule(m, 16, 1, s, 2)
    keys = list(dict.fromkeys((r.layer, r.run) for r in recs))
    good = tmp_path / "good.trace.gz"
    _untraced_trace(recs, keys, good)
    code, out, _ = _run(capsys, "reconcile", "--trace", str(good), "--model", "bert-tiny", "--seq-len", "16", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["explained"]
    assert doc["candidates"][0]["changed"] == {"SUF_INV_MODE": "sigma_gpu", "rsqrt_iters": "3"}
    bad = tmp_path / "bad.trace.gz"
    _untraced_trace(recs, keys, bad, drop=((1, "LN2"), 4))
    code, out, _ = _run(capsys, "reconcile", "--trace", str(bad), "--model", "bert-tiny", "--seq-len", "16", "--json")
    doc = json.loads(out)
    assert code == 0 and not doc["explained"]
    assert {(u["layer"], u["run"]) for u in doc["unexplained"]} == {(1, "LN2")}
    assert all(u["line"] > 0 for u in doc["unexplained"])


@pytest.mark.parametrize("argv, message", [
    (["--phase", "LN1", "--open", "-3"], "non-negative integer"),
    (["--phase", "LN1", "--open", "2.5"], "non-negative integer"),
    (["--phase", "LN3", "--open", "12"], "unknown phase 'LN3'"),
    (["--phase", "LN1", "--open", "12", "--aggregate", "per-layer"], "unknown aggregation 'per-layer'"),
    (["--phase", "LN1"], "needs --open"),
    (["--open", "1", "--bench-json", "x.json"], "give one measurement"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
    code, _, err = _run(capsys, "reconcile", *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_malformed_files_name_file_line_and_field(tmp_path, golden, capsys):
    doc = json.loads((golden / "gpu_h100_prof_bert-base.json").read_text())
    del doc["pfss"]["open_flushes"]
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps(doc, indent=1))
    code, _, err = _run(capsys, "reconcile", "--bench-json", str(bad))
    assert code == 2 and f"{bad}:" in err and "pfss.open_flushes" in err
    trace = tmp_path / "t.txt"
    trace.write_text("[trace] p=0 RUN begin tasks=1\n[trace] p=0 OPEN words=x beaver=0 mask=0\n")
    code, _, err = _run(capsys, "reconcile", "--trace", str(trace))
    assert code == 2 and f"{trace}:2" in err and "words" in err


def test_measurements_of_another_model_or_size_are_named(golden, capsys):
    code, _, err = _run(capsys, "reconcile", "--bench-json", str(golden / "cpu_bt_cpu.json"), "--model", "bert-base")
    assert code == 2 and "another model or size" in err
    code, _, err = _run(capsys, "reconcile", "--trace", str(golden / "gpu_h100_trace_bert-base.txt.gz"),
                        "--seq-len", "64")
    assert code == 2 and "another model or size" in err
    code, _, err = _run(capsys, "reconcile", "--trace", str(golden / "cpu_bt_cpu.trace.gz"))
    assert code == 2 and "another model or size" in err


def test_checklist_command_formats(capsys):
    code, out, _ = _run(capsys, "checklist", "--model", "bert-base")
    assert code == 0 and "核对表" in out and "| **bench: 2 parties × 12 layers** | 1,320 | 864 |" in out
    code, out, _ = _run(capsys, "checklist", "--model", "bert-tiny", "--format", "json")
    doc = json.loads(out)
    assert doc["bench_both_parties_all_layers"]["pfss.open_flushes"] == 55 * 2 * 2
    code, out, _ = _run(capsys, "checklist", "--model", "bert-tiny", "--format", "csv")
    rows = out.splitlines()
    assert rows[0].startswith("level,run_index") and rows[-1].startswith("bench_both_parties_all_layers,")
    code, _, err = _run(capsys, "checklist", "--format", "xml")
    assert code == 2 and "allowed md, csv, json" in err
