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


def test_one_host_thread_overlaps_only_the_gpu_work_with_the_open():
    """``overlap_one_thread`` (the real backend): a flush with PFSS beside its open launches the jobs on the party's
    one thread before the send, so only their GPU work hides behind the wire. That costs the overlap its launches
    (LAN: the wire is short, so the launches were most of what it hid), not the wire's length (WAN: about the
    same), and changes nothing where no flush is concurrent (one chain)."""
    def hpw(net, one_thread, policy="have_pfss_work", chains=2):
        return run_sim("bert-base", 128, layers=1, policy=policy, chains=chains, net=net,
                       sets=(f"overlap_one_thread={one_thread}",))

    lan = [hpw("lan", t) for t in (0, 1)]
    assert lan[1].online_time_s > lan[0].online_time_s
    assert [r.event for r in lan[0].parties[0].records] == [r.event for r in lan[1].parties[0].records]
    wan = [hpw("wan", t).online_time_s for t in (0, 1)]
    assert lan[1].online_time_s / lan[0].online_time_s - 1 > 2 * (wan[1] / wan[0] - 1)
    one_chain = [hpw("lan", t, policy="suf", chains=1).online_time_s for t in (0, 1)]
    assert one_chain[0] == one_chain[1]
    # a background flush (pfss_eager) likewise: its step work and launches hold the party, not another chain's steps
    eager = [hpw("lan", t, policy="pfss_eager").online_time_s for t in (0, 1)]
    assert eager[1] > eager[0]
