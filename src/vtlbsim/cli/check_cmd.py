"""`vtlbsim check`: prove a policy safe for a guest kind up to a depth, or print the shortest
counterexample as a litmus file; `--matrix` for every kind x every policy (SPEC §7)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ..check.actions import DEFAULT_VAS, VAS
from ..check.explore import CheckResult, GuestDisciplineError
from ..check.explore import check as run_check
from ..check.matrix import DEFAULT_DEPTH, DEFAULT_PCPUS, DEFAULT_VCPUS, matrix_results
from ..guest.kinds import KindError, load_kind
from ..hyp.registry import PolicyError, resolve
from .common import app, console, fail

MAX_PCPUS = 4
MAX_VCPUS = 4


def _print_result(r: CheckResult) -> None:
    console.print(
        f"{r.kind} under {r.policy} ({r.pcpus} pCPUs, {r.vcpus} vCPU{'s' * (r.vcpus != 1)}, "
        f"{r.vas} VA{'s' * (r.vas != 1)}): "
        f"{r.summary()}; {r.seconds:.2f} s",
        markup=False,
    )
    if r.counterexample is not None and r.violation is not None:
        console.print("  " + r.violation.explain(), markup=False)
        console.print("counterexample (litmus file):", markup=False)
        console.print(r.counterexample.to_litmus(), markup=False, end="")


@app.command()
def check(
    guest: str | None = typer.Option(
        None, "--guest", "-g", help="Guest kind (SPEC §3): a name or a kind .toml file."
    ),
    policy: str | None = typer.Option(None, "--policy", "-p", help="Policy name or module:Class."),
    pcpus: int = typer.Option(DEFAULT_PCPUS, "--pcpus", help=f"pCPUs (1..{MAX_PCPUS})."),
    vcpus: int = typer.Option(
        DEFAULT_VCPUS, "--vcpus", help=f"vCPUs of an SMP guest (1..{MAX_VCPUS}; UP kinds: 1)."
    ),
    depth: int = typer.Option(
        DEFAULT_DEPTH, "--depth", "-d", help="Actions (loads and guest operations) to explore."
    ),
    vas: int = typer.Option(
        DEFAULT_VAS, "--vas", help=f"VA pages the guest uses (1..{len(VAS)}; see docs/check.md)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the counterexample litmus file here."
    ),
    matrix: bool = typer.Option(False, "--matrix", help="Every guest kind x every policy."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="--matrix: processes to spread pairs over."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Model-check a policy for a guest kind: safe up to a depth, or the shortest
    counterexample as a litmus file. Exit 0 safe, 1 counterexample, 2 bad input."""
    if not 1 <= pcpus <= MAX_PCPUS:
        fail(f"--pcpus: expected 1..{MAX_PCPUS}, got {pcpus}")
    if not 1 <= vcpus <= MAX_VCPUS:
        fail(f"--vcpus: expected 1..{MAX_VCPUS}, got {vcpus}")
    if not 0 <= depth <= 30:
        fail(f"--depth: expected 0..30, got {depth}")
    if not 1 <= jobs <= 64:
        fail(f"--jobs: expected 1..64, got {jobs}")
    if not 1 <= vas <= len(VAS):
        fail(f"--vas: expected 1..{len(VAS)}, got {vas}")
    if matrix:
        if guest is not None or policy is not None or out is not None:
            fail("--matrix: expected no --guest, --policy or --out (it checks every pair)")
        _matrix(pcpus, vcpus, depth, vas, jobs, as_json)
        return
    if guest is None or policy is None:
        fail("expected --guest KIND and --policy P (or --matrix)")
    try:
        load_kind(guest)
    except KindError as exc:
        fail(f"--guest: {exc}")
    try:
        pol = resolve(policy)
    except PolicyError as exc:
        fail(f"--policy: {exc}")
    try:
        r = run_check(guest, pol, pcpus=pcpus, vcpus=vcpus, depth=depth, vas=vas)
    except GuestDisciplineError as exc:  # a bug in the action generator, not bad input
        fail(str(exc), code=3)
    if r.counterexample is not None and out is not None:
        try:
            out.write_text(r.counterexample.to_litmus())
        except OSError as exc:
            fail(f"--out {out}: cannot write: {exc.strerror}")
    if as_json:
        obj = r.to_json()
        if out is not None and not r.safe:
            obj["written_to"] = str(out)
        console.print_json(json.dumps(obj))
    else:
        _print_result(r)
        if out is not None and not r.safe:
            console.print(f"written to {out}", markup=False)
    if not r.safe:
        raise typer.Exit(1)


def _matrix(pcpus: int, vcpus: int, depth: int, vas: int, jobs: int, as_json: bool) -> None:
    try:
        results = matrix_results(pcpus=pcpus, vcpus=vcpus, depth=depth, vas=vas, jobs=jobs)
    except PolicyError as exc:
        fail(str(exc))
    except GuestDisciplineError as exc:  # a bug in the action generator, not bad input
        fail(str(exc), code=3)
    if as_json:
        console.print_json(json.dumps([r.to_json() for r in results]))
        return
    kinds = list(dict.fromkeys(r.kind for r in results))
    policies = list(dict.fromkeys(r.policy for r in results))
    by = {(r.kind, r.policy): r for r in results}
    table = Table(
        title=f"safety up to depth {depth} ({pcpus} pCPUs, {vcpus} vCPUs per SMP guest, "
        f"{vas} VA{'s' * (vas != 1)})"
    )
    table.add_column("policy")
    for k in kinds:
        table.add_column(k)
    for p in policies:
        cells = []
        for k in kinds:
            r = by[(k, p)]
            cells.append("safe" if r.safe else f"UNSAFE ({len(r.actions)})")
        table.add_row(p, *cells)
    console.print(table)
    console.print(
        "UNSAFE (n): the shortest counterexample has n actions; "
        "`vtlbsim check --guest KIND --policy P` prints it.",
        markup=False,
    )
