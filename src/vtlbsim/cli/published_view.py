"""`vtlbsim validate --published`: every run of the published record, measured vs predicted."""

from __future__ import annotations

import json
from pathlib import Path

from ..cost.experiment import ExperimentError
from ..cost.platform import PlatformError
from ..cost.published import Row, load_record, predict_experiment, summarise
from .common import console, fail


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}"


def record_rows(files: list[Path]) -> list[Row]:
    """Predict every experiment of ``files`` (or the shipped record); a bad file exits 2."""
    for f in files:
        if not f.exists():
            fail(f"{f}: no such experiment file or directory")
    try:
        return [r for e in load_record(files) for r in predict_experiment(e)]
    except (ExperimentError, PlatformError, ValueError) as exc:
        fail(str(exc))


def show_record(files: list[Path], as_json: bool) -> None:
    """Print the table (or ``--json``: one object per run) and, per role, the error summary."""
    rows = record_rows(files)
    if as_json:
        console.print_json(json.dumps([r.as_json() for r in rows]))
        return
    w_exp = max(len(r.experiment) for r in rows)
    w_run = max(len(r.run) for r in rows)
    what = [
        f"{r.metric} ({r.actor})" + (f" / {r.relative_to}" if r.relative_to else "") for r in rows
    ]
    w_what = max(len(x) for x in what)
    head = (
        f"{'experiment':<{w_exp}}  {'run':<{w_run}}  {'role':<9}  {'metric':<{w_what}}"
        f"  {'measured':>10}  {'predicted':>10}  {'pred/meas':>9}"
    )
    console.print(head, markup=False)
    for r, x in zip(rows, what, strict=True):
        ratio = "-" if r.ratio is None else f"{r.ratio:.3f}"
        console.print(
            f"{r.experiment:<{w_exp}}  {r.run:<{w_run}}  {r.role:<9}  {x:<{w_what}}"
            f"  {_fmt(r.measured):>10}  {_fmt(r.predicted):>10}  {ratio:>9}",
            markup=False,
        )
    console.print("", markup=False)
    for s in summarise(rows):
        console.print(
            f"{s.role}: {s.runs} measured runs, geometric-mean error {s.geomean:.2f}x, worst"
            f" {s.worst:.2f}x ({s.worst_run})",
            markup=False,
        )
    for s in summarise(rows, by="experiment"):
        console.print(
            f"  {s.role}: {s.runs} runs, geometric-mean error {s.geomean:.2f}x, worst {s.worst:.2f}x",
            markup=False,
        )
    console.print(
        "(error = max(pred/meas, meas/pred); unmeasured runs are inputs of their experiment:"
        " their predicted iteration_ns is shown; docs/cost.md, 'Held to the hardware record')",
        markup=False,
    )
