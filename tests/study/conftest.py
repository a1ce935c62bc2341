"""Fixtures for the study tests: the fake evaluator on the import path (this process, local
worker processes and subprocesses), the small test study, and a subprocess runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from study_helpers import DATA, VTLBSIM  # noqa: E402

# the model version is a digest of the source tree: pin it so that a test comparing a
# subprocess's store with this process's is not upset by an edit elsewhere in the tree
os.environ["VTLBSIM_MODEL_VERSION"] = "test"
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p
)


@pytest.fixture
def small_spec(tmp_path: Path) -> Path:
    """A copy of data/small.toml (96 points, fake evaluator) next to its platform file."""
    for name in ("small.toml", "tiny-platform.toml"):
        (tmp_path / name).write_text((DATA / name).read_text())
    return tmp_path / "small.toml"


Sub = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def sub() -> Sub:
    """Run ``python -m vtlbsim ARGS`` in a subprocess (extra env vars as keywords)."""

    def run(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*VTLBSIM, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **env},
        )

    return run
