"""Policies and chains in time: real concurrency of network, GPU and CPU (issue 3)."""

from itertools import pairwise

from simhelpers import run_sim


def online(**kw):
    return run_sim("bert-base", 128, layers=1, **kw).online_time_s


def test_overlap_helps_on_lan_with_two_chains():
    assert online(policy="have_pfss_work", chains=2, net="lan") < online(policy="suf", chains=2, net="lan")


def test_overlap_hurts_on_wan_with_two_chains():
    """Overlapping early desynchronises the chains: more, smaller open flushes, each paying the RTT."""
    suf = run_sim("bert-base", 128, layers=1, policy="suf", chains=2, net="wan")
    hpw = run_sim("bert-base", 128, layers=1, policy="have_pfss_work", chains=2, net="wan")
    opens = lambda r: sum(x.event == "OPEN" for x in r.parties[0].records)  # noqa: E731
    assert opens(hpw) > opens(suf) and hpw.online_time_s > suf.online_time_s


def test_one_chain_policies_give_the_same_time():
    assert online(policy="have_pfss_work") == online(policy="suf")


def test_background_pfss_results_are_waited_for_before_dependent_opens():
    res = run_sim("bert-tiny", 16, layers=1, policy="pfss_eager")
    recs = res.parties[0].records
    for prev, nxt in pairwise(recs):
        if prev.event == "PFSS" and nxt.event == "OPEN" and prev.run == nxt.run:
            assert nxt.start_s >= prev.start_s + prev.eval_s - 1e-12


def test_concurrent_flushes_overlap_in_time():
    res = run_sim("bert-base", 128, layers=1, policy="have_pfss_work", chains=2, net="lan")
    recs = res.parties[0].records
    pairs = [(a, b) for a, b in pairwise(recs) if a.concurrent and b.concurrent
             and a.event == "OPEN" and b.event == "PFSS"]
    assert pairs
    assert all(b.start_s < a.start_s + a.duration_s for a, b in pairs)
