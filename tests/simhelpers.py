"""Helpers for the tests: a quick way to simulate."""

from models.specs import get_model
from simflush.networks import get_network
from simflush.profiles import parse_overrides, resolve
from simflush.sim.cost import load_cost
from simflush.sim.engine import SimConfig, simulate


def run_sim(model: str, seq_len: int = 128, batch: int = 1, layers: int | None = None,
            runtime: str = "suf-gpu-bench", sets: tuple[str, ...] = (), net: str = "loopback",
            policy: str = "suf", deploy: str = "colocated", chains: int = 1, cost=None):
    spec = get_model(model)
    settings = resolve(runtime, spec, parse_overrides(list(sets)), chains=chains)
    return simulate(SimConfig(spec, seq_len, batch, layers or spec.n_layers, settings, cost or load_cost("suf-h100"),
                              get_network(net), policy, deploy))
