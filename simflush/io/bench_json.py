"""The simulation result as a document in the SUF bench JSON's own terms (spec §5.1).

Shared fields keep the bench's names and meaning: ``pfss.*`` and ``communication.*`` are summed over
both parties and every layer run, so the document can be diffed against a real bench JSON. The
``per_party_per_layer``, ``branches`` and ``runs`` sections are simflush's own and say their scope.
"""

from collections import defaultdict

from .. import __version__
from ..executor.records import FlushRecord
from ..sim.engine import SimResult


def _counts(records: list[FlushRecord]) -> dict:
    opens = [r for r in records if r.event == "OPEN"]
    pfss = [r for r in records if r.event == "PFSS"]
    return {
        "open_flushes": len(opens),
        "pfss_flushes": len(pfss),
        "pfss_jobs": sum(r.jobs for r in pfss),
        "opened_words": sum(r.words for r in opens),
        "opened_words_beaver": sum(r.words_beaver for r in opens),
        "opened_words_mask": sum(r.words_mask for r in opens),
        "hatx_words": sum(r.words for r in pfss),
        "wire_bytes": sum(r.wire_bytes for r in opens),
    }


def bench_document(result: SimResult) -> dict:
    cfg = result.config
    model = cfg.model
    records = [r for p in result.parties for r in p.records]
    c = _counts(records)
    pfss = [r for r in records if r.event == "PFSS"]
    coeff = [r for r in pfss if r.batch == "coeff"]
    trunc = [r for r in pfss if r.batch == "trunc"]
    words, beaver, mask = c["opened_words"], c["opened_words_beaver"], c["opened_words_mask"]
    net = c["wire_bytes"]
    packed = lambda part: net * part // words if words else 0  # noqa: E731 - the bench's proportional split
    pfss_bytes = 0  # every gate the transformer uses is non-interactive (spec §2.2)
    return {
        "system": "simflush",
        "simflush_version": __version__,
        "backend": cfg.settings.backend,
        "runtime_profile": cfg.settings.profile,
        "settings": dict(sorted(cfg.settings.env.items())),
        "policy": cfg.policy,
        "deploy": cfg.deploy,
        "network": cfg.network.name,
        "cost_preset": cfg.cost.name,
        "model": model.name,
        "seq_len": cfg.seq_len,
        "batch_size": cfg.batch,
        "n_layers": model.n_layers,
        "n_layers_run": cfg.layers,
        "n_heads": model.n_heads,
        "d_model": model.d_model,
        "n_bits": model.n_bits,
        "frac_bits": model.frac_bits,
        "scope": {
            "pfss": "sum over both parties and all layers run (as the SUF bench)",
            "communication": "bytes sent, sum over both parties (as the SUF bench)",
            "timing": "simulated wall time of one online iteration",
            "per_party_per_layer": "one party, one layer (layer 0; every layer is identical)",
            "branches": "flushes per executor branch, sum over both parties and all layers run",
            "runs": "per layer and run; counts and bytes per party, times of party 0 and 1",
        },
        "timing": {"online_time_s": result.online_time_s, "online_time_s_mean": result.online_time_s,
                   "party_end_s": [p.end_s for p in result.parties]},
        "communication": {
            "pfss_bytes": pfss_bytes,
            "net_bytes": net,
            "open_bytes": 8 * words,
            "open_bytes_beaver": 8 * beaver,
            "open_bytes_mask": 8 * mask,
            "open_bytes_other": 0,
            "open_packed_bytes": net,
            "open_packed_bytes_theoretical": -(-words * model.n_bits // 8),
            "open_packed_bytes_beaver": packed(beaver),
            "open_packed_bytes_mask": packed(mask),
            "open_packed_bytes_other": 0,
            "pfss_related_bytes": pfss_bytes + 8 * mask,
            "pfss_related_packed_bytes": pfss_bytes + packed(mask),
            "beaver_related_bytes": 8 * beaver,
            "beaver_related_packed_bytes": packed(beaver),
            "online_bytes": pfss_bytes + net,
            "online_packed_bytes": pfss_bytes + net,
        },
        "pfss": {
            "num_jobs": c["pfss_jobs"],
            "num_flushes": c["pfss_flushes"],
            "total_hatx_words": c["hatx_words"],
            "coeff_jobs": sum(r.jobs for r in coeff),
            "trunc_jobs": sum(r.jobs for r in trunc),
            "coeff_flushes": len(coeff),
            "trunc_flushes": len(trunc),
            "coeff_hatx_words": sum(r.words for r in coeff),
            "trunc_hatx_words": sum(r.words for r in trunc),
            "open_flushes": c["open_flushes"],
            "opened_words": words,
            "opened_words_beaver": beaver,
            "opened_words_mask": mask,
            "opened_words_other": 0,
        },
        "per_party_per_layer": _counts([r for r in result.parties[0].records if r.layer == 0]),
        "branches": _branches(records),
        "runs": _runs(result),
    }


def _branches(records: list[FlushRecord]) -> dict:
    out: dict[str, int] = defaultdict(int)
    for r in records:
        out[f"{r.event}/{r.branch}"] += 1
    return dict(sorted(out.items()))


def _runs(result: SimResult) -> list[dict]:
    """Per layer and run: counts of party 0 (both parties run the same schedule) and both times."""
    by_run: dict[tuple[int, str], list[FlushRecord]] = defaultdict(list)
    for r in result.parties[0].records:
        by_run[(r.layer, r.run)].append(r)
    spans = [{(s.layer, s.run): s for s in p.spans} for p in result.parties]
    rows = []
    for key, span0 in spans[0].items():
        c = _counts(by_run.get(key, []))
        span1 = spans[1][key]
        rows.append({"layer": key[0], "run": key[1], "section": span0.section,
                     "open_flushes": c["open_flushes"], "pfss_flushes": c["pfss_flushes"],
                     "opened_words": c["opened_words"], "hatx_words": c["hatx_words"],
                     "wire_bytes_per_party": c["wire_bytes"],
                     "time_s": [span0.end_s - span0.start_s, span1.end_s - span1.start_s]})
    return rows
