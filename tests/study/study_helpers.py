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


def small_study(tmp: Path, report: bool = False) -> Path:
    """data/small.toml (fake evaluator) run into ``tmp/out`` (and its report, if asked)."""
    from vtlbsim.study.report import build_report
    from vtlbsim.study.run import run_study
    from vtlbsim.study.spec import load_spec

    for name in ("small.toml", "tiny-platform.toml"):
        (tmp / name).write_text((DATA / name).read_text())
    run_study(load_spec(tmp / "small.toml"), tmp / "out", workers=1, fancy=False)
    if report:
        build_report(tmp / "out")
    return tmp / "out"
