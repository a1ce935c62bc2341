"""Exact mode's anchors for how a run is built from its workload (issue 15 item 6, from
``exact.py``'s mutation survivors in ``_StepPlan``, ``_group`` and ``evaluate_exact``): domain
groups with their own traces, and what they share. The figures, trace and helpers are
``test_exact_anchors.py``'s (anchor-round: tlbi_local 100, ic_iallu 300, walk_2stage 200,
icache_line_refill 20; a 10 ms timeslice of 1 ms steps, 200 uncharged warm-up steps and 100
charged ones; flush-on-switch's TLBI VMALLS12E1 + IC IALLU at each load); every expected value
is derived in the docstring."""

from __future__ import annotations

from pathlib import Path

from test_exact_anchors import (
    PLATFORM,
    REFS,
    SHORT_SLICE_MS,
    TRACE,
    _fresh_dvm_solutions,
    exact,
    kind_file,
    only,
)

from vtlbsim.cost.exact import evaluate_exact
from vtlbsim.cost.workload import DomainGroup, SchedulerSpec, Workload

__all__ = ["_fresh_dvm_solutions"]  # the autouse fixture: each run solves its own DVM steps

THREE_REFS = TRACE + " L 00030000,8\n"
"""The two-reference trace and a load of page 48: three pages, so three walks after a flush."""


def test_two_domain_groups_each_run_their_own_trace(tmp_path: Path) -> None:
    """Two one-vCPU VMs pinned on one pCPU, each its own domain group: VM 1 reads the
    two-reference trace (pages 16 and 32), VM 2 a three-reference one (pages 16, 32, 48).
    flush-on-switch: the VMs take turns, one load per timeslice end; the 10 loads whose refills
    are counted (steps -1, 9, ..., 89) alternate between the VMs, 5 each. After each the
    incoming VM walks every page of its own trace and misses its one I-cache line:
    walks:hyp-load = 5 x 2 + 5 x 3 = 25 (tlb-refill 5,000), I-cache misses 10 (icache-refill
    200); hyp-flush = 10 charged loads x (100 + 300) = 4,000."""
    kind = kind_file(tmp_path, "aarch64", {}, {})
    (tmp_path / "two.lackey").write_text(TRACE)
    (tmp_path / "three.lackey").write_text(THREE_REFS)
    w = Workload(
        platform=PLATFORM,
        duration_s=0.1,
        scheduler=SchedulerSpec(kind="pinned", timeslice_ms=10.0),  # type: ignore[arg-type]
        domains=[
            DomainGroup(kind=kind, count=1, vcpus=1, trace="two.lackey"),  # type: ignore[arg-type]
            DomainGroup(kind=kind, count=1, vcpus=1, trace="three.lackey"),  # type: ignore[arg-type]
        ],
        base_dir=str(tmp_path),
    )
    res = evaluate_exact(w, "flush-on-switch", 1, 1, None, refs_per_vcpu_s=REFS)
    assert res.events["vcpu-loads"] == 10.0
    assert res.events["walks:hyp-load"] == 25.0
    assert res.events["icache-misses:hyp-load"] == 10.0
    only(res, hyp_flush=4_000.0, tlb_refill=5_000.0, icache_refill=200.0)


def test_a_one_reference_trace_wraps_at_every_reference(tmp_path: Path) -> None:
    """A trace of one instruction fetch (page 16, one I-cache line): each step's 100 references
    wrap around the one-reference stream 100 times. flush-on-switch, two one-vCPU VMs pinned on
    one pCPU, 10 counted loads: after each, the incoming vCPU walks once (its one page) and
    misses its one line: walks:hyp-load = 10 (tlb-refill 2,000), icache-refill 10 x 20 = 200;
    hyp-flush = 10 x 400 = 4,000; 100 references a step, 1e4 in the 0.1 s."""
    kind = kind_file(tmp_path, "aarch64", {}, {})
    (tmp_path / "one.lackey").write_text("I  00010000,4\n")
    w = Workload(
        platform=PLATFORM,
        duration_s=0.1,
        scheduler=SchedulerSpec(kind="pinned", timeslice_ms=10.0),  # type: ignore[arg-type]
        domains=[DomainGroup(kind=kind, count=2, vcpus=1, trace="one.lackey")],  # type: ignore[arg-type]
        base_dir=str(tmp_path),
    )
    res = evaluate_exact(w, "flush-on-switch", 1, 1, None, refs_per_vcpu_s=REFS)
    assert res.events["references"] == 1e4
    assert res.events["walks:hyp-load"] == 10.0
    assert res.events["icache-misses:hyp-load"] == 10.0
    only(res, hyp_flush=4_000.0, tlb_refill=2_000.0, icache_refill=200.0)


def test_a_vcpu_runs_on_a_pcpu_after_an_idle_one(tmp_path: Path) -> None:
    """One vCPU under random-migrate on two pCPUs (200 moves per second, about 20 in 0.1 s): it
    spends part of the run on pCPU 1 while pCPU 0 is idle, and runs its 100 references in every
    step wherever it is: 1e4 references in the 0.1 s, 0.1 running vCPU-seconds."""
    res = exact(tmp_path, "none", pcpus=2, vms=1, sched="random-migrate", migrations=200.0)
    assert res.events["migrations"] > 5
    assert res.events["references"] == 1e4
    assert res.events["running-vcpu-s"] == 0.1


def test_an_instruction_at_one_per_second_is_issued(tmp_path: Path) -> None:
    """Sixteen one-vCPU VMs on sixteen pCPUs for 1 s, the guest's TLBI VALE1 at 1 per running
    vCPU-second: a Poisson(16) number of them (P(none) = e^-16), none charged (no policy)."""
    res = exact(
        tmp_path,
        "none",
        pcpus=16,
        vms=16,
        ops={"pte_user": "vale1"},
        rates={"pte_changes_per_s": 1.0},
        duration_s=1.0,
        timeslice_ms=SHORT_SLICE_MS,
    )
    assert 0 < res.events["pte-changes:vale1"] < 40
    only(res)


def test_a_rollover_broadcast_is_shared_by_the_vms_vcpus(tmp_path: Path) -> None:
    """A guest that handles an ASID rollover with one broadcast for the whole VM
    (``rollover_broadcast``: TLBI VMALLE1IS at 20,000 rollovers per vCPU-second): each of the 2
    vCPUs issues it at 20,000 / 2 = 10,000 per vCPU-second, a Poisson(10) number per 1 ms step;
    over the 100 charged steps on 2 pCPUs a Poisson(2,000) number in all (1,800 to 2,200 is
    4.5 standard deviations). The guest's own broadcasts: nothing charged."""
    rates = {"asid_rollovers_per_s": 20_000.0}
    kind = Path(kind_file(tmp_path, "aarch64", {"rollover": "vmalle1is"}, rates))
    flag = "rollover_broadcast = { value = "
    kind.write_text(kind.read_text().replace(flag + "false", flag + "true"))
    (tmp_path / "two.lackey").write_text(TRACE)
    w = Workload(
        platform=PLATFORM,
        duration_s=0.1,
        scheduler=SchedulerSpec(kind="pinned", timeslice_ms=SHORT_SLICE_MS),  # type: ignore[arg-type]
        domains=[DomainGroup(kind=str(kind), count=1, vcpus=2, trace="two.lackey")],  # type: ignore[arg-type]
        base_dir=str(tmp_path),
    )
    res = evaluate_exact(w, "none", 2, 1, None, refs_per_vcpu_s=REFS)
    assert 1_800 < res.events["asid-rollovers:vmalle1is"] < 2_200
    only(res)
