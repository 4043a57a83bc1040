"""The SimPy engine's time model: ping-pong opens, processor-sharing GPU, deployments, determinism."""

import json
from itertools import pairwise

import simpy
from simhelpers import run_sim

from simflush.io.bench_json import bench_document
from simflush.networks import get_network
from simflush.sim.gpu import SharedGPU
from simflush.sim.link import Link
from simflush.sim.trace import to_trace


def _finish_times(starts_and_work):
    env = simpy.Environment()
    gpu = SharedGPU(env)
    done = {}

    def job(name, start, work):
        yield env.timeout(start)
        yield from gpu.run(work)
        done[name] = env.now

    for name, (start, work) in starts_and_work.items():
        env.process(job(name, start, work))
    env.run()
    return done


def test_processor_sharing_gpu():
    assert _finish_times({"a": (0, 1.0), "b": (0, 1.0)}) == {"a": 2.0, "b": 2.0}
    # b arrives at 0.5: a has 0.5 left; both share until a ends at 1.5; b alone finishes at 2.0
    t = _finish_times({"a": (0, 1.0), "b": (0.5, 1.0)})
    assert abs(t["a"] - 1.5) < 1e-9 and abs(t["b"] - 2.0) < 1e-9


def test_ping_pong_is_two_one_way_trips_and_two_serialisations():
    env = simpy.Environment()
    net = get_network("wan")
    link = Link(env, net)
    ends = {}

    def party(p):
        yield from link.ping_pong(p, 1_000_000)
        ends[p] = env.now

    env.process(party(0))
    env.process(party(1))
    env.run()
    one_way = net.rtt_s / 2 + net.transfer_s(1_000_000)
    assert abs(ends[1] - one_way) < 1e-12 and abs(ends[0] - 2 * one_way) < 1e-12


def test_wan_adds_at_least_one_rtt_per_open_flush():
    lan = run_sim("bert-tiny", 32, layers=1, net="lan")
    wan = run_sim("bert-tiny", 32, layers=1, net="wan")
    opens = sum(r.event == "OPEN" for r in wan.parties[0].records)
    assert wan.online_time_s - lan.online_time_s >= opens * (60e-3 - 0.05e-3)


def test_colocated_parties_contend_for_the_gpu_and_two_gpus_do_not():
    co = run_sim("bert-base", 128, layers=1)
    two = run_sim("bert-base", 128, layers=1, deploy="two-gpu")
    big = lambda res: [r for r in res.parties[0].records if r.event == "PFSS" and r.words > 100_000]  # noqa: E731
    assert all(a.eval_s > b.eval_s for a, b in zip(big(co), big(two), strict=True))
    assert two.online_time_s < co.online_time_s


def test_simulation_is_deterministic():
    a = json.dumps(bench_document(to_trace(run_sim("gpt2", 16, layers=2))), sort_keys=True)
    b = json.dumps(bench_document(to_trace(run_sim("gpt2", 16, layers=2))), sort_keys=True)
    assert a == b


def test_run_times_add_up_to_the_online_time():
    res = run_sim("bert-tiny", 64)
    for p in res.parties:
        spans = p.spans
        assert all(s.end_s >= s.start_s for s in spans)
        assert all(a.end_s <= b.start_s + 1e-15 for a, b in pairwise(spans))
        assert abs(p.end_s - spans[-1].end_s) < 1e-12
    assert res.online_time_s == max(p.end_s for p in res.parties)
