"""Time passed without an event (``sim.clock.skip``, the GPU's lone job, a receiver woken by its message's
landing): the outputs of processing every event, byte for byte, with fewer events; the ways a skip could be
inexact (past a tie, a GPU job's while another shares the GPU, a receiver going on before the events due when
its message lands) are caught."""

import contextlib
import json

import pytest
import simpy
from test_engine import _finish_times  # each job's end on one shared GPU: name -> (start, work)

from simflush.api import make_config
from simflush.io.bench_json import bench_document
from simflush.sim import clock, engine, gpu, link
from simflush.sim.cost import Network
from simflush.sim.trace import to_trace

CASES = {  # parties out of step (a slow network, chains, background and concurrent flushes, direct FSS)
    "wan": dict(model="bert-tiny", net="wan"),
    "custom-two-gpu": dict(model="bert-tiny", net="custom:1,1", deploy="two-gpu"),
    "lan-have_pfss_work-chains": dict(model="bert-tiny", net="lan", policy="have_pfss_work", chains=3),
    "eager-chains": dict(model="bert-base", layers=2, net="custom:100,0.01", policy="pfss_eager", chains=2),
    "direct-fss": dict(model="llama2-7b", seq_len=2, layers=2, net="wan", knobs={
        "SUF_CAUSAL_PREFILL": "0", "SUF_RSQRT_MODE": "sigma_gpu", "sigma_fss_via_pfss_batch": "0"}),
    "lan-have_pfss_work-bert-base": dict(model="bert-base", layers=2, net="lan", policy="have_pfss_work", chains=2),
}


@contextlib.contextmanager
def _counting():
    """Counts the SimPy events processed inside (``count[0]``)."""
    count = [0]
    step = simpy.Environment.step

    def counted(env):
        count[0] += 1
        step(env)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(simpy.Environment, "step", counted)
        yield count


def _outputs(config) -> tuple[str, str, int]:
    """The trace JSON, the bench document and the number of SimPy events processed."""
    with _counting() as events:
        result = engine.simulate(config)
    trace = to_trace(result)
    return trace.to_json(), json.dumps(bench_document(trace)), events[0]


def _never(env, delay):
    return False


def _unskipped(config, monkeypatch) -> tuple[str, str, int]:
    with monkeypatch.context() as patch:
        patch.setattr(engine, "skip", _never)
        patch.setattr(gpu, "skip", _never)
        patch.setattr(link, "skip", _never)
        return _outputs(config)


@pytest.mark.parametrize("name", CASES)
def test_skipping_gives_the_outputs_of_every_event(name, monkeypatch):
    config = make_config(**CASES[name])
    trace, doc, events = _outputs(config)
    every_trace, every_doc, every_event = _unskipped(config, monkeypatch)
    assert (trace, doc) == (every_trace, every_doc)
    assert events < every_event


def _order_at_a_tie(skip) -> list[str]:
    """A waits from 0 to 1.0; B from 0.5 to 1.0 too: SimPy resumes A first (scheduled first)."""
    env, order = simpy.Environment(), []

    def party(name, start, delay):
        yield env.timeout(start)
        if not skip(env, delay):
            yield env.timeout(delay)
        order.append((name, env.now))
        yield env.timeout(1.0)

    env.process(party("A", 0.0, 1.0))
    env.process(party("B", 0.5, 0.5))
    env.run()
    return order


def _skip_on_ties(env, delay):
    at = env.now + delay
    if at <= env.peek():  # wrong: an event already due at that time goes first
        env._now = at
        return True
    return False


def test_a_skip_keeps_the_order_of_a_tie():
    assert _order_at_a_tie(clock.skip) == _order_at_a_tie(_never) == [("A", 1.0), ("B", 1.0)]
    assert _order_at_a_tie(_skip_on_ties) == [("B", 1.0), ("A", 1.0)]  # what the comparison catches


def _alone_beside_others(self, work_s):
    self._remaining, others = {}, self._remaining  # wrong: another job is sharing the GPU
    try:
        return ALONE(self, work_s)
    finally:
        self._remaining = others


ALONE = gpu.SharedGPU._alone
SHARING = {"a": (0.0, 1.0), "b": (0.5, 0.1)}  # b shares the GPU with a from 0.5 until it ends at 0.7


def _lone_job() -> tuple[dict[str, float], int]:
    with _counting() as events:
        return _finish_times({"a": (0.0, 1.0)}), events[0]


def test_a_lone_job_takes_no_event_and_a_shared_one_still_shares(monkeypatch):
    alone, events = _lone_job()
    with monkeypatch.context() as patch:
        patch.setattr(gpu, "skip", _never)
        assert _lone_job() == (alone, events + 2)  # the GPU's timer and its completion
    assert alone == {"a": 1.0}
    shared = _finish_times(SHARING)
    assert shared == pytest.approx({"a": 1.1, "b": 0.7}, abs=1e-12)
    monkeypatch.setattr(gpu.SharedGPU, "_alone", _alone_beside_others)
    assert _finish_times(SHARING) != pytest.approx(shared, abs=1e-12)  # what the comparison catches



def _order_at_a_landing(receiver_waits_from: float) -> list[tuple[str, float]]:
    """P0 sends at 0.5 a message that lands at 1.5; P1 waits for it from ``receiver_waits_from`` (before the send,
    or while it is on the way); C waits from 1.0 to 1.5: its timeout is due at the landing, scheduled after it."""
    env, order = simpy.Environment(), []
    wire = link.Link(env, Network("test", float("inf"), 2.0))

    def p0():
        yield env.timeout(0.5)
        wire.send(0, 8)

    def p1():
        if receiver_waits_from:
            yield env.timeout(receiver_waits_from)
        yield from wire.recv(1)
        order.append(("P1", env.now))

    def c():
        yield env.timeout(1.0)
        yield env.timeout(0.5)
        order.append(("C", env.now))

    for body in (p0, p1, c):
        env.process(body())
    env.run()
    return order


def _always(env, delay):  # wrong: goes on at once whatever is due
    env._now += delay
    return True


@pytest.mark.parametrize("receiver_waits_from", [0.0, 0.7])
def test_a_receiver_goes_on_after_the_events_due_when_its_message_lands(monkeypatch, receiver_waits_from):
    """C goes first, as when the landing woke the receiver through an event of its own (every event processed)."""
    want = [("C", 1.5), ("P1", 1.5)]
    assert _order_at_a_landing(receiver_waits_from) == want
    with monkeypatch.context() as patch:
        patch.setattr(link, "skip", _never)
        assert _order_at_a_landing(receiver_waits_from) == want
    monkeypatch.setattr(link, "skip", _always)
    assert _order_at_a_landing(receiver_waits_from) == want[::-1]  # what the comparison catches
