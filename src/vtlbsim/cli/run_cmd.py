"""`vtlbsim run CONFIG.toml`: what each policy costs a workload, by cause, beside its safety.

Safety comes from the checker (``vtlbsim.check.matrix.safe``): a workload is safe under a
policy iff it is safe for every guest kind in it, unsafe if unsafe for any, else unknown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer
from rich import box

from ..arch.ops import BpReading
from ..cost import CostResult, Workload, WorkloadError, load_workload
from ..cost.causes import CAUSES
from ..cost.platform import PlatformError, load_platform
from ..hyp.registry import PolicyError, all_policies
from ..study.costs import CostTask
from ..study.spec import safety_bound
from .common import app, console, fail
from .cost_runs import compute
from .tables import Column, Grid, prose, show


def _safety_oracle() -> Callable[[str, str], bool | None] | None:
    """``check.matrix.safe`` if the checker is installed, else None (safety unknown)."""
    try:
        from ..check.matrix import safe
    except ImportError:
        return None
    return safe


def _checked_kind(kind: str, base_dir: str, bp: BpReading) -> str:
    """What the checker is asked about a workload's kind on a platform with predictors ``bp``:
    a built-in's name or a kind file's absolute path (checked like a built-in), with the
    platform's predictor reading when it can change the verdict (``check.matrix.subject``)."""
    from ..guest.kinds import KIND_NAMES, KindError, kind_path

    name = kind
    if kind not in KIND_NAMES:
        try:
            name = str(kind_path(kind, base_dir).resolve())
        except KindError:
            return kind
    try:
        from ..check.matrix import subject
    except ImportError:
        return name
    return subject(name, bp)


def _reading_note(workload: Workload, bp: BpReading) -> str:
    """The platform's predictor reading for the "safe =" line when the workload has an AArch32
    guest, whose verdicts depend on it (docs/guests.md, "Branch predictors")."""
    from ..guest.kinds import KindError, load_kind

    for d in workload.domains:
        try:
            if load_kind(d.kind, workload.base_dir).arch == "aarch32":
                return f", AArch32 branch predictors {bp.name} as the platform's profile reads them"
        except KindError:
            continue
    return ""


def workload_safe(workload: Workload, policy: str) -> bool | None:
    """Safe iff safe for every guest kind of the workload; False if any is unsafe; else None."""
    oracle = _safety_oracle()
    if oracle is None:
        return None
    bp = load_platform(workload.platform, workload.base_dir).bp
    kinds = dict.fromkeys(_checked_kind(d.kind, workload.base_dir, bp) for d in workload.domains)
    verdicts = [oracle(kind, policy) for kind in kinds]
    if any(v is False for v in verdicts):
        return False
    if verdicts and all(v is True for v in verdicts):
        return True
    return None


def parse_pcpus(text: str) -> list[int]:
    """``8,16,32`` → [8, 16, 32] (a repeated count once); fail (exit 2) on anything but
    comma-separated positive integers: no empty list, no empty item."""
    items = [x.strip() for x in text.split(",")]
    if not all(x.isdigit() and int(x) >= 1 for x in items):
        fail(f"--pcpus: expected comma-separated positive integers such as 8,24,96, got {text!r}")
    return list(dict.fromkeys(int(x) for x in items))


def _pct(x: float) -> str:
    """A percentage readable at any scale: 4 decimals, or 3 significant digits when tiny or
    huge."""
    if x == 0.0:
        return "0"
    return f"{x:.4f}" if 0.001 <= abs(x) < 1e5 else f"{x:.2e}"


def _overhead(r: CostResult) -> str:
    """The overhead cell; ``†`` marks a figure outside the model's validity (over 100%)."""
    return _pct(r.overhead_pct) + ("" if r.valid else " †")


INVALID_NOTE = (
    "† above 100% of the machine's cycles: outside the cost model's validity (the machine "
    "would be saturated; the figure is not a prediction)."
)


