"""The checker against verdicts derived by hand from the architecture (SPEC §1-§5).

Each expectation says why, in the Arm ARM's terms; none was produced by running the code.
Notation: an *action* is one scheduler load or one guest operation (a PTE change with the
invalidation its discipline uses counts as one).
"""

from __future__ import annotations

import pytest

from vtlbsim.check.explore import CheckResult, check
from vtlbsim.check.replay import replay
from vtlbsim.hyp.registry import resolve
from vtlbsim.litmus import parse
from vtlbsim.sim.events import Access, Run


def replays_to_violation(r: CheckResult) -> None:
    """The counterexample, as litmus text re-parsed, gives a violation and no guest error."""
    assert r.counterexample is not None and r.violation is not None
    sc = parse(r.counterexample.to_litmus(), path="<counterexample>")
    out = replay(sc, resolve(sc.policy))
    assert out.outcome == "violation"
    assert out.guest_errors == []
    assert out.violations[0].category == r.violation.category
    assert out.violations[0].step == len(sc.events)  # the last event is the stale use


# ---- linux-arm32-up: a !CONFIG_SMP kernel, local TLBIMVA / ICIALLU / BPIALL, one vCPU -----


def test_arm32_up_none_unsafe_with_the_shortest_counterexample() -> None:
    """H1. Minimal length, argued by hand. A violation is a use (1 action) of something that
    was filled by an earlier use on the same pCPU A, and a fill needs the vCPU loaded on A
    (1) and, as tables start empty, a mapping (1) before the filling access (1). For the use
    to be illegal, a maintenance instruction covering the entry must come after the fill,
    together with a change of the mapping or of the code — one guest operation (unmap +
    TLBIMVA + BPIALL, or write-code + ICIALLU + BPIALL: 1). Issued on A, its local
    instructions would remove the entry, so the vCPU must be on another pCPU B when it issues
    them (1: a load on B) and back on A for the use (1). Total: 7 actions, 9 events (the change
    is three instructions). So the search must find nothing within 6 actions."""
    r = check("linux-arm32-up", "none", pcpus=2, vcpus=2, depth=8)
    assert not r.safe
    assert r.vcpus == 1  # a UP kernel runs one CPU whatever was asked
    assert len(r.actions) == 7
    assert r.counterexample is not None and len(r.counterexample.events) == 9
    evs = r.counterexample.events
    assert isinstance(evs[0], Run) and isinstance(evs[-2], Run) and evs[0].pcpu == evs[-2].pcpu
    assert isinstance(evs[-1], Access)
    replays_to_violation(r)
    assert check("linux-arm32-up", "none", pcpus=2, depth=6).safe


def test_arm32_up_last_vcpu_ran_unsafe() -> None:
    """The only vCPU was the last to run on pCPU A, so KVM's rule skips the flush when it comes
    back after its local maintenance on B (the XSA-479 pattern): the same 7 actions."""
    r = check("linux-arm32-up", "last-vcpu-ran", depth=8)
    assert not r.safe and len(r.actions) == 7
    replays_to_violation(r)


def test_arm32_up_fb_safe() -> None:
    """HCR_EL2.FB upgrades TLBIMVA, TLBIALL, TLBIASID, ICIALLU and BPIALL to their IS forms, so
    every instruction the guest relies on reaches pCPU A too; with one vCPU there is no H2."""
    r = check("linux-arm32-up", "fb", depth=8)
    assert r.safe and r.states > 100


def test_arm32_up_flush_on_migrate_safe() -> None:
    """With one vCPU every stale entry on A was filled before the vCPU left A, and coming back
    is a migration, which flushes TLB, I-cache and BP on A."""
    assert check("linux-arm32-up", "flush-on-migrate", depth=8).safe


# ---- percpu-tables: same VA and ASID, a different table per vCPU ---------------------------


@pytest.mark.parametrize("policy", ["fb", "none", "flush-on-migrate"])
def test_percpu_tables_unsafe_without_a_cross_vcpu_flush(policy: str) -> None:
    """H2: vCPU 0 fills VA->PA1 on pCPU A; vCPU 1, whose own table never mapped VA to PA1
    (it need not map VA at all), runs on A and hits it: same VMID, same ASID. FB only changes
    where instructions go, and a first load is not a migration, so neither fb nor
    flush-on-migrate helps. Shortest: run v0 on A, v0 map, v0 access, run v1 on A (its first
    load installs its own table), v1 access = 5 actions: an entry needs a load on A, a map and
    an access; the other vCPU must be loaded on A and use it."""
    r = check("percpu-tables", policy, depth=8)
    assert not r.safe and len(r.actions) == 5
    assert r.violation is not None and r.violation.category == "cross-vcpu-tlb"
    replays_to_violation(r)


def test_percpu_tables_last_vcpu_ran_unsafe_through_h1() -> None:
    """KVM's rule flushes A when another vCPU (or nobody) ran there last, which closes H2; but
    this kind's PTE changes use a *local* VALE1, so a vCPU that migrates to B, changes a PTE
    and comes back to A, where it was the last to run, is H1 again: 7 actions, stale-tlb or
    stale-icache (its code changes use a local IC IALLU)."""
    r = check("percpu-tables", "last-vcpu-ran", depth=8)
    assert not r.safe and len(r.actions) == 7
    assert r.violation is not None and r.violation.category in ("stale-tlb", "stale-icache")
    replays_to_violation(r)


