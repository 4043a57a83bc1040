"""The reconcile documents (measured counts -> the settings that explain them) and their readable text."""

from __future__ import annotations

from .search import (
    Problem,
    aggregation_factor,
    candidate,
    search,
)

TOP = 5
def reconcile_counts(problem: Problem, measured: dict[str, int], aggregations: tuple[str, ...],
                     top: int = TOP) -> dict:
    """The reconcile document for counts measured at one of ``aggregations`` (each tried in turn)."""
    tries = []
    for agg in aggregations:
        factor = aggregation_factor(agg, problem.layers)
        whole = all(v % factor == 0 for v in measured.values())
        target = {k: round(v / factor) for k, v in measured.items()}
        exact, n_exact, near = search(problem, target, top)
        if not whole:  # a count that is not a whole number per party per layer explains nothing exactly
            exact, n_exact, near = [], 0, exact or near
        tries.append({"aggregation": agg, "factor": factor, "explained": bool(exact), "exact_matches": n_exact,
                      "per_party_per_layer": target if whole else None,
                      "candidates": [candidate(problem, m, factor, measured) for m in exact],
                      "nearest": [candidate(problem, m, factor, measured) for m in near]})
    space = problem.space
    explained = [t for t in tries if t["explained"]]
    likely = min(explained, key=lambda t: t["candidates"][0]["distance"])["aggregation"] if explained else None
    return {"model": problem.model.name, "seq_len": problem.seq_len, "batch_size": problem.batch,
            "n_layers_run": problem.layers, "runtime_profile": space.profile,
            "scope": problem.scope or "layer", "measured": measured, "pinned": space.pinned,
            "search_space": {"knobs": space.knobs, "configurations": space.size},
            "explained": bool(explained), "most_likely_aggregation": likely, "aggregations": tries}


# -- the readable explanation ------------------------------------------------------------------------------

FIELD_WORDS = {"open_flushes": "open flushes", "pfss_flushes": "PFSS flushes", "pfss_jobs": "PFSS jobs",
               "words_beaver": "Beaver words", "words_mask": "mask words", "hatx_words": "hatx words",
               "wire_bytes": "wire bytes"}
AGG_WORDS = {"per-party-per-layer": "per party per layer", "per-party": "per party, summed over {L} layers",
             "bench": "summed over both parties and {L} layers (the bench JSON's convention)"}


def _counts_text(counts: dict) -> str:
    return ", ".join(f"{v:,} {FIELD_WORDS.get(k, k)}" for k, v in counts.items())


def _settings_text(c: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in c["changed"].items()) or "the profile's defaults"


def _breakdown_text(c: dict) -> list[str]:
    rows = []
    for b in c["breakdown"]:
        direct = f", {b['direct_fss']} direct FSS" if b["direct_fss"] else ""
        rows.append(f"      {b['run']}: {b['task']}: {b['open_flushes']} open + {b['pfss_flushes']} PFSS flushes"
                    f"{direct}")
    return rows


def explain(doc: dict) -> str:
    L = doc["n_layers_run"]
    scope = "the whole layer" if doc["scope"] == "layer" else f"phase {doc['scope']}"
    out = [f"Measured ({scope}, {doc['model']}, T = {doc['seq_len']}, B = {doc['batch_size']}, {L} layers): "
           f"{_counts_text(doc['measured'])}.",
           f"Searched {doc['search_space']['configurations']:,} configurations of "
           f"{len(doc['search_space']['knobs'])} settings around profile {doc['runtime_profile']}"
           + (f" (pinned: {', '.join(f'{k}={v}' for k, v in doc['pinned'].items())})" if doc["pinned"] else "") + "."]
    if doc["most_likely_aggregation"] and len(doc["aggregations"]) > 1:
        t = next(t for t in doc["aggregations"] if t["aggregation"] == doc["most_likely_aggregation"])
        out.append(f"Most likely: the counts are {AGG_WORDS[t['aggregation']].format(L=L)}, under "
                   f"{_settings_text(t['candidates'][0])} (the reading that needs the fewest changed settings).")
    for t in doc["aggregations"]:
        agg = AGG_WORDS[t["aggregation"]].format(L=L)
        out.append("")
        if t["explained"]:
            per = _counts_text(t["per_party_per_layer"])
            best = t["candidates"][0]
            ties = sum(1 for c in t["candidates"] if c["distance"] == best["distance"])
            out.append(f"Read as {agg}: that is {per} per party per layer (÷ {t['factor']}). "
                       f"{t['exact_matches']:,} configurations reproduce it exactly; the closest to the profile:")
            for i, c in enumerate(t["candidates"], 1):
                out.append(f"  {i}. [{c['distance']} changed] {_settings_text(c)}")
                if i == 1:
                    out += _breakdown_text(c)
            if ties > 1:
                out.append(f"  ({ties} candidates tie at {best['distance']} changed settings: they are "
                           "indistinguishable by these counts; a trace or more counters would separate them.)")
        else:
            out.append(f"Read as {agg}: nothing in the search space explains it"
                       + ("" if t["per_party_per_layer"] else
                          f" ({_counts_text(doc['measured'])} is not a multiple of {t['factor']})") + ". Nearest:")
            for i, c in enumerate(t["nearest"], 1):
                res = ", ".join(f"{v:+,} {FIELD_WORDS.get(k, k)}" for k, v in c["residual_at_aggregation"].items())
                out.append(f"  {i}. [{c['distance']} changed] {_settings_text(c)}: predicts "
                           f"{_counts_text(c['predicted_at_aggregation'])}; residual (measured − predicted) {res}")
    return "\n".join(out) + "\n"
