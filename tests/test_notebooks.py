"""The study notebooks run top to bottom in a real Jupyter kernel on small settings, show their tables and
figures inline, and are committed without outputs."""

import base64
import re
from pathlib import Path

import ipykernel.kernelspec
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "simflush-tests"
CELL_TIMEOUT_S = 120

# Per notebook: patterns its displayed Markdown tables must contain (a line each), and how many figures it shows.
EXPECTED = {
    "overlap_study.ipynb": (
        [r"^\| lan \| 1 \| suf \| [\d.]+ \| 1\.000x \|$",            # the baseline is 1x against itself
         r"^\| custom:1,5 \| 2 \| have_pfss_work \| [\d.]+ \| [\d.]+x \|$",
         r"^\| wan \| 3 \| pfss_eager \| [\d.]+ \| [\d.]+x \|$"],
        1),
    "protocol_variants.ipynb": (
        [r"^\| snapshot \| \d+ \| \d+ \| [\d.]+ \|$",                # the checklist's counts
         r"^\| sigma inverse \| \d+ \| \d+ \| [\d.]+ \|$",
         r"^\| snapshot \| [\d.]+ \| 1\.000x \| [\d.]+ \| 1\.000x \|$",  # LAN and WAN time
         r"^\| rsqrt 0 iterations \| [\d.]+ \| [\d.]+x \| [\d.]+ \| [\d.]+x \|$"],
        1),
}


@pytest.fixture(scope="session")
def jupyter_dir(tmp_path_factory) -> Path:
    """A kernelspec for this interpreter in a throwaway Jupyter path (a fresh CI machine has none)."""
    prefix = tmp_path_factory.mktemp("jupyter")
    ipykernel.kernelspec.install(kernel_name=KERNEL, prefix=str(prefix))
    return prefix


def outputs(nb, kind: str) -> list[dict]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs if out.output_type == kind]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_a_kernel(path, jupyter_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_dir / "share" / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # no user profile or startup files
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this checkout's simflush
    monkeypatch.setenv("SIMFLUSH_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("SIMFLUSH_NOTEBOOK_OUT", str(tmp_path / "figures"))
    nb = nbformat.read(path, as_version=4)
    # Raises CellExecutionError on the first cell that fails, with its traceback.
    NotebookClient(nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S, startup_timeout=60,
                   resources={"metadata": {"path": str(path.parent)}}).execute()

    stderr = "".join(out.text for out in outputs(nb, "stream") if out.name == "stderr")
    assert not stderr, f"the notebook wrote to stderr:\n{stderr}"
    displayed = [out.data for out in outputs(nb, "display_data")]
    markdown = "\n".join(data["text/markdown"] for data in displayed if "text/markdown" in data)
    patterns, figures = EXPECTED[path.name]
    for pattern in patterns:
        assert re.search(pattern, markdown, re.MULTILINE), f"no table row matching {pattern!r} in:\n{markdown}"
    pngs = [base64.b64decode(data["image/png"]) for data in displayed if "image/png" in data]
    assert len(pngs) == figures
    assert all(png.startswith(b"\x89PNG") and len(png) > 5_000 for png in pngs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} keep outputs; clear them (Jupyter: Edit > Clear Outputs of All "
                       f"Cells, then save; or `jupyter nbconvert --clear-output --inplace notebooks/{path.name}`)")


def test_every_notebook_has_expectations():
    assert NOTEBOOKS and sorted(EXPECTED) == [p.name for p in NOTEBOOKS]
