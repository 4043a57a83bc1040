"""The what-if notebooks run top to bottom on small settings."""

import runpy
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIMFLUSH_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("SIMFLUSH_NOTEBOOK_OUT", str(tmp_path))
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert "snapshot" in out or "x vs" in out
    pngs = list(tmp_path.glob("*.png"))
    assert pngs and all(p.stat().st_size > 5_000 for p in pngs)


def test_there_are_notebooks():
    assert NOTEBOOKS
