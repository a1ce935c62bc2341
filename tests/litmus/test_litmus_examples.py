"""Every example under every built-in policy and shipping profile, against outcomes derived by hand.

Reasoning per example (V = the policies under which a violation must occur; all others clean):
- h1-data-arm32-up / h1-global-arm64: one vCPU, local TLBI on pCPU 1, back to pCPU 0. FB and
  TTLB emulation make the TLBI broadcast; flush-on-* flush on the return (it is a migration);
  last-vcpu-ran does not flush (the same vCPU ran last there); none does nothing.
- h1-icache-arm32-up: as above for ICIALLU + BPIALL; TTLB traps TLB maintenance only, so
  trap-ttlb leaves the I-cache (and predictor) stale too.
- h1-bp-arm32: ICIMVAU (by VA) reaches every PE; BPIALL is local. By default HCR_EL2.FB does
  not upgrade BPIALL (its pseudocode: only an AArch32 EL2's HCR.FB does), so every policy that
  relies on FB for the return to pCPU 0 leaves the prediction: fb, fb+last-vcpu-ran and kvm (the
  vCPU ran there last: no flush), xen and hafnium (no flush for the same vCPU, and no I-cache
  flush at all), xvisor (ALLE1IS on a pCPU change: TLB only), gunyah; plus none, last-vcpu-ran
  and trap-ttlb (BPIALL is not a TLB instruction). The flush-on-* policies flush on the
  migration back, and their IC IALLU also flushes the (visible) predictor.
- h1-bp-arm32-fb-upgrade: the same on a platform where FB upgrades BPIALL (the HCR_EL2.FB field
  text): every FB policy now broadcasts it, leaving none, last-vcpu-ran and trap-ttlb.
- h1-bp-arm32-invisible: predictors architecturally invisible: BPIALL is a NOP, nothing is
  predicted that the guest could see: clean everywhere.
- h2-shared-asid-freebsd-armv7: FreeBSD armv7 gives every process ASID 0 and flushes it only
  locally at each switch (swtch-v6.S). vCPU 1 fills ASID 0 from process as1 on pCPU 0; vCPU 0
  comes back to pCPU 0, still in main, without switching: H2 through one shared ASID. Its return
  is no migration and its first load was long before: a flush keyed on "another vCPU ran here"
  saves it (last-vcpu-ran, fb+last-vcpu-ran, flush-on-arrival, xen, kvm, hafnium) and so does
  flush-on-switch; fb, gunyah, trap-ttlb, none, flush-on-migrate, flush-1vcpu-only (two vCPUs)
  and xvisor (neither a pCPU change nor a first load) do not. The same fetch also uses vCPU 1's
  prediction for ASID 0 (stale-bp: main never mapped the VA).
- asid-recycled-live-process-arm64: a rollover gives descheduled process main's ASID to as2;
  main's entry stays on pCPU 0 after the local VMALLE1 on pCPU 1. FB and TTLB emulation
  broadcast the VMALLE1; the return to pCPU 0 is a migration (flush-on-migrate, -arrival,
  -switch); same V as asid-rollover-arm64.
- relax-local-vale1-arm64: a permission relaxation and its local VALE1; the entry left on
  pCPU 0 has the same output, so it is legal whatever the policy: clean everywhere.
- exec-map-iciallu-covers-bp-arm32: the rollover's BPIALL + TLBIALL are local, but the next
  executable mapping's ICIALLUIS flushes every predictor (as written, it covers predictions):
  no stale prediction; the TLB entry of main's page survives where nothing broadcasts the
  TLBIALL or flushes on the return: none, last-vcpu-ran (same vCPU), flush-1vcpu-only (two
  vCPUs). trap-ttlb is clean (the false UNSAFE of issue 10).
- asid-recycled-bp-arm32: two rollovers hand as1's ASID 1 to main while as1 is descheduled;
  vCPU 1 (new to pCPU 0) meets as1's prediction there. Its arrival on pCPU 0 is a migration and
  another vCPU ran there last, so every flush with IC IALLU saves it (flush-on-*, last-vcpu-ran,
  fb+last-vcpu-ran, kvm). BPIALL stays local under FB (default reading) and TTLB: fb, gunyah,
  xen and hafnium (TLB flush, no IC), xvisor (ALLE1IS), trap-ttlb; none and flush-1vcpu-only
  also leave as1's TLB entry (cross-vcpu-tlb as well).
- h2-percpu-tables: vCPU 1's *first* load on pCPU 0 (not a migration) right after vCPU 0 ran
  there. Only a flush keyed on "another vCPU of the VM ran here" (last-vcpu-ran, its FB variant,
  flush-on-arrival, Xen, KVM, Hafnium) or flush-on-switch helps; FB does not. Xvisor flushes
  (ALLE1IS) on a vCPU's first load too: its ``last_hcpu`` starts at 0xFFFFFFFF.
- smp-local-tlbi: a 2-vCPU guest's local VALE1 on pCPU 1, return to pCPU 0 where the same vCPU
  ran last: flush-1vcpu-only skips 2-vCPU domains, last-vcpu-ran sees itself.
- asid-rollover-arm64: the lazy local VMALLE1 runs on pCPU 1; same V as smp-local-tlbi.
- tlb-conflict-global: as h1-data, but the return to pCPU 0 first fills a global entry for the
  VA under another ASID, so the stale ASID-1 entry and the global one both match: same V.
- smp-broadcast-safe, pinned-up-guests: nothing a policy can break.
- asid-flush-after-migration-arm32-up: a UP kernel's local TLBIASID frees the dead process's
  ASID on pCPU 1; back on pCPU 0 a new process with that ASID hits its entry. FB and TTLB make
  the TLBIASID reach pCPU 0, flush-on-* flush on the return (a migration); last-vcpu-ran does
  not (the same vCPU ran last there), nor does none.
- incomplete-migration-before-dsb (incomplete maintenance): the VALE1IS issued on pCPU 1 is
  still pending on pCPU 0 when the vCPU, preempted before its DSB, moves there; every policy
  here has ``dsb_on_deschedule``, whose DSB on pCPU 1 completes it: clean under all of them.
- vmid-reuse-after-destroy (a second VM on a reused VMID): VM g leaves its entry on pCPU 0 and
  is destroyed; VM h takes VMID 1 and fetches a VA it never mapped on pCPU 0. Every built-in
  policy and shipping profile removes the entry first: the default ``on_vmid_reuse``
  (VMALLS12E1IS: the built-ins, gunyah), xen (VMALLS12E1IS in ``p2m_alloc_table``), kvm
  (ALLE1IS at the VMID rollover), xvisor (no reuse flush, but ALLE1IS on a vCPU's first load):
  clean. Hafnium never hands a freed VMID out again (``on_vmid_reuse`` None): h gets a fresh
  VMID, which g's entry does not match: clean. Only the example's own policy (Xen without its
  reuse flush) hits g's entry: cross-vm-tlb.
- guest-error-*: the guest broke its own rules; the stale uses are legal for it: clean, with a
  guest error of the given kind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vtlbsim.check.replay import replay
from vtlbsim.hyp.policies import BUILTIN, SHIPPING
from vtlbsim.litmus import load

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "litmus"
ALL = [c.name for c in (*BUILTIN, *SHIPPING)]

# example -> (policies with a violation, violation categories (or per policy), guest-error kinds)
EXPECTED: dict[str, tuple[set[str], set[str] | dict[str, set[str]], set[str]]] = {
    "h1-data-arm32-up": ({"none", "last-vcpu-ran"}, {"stale-tlb"}, set()),
    "h1-global-arm64": ({"none", "last-vcpu-ran"}, {"stale-tlb"}, set()),
    "h1-icache-arm32-up": (
        {"none", "last-vcpu-ran", "trap-ttlb"},
        {"stale-icache", "stale-bp"},
        set(),
    ),
    "h1-bp-arm32": (
        {
            "none",
            "last-vcpu-ran",
            "trap-ttlb",
            "fb",
            "fb+last-vcpu-ran",
            "xen",
            "kvm",
            "hafnium",
            "xvisor",
            "gunyah",
        },
        {"stale-bp"},
        set(),
    ),
    "h1-bp-arm32-fb-upgrade": ({"none", "last-vcpu-ran", "trap-ttlb"}, {"stale-bp"}, set()),
    "h1-bp-arm32-invisible": (set(), set(), set()),
    "h2-shared-asid-freebsd-armv7": (
        {"none", "fb", "flush-on-migrate", "flush-1vcpu-only", "trap-ttlb", "xvisor", "gunyah"},
        {"cross-vcpu-tlb", "stale-bp"},
        set(),
    ),
    "asid-recycled-live-process-arm64": (
        {"none", "flush-1vcpu-only", "last-vcpu-ran"},
        {"stale-tlb"},
        set(),
    ),
    "relax-local-vale1-arm64": (set(), set(), set()),
    "exec-map-iciallu-covers-bp-arm32": (
        {"none", "flush-1vcpu-only", "last-vcpu-ran"},
        {"stale-tlb"},
        set(),
    ),
    "asid-recycled-bp-arm32": (
        {"none", "flush-1vcpu-only", "fb", "trap-ttlb", "xen", "hafnium", "xvisor", "gunyah"},
        {
            "none": {"cross-vcpu-tlb", "stale-bp"},
            "flush-1vcpu-only": {"cross-vcpu-tlb", "stale-bp"},
            **{p: {"stale-bp"} for p in ("fb", "trap-ttlb", "xen", "hafnium", "xvisor", "gunyah")},
        },
        set(),
    ),
    "h2-percpu-tables": (
        {"none", "fb", "flush-on-migrate", "flush-1vcpu-only", "trap-ttlb", "gunyah"},
        {"cross-vcpu-tlb"},
        set(),
    ),
    "tlb-conflict-global": ({"none", "last-vcpu-ran"}, {"tlb-conflict"}, set()),
    "smp-broadcast-safe": (set(), set(), set()),
    "smp-local-tlbi": ({"none", "flush-1vcpu-only", "last-vcpu-ran"}, {"stale-tlb"}, set()),
    "asid-rollover-arm64": ({"none", "flush-1vcpu-only", "last-vcpu-ran"}, {"stale-tlb"}, set()),
    "pinned-up-guests": (set(), set(), set()),
    "guest-error-no-bbm": (set(), set(), {"break-before-make"}),
    "guest-error-missing-tlbi": (set(), set(), {"break-before-make"}),
    "guest-error-asid-reuse": (set(), set(), {"asid-reuse"}),
    # every built-in and shipping policy executes a DSB on the pCPU a vCPU leaves, which
    # completes the pending broadcast before the vCPU runs on pCPU 0 (its own policy does not)
    "incomplete-migration-before-dsb": (set(), set(), set()),
    "asid-flush-after-migration-arm32-up": ({"none", "last-vcpu-ran"}, {"stale-tlb"}, set()),
    "vmid-reuse-after-destroy": (set(), set(), set()),
}


def test_every_example_has_an_expectation() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.toml")} == set(EXPECTED)
    assert len(EXPECTED) >= 10


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("policy", ALL)
def test_example_outcome(name: str, policy: str) -> None:
    unsafe, categories, guest_errors = EXPECTED[name]
    scenario = load(EXAMPLES / f"{name}.toml")
    cls = {c.name: c for c in (*BUILTIN, *SHIPPING)}[policy]
    out = replay(scenario, cls())
    assert out.outcome == ("violation" if policy in unsafe else "clean")
    if out.violations:
        want = categories[policy] if isinstance(categories, dict) else categories
        assert {v.category for v in out.violations} == want
        last = len(scenario.events)
        assert all(v.step == last for v in out.violations), "the last step is the stale use"
    assert {g.kind for g in out.guest_errors} == guest_errors


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_declared_expectation_agrees_with_the_table(name: str) -> None:
    scenario = load(EXAMPLES / f"{name}.toml")
    unsafe = EXPECTED[name][0]
    if scenario.expect is not None and scenario.policy in ALL:  # plug-ins: their own tests
        assert scenario.expect == ("violation" if scenario.policy in unsafe else "clean")
