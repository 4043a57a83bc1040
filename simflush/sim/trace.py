"""A simulated run as a trace (``simflush.io.trace_schema``): the record every exporter reads.

One iteration; times are simulated seconds from the iteration's start. The meta echoes the whole
configuration (settings, policy, deployment, network, cost preset), so that the bench JSON of a
trace read back from its file equals that of the run.
"""

from collections.abc import Iterable

from ..executor.records import FlushKind, RunSpan
from ..io.bench_json import Tally, document, sum_by_section
from ..io.trace_schema import FlushEvent, RunEvent, Trace, TraceMeta
from .engine import SimResult
from .replay import RunScript


def _meta(result: SimResult) -> TraceMeta:
    cfg = result.config
    return TraceMeta(source="simflush", system="simflush", backend=cfg.settings.backend, model=cfg.model.name,
                     seq_len=cfg.seq_len, batch=cfg.batch, layers=cfg.layers, iterations=1,
                     runtime_profile=cfg.settings.profile, device=cfg.cost.provenance.get("device", ""),
                     n_bits=cfg.model.n_bits, online_time_s=result.online_time_s, traced=False,
                     settings=dict(cfg.settings.env), policy=cfg.policy, chains=cfg.settings.layer.chains,
                     deploy=cfg.deploy,
                     network=cfg.network.name, cost_preset=cfg.cost.name,
                     local_words_per_party=dict(sorted(result.parties[0].local_words.items())))


def to_trace(result: SimResult) -> Trace:
    """Both parties' runs and flushes of ``result``, party 0's first, each party in its own order."""
    if any(party.replays for party in result.parties):
        raise ValueError("a trace needs every flush's record: simulate with records=True")
    cfg = result.config
    index = {spec.name: i for i, spec in enumerate(result.runs_per_layer)}
    meta = _meta(result)
    min_words = cfg.settings.device_pack_min_words
    runs, flushes = [], []
    for party in result.parties:
        for span in party.spans:
            runs.append(RunEvent(party.party, 0, span.layer, index[span.run], span.run, span.start_s, span.end_s,
                                 section=span.section))
        for r in party.records:  # positional arguments: a sweep makes thousands of these per configuration
            if r.event == FlushKind.PFSS:
                open_kind, device, timers = "", False, {"eval_s": r.eval_s, "finish_s": r.finish_s}
            else:
                open_kind, device, timers = r.open_kind, 0 < min_words <= r.words, {"pack_s": r.pack_s}
            flushes.append(FlushEvent(
                party.party, 0, r.layer, index[r.run], r.run, r.event, open_kind, r.words, r.words_beaver,
                r.words_mask, r.wire_bytes, r.words_matmul, r.jobs, r.branch, tuple(r.gates), r.finish, r.batch,
                r.concurrent, device, r.start_s, r.duration_s, timers))
    return Trace(meta, runs, flushes)


def bench_of(result: SimResult) -> dict:
    """``bench_document(to_trace(result), runs=False)`` read off the engine's records, without the trace (a
    sweep's record: building one ``FlushEvent`` per party and flush was most of the exporter's time); a run
    replayed without records (``PartyResult.replays``) counts as its script's ``Tally``."""
    parties = result.parties

    def by_section() -> dict[str, int]:
        sections = [{(s.layer, s.run): s.section for s in p.spans} for p in parties]
        return sum_by_section([*((sections[i][(r.layer, r.run)], r.wire_bytes) for i, p in enumerate(parties)
                                 for r in p.records),
                               *((span.section, script.tally().wire_bytes) for p in parties
                                 for span, script in p.replays)])
    total = _replayed(Tally.of(r for p in parties for r in p.records), (pair for p in parties for pair in p.replays))
    first = _replayed(Tally.of(r for r in parties[0].records if r.layer == 0),
                      (pair for pair in parties[0].replays if pair[0].layer == 0))
    return document(_meta(result), total, first, [max((s.end_s for s in p.spans), default=None) for p in parties],
                    by_section)


def _replayed(tally: Tally, replays: Iterable[tuple[RunSpan, RunScript]]) -> Tally:
    """``tally`` plus each replayed run's script tally, once per replay (added per script: one sum per run)."""
    times: dict[int, list] = {}
    for _span, script in replays:
        times.setdefault(id(script), [script, 0])[1] += 1
    for script, n in times.values():
        tally = tally + script.tally() * n
    return tally
