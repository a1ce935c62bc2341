"""The `vtlbsim` command line: one module per command, all registered on one typer app."""

from __future__ import annotations

import sys

from . import litmus_cmd, policies_cmd  # noqa: F401  (each module registers its command)
from .common import app


def main() -> None:
    """Entry point: run the app; Ctrl-C exits 130 with one line, never a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        print("vtlbsim: interrupted", file=sys.stderr)
        sys.exit(130)
