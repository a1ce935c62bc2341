"""The checker against verdicts derived by hand from the architecture (SPEC §1-§5).

Each expectation says why, in the Arm ARM's terms; none was produced by running the code.
Notation: an *action* is one scheduler load or one guest operation (a PTE change with the
invalidation its discipline uses counts as one).
"""

from __future__ import annotations

import pytest

from vtlbsim.arch.ops import BpReading
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
    TLBIMVA, or write-code + ICIMVAU + BPIALL: 1). Issued on A, its local instructions would
    remove the entry, so the vCPU must be on another pCPU B when it issues them (1: a load on
    B) and back on A for the use (1). Total: 7 actions. The code change is the shortest in
    events: ICIMVAU reaches every PE, so the I-cache is clean, but BPIALL is local and A's
    prediction of the old code survives: stale-bp, 10 events (the map is followed by the
    exec-map ICIALLU, the code write by ICIMVAU + BPIALL). Nothing within 6 actions."""
    r = check("linux-arm32-up", "none", pcpus=2, vcpus=2, depth=8)
    assert not r.safe
    assert r.vcpus == 1  # a UP kernel runs one CPU whatever was asked
    assert len(r.actions) == 7
    assert r.violation is not None and r.violation.category == "stale-bp"
    assert r.counterexample is not None and len(r.counterexample.events) == 10
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


def test_arm32_up_fb_depends_on_what_fb_does_to_bpiall() -> None:
    """HCR_EL2.FB upgrades TLBIMVA, TLBIALL, TLBIASID and ICIALLU. Whether it upgrades BPIALL is
    the contested reading (arch.ops.BpReading): by default (the BPIALL pseudocode) it does not,
    and the 7-action stale-bp story of `none` stands (the code change's BPIALL stays on B).
    Where FB upgrades it (the HCR_EL2.FB field text), every instruction the guest relies on
    reaches A too and, with one vCPU, there is no H2: safe. Where predictors are invisible,
    BPIALL is a NOP and no prediction can be stale: safe."""
    r = check("linux-arm32-up", "fb", depth=8)
    assert not r.safe and len(r.actions) == 7
    assert r.violation is not None and r.violation.category == "stale-bp"
    replays_to_violation(r)
    upgraded = check("linux-arm32-up", "fb", depth=8, bp=BpReading(True, bpiall_fb_upgrade=True))
    assert upgraded.safe and upgraded.states > 100
    assert check("linux-arm32-up", "fb", depth=8, bp=BpReading(visible=False)).safe


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
    CPU before it uses a new-generation ASID). A vCPU fills ASID 0 entries of process main on A
    (run A, map, fetch: 3), moves to B (1), switches to as1, which takes the free ASID 1 (1),
    then to as2, which needs an ASID when none is free: the allocator rolls over, main — alive
    but descheduled — loses ASID 0 to as2, and the vCPU's local VMALLE1 misses A (1); back on
    A (1), as2 uses ASID 0 and hits main's entry (1) = 8 actions."""
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


@pytest.mark.slow
def test_linux_arm32_smp_trap_ttlb_unsafe_through_a_recycled_asid_and_the_predictor() -> None:
    """HCR_EL2.TTLB traps TLB instructions only: a rollover's TLBIALL is trapped and executed as
    TLBIALLIS, its BPIALL runs locally. A process that receives a new page needs an exec-map
    ICIALLUIS, which flushes every predictor (the false UNSAFE before issue 10), so the stale
    prediction must meet a process that mapped the VA *before* it got the recycled ASID: v0
    maps main (2: run A, map) and as1 (2: switch, map), trains A's predictor for as1's ASID 1
    (1), moves to B (1) and rolls over into as2 (1: main, descheduled, loses 0); v1 comes up
    on B in main (1), rolling over again (as1, descheduled, loses 1 to main), moves to A (1)
    and fetches (1): as1's prediction for ASID 1 = 10 actions (examples/litmus/
    asid-recycled-bp-arm32.toml). With invisible predictors nothing is left: safe."""
    r = check("linux-arm32-smp", "trap-ttlb", depth=10)
    assert not r.safe and len(r.actions) == 10
    assert r.violation is not None and r.violation.category == "stale-bp"
    replays_to_violation(r)
    assert check("linux-arm32-smp", "trap-ttlb", depth=10, bp=BpReading(visible=False)).safe


# ---- FreeBSD armv7 SMP: one ASID for every process, local flush at every switch -----------


@pytest.mark.parametrize("policy", ["fb", "gunyah", "xvisor"])
def test_freebsd_armv7_smp_fb_is_unsafe_through_the_shared_asid(policy: str) -> None:
    """Every process uses ASID 0 and cpu_context_switch flushes it only locally (swtch-v6.S):
    v0 comes up on A in main (1), v1 comes up on A (1) and switches to as1 (1), maps (1) and
    fetches (1), filling ASID 0 from as1 on A; v0 is loaded on A again (1: not a migration, not
    a first load) and fetches through main (1): as1's entry. 7 actions; FB broadcasts the
    switch's TLBIASID but the fill came after it; Gunyah sets FB; Xvisor flushes only on a
    pCPU change or a first load (examples/litmus/h2-shared-asid-freebsd-armv7.toml)."""
    r = check("freebsd-armv7-smp", policy, depth=8)
    assert not r.safe and len(r.actions) == 7
    assert r.violation is not None and r.violation.category == "cross-vcpu-tlb"
    replays_to_violation(r)


def test_freebsd_armv7_smp_kvm_is_safe_unless_bpiall_stays_local() -> None:
    """KVM flushes (VMALLE1 + IC IALLU, which also flushes visible predictors) when another
    vCPU ran on the pCPU last, which closes the shared-ASID story; what is left is one vCPU's
    own switch: its BPIALL is local. If HCR_EL2.FB upgrades BPIALL, or predictors are
    invisible, nothing survives: safe. By default (FB leaves BPIALL local) a vCPU that trained
    A's predictor for ASID 0 in as1, moved to B and switched back to main meets that
    prediction when it returns to A (KVM: it ran there last, no flush): stale-bp, 9 actions."""
    assert check("freebsd-armv7-smp", "kvm", bp=BpReading(True, bpiall_fb_upgrade=True)).safe
    assert check("freebsd-armv7-smp", "kvm", bp=BpReading(visible=False)).safe
    r = check("freebsd-armv7-smp", "kvm")
    assert not r.safe and len(r.actions) == 9
    assert r.violation is not None and r.violation.category == "stale-bp"
    replays_to_violation(r)


# ---- linux-arm64-local-relax: v6.19's local VALE1 on a permission relaxation ------------


@pytest.mark.parametrize("policy", ["none", "fb", "last-vcpu-ran", "flush-on-migrate"])
def test_a_local_flush_on_relaxation_moves_no_verdict(policy: str) -> None:
    """A relaxation keeps the PTE's output: an entry from before it translates to the same page
    and is legal, so its local VALE1 can only add coverage. The kind is linux-arm64-smp plus
    that operation: the same verdicts and counterexample lengths."""
    a = check("linux-arm64-local-relax", policy, depth=8)
    b = check("linux-arm64-smp", policy, depth=8)
    assert (a.safe, len(a.actions)) == (b.safe, len(b.actions))
    assert a.states >= b.states  # the relaxations are explored


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
