"""The schedule cache (``sim.replay.ScheduleCache``): a configuration that differs from an earlier one only in
network, deployment or layer count replays the earlier one's schedule in every layer, with the outputs of
stepping it, byte for byte; any other setting is part of the key, and a key that leaves one out is caught. A
sweep record's document, read off the records without a trace, is the trace's."""

import dataclasses
import json

import pytest

from simflush.api import make_config
from simflush.io.bench_json import Tally, bench_document
from simflush.sim import engine, replay, trace
from simflush.sim.cost import load_cost
from simflush.sim.engine import SimConfig
from simflush.sim.replay import ScheduleCache
from simflush.sim.trace import bench_of, to_trace

DIRECT = {"SUF_CAUSAL_PREFILL": "0", "SUF_RSQRT_MODE": "sigma_gpu", "sigma_fss_via_pfss_batch": "0"}
# (filled by, then read by): the second differs from the first only where the key says a schedule cannot
PAIRS = {
    "network": (dict(model="bert-tiny", net="lan"), dict(model="bert-tiny", net="wan")),
    "deployment-chains": (dict(model="bert-tiny", policy="have_pfss_work", chains=3),
                          dict(model="bert-tiny", policy="have_pfss_work", chains=3, deploy="two-gpu", net="lan")),
    "layers-eager": (dict(model="bert-base", layers=1, policy="pfss_eager", chains=2),
                     dict(model="bert-base", layers=2, policy="pfss_eager", chains=2, net="custom:1,1")),
    "direct-fss": (dict(model="llama2-7b", seq_len=2, layers=1, knobs=DIRECT),
                   dict(model="llama2-7b", seq_len=2, layers=2, net="wan", deploy="two-gpu", knobs=DIRECT)),
    "sigma": (dict(model="bert-tiny", runtime="sigma-gpu"), dict(model="bert-tiny", runtime="sigma-gpu", net="wan")),
}


def _outputs(config: SimConfig, schedules: ScheduleCache | None) -> tuple[str, str, list[int]]:
    result = engine.simulate(config, schedules=schedules)
    trace = to_trace(result)
    return trace.to_json(), json.dumps(bench_document(trace)), [p.steps for p in result.parties]


def _cached_as_stepped(first: SimConfig, second: SimConfig) -> bool:
    """Whether ``second``, replayed from the schedule ``first`` left in a cache, gives the outputs of stepping it."""
    cache = ScheduleCache(4)
    engine.simulate(first, schedules=cache)
    return _outputs(second, cache) == _outputs(second, None)


@pytest.mark.parametrize("name", PAIRS)
def test_a_cached_schedule_gives_the_outputs_of_stepping(name):
    first, second = (make_config(**kw) for kw in PAIRS[name])
    assert _cached_as_stepped(first, second)
    cache = ScheduleCache(4)
    engine.simulate(first, schedules=cache)
    result = engine.simulate(second, schedules=cache)
    # every run of every layer replayed, the first layer's too: the cache was used
    assert sum(p.replayed for p in result.parties) == 2 * second.layers * len(result.runs_per_layer)


SUF_H100 = load_cost("suf-h100")
SLOWER_STEPS = dataclasses.replace(SUF_H100, step_floor_s=SUF_H100.step_floor_s + 1e-4)  # the flushes' charges
BASE = dict(model="bert-tiny", seq_len=32)
# one configuration per field of SimConfig that shapes a schedule, differing from BASE in that field only
OTHERS = {"model": dict(model="gpt2", seq_len=32), "seq_len": dict(model="bert-tiny", seq_len=16),
          "batch": dict(BASE, batch=2), "settings": dict(BASE, knobs={"rsqrt_iters": "3"}),
          "cost": dict(BASE, cost=SLOWER_STEPS), "policy": dict(BASE, policy="pfss_eager")}


def test_every_setting_but_network_deployment_and_layers_is_in_the_key():
    ignored = {"network", "deploy", "layers"}
    assert {f.name for f in dataclasses.fields(SimConfig)} == ignored | set(OTHERS)
    cache = ScheduleCache(16)
    base = make_config(**BASE)
    shared = cache.scripts(base)
    assert cache.scripts(make_config(**BASE, net="wan", deploy="two-gpu", layers=1)) is shared
    for field, kw in OTHERS.items():
        config = make_config(**kw)
        assert getattr(config, field) != getattr(base, field), field
        assert cache.scripts(config) is not shared, field


