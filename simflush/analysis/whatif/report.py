"""The what-if report of the engineers' three questions (DESIGN.md §1), with its figures.

    simflush whatif-report --out docs

writes ``docs/whatif.md`` and ``docs/whatif/*.png``: (a) the have_pfss_work overlap patch against the
snapshot policy; (b) rsqrt Newton iterations and the LUT rsqrt; (c) softmax branches and the nExp
final truncation; (d) time and fixed-point error of the protocol variants side by side; (e) SIGMA's block under
SUF's executor with its independent exchanges merged. (a)-(c) are simulated with the ``suf-h100`` cost preset,
through the API (``simflush.analysis.whatif.compare``); (d) too, its errors the plaintext fixed-point run against
float64 (``simflush.analysis.accuracy``); (e) with ``sigma-a6000`` (``sigma_merge``).
"""

import itertools
from pathlib import Path

from ...io.plots import plot_error_vs_time, plot_run_bars, plot_timeline
from ...variants import Mode
from .compare import LIST_OPTIONS, Progress, add_accuracy, run_all, summaries
from .sigma_merge import merge_rows, merge_table

SIGMA_MODELS = ("bert-tiny", "bert-base", "bert-large", "gpt2", "gpt-neo-1.3b", "llama2-7b", "llama2-13b")

DEFAULTS = {name: (LIST_OPTIONS[name][1](d) if d else None) for name, (d, _p) in LIST_OPTIONS.items()}


def _configs(base: dict, axes: dict[str, list]) -> list[dict]:
    """The product of ``axes`` (keyword of ``simflush.api.simulate``, or ``set:KNOB``, -> values) over
    ``base``; knob values as strings, as ``--set`` gives them."""
    out = []
    for values in itertools.product(*axes.values()):
        params = {**DEFAULTS, **base, "knobs": dict(base.get("knobs", {}))}
        for key, value in zip(axes, values, strict=True):
            if key.startswith("set:"):
                params["knobs"][key[4:]] = str(value)
            else:
                params[key] = value
        out.append(params)
    return out


