"""Shared test helpers (not a test module): paths, the CLI command line, reading a store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from vtlbsim.study.store import Store

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
VTLBSIM = [sys.executable, "-m", "vtlbsim"]


def dump(out_dir: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Every column and every row of ``results`` in table order (no ORDER BY: the physical
    order is part of what must be identical)."""
    with Store(out_dir, read_only=True) as s:
        return s.query("SELECT * FROM results")
