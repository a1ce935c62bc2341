"""Fixtures shared by the test tree."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vtlbsim.cli import app

CliRun = Callable[[list[str]], tuple[int, str, str]]


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