def test_the_least_recently_used_schedule_goes_first():
    cache = ScheduleCache(2)
    a, b, c = (make_config(**BASE, chains=k) for k in (1, 2, 3))
    kept = cache.scripts(a)
    cache.scripts(b)
    assert cache.scripts(a) is kept   # a used again: b is now the oldest
    cache.scripts(c)
    assert cache.scripts(a) is kept and cache.scripts(b) is not kept


@pytest.mark.parametrize(("left_out", "first", "second"), [
    ("policy", dict(model="bert-tiny", chains=2), dict(model="bert-tiny", chains=2, policy="have_pfss_work")),
    ("settings", dict(model="bert-tiny"), dict(model="bert-tiny", knobs={"rsqrt_iters": "3"})),
    ("cost", dict(model="bert-tiny"), dict(model="bert-tiny", cost=SLOWER_STEPS)),
])
def test_a_key_that_leaves_a_setting_out_is_caught(monkeypatch, left_out, first, second):
    first, second = make_config(**first), make_config(**second)
    keyed = replay.schedule_key
    monkeypatch.setattr(replay, "schedule_key",
                        lambda config: keyed(dataclasses.replace(config, **{left_out: getattr(first, left_out)})))
    assert not _cached_as_stepped(first, second), left_out


def _lean_documents(first: SimConfig, second: SimConfig) -> tuple[str, str]:
    """``bench_of`` of ``second`` simulated without the records of replayed runs (``records=False``, as a sweep
    does): its first layer stepped, then replayed from the schedule ``first`` left in a cache."""
    cache = ScheduleCache(4)
    stepped = engine.simulate(second, schedules=cache, records=False)
    engine.simulate(first, schedules=cache)
    cached = engine.simulate(second, schedules=cache, records=False)
    assert not any(p.records for p in cached.parties) and all(p.replays for p in stepped.parties)
    return json.dumps(bench_of(stepped)), json.dumps(bench_of(cached))


def _trace_document(config: SimConfig) -> str:
    return json.dumps(bench_document(to_trace(engine.simulate(config)), runs=False))


@pytest.mark.parametrize("name", PAIRS)
def test_a_sweep_record_read_off_the_records_is_the_trace_document(name):
    """``bench_of`` (a sweep's document, without the trace) against ``bench_document`` of the trace, with every
    record and without the replayed runs' (each counted as its script's tally); SIGMA's runtime covers the
    per-section bytes."""
    first, second = (make_config(**kw) for kw in PAIRS[name])
    result = engine.simulate(second)
    assert json.dumps(bench_of(result)) == _trace_document(second)
    assert _lean_documents(first, second) == (_trace_document(second),) * 2


def _once_per_script(tally, replays):
    return keyed_replays(tally, list({id(script): (span, script) for span, script in replays}.values()))


def _first_record_per_flush(self):
    return Tally.of(step.flush.records[0] for step in self.steps if isinstance(step, replay.FlushStep))


keyed_replays = trace._replayed


@pytest.mark.parametrize(("fault", "target", "name", "replacement"), [
    ("a script counted once, not once per replay", trace, "_replayed", _once_per_script),
    ("the first layer's replays left out", trace, "_replayed", lambda tally, replays: tally),
    ("a concurrent flush's PFSS record left out", replay.RunScript, "tally", _first_record_per_flush),
])
def test_a_lean_sweep_record_that_miscounts_is_caught(monkeypatch, fault, target, name, replacement):
    first, second = (make_config(**kw) for kw in PAIRS["deployment-chains"])
    want = _trace_document(second)
    monkeypatch.setattr(target, name, replacement)
    assert _lean_documents(first, second) != (want, want), fault


def test_a_trace_needs_every_record():
    with pytest.raises(ValueError, match="records=True"):
        to_trace(engine.simulate(make_config(model="bert-tiny"), records=False))
