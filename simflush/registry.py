"""``Registry``: the named things of one kind (flush policies, deployments, networks, cost presets,
runtime profiles, knobs) that users select by name, each registered once."""

from collections.abc import Iterator
from typing import Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """An ordered name -> item map that refuses a second item under a name it already has.

    ``get`` of an unknown name raises ``ConfigError`` naming the kind and every allowed name, so that
    every selector of the CLI and the library reports bad input the same way.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        """Register ``item`` as ``name``; returns it (so ``X = REGISTRY.add("x", X)`` reads well)."""
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = item
        return item

    def register(self, item: T) -> T:
        """Register ``item`` under its own ``name`` attribute (usable as a class decorator)."""
        return self.add(item.name, item)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}; allowed: {', '.join(self._items)}") from None

    def names(self) -> list[str]:
        return list(self._items)

    def items(self):
        return self._items.items()

    def values(self):
        return self._items.values()

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
