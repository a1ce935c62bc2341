"""What every command shares: the typer app, one-line errors with exit code 2, the console."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console


def _no_flag_metavar() -> None:
    """typer's rich help prints ``<bool>`` beside a flag as if it took a value; a flag
    takes none, so it shows no type (typer versions without ``display_type_rich``: no-op)."""
    option = getattr(getattr(typer, "core", None), "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if option is None or shown is None:
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if getattr(self, "is_flag", False) else shown(self, ctx)

    option.display_type_rich = display_type_rich


_no_flag_metavar()

app = typer.Typer(
    name="vtlbsim",
    help="Is an Arm hypervisor's TLB/I-cache/BP maintenance policy safe, and what does it cost?",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # help paragraphs reflow (docstrings wrap at 100 columns)
)

BAD_INPUT = 2
"""Exit code for malformed input: a file, a field, an option value."""

console = Console(soft_wrap=True, highlight=False)
if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
    console.width = 160  # files and pipes: prose columns wrap at 160, not 80
err_console = Console(stderr=True, soft_wrap=True, highlight=False)


def fail(message: str, code: int = BAD_INPUT) -> NoReturn:
    """Print ``vtlbsim: message`` on one line of stderr and exit with ``code``."""
    print(f"vtlbsim: {' '.join(str(message).split())}", file=sys.stderr)
    raise typer.Exit(code)


def _show_version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"vtlbsim {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    profiles: list[Path] = typer.Option(
        [],
        "--profiles",
        metavar="DIR",
        help="A directory of your own platform profiles (guest kinds in DIR/guests), searched "
        "before the shipped ones; repeatable. Also: VTLBSIM_PROFILES=DIR[:DIR...].",
    ),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_show_version,
        is_eager=True,
        help="Print vtlbsim's version and exit.",
    ),
) -> None:
    """Is an Arm hypervisor's TLB/I-cache/BP maintenance policy safe, and what does it cost?"""
    from .. import datafiles

    for d in reversed(profiles):
        if not d.is_dir():
            fail(f"--profiles: {d}: not a directory")
        datafiles.add_user_dir(d)