def _md_table(records: list[dict], columns: list[str]) -> str:
    head = [*columns, "online ms", "opens", "PFSS", "speed-up"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        cells = [str(r.get(c, "")) for c in columns]
        if "error" in r:
            cells += [r["error"], "", "", ""]
        else:
            cells += [f"{r['online_time_s'] * 1e3:.1f}", str(r["open_flushes"]), str(r["pfss_flushes"]),
                      f"{r['speedup']:.3f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _study(configs: list[dict], progress: Progress | None):
    rows = run_all(configs, progress=progress)
    return rows, summaries(rows)


def question_a(out: Path, progress: Progress | None = None) -> str:
    parts = ["## (a) What would the have_pfss_work overlap patch buy?\n",
             "Both policies on one layer, per model; `chains` splits every run into staggered independent "
             "tasks (1 = the snapshot's single dependency chain). Opens and PFSS are both parties' flushes.\n"]
    for model in ("bert-tiny", "bert-base"):
        configs = _configs({"model": model, "layers": 1}, {
            "deploy": ["colocated", "two-gpu"], "net": ["lan", "wan"], "chains": [1, 2],
            "policy": ["suf", "have_pfss_work"]})
        rows, records = _study(configs, progress)
        for rec, cfg in zip(records, configs, strict=True):
            rec.update(deploy=cfg["deploy"], net=cfg["net"], chains=cfg["chains"], policy=cfg["policy"])
        parts += [f"### {model}\n", _md_table(records, ["deploy", "net", "chains", "policy"]), ""]
        if model == "bert-base":
            pick = {(c["deploy"], c["net"], c["chains"], c["policy"]): row
                    for c, row in zip(configs, rows, strict=True)}
            for name, key in (("helps", ("colocated", "lan", 2, "have_pfss_work")),
                              ("hurts", ("colocated", "wan", 2, "have_pfss_work")),
                              ("suf_lan", ("colocated", "lan", 2, "suf")),
                              ("suf_wan", ("colocated", "wan", 2, "suf"))):
                plot_timeline(pick[key].result.trace, out / f"a_timeline_{name}.png",
                              dict(zip(("deploy", "net", "chains", "policy"), key, strict=True)))
    parts.append(
        "With one chain both policies give the same schedule and time (no PFSS batch has work when an open "
        "flush starts). With two chains, on LAN the patch overlaps one chain's PFSS evaluation with the other's "
        "open and wins; on WAN it loses: overlapping early desynchronises the chains, so there are more, smaller "
        "open flushes and each pays the 60 ms round trip. Timelines of bert-base, two chains, colocated:\n\n"
        "| | snapshot (suf) | have_pfss_work |\n|---|---|---|\n"
        "| LAN | ![](whatif/a_timeline_suf_lan.png) | ![](whatif/a_timeline_helps.png) |\n"
        "| WAN | ![](whatif/a_timeline_suf_wan.png) | ![](whatif/a_timeline_hurts.png) |\n")
    return "\n".join(parts)


def question_b(out: Path, progress: Progress | None = None) -> str:
    configs = _configs({"model": "bert-base", "layers": 1, "net": "lan"}, {"set:rsqrt_iters": [1, 2, 3]})
    configs += _configs({"model": "bert-base", "layers": 1, "net": "lan", "knobs": {"SUF_RSQRT_MODE": Mode.SIGMA_GPU}},
                        {"set:rsqrt_iters": [0, 1]})
    rows, records = _study(configs, progress)
    for rec, cfg in zip(records, configs, strict=True):
        rec["rsqrt"] = "LUT (sigma_gpu)" if cfg["knobs"].get("SUF_RSQRT_MODE") == Mode.SIGMA_GPU else "Newton (suf)"
        rec["iterations"] = cfg["knobs"]["rsqrt_iters"]
    bars = [(f"{r['rsqrt']} it={r['iterations']}", row.result.trace) for r, row in zip(records, rows, strict=True)]
    plot_run_bars(bars, out / "b_runs.png",
                  "bert-base, layer 0 — rsqrt variants, net lan, deploy colocated: time per run, party 0")
    return "\n".join(["## (b) What would fewer rsqrt iterations or a LUT rsqrt buy?\n",
                      "bert-base, one layer, LAN, colocated. Each LayerNorm runs one rsqrt; the snapshot uses one "
                      "Newton iteration (7 opens + 4 PFSS per rsqrt).\n",
                      _md_table(records, ["rsqrt", "iterations"]), "", "![](whatif/b_runs.png)\n"])


def question_c(out: Path, progress: Progress | None = None) -> str:
    modes = list(Mode)  # suf, then sigma_gpu
    axes = {"set:SUF_ROWMAX_MODE": modes, "set:SUF_NEXP_MODE": modes, "set:SUF_INV_MODE": modes,
            "set:nexp_final_trunc": [1, 0]}
    configs = _configs({"model": "bert-base", "layers": 1, "net": "lan"}, axes)
    rows, records = _study(configs, progress)
    for rec, cfg in zip(records, configs, strict=True):
        for key, value in cfg["knobs"].items():
            rec[key.replace("SUF_", "").replace("_MODE", "").lower()] = value
    best = sorted(zip(records, rows, strict=True), key=lambda p: p[0].get("online_time_s", 1e9))[:4]
    plot_run_bars([(configs[0]["model"] + " suf", rows[0].result.trace)] +
                  [(" ".join(f"{k}={r[k]}" for k in ("rowmax", "nexp", "inv", "nexp_final_trunc")), row.result.trace)
                   for r, row in best], out / "c_runs.png",
                  "bert-base, layer 0 — softmax variants, net lan, deploy colocated: time per run, party 0")
    return "\n".join(["## (c) What would the softmax branches and dropping nExp's final truncation buy?\n",
                      "bert-base, one layer, LAN, colocated; sigma tasks' FSS through the PFSS batch "
                      "(`sigma_fss_via_pfss_batch=1`). The bar chart shows the snapshot and the four fastest.\n",
                      _md_table(records, ["rowmax", "nexp", "inv", "nexp_final_trunc"]), "",
                      "![](whatif/c_runs.png)\n"])


# (d): each variant's knobs and the phase whose error it changes most (besides the final hidden state)
ACCURACY_VARIANTS = [
    ("snapshot", {}, "ln1"),
    ("rsqrt_iters=0", {"rsqrt_iters": 0}, "ln1"),
    ("rsqrt_iters=2", {"rsqrt_iters": 2}, "ln1"),
    ("rsqrt_iters=3", {"rsqrt_iters": 3}, "ln1"),
    ("LUT rsqrt", {"SUF_RSQRT_MODE": Mode.SIGMA_GPU, "rsqrt_iters": 0}, "ln1"),
    ("LUT rsqrt + 1 Newton", {"SUF_RSQRT_MODE": Mode.SIGMA_GPU, "rsqrt_iters": 1}, "ln1"),
    ("nexp_final_trunc=0", {"nexp_final_trunc": 0}, "probs"),
    ("prob_trunc=0", {"prob_trunc": 0}, "probs"),
    ("recip_iters=2", {"recip_iters": 2}, "probs"),
    ("recip_iters=3", {"recip_iters": 3}, "probs"),
    ("LUT nExp", {"SUF_NEXP_MODE": Mode.SIGMA_GPU}, "probs"),
    ("GeLU spline", {"SUF_GELU_CONST": 0}, "act"),
    ("LUT GeLU", {"SUF_GELU_MODE": Mode.SIGMA_GPU}, "act"),
]
ACCURACY_BITS = 48   # the ring of (d): SUF's 37 bits overflow in the LayerNorm variance (docs/accuracy.md)


def question_d(out: Path, progress: Progress | None = None) -> str:
    base = {"model": "bert-tiny", "seq_len": 128}
    configs = [{**DEFAULTS, **base, "net": net, "knobs": {k: str(v) for k, v in knobs.items()}}
               for _label, knobs, _phase in ACCURACY_VARIANTS for net in ("lan", "wan")]
    rows = run_all(configs, progress=progress)
    add_accuracy(rows, ACCURACY_BITS)
    records = summaries(rows)
    table = ["| variant | LAN ms | WAN ms | opens | PFSS | final hidden state | phase it changes | ring bits needed |",
             "|---|--:|--:|--:|--:|--:|---|--:|"]
    points = []
    for i, (label, _knobs, phase) in enumerate(ACCURACY_VARIANTS):
        lan, wan, row = records[2 * i], records[2 * i + 1], rows[2 * i]
        if row.accuracy is None:
            table.append(f"| {label} | {lan['online_time_s'] * 1e3:.1f} | {wan['online_time_s'] * 1e3:,.0f} | "
                         f"{lan['open_flushes']} | {lan['pfss_flushes']} | {row.accuracy_error} | | |")
            continue
        changed = next(p for p in row.accuracy.phases if p.phase == phase)
        table.append(f"| {label} | {lan['online_time_s'] * 1e3:.1f} | {wan['online_time_s'] * 1e3:,.0f} | "
                     f"{lan['open_flushes']} | {lan['pfss_flushes']} | {lan['final_rel_rms_error']:.4f} | "
                     f"{phase} {changed.rel_rms_error:.4f} | {lan['n_bits_needed']} |")
        points.append({"label": label, "group": f"changes {phase}", "online_time_s": lan["online_time_s"],
                       "final_rel_rms_error": lan["final_rel_rms_error"], "changed": changed.rel_rms_error})
    plot_error_vs_time(points, out / "d_error_vs_time.png",
                       f"bert-tiny, 2 layers, T = 128, net lan, n_bits {ACCURACY_BITS}, f 12: relative RMS error "
                       "against simulated online time per protocol variant",
                       (("final_rel_rms_error", "final hidden state"), ("changed", "the phase the variant changes")))
    return "\n".join([
        "## (d) Time and error side by side\n",
        f"bert-tiny, both layers, T = 128, colocated; times simulated on LAN and WAN, errors from the plaintext "
        f"fixed-point run (`simflush accuracy`, the same tasks through the same executor on cleartext) against "
        f"float64, at n_bits {ACCURACY_BITS} and f = 12, seeded random weights (N(0, 0.02²)) and N(0, 1) input. "
        "Errors are relative RMS over both layers (docs/accuracy.md); the phase column is the one the variant "
        "changes most (ln1: the first LayerNorm's output; probs: the softmax probabilities; act: the MLP "
        "activation). Opens and PFSS are both parties' flushes. Reproduce a row with "
        "`simflush compare --model bert-tiny --net lan,wan --accuracy --n-bits 48 --set K=V`.\n",
        "\n".join(table), "", "![](whatif/d_error_vs_time.png)\n"])


def question_e(models: tuple[str, ...] = SIGMA_MODELS) -> str:
    return "\n".join([
        "## (e) What would SUF's flush executor buy SIGMA?\n",
        "SIGMA's own runtime (`--runtime sigma-gpu`, [sigma.md](sigma.md)) issues every exchange alone, in "
        "program order (policy `sigma`). Run under SUF's executor with its independent exchanges reserved "
        "together (`--set sigma_merge=1`: a LUT's U and V, nExp's two LUT branches, each rsqrt sync with the "
        "exchange before it, rotary's Q and K, Llama's up1 and up2), a flush carries them at once. One block "
        "per model, cost preset `sigma-a6000`, one GPU per party; the model's saving is its blocks times the "
        "block's. Exchanges are per party.\n",
        merge_table(merge_rows(models)), "",
        "Merging saves 10 of 106 exchanges per BERT/GPT block and 17 of 116 per Llama block. On WAN each "
        "exchange costs a one-way latency (30 ms), so that is 5-9 % of the online time; on LAN the exchanges' "
        "fixed part is small beside the key copies, and it saves 0.1-1.7 %. `have_pfss_work` changes nothing "
        "here: SIGMA's DPF evaluations are inline kernels (no PFSS batch has work beside an open). Set beside "
        "SUF's own question (a), where the patch's gain comes from overlapping PFSS with opens, SIGMA's "
        "schedule has no PFSS flushes to overlap: what it leaves on the table is only the exchanges. For scale, "
        "SUF's own runtime does a bert-base layer in 55 open flushes per party (question (a), 110 for both "
        "parties; its own protocols and a 37-bit ring), SIGMA in 106, or 96 merged.\n"])


def write_report(out: Path, progress: Progress | None = None) -> str:
    """Write ``out/whatif.md`` and its figures in ``out/whatif/``; returns what was written.
    ``progress`` sees each study's finished configurations."""
    figures = out / "whatif"
    figures.mkdir(parents=True, exist_ok=True)
    text = "\n\n".join([
        "# What-if report\n\nGenerated by `simflush whatif-report --out docs` (simulated, cost "
        "preset `suf-h100`, runtime profile `suf-gpu-bench`, except (e): SIGMA's runtime). Times are one "
        "iteration's online wall time; "
        "speed-ups are against the first row of each table. How the variants and policies are modelled: "
        "[whatif_model.md](whatif_model.md).",
        question_a(figures, progress), question_b(figures, progress), question_c(figures, progress),
        question_d(figures, progress), question_e()])
    (out / "whatif.md").write_text(text + "\n")
    return f"wrote {out / 'whatif.md'} and {len(list(figures.glob('*.png')))} figures in {figures}\n"
