"""Readable text tables of a simulation result."""



def _table(header: list[str], rows: list[list], align: str) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if a == "l" else c.rjust(w)  # noqa: E731
                              for c, w, a in zip(r, widths, align, strict=True))
    return "\n".join([fmt(cells[0]), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells[1:]])


def simulate_report(doc: dict) -> str:
    """Per-run table of layer 0, then whole-model totals in the bench's terms."""
    runs = [r for r in doc["runs"] if r["layer"] == 0]
    rows = [[r["run"], r["open_flushes"], r["pfss_flushes"], r["opened_words"], r["hatx_words"],
             r["wire_bytes_per_party"], f"{r['time_s'][0] * 1e3:.2f}", f"{r['time_s'][1] * 1e3:.2f}"]
            for r in runs]
    ppl = doc["per_party_per_layer"]
    rows.append(["layer total", ppl["open_flushes"], ppl["pfss_flushes"], ppl["opened_words"],
                 ppl["hatx_words"], ppl["wire_bytes"],
                 f"{sum(r['time_s'][0] for r in runs) * 1e3:.2f}", f"{sum(r['time_s'][1] for r in runs) * 1e3:.2f}"])
    head = (f"{doc['model']}  T={doc['seq_len']} B={doc['batch_size']} layers={doc['n_layers_run']}/"
            f"{doc['n_layers']} n_bits={doc['n_bits']}  runtime={doc['runtime_profile']} policy={doc['policy']} "
            f"deploy={doc['deploy']} net={doc['network']} cost={doc['cost_preset']}")
    table = _table(["run (layer 0, per party)", "opens", "pfss", "opened words", "hatx words",
                    "wire B", "p0 ms", "p1 ms"], rows, "lrrrrrrr")
    p, c = doc["pfss"], doc["communication"]
    branches = ", ".join(f"{k}={v}" for k, v in doc["branches"].items())
    totals = "\n".join([
        "whole model, both parties summed (SUF bench JSON meaning):",
        f"  pfss.open_flushes={p['open_flushes']}  pfss.num_flushes={p['num_flushes']}  "
        f"pfss.num_jobs={p['num_jobs']}",
        f"  pfss.opened_words={p['opened_words']} (beaver {p['opened_words_beaver']}, mask "
        f"{p['opened_words_mask']})  pfss.total_hatx_words={p['total_hatx_words']}",
        f"  communication.net_bytes={c['net_bytes']}  pfss_bytes={c['pfss_bytes']}  online_bytes={c['online_bytes']}",
        f"  branches: {branches}",
        f"timing.online_time_s={doc['timing']['online_time_s']:.4f} (simulated)",
    ])
    return f"{head}\n\n{table}\n\n{totals}\n"


def models_report(models: dict) -> str:
    rows = [[m.name, m.activation, "yes" if m.causal else "no", m.n_layers, m.n_heads, m.d_model, m.d_ff,
             m.max_seq, m.n_bits, m.frac_bits] for m in models.values()]
    return _table(["model", "activation", "causal", "layers", "heads", "d_model", "d_ff", "max_seq",
                   "n_bits", "frac_bits"], rows, "lllrrrrrrr") + "\n"


__all__ = ["models_report", "simulate_report"]
