"""Fixtures for real_backend tests; ``gpu``-marked tests are skipped where CuPy or a GPU is missing."""
from __future__ import annotations

import ctypes
import shutil
import subprocess
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from real_backend.xp import gpu_available


def pytest_collection_modifyitems(config: Any, items: list) -> None:
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def run_parties(fn0: Callable[[], Any], fn1: Callable[[], Any], timeout_s: float = 20.0) -> tuple[Any, Any]:
    """Run two party functions concurrently (party 1 in a thread); re-raise the first error."""
    box: dict = {}

    def target() -> None:
        try:
            box["r1"] = fn1()
        except BaseException as e:  # re-raised below
            box["e1"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    r0 = fn0()
    t.join(timeout_s)
    assert not t.is_alive(), "party 1 did not finish"
    if "e1" in box:
        raise box["e1"]
    return r0, box["r1"]


def chi2_uniform(counts: np.ndarray) -> float:
    """Pearson chi-square statistic of ``counts`` against the uniform distribution."""
    exp = counts.sum() / counts.size
    return float(((counts - exp) ** 2 / exp).sum())


def chi2_limit(dof: int, z: float = 5.0) -> float:
    """Upper critical value of chi-square(dof) at about z sigmas (Wilson-Hilferty; z=5 -> p ~ 3e-7)."""
    a = 2.0 / (9.0 * dof)
    return dof * (1 - a + z * np.sqrt(a)) ** 3


def host_library(tmp_path_factory: Any, sources: dict[str, str], shim: str) -> ctypes.CDLL:
    """CUDA source built for the host with a shim that defines the CUDA names it uses and runs a launch's threads one
    after another (``sources``: file name -> text, which ``shim`` includes), loaded with ctypes; skipped without
    g++."""
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    folder = tmp_path_factory.mktemp("shim")
    for name, text in sources.items():
        (folder / name).write_text(text)
    (folder / "shim.cpp").write_text(shim)
    lib = folder / "libshim.so"
    proc = subprocess.run(["g++", "-O2", "-shared", "-fPIC", "-o", str(lib), str(folder / "shim.cpp")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return ctypes.CDLL(str(lib))


def pointer(a: np.ndarray) -> ctypes.c_void_p:
    """A C pointer to a contiguous copy of ``a`` (the array itself when it is contiguous)."""
    return np.ascontiguousarray(a).ctypes.data_as(ctypes.c_void_p)
