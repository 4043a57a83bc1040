"""Where the golden data lives (no simflush import, so GPU-only runs need no simpy)."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SIMFLUSH_SHARED", REPO.parent / "shared"))
GOLDEN = SHARED / "data" / "suf_h100"
