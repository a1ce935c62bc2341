"""Exact mode's anchors for what the policy is told and what HCR_EL2 makes of a guest
instruction (issue 15 item 6, from ``exact.py``'s mutation survivors in ``_Run.guest_op`` and
``evaluate_exact``): the policy's HCR is asked for the vCPU that issues, a trap handler may
execute hypervisor flushes in place of the trapped instruction, and a policy reads the vCPU's
VM and its size. The figures, trace and helpers are ``test_exact_anchors.py``'s (anchor-round:
tlbi_local 100, dvm_op 500, dvm_sync 1000, ic_iallu 300, walk_2stage 200,
icache_line_refill 20, bp_retrain 5000 with visible predictors, trap_roundtrip 1000; steps of
1 ms, 100 charged ones whose references follow the maintenance queued in steps -1 to 98; a
two-reference trace: after a TLB flush a vCPU walks exactly twice, after an I-cache flush it
misses once); every expected value is derived in the docstring."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_exact_anchors import DATA, SHORT_SLICE_MS, _fresh_dvm_solutions, exact, only

__all__ = ["_fresh_dvm_solutions"]  # the autouse fixture: each run solves its own DVM steps

FLUSH_ON_TRAP = f"{DATA / 'anchor_trap_policies.py'}:FlushVmidAndIcacheOnTrap"


@pytest.mark.parametrize(("sched", "upgraded"), [("pinned", False), ("round-robin", True)])
def test_gunyahs_fb_follows_the_pinning_of_the_vcpu_that_issues(
    tmp_path: Path, sched: str, upgraded: bool
) -> None:
    """Gunyah sets HCR_EL2.FB only for a vCPU that may migrate (``VcpuInfo.pinned``: the
    scheduler is not ``pinned``). One VM of one vCPU on one pCPU, the guest's local TLBI VALE1
    at 2,000 per second (about 200 in 0.1 s). Pinned: the instruction runs as written, nothing
    is charged and nothing upgraded. Round-robin: FB makes each one VALE1IS, which a lone issuer
    pays op + sync = 1,500 against the local 100: broadcast-issue = 1,400 per instruction
    (Gunyah flushes nothing at a load)."""
    res = exact(
        tmp_path,
        "gunyah",
        pcpus=1,
        vms=1,
        ops={"pte_user": "vale1"},
        rates={"pte_changes_per_s": 2000.0},
        timeslice_ms=SHORT_SLICE_MS,
        sched=sched,
    )
    n = res.events["guest-local-maintenance"]
    assert 100 < n < 300  # Poisson, mean 200
    if upgraded:
        assert res.events["fb-upgraded"] == n
        only(res, broadcast_issue=1_400.0 * n)
    else:
        assert res.events.get("fb-upgraded", 0.0) == 0.0
        only(res)


def test_a_trap_handler_that_flushes_the_vmid_and_the_icache(tmp_path: Path) -> None:
    """A policy that traps the guest's TLB instructions (TTLB) and executes, for each, the local
    TLBI VMALLS12E1 of the trapping VMID and IC IALLU instead (``anchor_trap_policies.py``).
    One AArch32 VM of one vCPU on one pCPU (predictors visible), the guest's local TLBIMVA at
    20,000 per second (a Poisson(20) number every 1 ms step, so every step has one).

    Per trapped instruction: the round trip, trap = 1,000; the two hypervisor flushes, local,
    tlbi_local 100 + ic_iallu 300: hyp-flush = 400; the guest's instruction is not executed, so
    broadcast-issue = 0 issued - 100 that the written TLBIMVA costs on bare metal = -100; the
    IC IALLU flushes the AArch32 guest's visible predictor on its own core: bp-retrain = 5,000.
    Refills: after each of the 100 steps the vCPU's VMID has no TLB entry and its I-cache line
    is gone, both removed by a hypervisor flush: walks:hyp-load = 100 x 2 (tlb-refill 40,000),
    icache-misses:hyp-load = 100 (icache-refill 2,000); nothing reaches another core."""
    res = exact(
        tmp_path,
        FLUSH_ON_TRAP,
        pcpus=1,
        vms=1,
        arch="aarch32",
        ops={"pte_user": "tlbimva"},
        rates={"pte_changes_per_s": 20_000.0},
        timeslice_ms=SHORT_SLICE_MS,
    )
    n = res.events["traps"]
    assert 1_500 < n < 2_500  # Poisson, mean 2,000
    assert res.events["hyp-flushes"] == 2 * n
    assert res.events["walks:hyp-load"] == 200.0
    assert res.events["icache-misses:hyp-load"] == 100.0
    assert res.events["walks:guest-local"] == 0.0
    only(
        res,
        trap=1_000.0 * n,
        hyp_flush=400.0 * n,
        broadcast_issue=-100.0 * n,
        bp_retrain=5_000.0 * n,
        tlb_refill=40_000.0,
        icache_refill=2_000.0,
    )
    assert res.cost_to_others_pct == 0.0


def test_flush_1vcpu_only_flushes_a_one_vcpu_vm_that_moves(tmp_path: Path) -> None:
    """flush-1vcpu-only flushes (TLBI VMALLS12E1 + IC IALLU, 100 + 300) at a load that moves a
    vCPU of a one-vCPU VM. One such vCPU under random-migrate on two pCPUs (200 moves per
    second, about 20 in 0.1 s): every load is a move, so hyp-flush = 400 per load; the refills
    after them are the hypervisor's (200 a walk, 20 an I-cache miss)."""
    res = exact(
        tmp_path, "flush-1vcpu-only", pcpus=2, vms=1, sched="random-migrate", migrations=200.0
    )
    loads = res.events["vcpu-loads"]
    assert loads > 5 and res.events["migrations"] == loads
    walks, misses = res.events["walks:hyp-load"], res.events["icache-misses:hyp-load"]
    only(res, hyp_flush=400.0 * loads, tlb_refill=200.0 * walks, icache_refill=20.0 * misses)


def test_xvisor_keeps_each_vms_vcpus_apart(tmp_path: Path) -> None:
    """Xvisor flushes (TLBI ALLE1IS) when a vCPU is loaded on a pCPU other than the one it last
    ran on, which it keeps per vCPU of each VM. Four one-vCPU VMs pinned on two pCPUs (VMs 1, 3
    on pCPU 0; 2, 4 on pCPU 1) take turns at each timeslice end: every vCPU comes back to the
    pCPU it left, so no load flushes; the quiet guest issues nothing for FB to upgrade: nothing
    is charged."""
    res = exact(tmp_path, "xvisor", pcpus=2, vms=4)
    assert res.events["vcpu-loads"] == 20.0
    assert res.events.get("hyp-flushes-is", 0.0) == 0.0
    only(res)
