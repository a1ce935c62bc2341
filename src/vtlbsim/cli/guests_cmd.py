"""`vtlbsim guests` and `vtlbsim guests show NAME`: the guest kinds, their disciplines with the
OS source of every entry, and their rates with their provenance."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from .. import datafiles
from ..guest.kinds import FLAG_KEYS, KIND_NAMES, OP_KEYS, Discipline, KindError, load_kind
from ..guest.rates import DISCIPLINE_RATES, RATE_FIELDS, GuestRates, RatesError, load_rates
from .common import app, console, fail

guests_app = typer.Typer(
    help="List guest kinds; `show NAME` prints a kind's discipline with its sources.",
    no_args_is_help=False,
    invoke_without_command=True,
)
app.add_typer(guests_app, name="guests")


def kind_names() -> list[str]:
    """The built-in kinds in SPEC §3 order, then the user's kinds (``--profiles DIR/guests``)."""
    extra = [n for n in datafiles.names(datafiles.GUESTS) if n not in KIND_NAMES]
    return [*KIND_NAMES, *extra]


def _load(name: str) -> tuple[Discipline, GuestRates]:
    try:
        return load_kind(name), load_rates(name)
    except (KindError, RatesError) as exc:
        fail(str(exc))


def _summary(d: Discipline) -> str:
    """One line: what the kind does after a PTE change, at a switch, and how many CPUs."""
    parts = ["SMP" if d.smp else "UP", "PTE: " + (" + ".join(d.pte_user) or "nothing")]
    if d.pte_user_local:
        parts.append("mm on one CPU: " + " + ".join(d.pte_user_local))
    if d.ttbr_switch:
        parts.append("switch: " + " + ".join(d.ttbr_switch))
    if d.shared_asid:
        parts.append("one ASID")
    if d.percpu_tables:
        parts.append("per-CPU tables")
    return "; ".join(parts)


@guests_app.callback()
def guests(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List the guest kinds (built-in, then the user's) with what each does after a change."""
    if ctx.invoked_subcommand is not None:
        return
    kinds = [_load(n)[0] for n in kind_names()]
    if as_json:
        rows = [
            {"name": n, "arch": d.arch.value, "smp": d.smp, "description": d.description}
            for n, d in zip(kind_names(), kinds, strict=True)
        ]
        console.print_json(json.dumps(rows))
        return
    width = max(len(n) for n in kind_names())
    for n, d in zip(kind_names(), kinds, strict=True):
        console.print(f"{n:<{width}}  {d.arch.value}  {_summary(d)}", markup=False)
        console.print(f"{'':<{width}}  {d.description}", markup=False)


def _discipline_rows(d: Discipline) -> list[tuple[str, str, str]]:
    rows = []
    for key in [*OP_KEYS, *FLAG_KEYS]:
        value = getattr(d, key)
        if key not in d.citations:
            shown = "(not given: uses pte_user)" if key == "pte_relax" else "(not given)"
            rows.append((key, shown if value in (None, False) else str(value).lower(), ""))
            continue
        text = " ".join(value) if isinstance(value, tuple) else str(value).lower()
        rows.append((key, text or "-", d.citations[key]))
    return rows


@guests_app.command("show")
def show(
    name: str = typer.Argument(..., help="A kind name or a path to a guest-kind .toml."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A kind's discipline (each entry with the OS source it comes from) and its rates."""
    d, r = _load(name)
    rates = [k for k in [*RATE_FIELDS, *DISCIPLINE_RATES] if k in r.provenance]
    if as_json:
        disc: dict[str, Any] = {}
        for key in [*OP_KEYS, *FLAG_KEYS]:
            value = getattr(d, key)
            if key in d.citations:
                v = list(value) if isinstance(value, tuple) else value
                disc[key] = {"value": v, "source": d.citations[key]}
        out = {
            "name": d.name,
            "arch": d.arch.value,
            "description": d.description,
            "path": d.path,
            "discipline": disc,
            "rates": {
                k: {"value": getattr(r, k), r.provenance[k][0]: r.provenance[k][1]} for k in rates
            },
        }
        console.print_json(json.dumps(out))
        return
    console.print(f"{d.name} ({d.arch.value}): {d.description}  ({d.path})", markup=False)
    t = Table(show_edge=False, pad_edge=False, title="discipline")
    t.add_column("key")
    t.add_column("instructions / value")
    t.add_column("source")
    for row in _discipline_rows(d):
        t.add_row(*row)
    console.print(t)
    t2 = Table(show_edge=False, pad_edge=False, title="rates")
    t2.add_column("rate")
    t2.add_column("value", justify="right")
    t2.add_column("provenance")
    for k in rates:
        how, text = r.provenance[k]
        t2.add_row(
            k, f"{getattr(r, k):g}", f"{'source' if how == 'source' else 'ASSUMPTION'}: {text}"
        )
    console.print(t2)
