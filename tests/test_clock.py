"""Time passed without an event (``sim.clock.skip``, the GPU's lone job, a receiver woken by its message's
landing, a join of processes, a flush's open run by the party itself): the outputs of processing every event
(and SimPy's ``all_of``), byte for byte, with fewer events; the ways a skip could be inexact (past a tie, a GPU
job's while another shares the GPU, a receiver going on before the events due when its message lands, a join
going on before its all_of would, the first body run in place while something is due or its end forgotten) are
caught on small SimPy scenes."""

import contextlib
import json

import pytest
import simpy
from test_engine import _finish_times  # each job's end on one shared GPU: name -> (start, work)

from simflush.api import make_config
from simflush.io.bench_json import bench_document
from simflush.networks import Network
from simflush.sim import clock, engine, gpu, link
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


def _all_of(env, procs):
    yield env.all_of(procs)


def _processes(env, bodies):
    yield env.all_of([env.process(body) for body in bodies])


def _unskipped(config, monkeypatch) -> tuple[str, str, int]:
    with monkeypatch.context() as patch:
        for module in (engine, gpu, clock):
            patch.setattr(module, "skip", _never)
        patch.setattr(engine, "join", _all_of)
        patch.setattr(engine, "side_by_side", _processes)
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


def _no_wake_up(env):
    return ()  # wrong: goes on at once whatever is due


@pytest.mark.parametrize("receiver_waits_from", [0.0, 0.7])
def test_a_receiver_goes_on_after_the_events_due_when_its_message_lands(monkeypatch, receiver_waits_from):
    """C goes first, as when the landing woke the receiver through an event of its own (every event processed)."""
    want = [("C", 1.5), ("P1", 1.5)]
    assert _order_at_a_landing(receiver_waits_from) == want
    with monkeypatch.context() as patch:
        patch.setattr(clock, "skip", _never)
        assert _order_at_a_landing(receiver_waits_from) == want
    monkeypatch.setattr(link, "wake_up", _no_wake_up)
    assert _order_at_a_landing(receiver_waits_from) == want[::-1]  # what the comparison catches


def _scene(waiter, others) -> list[tuple[str, float]]:
    """Runs ``waiter(env, log)`` and each of ``others(env, log)`` as processes, in that order; returns the log."""
    env, log = simpy.Environment(), []
    for body in (waiter, *others):
        env.process(body(env, log))
    env.run()
    return log


def _logged(env, log, name, *delays):
    for step, delay in enumerate(delays):
        yield env.timeout(delay)
        log.append((f"{name}{step}", env.now))


def _joining(join, b_ends):
    """W joins A (ends at 1.0) and B; C's timeout due at 1.0 comes after both ends (C0), then C waits 0 (C1)."""
    def waiter(env, log):
        yield from join(env, [env.process(_logged(env, log, "A", 1.0)), env.process(_logged(env, log, "B", b_ends))])
        log.append(("W", env.now))

    def c(env, log):
        yield env.timeout(0.5)
        yield from _logged(env, log, "C", 0.5, 0.0)
    return _scene(waiter, [c])


def _side_by_side(side_by_side, first_ends, started_beside):
    """W, from 0.5, runs F (for ``first_ends``) and S (for 0.5) side by side; C waits 0.75, 0.75 and 0 from 0 (or,
    ``started_beside``, is started by W just before, waiting 1.0, as F does)."""
    def waiter(env, log):
        yield env.timeout(0.5)
        if started_beside:
            env.process(_logged(env, log, "C", 1.0))
        yield from side_by_side(env, [_logged(env, log, "F", first_ends), _logged(env, log, "S", 0.5)])
        log.append(("W", env.now))

    def c(env, log):
        yield from _logged(env, log, "C", 0.75, 0.75, 0.0)
    return _scene(waiter, [] if started_beside else [c])


def _join_without_wake_up(env, procs):
    for proc in procs:
        if not proc.processed:
            yield proc


SKIP = clock.skip


def _always_in_place(env, bodies):  # wrong: the first body run in place even while something is due now
    def in_place(env, delay):
        patch.setattr(clock, "skip", SKIP)  # only that decision is wrong
        return True

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "skip", in_place)
        yield from clock.side_by_side(env, bodies)


def _end_forgotten(env, bodies):  # wrong: the first body's end, when it is the last, left out
    procs = [env.process(body) for body in bodies[1:]]
    yield from bodies[0]
    yield from clock.join(env, procs)


@pytest.mark.parametrize("b_ends", [0.5, 1.0, 2.0])
def test_a_join_goes_on_where_all_of_would(b_ends):
    assert _joining(clock.join, b_ends) == _joining(_all_of, b_ends)
    if b_ends < 2.0:  # A or B ends last at 1.0, with C0 scheduled before the all_of's event
        assert _joining(_join_without_wake_up, b_ends) != _joining(_all_of, b_ends)


@pytest.mark.parametrize(("first_ends", "started_beside", "fault"), [
    (1.0, False, _end_forgotten),     # F ends last, at 1.5, with C due then
    (0.25, False, None),              # S ends last
    (1.0, True, _always_in_place),    # C's start is due when F would run in place: C's timeout goes first
])
def test_side_by_side_goes_on_where_processes_and_all_of_would(first_ends, started_beside, fault):
    with _counting() as events:
        want = _side_by_side(_processes, first_ends, started_beside)
    with _counting() as fewer:
        assert _side_by_side(clock.side_by_side, first_ends, started_beside) == want
    assert fewer[0] < events[0] or started_beside  # F run in place unless C's start is due
    if fault:
        assert _side_by_side(fault, first_ends, started_beside) != want
