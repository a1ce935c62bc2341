"""`vtlbsim study SPEC`, `vtlbsim report DIR`, `vtlbsim query DIR SQL` (SPEC §7 "study")."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich import box

from .common import app, console, fail

if TYPE_CHECKING:
    from ..study.report import Report
from .progress import Meter
from .tables import Column, Grid, letter, prose, show


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
    from ..study.report import ReportError, build_report, report_steps
    from ..study.store import StoreError

    try:
        steps = report_steps(out_dir)
        with Meter("report", total=steps, unit="steps", kept=lambda: "no report written") as m:
            rep = build_report(out_dir, dest, progress=m.advance)
            m.update(steps)
    except (StoreError, ReportError) as exc:
        fail(str(exc))
    print_headline(rep)
    console.print(f"report: {rep.markdown}  {rep.html}", markup=False)


def print_headline(rep: Report) -> None:
    """The report's headline on the terminal: what the answer rests on, the table (policies
    lettered with a legend when the terminal is narrow), what its marks mean, and the
    recommendations."""
    if rep.rests_on:
        console.print("the answer rests on:", markup=False)
        for line in rep.rests_on:
            prose("- " + line.replace("`", ""), indent="  ")
        console.print()
    head, rows = rep.headline_rows()
    grid = Grid(
        [Column("mix", keep=True)]
        + [Column(p, "right", keep=True, short=letter(i)) for i, p in enumerate(head[1:])],
        box=box.SIMPLE_HEAD,
    )
    for r in rows:
        grid.add_row(*r)
    show(grid)
    prose(f"({rep.headline_note()})", indent=" ")
    console.print()
    for line in rep.recommendations():
        prose(line, indent="    ")
    if rep.uncertainty:
        console.print()
        for line in rep.uncertainty.splitlines():
            prose(line, indent="      ")


@app.command()
def query(
    out_dir: Path = typer.Argument(..., metavar="DIR", help="A study store directory."),
    sql: str = typer.Argument(
        ..., metavar="SQL", help='SQL on table results, e.g. "SELECT count(*) FROM results".'
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of objects."),
    wide: bool = typer.Option(
        False, "--wide", help="One table however wide (default: one block per row if too wide)."
    ),
) -> None:
    """Run SQL on DIR/results.duckdb and print the result table. The store is opened
    read-only and the query can read and write no other file."""
    import duckdb

    from ..study.store import Store, StoreError

    if not sql.strip():
        fail("query: expected an SQL statement, got an empty string")
    try:
        with Store(out_dir, read_only=True) as store:
            sandbox(store.con)
            names, rows = _run_query(store.con, sql)
    except StoreError as exc:
        fail(str(exc))
    except duckdb.Error as exc:
        fail(f"query: {exc}")
    if as_json:
        console.print_json(
            json.dumps([dict(zip(names, r, strict=True)) for r in rows], default=str)
        )
        return
    if not names:
        console.print("(the statement returned no result)", markup=False)
        return
    numeric = [
        all(
            isinstance(r[i], int | float) and not isinstance(r[i], bool)
            for r in rows
            if r[i] is not None
        )
        for i in range(len(names))
    ]
    grid = Grid(
        [
            Column(n, "right" if num else "left", keep=True)
            for n, num in zip(names, numeric, strict=True)
        ],
        box=box.SIMPLE_HEAD,
    )
    for r in rows:
        grid.add_row(*(_cell(v) for v in r))
    show(grid, wide=wide)
    console.print(f"({len(rows)} row{'s' * (len(rows) != 1)})", markup=False)


def sandbox(con: Any) -> None:
    """No file access from SQL: no reading or writing files (``COPY ... TO``, ``read_csv``,
    ``ATTACH``), no extension installed or loaded, no progress bar of DuckDB's own, and the
    settings locked."""
    for setting in (
        "SET enable_external_access = false",
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        "SET enable_progress_bar = false",  # ours instead (DuckDB's stalls a polling thread)
        "SET lock_configuration = true",
    ):
        con.execute(setting)


def _run_query(con: Any, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` in a worker thread; after a second without an answer, show DuckDB's own
    estimate of its progress. Ctrl-C interrupts the query (nothing is written: read-only)."""
    got: dict[str, Any] = {}

    def work() -> None:
        try:
            cur = con.execute(sql)
            names = [str(d[0]) for d in (cur.description or [])] if cur is not None else []
            got["result"] = (names, [tuple(r) for r in cur.fetchall()] if names else [])
        except BaseException as exc:  # re-raised in the calling thread
            got["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(1.0)
    if worker.is_alive():
        kept = "the query was stopped; the store is read-only, nothing changed"
        with Meter("query", total=100, unit="%", kept=lambda: kept) as meter:
            try:
                while worker.is_alive():
                    worker.join(0.2)
                    # DuckDB's estimate (-1 while it has none): a line every few seconds
                    meter.update(max(float(con.query_progress()), meter.done))
            except KeyboardInterrupt:
                con.interrupt()
                worker.join()
                raise
    if "error" in got:
        raise got["error"]
    names, rows = got["result"]
    return names, rows
