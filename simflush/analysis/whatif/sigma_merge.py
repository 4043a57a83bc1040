"""What SIGMA's authors left on the table: SIGMA's block under SUF's flush executor, with its independent
exchanges merged (``sigma_merge=1``: LUT U/V pairs, nExp's two branches, the rsqrt syncs, rotary Q/K,
Llama's up1/up2), against SIGMA's own program order (policy ``sigma``). One block per model, simulated
with the ``sigma-a6000`` preset, one GPU per party; every block is the same, so a model saves its
blocks times a block's saving."""

from dataclasses import dataclass

from ...api import simulate

SCHEDULES = (  # (label, policy, knobs)
    ("SIGMA (program order)", "sigma", {}),
    ("suf executor, merged", "suf", {"sigma_merge": "1"}),
    ("have_pfss_work, merged", "have_pfss_work", {"sigma_merge": "1"}),
)


@dataclass(frozen=True)
class MergeRow:
    model: str
    net: str
    schedule: str
    blocks: int
    exchanges_per_block: int     # per party
    block_s: float               # one block's online time
    exchanges_saved: int         # per block, against SIGMA's program order
    model_s_saved: float         # the whole model's online time saved

    @property
    def saved_pct(self) -> float:
        return 100 * self.model_s_saved / (self.block_s * self.blocks + self.model_s_saved)


def merge_rows(models: tuple[str, ...], nets: tuple[str, ...] = ("lan", "wan")) -> list[MergeRow]:
    rows = []
    for model in models:
        for net in nets:
            base = None
            for label, policy, knobs in SCHEDULES:
                r = simulate(model=model, layers=1, runtime="sigma-gpu", policy=policy, knobs=knobs, net=net,
                             deploy="two-gpu", cost="sigma-a6000")
                exchanges = r.bench_json()["sigma"]["exchanges_per_party"]
                base = base or (exchanges, r.online_time_s)
                blocks = r.config.model.n_layers
                rows.append(MergeRow(model, net, label, blocks, exchanges, r.online_time_s, base[0] - exchanges,
                                     (base[1] - r.online_time_s) * blocks))
    return rows


def merge_table(rows: list[MergeRow]) -> str:
    head = "| model | net | schedule | exchanges/block | block ms | exchanges saved/block | model s saved | saved |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.model} | {r.net} | {r.schedule} | {r.exchanges_per_block} | {r.block_s * 1e3:.1f} | "
                     f"{r.exchanges_saved} | {r.model_s_saved:.3f} | {r.saved_pct:.1f}% |")
    return "\n".join(lines)
