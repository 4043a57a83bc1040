"""Flush policies and staggered chains: same work, different grouping (issue 3)."""

import dataclasses
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.layer import TaskSpec, split_into_chains, transformer_layer
from models.specs import get_model
from simflush.executor.policies import POLICIES, HavePfssWorkPolicy, SufPolicy
from simflush.profiles import parse_overrides, resolve
from simflush.sim.schedule import flush_schedule

POLICY_NAMES = ["suf", "have_pfss_work", "budget", "pfss_eager", "sigma"]


def sched(model="bert-tiny", T=16, B=1, policy="suf", chains=1, sets=(), overlap_pfss_open=True):
    m = get_model(model)
    s = resolve("suf-gpu-bench", m, parse_overrides(list(sets)), chains=chains)
    return flush_schedule(m, T, B, dataclasses.replace(s, overlap_pfss_open=overlap_pfss_open), policy=policy)


def work(records):
    """What was computed: opened words by kind, PFSS jobs and hatx words per gate (grouping aside)."""
    c = Counter()
    for r in records:
        c["B"] += r.words_beaver
        c["M"] += r.words_mask
        if r.event == "PFSS":
            for g in r.gates:
                c["jobs:" + g] += 1
            c["hatx"] += r.words
    return c


@settings(max_examples=15, deadline=None)
@given(model=st.sampled_from(["bert-tiny", "gpt2", "llama2-7b"]), T=st.integers(2, 40), B=st.integers(1, 2))
def test_have_pfss_work_equals_suf_on_one_chain(model, T, B):
    key = lambda rs: [(r.run, r.event, r.words, r.branch) for r in rs]  # noqa: E731
    assert key(sched(model, T, B, "have_pfss_work")) == key(sched(model, T, B, "suf"))


@settings(max_examples=15, deadline=None)
@given(policy=st.sampled_from(POLICY_NAMES), chains=st.integers(1, 4), T=st.integers(2, 32),
       sigma=st.booleans())
def test_every_policy_and_chain_count_computes_the_same_thing(policy, chains, T, sigma):
    """Same opened words, jobs per gate and hatx words as the snapshot policy on the same tasks."""
    sets = ("SUF_NEXP_MODE=sigma_gpu", "SUF_ROWMAX_MODE=sigma_gpu") if sigma else ()
    assert work(sched("bert-tiny", T, 1, policy, chains, sets)) == work(sched("bert-tiny", T, 1, "suf", chains, sets))


def test_chains_keep_the_mask_and_hatx_words():
    """Splitting rows keeps every masked word; only a matmul split along M re-opens its B operand."""
    one, three = work(sched(T=8)), work(sched(T=8, chains=3))
    assert (three["M"], three["hatx"]) == (one["M"], one["hatx"])


def test_two_chains_let_suf_overlap_and_have_pfss_work_overlap_more():
    suf = sched(chains=2)
    hpw = sched(policy="have_pfss_work", chains=2)
    one = sched(chains=1)
    assert not any(r.concurrent for r in one)
    n_suf, n_hpw = sum(r.concurrent for r in suf), sum(r.concurrent for r in hpw)
    assert 0 < n_suf <= n_hpw
    assert len([r for r in suf if r.event == "OPEN"]) < 2 * len([r for r in one if r.event == "OPEN"])


@pytest.mark.parametrize("policy", ["suf", "have_pfss_work"])
def test_no_overlap_without_a_pfss_channel(policy):
    """overlap_pfss_open False (no dedicated PFSS channel): no overlap flush, and no PFSS beside an open."""
    assert any(r.branch == "overlap" for r in sched(policy=policy, chains=2))
    without = sched(policy=policy, chains=2, overlap_pfss_open=False)
    assert not any(r.branch == "overlap" or r.concurrent for r in without)
    assert work(without) == work(sched(policy=policy, chains=2))


def test_have_pfss_work_is_suf_with_one_overridden_predicate():
    assert HavePfssWorkPolicy.__bases__ == (SufPolicy,)
    assert [k for k, v in vars(HavePfssWorkPolicy).items() if callable(v)] == ["overlap_batches"]
    assert list(POLICIES) == POLICY_NAMES


def test_pfss_eager_flushes_in_the_background_as_soon_as_a_job_is_pending():
    recs = sched(policy="pfss_eager")
    pfss = [r for r in recs if r.event == "PFSS"]
    assert pfss and all(r.branch == "eager" for r in pfss)


def test_budget_policy_thresholds_come_from_set():
    small = sched(policy="budget", sets=("budget_open_words=1",))
    assert all(r.branch == "budget" for r in small if r.event == "OPEN")
    default = sched(policy="budget")
    assert not any(r.branch == "budget" for r in default)


def test_chain_split_keeps_rows_and_staggers():
    lengths = {t + 1: 4 for t in range(10)}
    parts = split_into_chains(TaskSpec("attention_softmax", {"lengths": lengths}), 3)
    total = Counter()
    for p in parts:
        for length, count in p.params["lengths"].items():
            total[length] += count
    assert dict(total) == lengths
    assert [p.params["stagger"] for p in parts] == [0, 1, 2]
    assert [p.params["n"] for p in split_into_chains(TaskSpec("trunc", {"n": 10}), 4)] == [3, 3, 2, 2]
    m = get_model("bert-tiny")
    runs = transformer_layer(m, 16, 1, resolve("suf-gpu-bench", m, chains=2).layer)
    assert all(len(r.tasks) == 2 for r in runs)


def test_device_pipeline_drops_the_planner_and_with_ln_gpu_the_variance_open():
    base = sched()
    dev = sched(sets=("SUF_BENCH_DEVICE_PIPELINE=1",))
    assert not any(r.branch == "planner" for r in dev) and any(r.branch == "planner" for r in base)
    ln = lambda rs: sum(r.event == "OPEN" and r.run.startswith("LN") for r in rs)  # noqa: E731
    assert ln(dev) == ln(base) - 2  # SUF_LN_GPU defaults on: one variance open fewer per LayerNorm
    assert ln(sched(sets=("SUF_BENCH_DEVICE_PIPELINE=1", "SUF_LN_GPU=0"))) == ln(base)
