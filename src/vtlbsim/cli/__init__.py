"""The `vtlbsim` command line: one module per command, all registered on one typer app."""

from __future__ import annotations

import sys

import typer

try:  # typer >= 0.20 vendors click as typer._click; earlier releases use click itself
    from typer._click import exceptions as cx
except ImportError:  # pragma: no cover
    from click import exceptions as cx  # type: ignore[no-redef]

from . import (  # noqa: F401  (each module registers its command)
    calibrate_cmd,
    census_cmd,
    check_cmd,
    guests_cmd,
    litmus_cmd,
    platforms_cmd,
    policies_cmd,
    run_cmd,
    study_cmd,
    trace_cmd,
    validate_cmd,
)
from .common import BAD_INPUT, app


def main() -> None:
    """Entry point. A usage error (unknown option, bad value) is one line on stderr with exit 2;
    Ctrl-C exits 130 with one line; never a traceback."""
    try:
        code = app(standalone_mode=False)
    except cx.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx is not None else str(exc))
        sys.exit(0)
    except cx.UsageError as exc:
        where = f"{exc.ctx.command_path}: " if exc.ctx is not None else ""
        msg = " ".join(exc.format_message().split())
        print(
            f"vtlbsim: {where.removeprefix('vtlbsim ').removeprefix('vtlbsim')}{msg}",
            file=sys.stderr,
        )
        sys.exit(BAD_INPUT)
    except (KeyboardInterrupt, typer.Abort):
        print("vtlbsim: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
