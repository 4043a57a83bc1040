"""The rooms of docs/architecture.md and their one-way doors, checked on the source: a module may
import only from its own room and the rooms listed for it (imports inside functions count too)."""

import ast
from pathlib import Path

from paths import REPO

# room -> rooms it may import from (besides itself). Leaf modules (errors, limits, units, registry,
# jsonfile, version) form the room "base", which any room may use. The checklist's closed forms are a
# room of their own: the variant table names each value's closed form, so they sit below the config.
DOORS = {
    "base": set(),
    "models": set(),
    "tasks": {"base"},
    "executor": {"base", "tasks"},
    "forms": {"base", "models", "tasks"},                         # analysis/checklist/forms.py (below)
    "config": {"base", "models", "tasks", "executor", "forms"},   # variants, profiles, workload
    "io": {"base", "models", "tasks", "executor"},                # trace schema, importers, exporters
    "plain": {"base", "models", "tasks", "executor", "config"},        # the value path in the clear
    "sim": {"base", "models", "tasks", "executor", "config", "io"},
    "api": {"base", "models", "tasks", "executor", "forms", "config", "sim", "io", "plain"},
    "analysis": {"base", "models", "tasks", "executor", "forms", "config", "sim", "io", "api", "plain"},
    "cli": {"base", "models", "tasks", "executor", "forms", "config", "sim", "io", "api", "analysis", "plain"},
    "real_backend": {"base", "models", "tasks", "executor", "config", "plain", "io"},   # the value path on shares
}
BASE = {"errors", "limits", "units", "registry", "jsonfile", "version"}
CONFIG = {"variants", "profiles", "workload", "sigma_workload", "environment", "networks"}


def room_of(module: str) -> str | None:
    """``simflush.sim.engine`` -> ``sim``; ``models.layer`` -> ``models``; None for third-party modules."""
    parts = module.split(".")
    if parts[0] in ("models", "real_backend"):
        return parts[0]
    if parts[0] != "simflush":
        return None
    if len(parts) == 1:
        return "api"  # the package root re-exports the API
    head = parts[1]
    if module == "simflush.analysis.checklist.forms":
        return "forms"
    if head == "__main__":
        return "cli"  # ``python -m simflush`` runs the CLI
    if head in BASE or head == "presets":
        return "base"
    if head in CONFIG:
        return "config"
    return head


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_module(name: str) -> bool:
    path = REPO / Path(*name.split("."))
    return path.is_dir() or path.with_suffix(".py").exists()


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # `from pkg import mod` imports the module, not the package's room
                sub = f"{target}.{alias.name}"
                out.add(sub if is_module(sub) else target)
    return out


def test_every_import_goes_through_an_allowed_door():
    wrong = []
    for top in ("simflush", "models", "real_backend"):
        for path in sorted((REPO / top).rglob("*.py")):
            mine = room_of(module_name(path))
            for target in imports(path):
                theirs = room_of(target)
                if theirs is None or theirs == mine or theirs in DOORS[mine]:
                    continue
                wrong.append(f"{module_name(path)} ({mine}) imports {target} ({theirs})")
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(set(wrong)))