def _safe_word(s: bool | None) -> str:
    return {True: "safe", False: "UNSAFE", None: "unknown"}[s]


def _dominant(r: CostResult) -> str:
    cause = r.dominant_cause()
    if cause is None or r.total_cycles <= 0:
        return "-"
    return f"{cause} ({100.0 * r.cycles[cause] / r.total_cycles:.0f}%)"


def _ratio(a: CostResult, b: CostResult) -> str:
    if a.total_cycles <= 0:
        return "∞" if b.total_cycles > 0 else "1×"
    return f"{b.total_cycles / a.total_cycles:.3g}×"


SHORT = {
    "broadcast-issue": "bcast",
    "dvm-others": "dvm",
    "collateral-tlb": "coll-tlb",
    "hyp-flush": "hyp-fl",
    "tlb-refill": "tlb-rf",
    "icache-refill": "ic-rf",
    "bp-retrain": "bp",
    "trap": "trap",
}
"""Short column headers for the causes (the legend under a table gives the full names)."""

EVENTS = {
    "vcpu-loads": "loads",
    "migrations": "migr",
    "hyp-flushes": "hyp-flush",
    "hyp-flushes-is": "hyp-flush-is",
    "fb-upgraded": "fb-upgraded",
    "broadcasts-added": "bcast-added",
    "traps": "traps",
    "guest-maintenance": "guest-maint",
}
"""The event counts the events table shows, with their short headers (all are in --json)."""


def cost_grid(rows: list[CostResult], pcpus: int) -> Grid:
    """One row per policy: safety, overhead, cost to others, the dominant cause, then each
    cause that any row pays, as % of machine cycles. Policy, safety and overhead are shown
    at any width; the rest is hidden from the right on a narrow terminal."""
    causes = [c for c in CAUSES if any(r.cycles.get(c, 0.0) > 0.0 for r in rows)]
    g = Grid(
        [
            Column("policy", keep=True),
            Column("safe", keep=True),
            Column("overhead", "right", keep=True),
            Column("to others", "right"),
            Column("dominant cause"),
            *(Column(c, "right", short=SHORT.get(c, c)) for c in causes),
        ],
        title=f"{pcpus} pCPUs: % of machine cycles",
        box=box.MARKDOWN,
        hidden_hint="--wide shows them; --json has every figure",
    )
    for r in rows:
        share = [_pct(100.0 * r.cycles.get(c, 0.0) / r.machine_cycles) for c in causes]
        g.add_row(
            r.policy,
            _safe_word(r.safe),
            _overhead(r),
            _pct(r.cost_to_others_pct),
            _dominant(r),
            *share,
        )
    return g


def events_grid(rows: list[CostResult], pcpus: int) -> Grid:
    """Event counts over the run, one row per policy (columns that are all zero are left out)."""
    names = [e for e in EVENTS if any(r.events.get(e, 0.0) > 0.0 for r in rows)]
    g = Grid(
        [Column("policy", keep=True), *(Column(e, "right", short=EVENTS[e]) for e in names)],
        title=f"{pcpus} pCPUs: events over the run",
        box=box.MARKDOWN,
        hidden_hint="--wide shows them; --json has every count",
    )
    for r in rows:
        g.add_row(r.policy, *(f"{r.events.get(e, 0.0):.3g}" for e in names))
    return g


def _ties(rows: list[CostResult], best: CostResult) -> list[CostResult]:
    tol = 1e-9 * max(best.total_cycles, 1.0)
    return [r for r in rows if abs(r.total_cycles - best.total_cycles) <= tol]


