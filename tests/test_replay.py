"""Layer replay (``sim.replay``) gives the outputs of stepping every layer, byte for byte.

Each case is simulated both ways and compared on everything users see: the trace (every run and flush,
every time, as its JSON), the bench document and the task-step counts. The planted faults check that
the comparison catches a replay that is wrong in each way one could get it wrong.
"""

import json
from dataclasses import fields

import pytest

from simflush.api import make_config
from simflush.executor.records import UNTIMED, FlushRecord
from simflush.io.bench_json import bench_document
from simflush.sim import engine
from simflush.sim.replay import FlushStep, idle
from simflush.sim.symbolic import SymbolicContext
from simflush.sim.trace import to_trace
from simflush.tasks.context import Batch, OpenKind, Sym
from simflush.tasks.gates import GAPARS

REPLAY = engine.Simulation._replay
DECODE = {"SUF_CAUSAL_PREFILL": "0"}
CASES = {
    "suf": dict(model="bert-tiny"),
    "have_pfss_work-chains-two-gpu": dict(model="bert-tiny", policy="have_pfss_work", chains=3, deploy="two-gpu",
                                          net="lan"),
    "budget": dict(model="bert-tiny", policy="budget", net="wan",
                   knobs={"budget_open_words": "4096", "budget_coeff_jobs": "1", "rsqrt_iters": "3"}),
    "pfss_eager-chains": dict(model="bert-tiny", policy="pfss_eager", chains=2, net="custom:1,1"),
    "decode-eager-chains": dict(model="gpt2", seq_len=3, layers=3, policy="pfss_eager", chains=2, knobs=DECODE),
    "decode-direct-fss": dict(model="llama2-7b", seq_len=2, layers=2, net="lan", knobs={
        **DECODE, "SUF_RSQRT_MODE": "sigma_gpu", "SUF_NEXP_MODE": "sigma_gpu", "sigma_fss_via_pfss_batch": "0"}),
    "bert-base-eager-colocated": dict(model="bert-base", layers=2, policy="pfss_eager", chains=4, net="wan"),
}


def _outputs(config, replay: bool) -> tuple[str, str, list[int]]:
    result = engine.simulate(config, replay)
    assert sum(p.replayed for p in result.parties) == (2 * (config.layers - 1) * len(result.runs_per_layer)
                                                      if replay else 0)
    trace = to_trace(result)
    return trace.to_json(), json.dumps(bench_document(trace)), [p.steps for p in result.parties]


def _same(config) -> bool:
    return _outputs(config, True) == _outputs(config, False)


@pytest.mark.parametrize("name", CASES)
def test_replayed_layers_give_the_outputs_of_stepped_ones(name):
    assert _same(make_config(**CASES[name]))


def _stale_layer(self, layer):
    copy = FlushRecord.__new__(FlushRecord)
    copy.__dict__.update(self.__dict__)  # the first layer's label and times
    return copy


def _forget_previous_open(self, party, *args):
    self._last_open_end[party] = None  # the wait for the peer as if no layer had run before
    return (yield from REPLAY(self, party, *args))


def _no_background_wait(self, layer):
    object.__setattr__(self, "needs", ())
    return [r.untimed(layer) for r in self.flush.records]


@pytest.mark.parametrize(("fault", "target", "name", "replacement"), [
    ("records keep the first layer's label and times", FlushRecord, "untimed", _stale_layer),
    ("state carried across layers dropped", engine.Simulation, "_replay", _forget_previous_open),
    ("no wait for the background flushes", FlushStep, "records_for", _no_background_wait),
])
def test_the_comparison_catches_a_planted_fault(monkeypatch, fault, target, name, replacement):
    config = make_config(**CASES["bert-base-eager-colocated"])
    monkeypatch.setattr(target, name, replacement)
    assert not _same(config), fault


def test_a_run_is_replayed_only_from_an_idle_executor():
    """Anything reserved, pending or flushed (or direct work waiting) makes the next run a stepped one."""
    config = make_config(model="bert-tiny")
    ctx = SymbolicContext(config.settings.party_executor(0, "suf"))
    assert idle(ctx.executor, ctx)
    ctx.open(Sym(4), OpenKind.MASK)
    assert not idle(ctx.executor, ctx)
    ctx.executor.opens.complete([Sym(4)])
    slot = ctx.pfss(Batch.TRUNC, GAPARS, Sym(4))
    assert not idle(ctx.executor, ctx)
    batch = ctx.executor.coeff  # the bench shares one batch for both kinds
    batch.complete_eval([Sym(4)])
    assert slot.ready and not idle(ctx.executor, ctx)
    batch.clear()
    assert idle(ctx.executor, ctx)
    ctx.fss_direct(GAPARS, Sym(4))
    assert not idle(ctx.executor, ctx)


def test_a_replayed_record_starts_with_every_time_field_cleared():
    """``FlushRecord.untimed`` clears what a driver fills in: every float field."""
    assert set(UNTIMED) == {f.name for f in fields(FlushRecord) if f.type is float}
