# %% [markdown]
# # What would a protocol change buy? Counts first, then time
#
# A percent-format notebook (open it with jupytext, or run it as a script). For a few protocol changes
# (fewer rsqrt iterations, the LUT rsqrt, sigma-style softmax pieces, dropping nExp's final truncation)
# it reads the closed-form flush counts from the checklist and the online time from the simulator, on LAN
# and WAN. `SIMFLUSH_NOTEBOOK_SMALL=1` (set by the tests) uses a small model.

# %%
import os
from pathlib import Path

import simflush
from simflush.analysis.checklist.counts import build_checklist

SMALL = os.environ.get("SIMFLUSH_NOTEBOOK_SMALL") == "1"
MODEL, SEQ_LEN = ("bert-tiny", 32) if SMALL else ("bert-base", 128)
OUT = Path(os.environ.get("SIMFLUSH_NOTEBOOK_OUT", "notebook_out"))
OUT.mkdir(exist_ok=True)

VARIANTS = {  # knobs by SUF env name (``simflush simulate --set NAME=VALUE``)
    "snapshot": {},
    "rsqrt 0 iterations": {"rsqrt_iters": 0},
    "LUT rsqrt + 1 step": {"SUF_RSQRT_MODE": "sigma_gpu"},
    "sigma nExp": {"SUF_NEXP_MODE": "sigma_gpu"},
    "sigma nExp, no final trunc": {"SUF_NEXP_MODE": "sigma_gpu", "nexp_final_trunc": 0},
    "sigma inverse": {"SUF_INV_MODE": "sigma_gpu"},
}


def one_layer(knobs: dict, net: str) -> simflush.Result:
    return simflush.simulate(model=MODEL, seq_len=SEQ_LEN, layers=1, knobs=knobs, net=net)

# %% [markdown]
# ## Per party per layer: closed-form counts (no simulation)

# %%
configs = {name: simflush.make_config(model=MODEL, seq_len=SEQ_LEN, layers=1, knobs=knobs)
           for name, knobs in VARIANTS.items()}
for name, c in configs.items():
    per_layer = build_checklist(c.model, c.seq_len, c.batch, c.settings, layers=c.layers).per_layer
    print(f"{name:>28}: {per_layer.open_flushes:3d} opens, {per_layer.pfss_flushes:3d} PFSS, "
          f"{per_layer.wire_bytes / 1e6:7.2f} MB sent per party")

# %% [markdown]
# ## One layer's online time, LAN and WAN
# Fewer open flushes matter most on WAN, where each one costs a round trip.

# %%
base = {}
for net in ("lan", "wan"):
    for name, knobs in VARIANTS.items():
        ms = one_layer(knobs, net).online_time_s * 1e3
        base.setdefault(net, ms)
        print(f"{net} {name:>28}: {ms:9.2f} ms  ({base[net] / ms:.3f}x vs snapshot)")

# %%
from simflush.io.plots import plot_run_bars  # noqa: E402

rows = [(name, one_layer(knobs, "lan").trace) for name, knobs in VARIANTS.items()]
plot_run_bars(rows, OUT / "protocol_variants_lan.png", f"{MODEL}, layer 0 on LAN by protocol variant")
print("figure:", OUT / "protocol_variants_lan.png")
