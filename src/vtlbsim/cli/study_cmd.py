"""`vtlbsim study SPEC`, `vtlbsim report DIR`, `vtlbsim query DIR SQL` (SPEC §7 "study")."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from .common import app, console, fail


def _cell(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


@app.command()
def study(
    spec_file: Path = typer.Argument(
        ..., metavar="SPEC", help="A study spec file, or the name of a shipped study (seed)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Store directory (default: out/<study name>)."
    ),
    workers: int = typer.Option(
        0, "--workers", "-j", help="Local worker processes (default 0: one per CPU)."
    ),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Run on a Dask cluster at this address (tcp://HOST:PORT)."
    ),
) -> None:
    """Run every point of a study missing from DIR/results.duckdb (resumable)."""
    from ..study.executors import ExecutorError
    from ..study.run import StudyFailed, run_study
    from ..study.spec import SpecError, load_spec
    from ..study.store import StoreError

    if workers < 0:
        fail(f"--workers: expected 0 (one per CPU) or a positive number, got {workers}")
    if scheduler is not None and "://" not in scheduler:
        fail(f"--scheduler: expected an address such as tcp://HOST:PORT, got {scheduler!r}")
    try:
        spec = load_spec(spec_file)
    except SpecError as exc:
        fail(str(exc))
    out_dir = out if out is not None else Path("out") / spec.name
    n = workers or os.cpu_count() or 1
    try:
        run = run_study(spec, out_dir, workers=n, scheduler=scheduler)
    except (SpecError, StoreError, ExecutorError) as exc:
        fail(str(exc))
    except StudyFailed as exc:
        fail(str(exc), 2 if exc.bad_input else 1)
    where = "Dask " + scheduler if scheduler else f"{n} worker{'s' * (n != 1)}"
    if run.interrupted:
        print(
            f"vtlbsim: interrupted: {run.stored} of {run.total} points stored in {run.store} "
            "(rerun the same command to compute the rest)",
            file=sys.stderr,
        )
        raise typer.Exit(130)
    console.print(
        f"study {spec.name}: {run.total} points ({run.already} already stored, "
        f"{run.computed} computed on {where}) in {run.elapsed_s:.1f} s -> {run.store}",
        markup=False,
    )
    console.print(f"model version {run.model_version}", markup=False)


@app.command()
def report(
    out_dir: Path = typer.Argument(..., metavar="DIR", help="A study store directory."),
    dest: Path | None = typer.Option(
        None, "--dest", help="Where to write the report (default: DIR)."
    ),
) -> None:
    """Figures (PNG + SVG), report.md and a self-contained report.html from a study store."""
    from ..study.report import ReportError, build_report
    from ..study.store import StoreError

    try:
        rep = build_report(out_dir, dest)
    except (StoreError, ReportError) as exc:
        fail(str(exc))
    console.print(rep.headline_text(), markup=False)
    console.print(f"report: {rep.markdown}  {rep.html}", markup=False)


@app.command()
def query(
    out_dir: Path = typer.Argument(..., metavar="DIR", help="A study store directory."),
    sql: str = typer.Argument(
        ..., help='SQL on table results, e.g. "SELECT count(*) FROM results".'
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of objects."),
) -> None:
    """Run SQL on DIR/results.duckdb (read-only) and print the result table."""
    import duckdb

    from ..study.store import Store, StoreError

    try:
        with Store(out_dir, read_only=True) as store:
            names, rows = store.query(sql)
    except StoreError as exc:
        fail(str(exc))
    except duckdb.Error as exc:
        fail(f"query: {exc}")
    if as_json:
        console.print_json(
            json.dumps([dict(zip(names, r, strict=True)) for r in rows], default=str)
        )
        return
    table = Table(*names, show_edge=False, header_style="bold")
    for r in rows:
        table.add_row(*(_cell(v) for v in r))
    console.print(table)
    console.print(f"({len(rows)} row{'s' * (len(rows) != 1)})", markup=False)
