"""Fixtures shared by the test tree."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from vtlbsim.cli import app

# GNU readline (imported with pdb) exports COLUMNS/LINES of the terminal pytest started in to
# the C environment, which subprocesses inherit; vtlbsim honours COLUMNS as the width to fit,
# so a test that wants a pipe's complete output must not inherit it. (os.environ does not
# hold it: set it, then delete it, to unset it in the C environment too.)
for _name in ("COLUMNS", "LINES"):
    os.environ[_name] = ""
    del os.environ[_name]

CliRun = Callable[[list[str]], tuple[int, str, str]]


@pytest.fixture(autouse=True, scope="session")
def _verdict_cache_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`vtlbsim check --matrix` keeps its results in a verdict cache: never the user's during
    the tests."""
    os.environ["VTLBSIM_CACHE"] = str(tmp_path_factory.mktemp("verdict-cache"))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CliRun:
    """Run ``vtlbsim ARGS`` in-process; return (exit code, stdout, stderr)."""

    def run(args: list[str]) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            app(args, standalone_mode=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return run
