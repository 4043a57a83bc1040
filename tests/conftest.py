"""Shared fixtures."""

from pathlib import Path

import pytest
from paths import GOLDEN


@pytest.fixture(scope="session")
def golden() -> Path:
    if not GOLDEN.is_dir():
        pytest.skip(f"golden data not found at {GOLDEN} (set SIMFLUSH_SHARED)")
    return GOLDEN
