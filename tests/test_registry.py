"""The registry refuses duplicates and names every allowed value for an unknown one."""

import pytest

from simflush.errors import ConfigError
from simflush.registry import Registry


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
