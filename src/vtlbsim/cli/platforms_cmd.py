"""`vtlbsim platforms` and `vtlbsim platforms show NAME`: the platform profiles and, for each
figure, its source or the assumption behind it."""

from __future__ import annotations

import json

import typer

from ..cost.platform import FIGURES, PlatformError, load_platform, platform_names
from .common import app, console, fail
from .tables import prose, prose_table

platforms_app = typer.Typer(
    help="List platform profiles; `show NAME` prints every figure with its source.",
    no_args_is_help=False,
    invoke_without_command=True,
)
app.add_typer(platforms_app, name="platforms")


@platforms_app.callback()
def platforms(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List the platform profiles in profiles/ (cores, sockets, clock, assumed figures)."""
    if ctx.invoked_subcommand is not None:
        return
    rows = []
    for name in platform_names():
        try:
            p = load_platform(name)
        except PlatformError as exc:
            fail(str(exc))
        rows.append(p)
    if as_json:
        console.print_json(
            json.dumps(
                [
                    {
                        "name": p.name,
                        "cores": p.cores,
                        "sockets": p.sockets,
                        "clock_ghz": p.clock_ghz,
                        "assumed_figures": p.assumed_figures(),
                        "description": p.description,
                    }
                    for p in rows
                ]
            )
        )
        return
    for p in rows:
        console.print(
            f"{p.name}  {p.cores} cores, {p.sockets} socket{'s' * (p.sockets != 1)},"
            f" {p.clock_ghz:g} GHz, {len(p.assumed_figures())}/{len(FIGURES)} figures assumed",
            markup=False,
        )
        prose("  " + p.description, indent="  ")
    console.print(
        "assumed: the profile's figures without a source (`vtlbsim platforms show NAME`).",
        markup=False,
    )


@platforms_app.command("show")
def show(
    name: str = typer.Argument(..., help="A profile name or a path to a platform .toml."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every figure of one profile with its source, or ASSUMPTION and the reason."""
    try:
        p = load_platform(name)
    except PlatformError as exc:
        fail(str(exc))
    if as_json:
        figs = {
            k: {"value": getattr(p, k), **p.provenance[k].model_dump(exclude_none=True)}
            for k in FIGURES
        }
        console.print_json(
            json.dumps({"name": p.name, "description": p.description, "figures": figs})
        )
        return
    console.print(f"{p.name}: {p.description}  ({p.path})", markup=False)
    rows = []
    for k in FIGURES:
        prov = p.provenance[k]
        text = f"source: {prov.source}" if prov.source else f"ASSUMPTION: {prov.assumption}"
        v = getattr(p, k)
        shown = str(v).lower() if isinstance(v, bool) else v if isinstance(v, str) else f"{v:g}"
        rows.append([k, shown, text])
    console.print(
        prose_table(
            [("figure", "left", False), ("value", "right", False), ("provenance", "left", True)],
            rows,
        )
    )
    n = len(p.assumed_figures())
    console.print(
        f"{n} of {len(FIGURES)} figures are assumptions; a broadcast TLBI + DSB ISH on an idle"
        f" machine: {p.dvm_op_cycles:g} + {p.dvm_sync_cycles:g} cycles (x {p.dvm_socket_factor:g}"
        f" per extra socket), the Sync serialised at the DVM node; {p.dvm_receive_cycles:g}"
        f" cycles on each core it reaches ({p.dvm_scope}) per DVM message (docs/cost.md)",
        markup=False,
    )
    console.print(
        f"branch predictors: {p.bp.name} (checked and priced with this reading; docs/guests.md)",
        markup=False,
    )
