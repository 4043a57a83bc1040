"""The registry refuses duplicates and names every allowed value for an unknown one; the selectors use it."""

import pytest

from simflush.errors import ConfigError
from simflush.executor.policies import get_policy
from simflush.networks import NETWORKS, get_network
from simflush.presets import COST_PRESETS
from simflush.registry import Registry
from simflush.sim.cost import load_cost
from simflush.sim.engine import DEPLOYMENTS


def test_registry_keeps_order_and_refuses_duplicates():
    reg = Registry("flush policy")
    reg.add("b", 2)
    reg.add("a", 1)
    assert list(reg) == ["b", "a"] and reg.get("a") == 1 and "b" in reg and len(reg) == 2
    with pytest.raises(ValueError, match="'a' is registered twice"):
        reg.add("a", 3)
    assert reg.get("a") == 1


def test_unknown_name_lists_the_allowed():
    reg = Registry("deployment")
    reg.add("colocated", 0)
    reg.add("two-gpu", 1)
    with pytest.raises(ConfigError, match=r"unknown deployment 'moon'; allowed: colocated, two-gpu$"):
        reg.get("moon")


@pytest.mark.parametrize("lookup,message", [
    (lambda: get_policy("x"), "unknown policy 'x'; allowed: suf, have_pfss_work, budget, pfss_eager, sigma"),
    (lambda: DEPLOYMENTS.get("moon"), "unknown deployment 'moon'; allowed: colocated, two-gpu"),
    (lambda: get_network("moon"), "unknown network 'moon'; allowed: loopback, lan, wan, custom:BW_GBPS,RTT_MS"),
    (lambda: load_cost("nope"),
     "unknown cost preset 'nope'; allowed: real-h200, sigma-a6000, suf-h100, suf-h200 or a path to a .json profile"),
])
def test_selectors_name_the_allowed_values(lookup, message):
    with pytest.raises(ConfigError) as err:
        lookup()
    assert str(err.value) == message


def test_registered_items_are_found_by_name():
    assert get_policy("have_pfss_work").name == "have_pfss_work"
    assert get_network("lan") is NETWORKS.get("lan")
    assert not DEPLOYMENTS.get("two-gpu").shared_gpu
    assert load_cost("suf-h100").name and "suf-h100" in COST_PRESETS
