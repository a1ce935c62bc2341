"""The `vtlbsim` command line: one module per command, all registered on one typer app."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

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


def _where(ctx: Any) -> str:
    """``"run: "`` for an error in ``vtlbsim run``; ``""`` at the top level."""
    path: list[str] = []
    while ctx is not None and ctx.parent is not None:
        path.insert(0, str(ctx.info_name))
        ctx = ctx.parent
    return f"{' '.join(path)}: " if path else ""


def _script_as_module() -> None:
    """Give the `vtlbsim` script's ``__main__`` the spec of what it runs, the module
    ``python -m vtlbsim`` runs. A worker process that is not a plain fork (``vtlbsim.workers``'
    fork server, spawn) rebuilds the caller's ``__main__``: a script it runs again, importing
    the whole CLI in every worker (0.5 s of CPU each); a package's ``__main__`` module it
    leaves alone (``multiprocessing.spawn.prepare``). No task of ours lives in ``__main__``."""
    top = sys.modules["__main__"]
    script = Path(getattr(top, "__file__", None) or "")
    if getattr(top, "__spec__", None) is None and script.stem == "vtlbsim":
        top.__spec__ = importlib.util.find_spec("vtlbsim.__main__")


def main() -> None:
    """Entry point. A usage error (unknown option, bad value) is one line on stderr with exit 2;
    Ctrl-C exits 130 with one line; never a traceback."""
    _script_as_module()
    try:
        code = app(standalone_mode=False)
    except cx.UsageError as exc:
        msg = " ".join(exc.format_message().split())
        command = getattr(exc.ctx, "command", None)
        if isinstance(exc, cx.NoArgsIsHelpError) or msg == "Missing command.":
            names = sorted(getattr(command, "commands", {}))
            where = _where(exc.ctx).removesuffix(": ")
            msg = (
                f"expected a command: {', '.join(names)} "
                f"(`{' '.join(['vtlbsim', where]).strip()} --help` explains each)"
            )
        print(f"vtlbsim: {_where(exc.ctx)}{msg}", file=sys.stderr)
        sys.exit(BAD_INPUT)
    except (KeyboardInterrupt, typer.Abort):
        print("vtlbsim: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
