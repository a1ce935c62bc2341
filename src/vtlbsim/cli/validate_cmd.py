"""`vtlbsim validate`: the analytic model against exact mode, cause by cause; and `--sample` error."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..cost import CostError, CostResult, Workload, evaluate
from ..cost.platform import PlatformError
from ..cost.validate import CONFIGS, TOLERANCE, Config, Row, compare, sample_error
from ..cost.workload import WorkloadError, load_workload
from ..guest.rates import RatesError
from ..guest.workload import TraceError, load_trace
from ..hyp.registry import PolicyError
from ..study.costs import CostTask
from .common import app, console, fail
from .cost_runs import compute


def _pct(x: float, machine: float) -> str:
    return f"{100.0 * x / machine:.5f}" if machine else "0"


@app.command()
def validate(
    files: list[Path] = typer.Argument(
        None,
        help="A workload file to cross-validate (default: the built-in configurations); with "
        "--published: experiment files or directories (default: the shipped record).",
        show_default=False,
    ),
    published: bool = typer.Option(
        False,
        "--published",
        help="Predict the published hardware measurements (the record) instead: measured vs "
        "predicted per run, and the error per role (docs/cost.md).",
    ),
    policy: list[str] = typer.Option([], "--policy", help="Policies (repeatable; with WORKLOAD)."),
    pcpus: int | None = typer.Option(None, "--pcpus", min=1, help="Core count (with WORKLOAD)."),
    config: list[str] = typer.Option([], "--config", help="Only these built-in configurations."),
    sample: float | None = typer.Option(
        None,
        "--sample",
        help="Also run exact mode on this share of the duration and print its error vs a full run.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the exact runs."),
    trace: list[str] = typer.Option(
        [], "--trace", help="KIND=FILE: exact mode replays this trace for that guest kind."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    workers: int = typer.Option(
        0, "--workers", "-j", help="Processes for the exact runs (default 0: one per CPU)."
    ),
) -> None:
    """Run analytic and exact modes on the same points; print the relative error of every cost
    category (exit 1 if one exceeds the tolerance). With --published: predict every published
    measurement of the record and print measured vs predicted."""
    if published:
        from .published_view import show_record

        show_record(list(files or []), as_json)
        return
    if files and len(files) > 1:
        fail("validate: expected at most one workload file (or --published FILE...)")
    workload = files[0] if files else None
    if sample is not None and not 0.0 < sample <= 1.0:
        fail(f"--sample: expected a share in (0, 1], got {sample}")
    traces: dict[str, str] = {}
    for item in trace:
        kind, eq, path = item.partition("=")
        if not eq or not kind or not path:
            fail(f"--trace: expected KIND=FILE, got {item!r}")
        if not Path(path).is_file():
            fail(f"--trace: {path}: no such trace file")
        try:
            load_trace(path)  # read now: a bad file is one line before anything runs
        except TraceError as exc:
            fail(f"--trace: {exc}")
        traces[kind] = path
    configs: list[Config] = []
    if workload is not None:
        try:
            wl = load_workload(workload)
        except WorkloadError as exc:
            fail(str(exc))
        pols = tuple(policy) or ((wl.policy,) if wl.policy else ("fb", "flush-on-migrate"))
        n = pcpus or wl.pcpus or 0
        configs.append(
            Config(workload.stem, wl.model_dump(exclude={"base_dir"}), n, pols, str(workload))
        )
        base_dir = wl.base_dir
    else:
        known = {c.name: c for c in CONFIGS}
        for name in config:
            if name not in known:
                fail(
                    f"--config: unknown configuration {name!r} (expected one of {', '.join(known)})"
                )
        configs = [c for c in CONFIGS if not config or c.name in config]
        base_dir = ""
    if workers < 0:
        fail(f"--workers: expected 0 (one per CPU) or a positive number, got {workers}")
    rows: list[Row] = []
    samples: list[dict[str, object]] = []
    # the exact runs (full, then sampled) of every (configuration, policy), in processes;
    # each comparison is printed, in order, as soon as its runs are done
    points: list[tuple[Config, str, Workload, int | None]] = []
    tasks: list[CostTask] = []
    pairs = tuple(traces.items())
    for c in configs:
        wl = c.build().model_copy(update={"base_dir": base_dir})
        for pol in c.policies:
            points.append((c, pol, wl, c.pcpus or None))
            runs = (None,) if sample is None else (None, sample)
            tasks += [CostTask(wl, pol, c.pcpus or None, "exact", seed, s, pairs) for s in runs]
    per = 1 if sample is None else 2
    got: dict[int, tuple[CostResult, float]] = {}
    shown = [0]

    def on_result(i: int, res: CostResult, secs: float) -> None:
        got[i] = (res, secs)
        while shown[0] < len(points) and all(shown[0] * per + k in got for k in range(per)):
            c, pol, wl, cores = points[shown[0]]
            e, full_s = got[shown[0] * per]
            try:
                a = evaluate(wl, pol, pcpus=cores)
            except (CostError, PlatformError, RatesError, PolicyError, ValueError) as exc:
                fail(str(exc))
            point = compare(a, e, c)
            rows.extend(point)
            if not as_json:
                _print_point(c.name, pol, a.machine_cycles, point)
            if sample is not None:
                part, part_s = got[shown[0] * per + 1]
                samples.append(
                    {
                        "config": c.name,
                        "policy": pol,
                        "sample": sample,
                        "sampled_overhead_pct": part.overhead_pct,
                        "full_overhead_pct": e.overhead_pct,
                        "error": sample_error(part, e),
                        "sampled_s": part_s,
                        "full_s": full_s,
                    }
                )
            shown[0] += 1

    def kept(done: list[tuple[int, CostResult, float]]) -> str:
        """On Ctrl-C: the comparisons printed so far (in --json, printed now)."""
        if as_json and shown[0]:
            _print_json(rows, samples)
        where = " (printed above)" if shown[0] else ""
        return f"{shown[0]} of {len(points)} comparisons finished{where}; nothing is stored"

    compute(tasks, workers, "validate", kept, on_result)
    bad = [r for r in rows if not r.ok]
    if as_json:
        _print_json(rows, samples)
    else:
        for s in samples:
            console.print(
                f"--sample {s['sample']}: {s['config']} / {s['policy']}: overhead"
                f" {s['sampled_overhead_pct']:.5f} % sampled vs {s['full_overhead_pct']:.5f} % full,"
                f" error {s['error']:.3f}; {s['sampled_s']:.2f} s vs {s['full_s']:.2f} s",
                markup=False,
            )
        claimed = [r for r in rows if r.claimed and r.simulated]
        within = [r for r in rows if r.simulated and r.within]
        console.print(
            f"claimed comparisons within the tolerance {TOLERANCE:.0%}:"
            f" {len(claimed) - len(bad)}/{len(claimed)}; all simulated comparisons within it:"
            f" {len(within)}/{sum(r.simulated for r in rows)}",
            markup=False,
        )
    if bad:
        raise typer.Exit(1)


def _print_json(rows: list[Row], samples: list[dict[str, object]]) -> None:
    bad = [r for r in rows if not r.ok]
    out = {
        "tolerance": TOLERANCE,
        "ok": not bad,
        "rows": [
            {
                "config": r.config,
                "policy": r.policy,
                "cause": r.cause,
                "analytic": r.analytic,
                "exact": r.exact,
                "error": r.error,
                "ok": r.ok,
                "simulated": r.simulated,
                "claimed": r.claimed,
            }
            for r in rows
        ],
        "samples": samples,
    }
    console.print_json(json.dumps(out))


def _print_point(config: str, policy: str, machine: float, rows: list[Row]) -> None:
    console.print(f"{config} / {policy}   (% of machine cycles)", markup=False)
    console.print(f"  {'cause':<16} {'analytic':>10} {'exact':>10} {'error':>7}", markup=False)
    for r in rows:
        if r.analytic == 0.0 and r.exact == 0.0:
            continue
        if not r.simulated:
            mark = "(not simulated: analytic rule)"
        elif not r.claimed:
            mark = "ok (not claimed)" if r.within else "known disagreement (docs/exact.md)"
        else:
            mark = "ok" if r.ok else "OUT"
        console.print(
            f"  {r.cause:<16} {_pct(r.analytic, machine):>10} {_pct(r.exact, machine):>10}"
            f" {r.error:>7.3f} {mark}",
            markup=False,
        )