def verdict(rows: list[CostResult]) -> tuple[str, str | None]:
    """The answer for one core count (rows sorted by cost): the cheapest safe policy (ties
    named), the next dearer safe one and fb, each with its ratio and dominant cause; and a
    warning naming every cheaper policy that is unsafe or of unknown safety."""
    safe_rows = [r for r in rows if r.safe is True]
    pool = safe_rows or [r for r in rows if r.safe is None]
    if not pool:
        return "no policy is known safe for this workload's guest kinds", None
    best = pool[0]
    tied = _ties(pool, best)
    label = "cheapest safe" if safe_rows else "cheapest (safety unknown)"
    also = f" (tied: {', '.join(r.policy for r in tied[1:])})" if len(tied) > 1 else ""
    line = f"{label}: {best.policy}{also} at {_pct(best.overhead_pct)}%, mostly {_dominant(best)}"
    if not best.valid:
        line += " (over 100%: outside the model's validity)"
    rest = [r for r in pool if r not in tied]
    for other in rest[:1] + [r for r in rest[1:] if r.policy == "fb"]:
        line += (
            f"; {other.policy} costs {_ratio(best, other)} as much"
            f" ({_pct(other.overhead_pct)}%, mostly {_dominant(other)})"
        )
    cheaper = [r for r in rows if r.total_cycles < best.total_cycles - 1e-9 and r.safe is not True]
    warning = None
    if cheaper:
        names = ", ".join(f"{r.policy} ({_safe_word(r.safe)})" for r in cheaper)
        warning = f"cheaper but not known safe: {names}"
    return line, warning


def _safety(workload: Workload, res: CostResult) -> CostResult:
    res.safe = workload_safe(workload, res.policy)
    return res


@app.command()
def run(
    config: Path = typer.Argument(..., help="A workload .toml (platform, scheduler, domains)."),
    policy: str | None = typer.Option(
        None, "--policy", "-p", help="Policy name or module:Class (default: the file's policy)."
    ),
    all_policies_: bool = typer.Option(False, "--all-policies", help="Cost every policy."),
    platform: str | None = typer.Option(
        None, "--platform", help="Platform profile name or .toml path (default: the file's)."
    ),
    pcpus: str | None = typer.Option(
        None, "--pcpus", help="Comma-separated core counts, e.g. 8,24,48,96 (one table each)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one object per row."),
    events: bool = typer.Option(
        True, "--events/--no-events", help="Also print the event counts of each core count."
    ),
    mode: str = typer.Option("analytic", "--mode", help="analytic (closed form) or exact."),
    seed: int = typer.Option(0, "--seed", help="Seed of the exact mode's access streams."),
    sample: float | None = typer.Option(
        None, "--sample", help="Exact mode: the share of the duration to simulate (0 < S <= 1)."
    ),
    allow_more_cores: bool = typer.Option(
        False,
        "--allow-more-cores",
        help="Accept core counts above the platform profile's (a hypothetical larger machine).",
    ),
    wide: bool = typer.Option(
        False, "--wide", help="Every column, even if wider than the terminal."
    ),
    workers: int = typer.Option(
        0, "--workers", "-j", help="Exact mode: processes for the runs (default 0: one per CPU)."
    ),
) -> None:
    """What each policy costs a workload: overhead, cycles by cause, cost to others, safety."""
    try:
        workload = load_workload(config)
    except WorkloadError as exc:
        fail(str(exc))
    if platform is not None:
        try:
            load_platform(platform)
        except PlatformError as exc:
            fail(f"--platform: {exc}")
        workload = workload.model_copy(
            update={
                "platform": str(Path(platform).resolve())
                if platform.endswith(".toml")
                else platform
            }
        )
    if mode not in ("analytic", "exact"):
        fail(f"--mode: expected 'analytic' or 'exact', got {mode!r}")
    if sample is not None and not 0.0 < sample <= 1.0:
        fail(f"--sample: expected a share of the duration in (0, 1], got {sample}")
    try:
        plat = load_platform(workload.platform, workload.base_dir)
    except PlatformError as exc:
        fail(f"{config}: platform: {exc}")
    counts = parse_pcpus(pcpus) if pcpus is not None else [workload.pcpus or plat.cores]
    over = [n for n in counts if n > plat.cores] if pcpus is not None else []
    if over and not allow_more_cores:
        where = "--pcpus"
        fail(
            f"{where}: {', '.join(map(str, over))} is more than the {plat.cores} cores of "
            f"platform {plat.name} (pass --allow-more-cores to price a larger machine)"
        )
    if all_policies_:
        try:
            names = list(all_policies())
        except PolicyError as exc:
            fail(str(exc))
    elif policy or workload.policy:
        names = [policy or workload.policy or ""]
    else:
        fail(f"{config}: policy: no policy in the file; pass --policy NAME or --all-policies")
    if workers < 0:
        fail(f"--workers: expected 0 (one per CPU) or a positive number, got {workers}")
    tasks = [CostTask(workload, n, p, mode, seed, sample) for p in counts for n in names]

    def kept(done: list[tuple[int, CostResult, float]]) -> str:
        """On Ctrl-C: print the runs that finished; say so."""
        part = [_safety(workload, r) for _, r, _ in done]
        if part and as_json:
            console.print_json(json.dumps([r.to_json() for r in part]))
        elif part:
            _print_text(
                config,
                workload,
                part,
                [p for p in counts if any(r.pcpus == p for r in part)],
                events,
                wide,
            )
        k, n = len(part), len(tasks)
        if not k:
            return f"none of the {n} run{'s' * (n > 1)} finished; nothing was printed"
        return f"{k} of {n} runs finished (printed above); the other {n - k} were not computed"

    ran = compute(tasks, workers if mode == "exact" else 1, f"run {config.name}", kept)
    results = [_safety(workload, r) for r, _ in ran]
    if as_json:
        console.print_json(json.dumps([r.to_json() for r in results]))
        return
    _print_text(config, workload, results, counts, events, wide)


