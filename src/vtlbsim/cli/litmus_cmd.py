"""`vtlbsim litmus FILE`: replay a scenario under one policy or all of them (SPEC §6)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.text import Text

from ..check.replay import Outcome, replay
from ..hyp.registry import PolicyError, all_policies, resolve
from ..litmus import LitmusError, load
from ..sim.engine import EngineError
from ..sim.scenario import Scenario
from .common import app, console, fail
from .tables import Column, Grid, prose, show


def _run(scenario: Scenario, spec: str) -> Outcome:
    try:
        policy = resolve(spec)
    except PolicyError as exc:
        fail(str(exc))
    try:
        return replay(scenario, policy)
    except EngineError as exc:  # the parser validates first; this is a policy returning nonsense
        fail(f"{scenario.source}: {exc}")


def _print_one(scenario: Scenario, out: Outcome) -> None:
    head = f"{scenario.source}: {scenario.title}" if scenario.title else scenario.source
    console.print(head, markup=False)
    n, g = len(out.violations), len(out.guest_errors)
    console.print(
        f"policy {out.policy}: {out.outcome} ({n} violation{'s' * (n != 1)}, "
        f"{g} guest error{'s' * (g != 1)})",
        markup=False,
    )
    for v in out.violations:
        console.print("  " + v.explain(), markup=False)
    for e in out.guest_errors:
        console.print("  " + e.explain(), markup=False)


@app.command()
def litmus(
    file: Path = typer.Argument(..., help="A litmus .toml file (SPEC §6)."),
    policy: str | None = typer.Option(
        None, "--policy", "-p", help="Policy name or module:Class (default: the file's policy)."
    ),
    all_policies_: bool = typer.Option(
        False, "--all-policies", help="Run every registered policy and print a matrix."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    wide: bool = typer.Option(
        False, "--wide", help="--all-policies: every column, even if wider than the terminal."
    ),
) -> None:
    """Replay a litmus file; exit 0 if the outcome matches `expect`, 1 if not, 2 on bad input."""
    try:
        scenario = load(file)
    except LitmusError as exc:
        fail(str(exc))
    if policy is not None:
        scenario.policy = policy
    if not all_policies_:
        out = _run(scenario, scenario.policy)
        if as_json:
            obj = {
                "file": str(file),
                "title": scenario.title,
                "expect": scenario.expect,
                **out.to_json(),
            }
            console.print_json(json.dumps(obj))
        else:
            _print_one(scenario, out)
        if scenario.expect is not None and out.outcome != scenario.expect:
            raise typer.Exit(1)
        return
    try:
        names = list(all_policies())
    except PolicyError as exc:
        fail(str(exc))
    if policy is not None and policy not in names:
        names.append(policy)
    outs = [_run(scenario, n) for n in names]
    if as_json:
        rows = [
            {"file": str(file), "title": scenario.title, "expect": scenario.expect, **o.to_json()}
            for o in outs
        ]
        console.print_json(json.dumps(rows))
    else:
        _print_matrix(scenario, outs, wide)
    mine = next((o for o in outs if o.policy == scenario.policy), None)
    if scenario.expect is not None and mine is not None and mine.outcome != scenario.expect:
        raise typer.Exit(1)


def _short(o: Outcome) -> str:
    if not o.violations:
        return ""
    v = o.violations[0]
    more = f" (+{len(o.violations) - 1} more)" if len(o.violations) > 1 else ""
    legal = ", ".join(v.legal) if v.legal else "no translation"
    return f"step {v.step}: {v.category} {v.vcpu} used {v.used}, legal {legal}{more}"


def _print_matrix(scenario: Scenario, outs: list[Outcome], wide: bool) -> None:
    head = f"{scenario.source}: {scenario.title}" if scenario.title else scenario.source
    prose(head, indent="  ")
    grid = Grid(
        [Column("policy", keep=True), Column("outcome", keep=True), Column("first violation")],
        hidden_hint="--wide shows it; the lines below explain each violation",
    )
    for o in outs:
        grid.add_row(o.policy, Text(o.outcome, style="red" if o.violations else "green"), _short(o))
    show(grid, wide=wide)
    explained: dict[str, list[str]] = {}
    for o in outs:
        if o.violations:
            explained.setdefault(o.violations[0].explain(), []).append(o.policy)
    for text, names in explained.items():
        prose(f"{', '.join(names)}: {text}", indent="  ")
    errs = sorted({e.explain() for o in outs for e in o.guest_errors})
    for e in errs:
        prose(e, indent="  ")
