"""`vtlbsim policies`: every registered policy, one line each."""

from __future__ import annotations

import json

import typer

from ..hyp.registry import PolicyError, all_policies
from .common import app, console, fail
from .tables import prose_table


@app.command()
def policies(as_json: bool = typer.Option(False, "--json", help="Print a JSON list.")) -> None:
    """List the built-in policies, the shipping-hypervisor profiles and installed plug-ins."""
    try:
        reg = all_policies()
    except PolicyError as exc:
        fail(str(exc))
    if as_json:
        console.print_json(
            json.dumps(
                [{"name": n, "summary": c.summary, "origin": c.origin} for n, c in reg.items()]
            )
        )
        return
    console.print(
        prose_table(
            [("policy", "left", False), ("what it does", "left", True)],
            [[name, cls.summary] for name, cls in reg.items()],
            header=False,
        )
    )
