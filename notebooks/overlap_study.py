# %% [markdown]
# # Where does overlap help? A what-if study with simflush
#
# A percent-format notebook (open it in Jupyter with jupytext, or run it as a script). It asks how the
# `have_pfss_work` overlap patch and staggered chains change the online time of one layer, across
# networks, and shows the timeline of the best case. `SIMFLUSH_NOTEBOOK_SMALL=1` (set by the tests) uses
# a small model and sequence length.

# %%
import os
from pathlib import Path

import simflush

SMALL = os.environ.get("SIMFLUSH_NOTEBOOK_SMALL") == "1"
MODEL, SEQ_LEN = ("bert-tiny", 32) if SMALL else ("bert-base", 128)
OUT = Path(os.environ.get("SIMFLUSH_NOTEBOOK_OUT", "notebook_out"))
OUT.mkdir(exist_ok=True)


def one_layer(policy: str, chains: int, net: str) -> simflush.Result:
    return simflush.simulate(model=MODEL, seq_len=SEQ_LEN, layers=1, policy=policy, chains=chains, net=net)


def online_ms(policy: str, chains: int, net: str) -> float:
    return one_layer(policy, chains, net).online_time_s * 1e3


# %% [markdown]
# ## One layer, per policy, chain count and network

# %%
results = {}
for net in ("lan", "custom:1,5", "wan"):
    for chains in (1, 2, 3):
        for policy in ("suf", "have_pfss_work", "pfss_eager"):
            results[(net, chains, policy)] = online_ms(policy, chains, net)
base = {net: results[(net, 1, "suf")] for net in ("lan", "custom:1,5", "wan")}
for (net, chains, policy), ms in results.items():
    print(f"{net:>11} chains={chains} {policy:>15}: {ms:9.2f} ms  ({base[net] / ms:.3f}x vs snapshot)")

# %% [markdown]
# With one chain the two overlap policies cannot differ from the snapshot's; gains need chains at
# different stages. On slow, high-latency links more chains mean more open rounds, and that dominates.

# %%
best = min(results, key=lambda k: results[k] / base[k[0]])
print("best relative to its network's snapshot:", best, f"{base[best[0]] / results[best]:.3f}x")

# %%
from simflush.io.plots import plot_timeline  # noqa: E402

net, chains, policy = best
plot_timeline(one_layer(policy, chains, net).trace, OUT / "overlap_best.png", {"policy": policy, "chains": chains})
print("timeline:", OUT / "overlap_best.png")
