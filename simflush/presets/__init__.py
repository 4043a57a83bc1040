"""The built-in cost presets: one JSON file each (``CostModel.to_json``), registered by file name."""

from importlib import resources
from importlib.resources.abc import Traversable

from ..registry import Registry

COST_PRESETS: Registry[Traversable] = Registry("cost preset")
for _file in sorted((f for f in resources.files(__name__).iterdir() if f.name.endswith(".json")),
                    key=lambda f: f.name[:-len(".json")]):
    COST_PRESETS.add(_file.name[:-len(".json")], _file)
