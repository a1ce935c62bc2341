"""`vtlbsim calibrate`: fit the DVM model to the record's calibrate runs and write the profiles."""

from __future__ import annotations

from pathlib import Path

import typer

from ..cost.calibrate import REFERENCE, fit, profile_updates, targets, write_profile
from ..cost.experiment import ExperimentError
from ..cost.platform import PlatformError, forget_profiles
from ..cost.published import load_record
from .common import app, console, err_console, fail


@app.command()
def calibrate(
    platform: str | None = typer.Option(
        None,
        "--platform",
        help="Write only this profile (the fit always uses every calibrate run).",
    ),
    record: list[Path] = typer.Option(
        [], "--record", help="Experiment files or directories (default: the shipped record)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Fit and print; write no profile."),
) -> None:
    """Fit the DVM model's free parameters (least squares on log ratios) to the record's
    calibrate runs - never its validate runs - and write the fitted figures into the platform
    profiles with their provenance (docs/cost.md, "Calibration")."""
    for p in record:
        if not p.exists():
            fail(f"--record: {p}: no such file or directory")
    try:
        exps = load_record(record)
        plats = targets(platform)
    except (ExperimentError, PlatformError, ValueError) as exc:
        fail(str(exc))
    cal = [e.name for e in exps if e.role == "calibrate"]
    if not cal:
        fail("calibrate: the record has no calibrate experiment")
    err_console.print(
        f"fitting to {len(cal)} calibrate experiments: {', '.join(cal)}", markup=False
    )

    def progress(n: int, err: float) -> None:
        if n == 1 or n % 5 == 0:
            err_console.print(f"  evaluation {n}: fit error {err:.3f}x", markup=False)

    try:
        f = fit(exps, progress)
    except (ExperimentError, PlatformError, ValueError) as exc:
        fail(str(exc))
    console.print(
        f"fit error {f.error:.3f}x (geometric mean over"
        f" {sum(r.measured is not None for r in f.rows)} calibrate runs, worst"
        f" {f.worst:.3f}x) after {f.evaluations} evaluations",
        markup=False,
    )
    for name, v in f.values.items():
        unit = "x the reference" if name.startswith("scale:") else "ns"
        by = ", ".join(f.informs.get(name, [])) or "no run (not identified)"
        console.print(f"  {name:<28} {v:10.4g} {unit:<16} from {by}", markup=False)
    console.print(f"  (reference platform for op_ns and sync_ns: {REFERENCE})", markup=False)
    for plat in plats:
        updates = profile_updates(f, plat)
        figs = ", ".join(f"{k} = {v:g} ({how})" for k, (v, how, _) in updates.items())
        console.print(f"{plat.name}: {figs}", markup=False)
        if not dry_run:
            write_profile(Path(plat.path), updates)
    if not dry_run:
        forget_profiles()
        console.print(f"wrote {len(plats)} profile(s)", markup=False)
