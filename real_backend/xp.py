"""Array-module helper: every primitive runs on NumPy or, when present, CuPy with the same code.

`xp` below means "the array module of the arrays at hand". Functions take arrays and find their module with
:func:`get_xp`, so the same algorithm serves the CPU (CI) and the GPU paths.
"""
from __future__ import annotations

import dataclasses
from types import ModuleType
from typing import Any

import numpy as np

try:  # CuPy is an optional extra (`pip install .[gpu]`).
    import cupy as _cupy
except Exception:  # pragma: no cover - import failure modes vary (no CUDA, no package)
    _cupy = None


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # pragma: no cover - driver missing
        return False


def get_xp(*arrays: Any) -> ModuleType:
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy``."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def module(use_gpu: bool) -> ModuleType:
    """The array module for a run: CuPy when ``use_gpu`` (raises if there is no GPU), else NumPy."""
    if not use_gpu:
        return np
    if not gpu_available():
        raise RuntimeError("use_gpu=True but CuPy or a CUDA device is not available; install the 'gpu' extra or pass "
                           "use_gpu=False")
    return _cupy


def to_numpy(a: Any) -> np.ndarray:
    """Copy an array (NumPy or CuPy) to host memory as a NumPy array."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return _cupy.asnumpy(a)
    return np.asarray(a)


def is_cupy(xp: ModuleType) -> bool:
    """True when ``xp`` is the CuPy module."""
    return _cupy is not None and xp is _cupy


def convert_tree(obj: Any, xp: ModuleType) -> Any:
    """Copy every array inside ``obj`` (dataclasses, dicts, lists, tuples) to module ``xp``; other values stay."""
    if isinstance(obj, np.ndarray) or (_cupy is not None and isinstance(obj, _cupy.ndarray)):
        return to_numpy(obj) if xp is np else xp.asarray(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: convert_tree(getattr(obj, f.name), xp) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **fields)
    if isinstance(obj, dict):
        return {k: convert_tree(v, xp) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(convert_tree(v, xp) for v in obj)
    return obj
