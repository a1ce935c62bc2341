"""Exact mode's anchors for ``evaluate_exact``'s plumbing (issue 15 items 3 and 6): a sample
scaled to the whole duration, the pCPU count's defaults, where a trace is found, progress
reports, the errors' texts and the platform's I-cache line. The figures, trace and helpers are
``test_exact_anchors.py``'s (anchor-round: tlbi_local 100, ic_iallu 300, walk_2stage 200,
icache_line_refill 20, vcpu_switch 10000; 10 ms timeslices of 1 ms steps, 200 uncharged
warm-up steps, then 100 charged ones; the two-reference trace: after a flush a vCPU walks
exactly twice and misses the I-cache once); every expected value is derived in the
docstring, never a call into ``vtlbsim.cost``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from test_exact_anchors import (
    PLATFORM,
    REFS,
    TRACE,
    _fresh_dvm_solutions,
    exact,
    kind_file,
    only,
)

from vtlbsim.cost.exact import evaluate_exact
from vtlbsim.cost.workload import DomainGroup, SchedulerSpec, Workload

__all__ = ["_fresh_dvm_solutions"]  # the autouse fixture: each run solves its own DVM steps


def test_a_sample_is_scaled_to_the_whole_duration(tmp_path: Path) -> None:
    """The first anchor (flush-on-switch, two VMs on one pCPU) with sample = 0.5: 50 charged
    steps, whose 5 timeslice ends (steps 9 to 49) are scaled by 2: the same 10 loads, 20
    flushes, 8,200 cycles and 1e4 references as the whole 0.1 s."""
    res = exact(tmp_path, "flush-on-switch", pcpus=1, vms=2, sample=0.5)
    only(res, hyp_flush=4_000.0, tlb_refill=4_000.0, icache_refill=200.0)
    assert res.events["vcpu-loads"] == 10.0
    assert res.events["hyp-flushes"] == 20.0
    assert res.events["references"] == pytest.approx(1e4)
    assert res.duration_s == 0.1


def workload(tmp_path: Path, **fields: object) -> Workload:
    """The quiet guest (two-reference trace in ``two-refs.lackey``), two one-vCPU VMs pinned,
    0.1 s, on anchor-round; ``fields`` replace the workload's (or, ``trace``, the domains')."""
    kind = kind_file(tmp_path, "aarch64", {}, {})
    (tmp_path / "two-refs.lackey").write_text(TRACE)
    trace = fields.pop("trace", None)
    return Workload(
        platform=PLATFORM,
        duration_s=0.1,
        scheduler=SchedulerSpec(kind="pinned", timeslice_ms=10.0),
        domains=[DomainGroup(kind=kind, count=2, vcpus=1, trace=trace)],  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


def test_the_pcpus_default_to_the_workloads_then_the_platforms(tmp_path: Path) -> None:
    """Without ``pcpus`` the run takes the workload's ``pcpus``, else the platform's 4 cores:
    the machine is that many pCPUs of 1 GHz for 0.1 s."""
    w = workload(tmp_path, trace="two-refs.lackey", base_dir=str(tmp_path))
    res = evaluate_exact(w, "none", None, 1, None, refs_per_vcpu_s=REFS)
    assert res.pcpus == 4 and res.machine_cycles == pytest.approx(4e8)
    w = workload(tmp_path, trace="two-refs.lackey", base_dir=str(tmp_path), pcpus=3)
    res = evaluate_exact(w, "none", None, 1, None, refs_per_vcpu_s=REFS)
    assert res.pcpus == 3 and res.machine_cycles == pytest.approx(3e8)
    # two vCPUs on three pCPUs: 0.2 running vCPU-seconds; 100 references a step each
    assert res.events["running-vcpu-s"] == pytest.approx(0.2)
    assert res.events["references"] == pytest.approx(2e4)


@pytest.mark.parametrize(
    ("domain", "given"),
    [("two-refs.lackey", None), (None, "two-refs.lackey"), ("other.lackey", "two-refs.lackey")],
    ids=["the-domains-own", "the-callers-relative", "the-caller-wins"],
)
def test_a_trace_is_found_next_to_the_workload_file(
    tmp_path: Path, domain: str | None, given: str | None
) -> None:
    """A trace named relative to the workload file's directory (``base_dir``), given by the
    domain group's ``trace`` or by the caller (whose name wins over the domain's): the
    two-reference trace, so flush-on-switch costs the first anchor's 8,200 cycles. (The
    domain's ``other.lackey`` would add a third page: 30 walks.)"""
    (tmp_path / "other.lackey").write_text(TRACE + " L 00030000,8\n")
    w = workload(tmp_path, trace=domain, base_dir=str(tmp_path))
    traces = {w.domains[0].kind: given} if given else None
    res = evaluate_exact(w, "flush-on-switch", 1, 1, None, traces=traces, refs_per_vcpu_s=REFS)
    only(res, hyp_flush=4_000.0, tlb_refill=4_000.0, icache_refill=200.0)


def test_progress_is_reported_every_50_steps_and_at_the_end(tmp_path: Path) -> None:
    """The first anchor's run is 200 warm-up steps and 100 charged ones of 1 ms: progress at
    steps -200, -150, ..., 50 (every 50th) and at the last, 99, each with (simulated seconds
    done, 0.3 s in all)."""
    seen: list[tuple[float, float]] = []
    w = workload(tmp_path, trace="two-refs.lackey", base_dir=str(tmp_path))
    report: Callable[[float, float], None] = lambda done, total: seen.append((done, total))  # noqa: E731
    evaluate_exact(w, "none", 1, 1, None, refs_per_vcpu_s=REFS, progress=report)
    done = [0.001, 0.051, 0.101, 0.151, 0.201, 0.251, 0.3]
    assert [d for d, _ in seen] == pytest.approx(done)
    assert [t for _, t in seen] == pytest.approx([0.3] * 7)


def test_bad_backend_and_sample_are_named(tmp_path: Path) -> None:
    w = workload(tmp_path, trace="two-refs.lackey", base_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"^backend: expected 'numba' or 'reference', got 'gpu'$"):
        evaluate_exact(w, "none", 1, 1, None, backend="gpu")
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match=rf"^sample: expected a share in \(0, 1\], got {bad}$"):
            evaluate_exact(w, "none", 1, 1, bad)
    # a sample of exactly 1 is the whole run
    one = evaluate_exact(w, "none", 1, 1, 1.0, refs_per_vcpu_s=REFS)
    assert one.events["references"] == pytest.approx(1e4)


@pytest.mark.parametrize(("line_bytes", "misses"), [(64, 20.0), (128, 10.0)])
def test_the_icache_line_is_the_platforms(tmp_path: Path, line_bytes: int, misses: float) -> None:
    """The first anchor (flush-on-switch, two VMs on one pCPU, 10 counted loads) on a trace
    that fetches two consecutive 64-byte lines of page 16: with 64-byte I-cache lines each load's
    IC IALLU costs 2 misses (icache-refill = 20 x 20 = 400), with 128-byte lines they are one
    line, 1 miss (200); the TLB walks are the same 20 (4,000)."""
    res = exact(
        tmp_path,
        "flush-on-switch",
        pcpus=1,
        vms=2,
        lackey="I  00010000,4\nI  00010040,4\n L 00020000,8\n",
        plat={"icache_line_bytes": line_bytes},
    )
    assert res.events["icache-misses:hyp-load"] == misses
    only(res, hyp_flush=4_000.0, tlb_refill=4_000.0, icache_refill=20.0 * misses)