def _print_text(
    config: Path,
    workload: Workload,
    results: list[CostResult],
    counts: list[int],
    events: bool,
    wide: bool,
) -> None:
    plat = load_platform(workload.platform, workload.base_dir)
    s = workload.scheduler
    doms = ", ".join(f"{d.count}×{d.kind}/{d.vcpus}vCPU" for d in workload.domains)
    prose(f"{config}: {doms}", indent="  ")
    prose(
        f"platform {plat.name} ({plat.cores} cores, {plat.sockets} sockets, {plat.clock_ghz} GHz);"
        f" scheduler {s.kind} ({s.migrations_per_vcpu_s:g} migrations/vCPU-s,"
        f" timeslice {s.timeslice_ms:g} ms); {workload.duration_s:g} s; mode {results[0].mode}",
        indent="  ",
    )
    summary: list[tuple[int, str, str | None]] = []
    for p in counts:
        rows = sorted((r for r in results if r.pcpus == p), key=lambda r: r.total_cycles)
        console.print()
        show(cost_grid(rows, p), wide=wide)
        if events:
            console.print()
            show(events_grid(rows, p), wide=wide)
        line, warn = verdict(rows)
        summary.append((p, line, warn))
    if not all(r.valid for r in results):
        prose(INVALID_NOTE, indent="  ")
    console.print()
    for p, line, warn in summary:
        prose(f"{p:>4} pCPUs: {line}", indent=" " * 12)
        if warn:
            prose(f"      WARNING: {warn}", indent=" " * 15)
    assumed = sorted({a for r in results for a in r.assumptions})
    console.print()
    note = _reading_note(workload, plat.bp)
    prose(f"safe = {safety_bound()}{note} (`vtlbsim check --matrix`).")
    prose(
        f"figures: {len(assumed)} of those used are assumptions, not sourced"
        f" (`vtlbsim platforms show {plat.name}` lists each with its source or reason)."
    )
    prose(
        "overhead: the cycles each policy loses, by cause, as % of all the machine's cycles;"
        " it excludes the scheduler's own vCPU switches (in --json: baseline_cycles)."
    )
