"""What every command shares: the typer app, one-line errors with exit code 2, the console."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

app = typer.Typer(
    name="vtlbsim",
    help="Is an Arm hypervisor's TLB/I-cache/BP maintenance policy safe, and what does it cost?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

BAD_INPUT = 2
"""Exit code for malformed input: a file, a field, an option value."""

console = Console(soft_wrap=True, highlight=False)
if not console.is_terminal:
    console.width = 160  # files and pipes: no wrapping of tables at 80 columns
err_console = Console(stderr=True, soft_wrap=True, highlight=False)


def fail(message: str, code: int = BAD_INPUT) -> NoReturn:
    """Print ``vtlbsim: message`` on one line of stderr and exit with ``code``."""
    print(f"vtlbsim: {' '.join(str(message).split())}", file=sys.stderr)
    raise typer.Exit(code)
