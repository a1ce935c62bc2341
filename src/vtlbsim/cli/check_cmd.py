"""`vtlbsim check`: prove a policy safe for a guest kind up to a depth, or print the shortest
counterexample as a litmus file; `--matrix` for every kind x every policy (SPEC §7)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import typer

from ..arch.ops import Arch, BpReading
from ..check.actions import DEFAULT_VAS, VAS
from ..check.explore import CheckResult, GuestDisciplineError
from ..check.explore import check as run_check
from ..check.matrix import (
    DEFAULT_DEPTH,
    DEFAULT_PCPUS,
    DEFAULT_VCPUS,
    VerdictCache,
    matrix_results,
)
from ..guest.kinds import KIND_NAMES, KindError, load_kind
from ..hyp.registry import PolicyError, all_policies, resolve
from .check_progress import LevelProgress, MatrixProgress
from .common import app, console, fail
from .progress import interrupted
from .tables import matrix_grid, show, verdict_cell

MAX_PCPUS = 4
MAX_VCPUS = 4


def _reading(r: CheckResult) -> str:
    """ ", predictors READING" for an AArch32 kind (an AArch64 guest keeps no predictor state)."""
    try:
        a64 = load_kind(r.kind).arch is Arch.AARCH64
    except KindError:
        a64 = False
    return "" if a64 else f", predictors {r.bp.name}"


def _print_result(r: CheckResult) -> None:
    console.print(
        f"{r.kind} under {r.policy} ({r.pcpus} pCPUs, {r.vcpus} vCPU{'s' * (r.vcpus != 1)}, "
        f"{r.vas} VA{'s' * (r.vas != 1)}{', incomplete maintenance' * r.incomplete}"
        f"{_vms_text(r.vms)}{_reading(r)}): "
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
        None,
        "--guest",
        "-g",
        help=f"Guest kind (SPEC §3): {', '.join(KIND_NAMES)}, or a kind .toml file.",
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
        None,
        "--out",
        "-o",
        help="Write the counterexample litmus file here (--matrix: a folder, one file per "
        "unsafe pair).",
    ),
    matrix: bool = typer.Option(
        False,
        "--matrix",
        help="Every guest kind x every policy; with --policy, that policy against every kind; "
        "with --guest, that kind against every policy.",
    ),
    jobs: int = typer.Option(
        0, "--jobs", "-j", help="--matrix: processes to spread pairs over (default: every core)."
    ),
    incomplete: bool = typer.Option(
        False,
        "--incomplete",
        help="A broadcast completes on other pCPUs only at its issuer's DSB, and the scheduler "
        "may act between a guest's maintenance and its DSB (docs/check.md).",
    ),
    globals_: bool = typer.Option(
        False, "--globals", help="The guest kernel also maps and unmaps a global (nG=0) page."
    ),
    asid_flush: bool = typer.Option(
        False,
        "--asid-flush",
        help="Processes may also exit with the kind's asid_flush (ASIDE1IS on arm64 Linux).",
    ),
    vms: int = typer.Option(
        1,
        "--vms",
        help="2: the hypervisor may also destroy the VM and create a second one, of the same "
        "kind and size, that reuses its VMID (docs/check.md).",
    ),
    no_cache: bool = typer.Option(
        False,
        "--no-cache",
        help="--matrix: check every pair again (default: reuse and keep results in the verdict "
        "cache, $VTLBSIM_CACHE or ~/.cache/vtlbsim/check).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    bp_invisible: bool = typer.Option(
        False,
        "--bp-invisible",
        help="Branch predictors architecturally invisible (BPIALL a NOP; docs/guests.md).",
    ),
    bpiall_fb_upgrade: bool = typer.Option(
        False,
        "--bpiall-fb-upgrade",
        help="HCR_EL2.FB upgrades BPIALL to BPIALLIS (default: the BPIALL pseudocode: it does not).",
    ),
) -> None:
    """Model-check a policy for a guest kind: safe up to a depth, or the shortest
    counterexample as a litmus file. Exit 0 safe, 1 counterexample, 2 bad input."""
    bp = BpReading(not bp_invisible, bpiall_fb_upgrade).normalised()
    if not 1 <= pcpus <= MAX_PCPUS:
        fail(f"--pcpus: expected 1..{MAX_PCPUS}, got {pcpus}")
    if not 1 <= vcpus <= MAX_VCPUS:
        fail(f"--vcpus: expected 1..{MAX_VCPUS}, got {vcpus}")
    if not 0 <= depth <= 30:
        fail(f"--depth: expected 0..30, got {depth}")
    if not 0 <= jobs <= 256:
        fail(f"--jobs: expected 1..256 (0: every core), got {jobs}")
    jobs = jobs or os.cpu_count() or 1
    if not 1 <= vas <= len(VAS):
        fail(f"--vas: expected 1..{len(VAS)}, got {vas}")
    if vms not in (1, 2):
        fail(f"--vms: expected 1 or 2, got {vms}")
    if guest is not None:
        try:
            load_kind(guest)
        except KindError as exc:
            fail(f"--guest: {exc}")
    if policy is not None:
        try:
            resolve(policy)
        except PolicyError as exc:
            fail(f"--policy: {exc}")
    if matrix:
        if out is not None and out.exists() and not out.is_dir():
            fail(f"--out {out}: expected a folder for --matrix (one litmus file per unsafe pair)")
        kinds = None if guest is None else [guest]
        policies = None if policy is None else [policy]
        cache = None if no_cache else VerdictCache(VerdictCache.default_folder())
        dims = {"incomplete": incomplete, "globals": globals_, "asid_flush": asid_flush}
        _matrix(kinds, policies, pcpus, vcpus, depth, vas, dims, vms, jobs, cache, out, as_json, bp)
        return
    if guest is None or policy is None:
        fail("expected --guest KIND and --policy P (or --matrix)")
    shown = LevelProgress(depth, console.is_terminal and not as_json)
    try:
        r = run_check(
            guest,
            policy,
            pcpus=pcpus,
            vcpus=vcpus,
            depth=depth,
            vas=vas,
            progress=shown,
            incomplete=incomplete,
            globals=globals_,
            asid_flush=asid_flush,
            bp=bp,
            vms=vms,
        )
    except GuestDisciplineError as exc:  # a bug in the action generator, not bad input
        fail(str(exc), code=3)
    except KeyboardInterrupt:
        shown.close()
        interrupted(
            f"at depth {shown.level + 1} ({shown.states:,} states): nothing kept; "
            f"no violation within {shown.level} actions so far"
        )
    finally:
        shown.close()
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


def _matrix(
    kinds: list[str] | None,
    policies: list[str] | None,
    pcpus: int,
    vcpus: int,
    depth: int,
    vas: int,
    dims: dict[str, bool],
    vms: int,
    jobs: int,
    cache: VerdictCache | None,
    out: Path | None,
    as_json: bool,
    bp: BpReading,
) -> None:
    """The matrix (narrowed to one kind or one policy if given); exit 1 if a narrowed matrix
    has an unsafe pair (the full one always has: it holds the unsafe baselines)."""
    total = len(kinds or KIND_NAMES) * len(policies or all_policies())
    shown = MatrixProgress(total, console.is_terminal and not as_json)
    try:
        results = matrix_results(
            kinds,
            policies,
            pcpus=pcpus,
            vcpus=vcpus,
            depth=depth,
            vas=vas,
            jobs=jobs,
            cache=cache,
            progress=shown,
            **dims,
            bp=bp,
            vms=vms,
        )
    except (PolicyError, KindError) as exc:
        fail(str(exc))
    except GuestDisciplineError as exc:  # a bug in the action generator, not bad input
        fail(str(exc), code=3)
    except KeyboardInterrupt:
        shown.close()
        kept = (
            f"kept in {cache.folder}; rerun to check the rest" if cache else "--no-cache: none kept"
        )
        interrupted(f"{shown.done} of {total} pairs done, {kept}")
    finally:
        shown.close()
    written = _write_counterexamples(results, out) if out is not None else {}
    if as_json:
        rows = [r.to_json() for r in results]
        for row, r in zip(rows, results, strict=True):
            if (r.kind, r.policy) in written:
                row["written_to"] = str(written[(r.kind, r.policy)])
        console.print_json(json.dumps(rows))
    else:
        _print_matrix(results, pcpus, vcpus, depth, vas, dims, vms, bp)
        if written:
            console.print(f"{len(written)} counterexamples written to {out}/", markup=False)
    if (kinds is not None or policies is not None) and not all(r.safe for r in results):
        raise typer.Exit(1)


def _print_matrix(
    results: list[CheckResult],
    pcpus: int,
    vcpus: int,
    depth: int,
    vas: int,
    dims: dict[str, bool],
    vms: int,
    bp: BpReading,
) -> None:
    kinds = list(dict.fromkeys(r.kind for r in results))
    policies = list(dict.fromkeys(r.policy for r in results))
    by = {(r.kind, r.policy): r for r in results}
    show(
        matrix_grid(
            f"safety up to depth {depth} ({pcpus} pCPUs, {vcpus} vCPUs per SMP guest, "
            f"{vas} VA{'s' * (vas != 1)}{_dims_text(dims)}{_vms_text(vms)})",
            "policy",
            policies,
            kinds,
            lambda p, k: verdict_cell(by[(k, p)].safe, len(by[(k, p)].actions)),
        )
    )
    console.print(
        "UNSAFE (n): the shortest counterexample has n actions; "
        "`vtlbsim check --guest KIND --policy P` prints it. "
        f"AArch32 branch predictors read as {bp.name} (--bp-invisible, --bpiall-fb-upgrade: "
        "docs/guests.md).",
        markup=False,
    )


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("_") or "x"


def _write_counterexamples(results: list[CheckResult], out: Path) -> dict[tuple[str, str], Path]:
    """Each counterexample as ``OUT/KIND--POLICY.toml``, a litmus file ``vtlbsim litmus`` replays."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out {out}: cannot create the folder: {exc.strerror}")
    written: dict[tuple[str, str], Path] = {}
    for r in results:
        if r.counterexample is None:
            continue
        kind = Path(r.kind).stem if r.kind.endswith(".toml") else r.kind
        path = out / f"{_slug(kind)}--{_slug(r.policy)}.toml"
        try:
            path.write_text(r.counterexample.to_litmus())
        except OSError as exc:
            fail(f"--out {path}: cannot write: {exc.strerror}")
        written[(r.kind, r.policy)] = path
    return written


def _vms_text(vms: int) -> str:
    """``--vms 2`` as a title lists it."""
    return ", 2 VMs (VMID reuse)" if vms == 2 else ""


def _dims_text(dims: dict[str, bool]) -> str:
    """The options a check ran with beyond its size, as the table title lists them."""
    words = {
        "incomplete": "incomplete maintenance",
        "globals": "global mappings",
        "asid_flush": "ASID flushes",
    }
    return "".join(f", {words[k]}" for k, on in dims.items() if on)
