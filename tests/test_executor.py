"""Executor semantics (spec §1) on synthetic multi-task runs, driven without SimPy."""

import json
from dataclasses import replace

import pytest

from simflush.errors import ConfigError, SufRuntimeError
from simflush.executor.batches import WireFormat
from simflush.executor.driver import drive
from simflush.executor.executor import PhaseExecutor, RunConfig, TaskRunner
from simflush.executor.policies import get_policy
from simflush.executor.records import FlushKind, PfssFinish
from simflush.limits import LazyLimits, transformer_limits
from simflush.sim.symbolic import SymbolicContext
from simflush.tasks import gates as G
from simflush.tasks.context import Batch, OpenKind, Sym
from simflush.tasks.need import Need
from simflush.tasks.nonlinear import rsqrt
from simflush.tasks.primitives import mul, trunc

N = 64
GPU_LIMITS = transformer_limits("gpu")
ONE_RUN = RunConfig(0, "r")


def run(makers, limits=GPU_LIMITS, config=ONE_RUN, policy="suf", **kw):
    ex = PhaseExecutor(0, get_policy(policy), WireFormat(37), limits, **kw)
    ctx = SymbolicContext(ex)
    flushes = []
    drive(ex, [TaskRunner(m(ctx)) for m in makers], config, perform=flushes.append)
    return ex, flushes


def two_muls(ctx):
    yield from mul(ctx, Sym(N), Sym(N))
    yield from mul(ctx, Sym(N), Sym(N))


def test_independent_tasks_share_one_open_flush():
    ex, _ = run([lambda c: trunc(c, Sym(N), G.GAPARS, 12), two_muls])
    first = ex.records[0]
    assert (first.event, first.words_mask, first.words_beaver) == ("OPEN", N, 2 * N)


def test_overlap_path_when_open_and_pfss_are_both_wanted():
    """Wave 4: the trunc waits on PFSS while the second mul waits on its open: step 1 runs the
    planner's PFSS flush beside the open flush (R.overlap_pfss_open is true in the bench)."""
    _, flushes = run([lambda c: trunc(c, Sym(N), G.GAPARS, 12), two_muls])
    overlap = [f for f in flushes if f.concurrent]
    assert len(overlap) == 1 and overlap[0].branch == "overlap"
    assert [(r.event, r.branch) for r in overlap[0].records] == [("OPEN", "overlap"), ("PFSS", "overlap")]
    assert overlap[0].pfss[0].finish == "finalize"  # the planner's finalize_phase ran in the thread


def test_records_carry_enums_that_read_as_their_strings():
    ex, _ = run([lambda c: trunc(c, Sym(N), G.GAPARS, 12), two_muls])
    pfss = next(r for r in ex.records if r.event == "PFSS")
    assert ex.records[0].event is FlushKind.OPEN and pfss.batch is Batch.COEFF and pfss.finish is PfssFinish.FINALIZE
    assert json.dumps([pfss.event, pfss.branch, pfss.finish, pfss.batch]) == '["PFSS", "overlap", "finalize", "coeff"]'
    assert f"{pfss.branch}|{pfss.event}" == "overlap|PFSS"


@pytest.mark.parametrize("policy", ["suf", "have_pfss_work"])
def test_without_overlap_the_open_wins_then_planner(policy):
    ex, flushes = run([lambda c: trunc(c, Sym(N), G.GAPARS, 12), two_muls], policy=policy, overlap_pfss_open=False)
    assert not any(f.concurrent for f in flushes)
    assert [(r.event, r.branch) for r in ex.records] == [
        ("OPEN", "demand_open"), ("OPEN", "demand_open"), ("PFSS", "planner")]


def test_opportunistic_overlap_inside_do_flush_open():
    """A PFSS job pending while only an open is wanted: do_flush_open flushes it beside the open."""
    def enqueue_then_open(ctx):
        ctx.pfss(Batch.COEFF, G.GAPARS, Sym(N))  # pending job nobody waits for yet
        yield from mul(ctx, Sym(N), Sym(N))

    _, flushes = run([enqueue_then_open])
    assert flushes[0].concurrent and [r.event for r in flushes[0].records] == ["OPEN", "PFSS"]
    _, flushes = run([enqueue_then_open], opportunistic_overlap=False)
    assert not flushes[0].concurrent


def test_planner_is_used_once_per_run():
    ex, _ = run([lambda c: rsqrt(c, Sym(N), (G.GAPARS,) * 3, 2)])
    branches = [r.branch for r in ex.records if r.event == "PFSS"]
    assert branches.count("planner") == 1 and branches[0] == "planner"
    ex2, _ = run([lambda c: rsqrt(c, Sym(N), (G.GAPARS,) * 3, 2)], config=RunConfig(0, "r", planner=False))
    assert "planner" not in [r.branch for r in ex2.records]
    assert next(r.branch for r in ex2.records if r.event == "PFSS") == "demand_coeff"


def test_budget_flush_fires_only_at_the_threshold_in_a_wave_with_progress():
    lazy = LazyLimits(open_pending_words=2 * N, coeff_pending_jobs=0, trunc_pending_jobs=0, hatx_pending_words=0)
    ex, _ = run([two_muls], limits=replace(GPU_LIMITS, lazy=lazy))
    assert [r.branch for r in ex.records] == ["budget", "budget"]
    lazy = LazyLimits(open_pending_words=2 * N + 1, coeff_pending_jobs=0, trunc_pending_jobs=0, hatx_pending_words=0)
    ex, _ = run([two_muls], limits=replace(GPU_LIMITS, lazy=lazy))
    assert [r.branch for r in ex.records] == ["demand_open", "demand_open"]


def test_deadlock_throws():
    def waits_forever(ctx):
        yield Need.OPEN
    with pytest.raises(SufRuntimeError, match="deadlock"):
        run([waits_forever])


def test_max_flushes_per_run_throws():
    with pytest.raises(SufRuntimeError, match="max_flushes 4"):
        run([lambda c: rsqrt(c, Sym(N), (G.GAPARS,) * 3, 1)], config=RunConfig(0, "r", max_flushes=4))


def test_open_handles_live_one_generation():
    ex = PhaseExecutor(0, get_policy("suf"), WireFormat(37))
    h = ex.opens.reserve(Sym(3), OpenKind.BEAVER, 3)
    ex.opens.complete([Sym(3)])
    assert ex.opens.ready(h)
    ex.opens.reserve(Sym(1), OpenKind.BEAVER, 1)
    ex.opens.complete([Sym(1)])
    assert not ex.opens.ready(h)
    with pytest.raises(SufRuntimeError):
        ex.opens.result(h)


def test_unknown_policy_names_the_allowed_ones():
    with pytest.raises(ConfigError, match="allowed: suf"):
        get_policy("nope")


@pytest.mark.parametrize("kw,words,expected", [
    ({}, 128, 8 * 74),                                       # ceil(128*37/64) = 74 words
    ({"pack": False, "auto": True, "no_negotiate": None}, 128, 8 * 128 + 8),  # CPU bench: one u64 exchange
    ({"no_negotiate": False}, 128, 8 * 74 + 16),             # pack flag + eff bits
    ({"byte_format": True}, 128, 8 * 80),                    # 5 bytes per word
    ({"max_bits": 32}, 128, 8 * 128),                        # ring wider than the pack cap: no packing
])
def test_wire_format(kw, words, expected):
    assert WireFormat(37, **kw).wire_bytes(words) == expected