def test_percpu_tables_flush_on_arrival_safe() -> None:
    """flush-on-arrival flushes A whenever the arriving vCPU last ran elsewhere (H1) or another
    vCPU ran on A last (H2): an entry a vCPU meets on A was then filled by itself since it last
    arrived there, and its own local maintenance ran on A."""
    assert check("percpu-tables", "flush-on-arrival", depth=7).safe


# ---- SMP kinds -----------------------------------------------------------------------------


def test_freebsd_arm64_smp_only_broadcasts_safe_under_none() -> None:
    """FreeBSD arm64 uses VALE1IS for PTE changes, IC IVAU (always broadcast) for code and one
    VMALLE1IS at ASID rollover: every instruction it relies on is Inner Shareable and already
    reaches every pCPU, and it never uses per-CPU tables; so even `none` is safe."""
    assert check("freebsd-arm64-smp", "none", depth=8).safe


def test_linux_arm64_smp_none_unsafe_through_asid_rollover() -> None:
    """Linux broadcasts PTE invalidations but flushes *locally* at ASID rollover (VMALLE1 on each
    CPU before it uses a new-generation ASID). A vCPU that filled ASID 0 entries on A, rolls
    over on B (its local VMALLE1 misses A) and comes back to A with ASID 0 now naming a new
    address space hits the old entry: run A, map, access, run B, exit + rollover + switch,
    run A, switch back, access = 8 actions."""
    r = check("linux-arm64-smp", "none", depth=8)
    assert not r.safe and len(r.actions) == 8
    assert r.violation is not None and r.violation.category == "stale-tlb"
    replays_to_violation(r)


def test_linux_arm64_local_none_unsafe() -> None:
    """The 2025 RFC uses a local VALE1 when the mm was active on this (v)CPU only: migrate the
    vCPU and it is H1 again (7 actions, as for the UP kernel)."""
    r = check("linux-arm64-local", "none", depth=8)
    assert not r.safe and len(r.actions) == 7
    replays_to_violation(r)


def test_linux_arm32_smp_trap_ttlb_unsafe_through_the_branch_predictor() -> None:
    """HCR_EL2.TTLB traps TLB instructions only: the rollover's TLBIALL is trapped and executed
    as TLBIALLIS, but its local BPIALL still runs locally. A prediction trained on A for ASID 0
    survives the rollover on B; back on A, ASID 0 names a new address space whose mapping of
    the VA (a fresh map) differs: stale-bp. Nine actions — the ASID-rollover story (8) plus
    the new map that makes the fetch reach the predictor."""
    r = check("linux-arm32-smp", "trap-ttlb", depth=9)
    assert not r.safe and len(r.actions) == 9
    assert r.violation is not None and r.violation.category == "stale-bp"
    replays_to_violation(r)


def test_linux_arm64_smp_fb_safe() -> None:
    """With FB the rollover's VMALLE1 acts as VMALLE1IS; every other instruction Linux uses is
    already broadcast, and there are no per-CPU tables: nothing is left behind on any pCPU."""
    assert check("linux-arm64-smp", "fb", depth=9).safe


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind", ["linux-arm64-smp", "linux-arm32-up", "percpu-tables", "freebsd-armv7-up"]
)
def test_flush_on_switch_safe_for_every_kind(kind: str) -> None:
    """flush-on-switch empties the pCPU's TLB, I-cache and (AArch32) predictor for the VMID on
    every load: whatever a vCPU meets was filled by itself since it was loaded, and its own
    local maintenance ran on this very pCPU, so the guest sees what bare metal would show."""
    assert check(kind, "flush-on-switch", depth=10).safe


# ---- shipping profiles as their sources do it (issue 10) ----------------------------------


def test_xvisor_percpu_tables_needs_a_vcpu_to_come_back() -> None:
    """Xvisor flushes TLBI ALLE1IS whenever a vCPU is loaded on another pCPU than the one it
    last left, and on its first load (``last_hcpu`` starts at 0xFFFFFFFF). So the 5-action H2
    story (v0 fills on A, v1's *first* load on A hits it) is flushed away. v1 must be loaded on
    A without a flush, i.e. it last left A: it ran on A before v0 filled. Shortest: run v1 on
    A (1), run v0 on A (1, v1 leaves A), v0 map (1), v0 fetch (1), run v1 on A (1, no flush),
    v1 fetch (1) = 6 actions, cross-vcpu-tlb."""
    r = check("percpu-tables", "xvisor", depth=7)
    assert not r.safe and len(r.actions) == 6
    assert r.violation is not None and r.violation.category == "cross-vcpu-tlb"
    replays_to_violation(r)
    assert check("percpu-tables", "xvisor", depth=5).safe


def test_hafnium_zero_slot_does_not_change_the_verdicts() -> None:
    """Hafnium's zero-initialised ``last_vcpu_on_cpu[]`` reads as vCPU 0: vCPU 0's first load on
    a pCPU does not flush. No vCPU of the VM ran there yet (the slot changes on every load of
    another vCPU), so the pCPU holds none of the VMID's entries: percpu-tables stays safe."""
    assert check("percpu-tables", "hafnium", depth=8).safe
