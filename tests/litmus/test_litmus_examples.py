"""Every example under every built-in policy and shipping profile, against outcomes derived by hand.

Reasoning per example (V = the policies under which a violation must occur; all others clean):
- h1-data-arm32-up / h1-global-arm64: one vCPU, local TLBI on pCPU 1, back to pCPU 0. FB and
  TTLB emulation make the TLBI broadcast; flush-on-* flush on the return (it is a migration);
  last-vcpu-ran does not flush (the same vCPU ran last there); none does nothing.
- h1-icache-arm32-up: as above for ICIALLU + BPIALL; TTLB traps TLB maintenance only, so
  trap-ttlb leaves the I-cache (and predictor) stale too.
- h1-bp-arm32: ICIALLUIS is broadcast anyway; BPIALL is local: same V as the I-cache case.
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

# example -> (policies with a violation, violation categories, guest-error kinds)
EXPECTED: dict[str, tuple[set[str], set[str], set[str]]] = {
    "h1-data-arm32-up": ({"none", "last-vcpu-ran"}, {"stale-tlb"}, set()),
    "h1-global-arm64": ({"none", "last-vcpu-ran"}, {"stale-tlb"}, set()),
    "h1-icache-arm32-up": (
        {"none", "last-vcpu-ran", "trap-ttlb"},
        {"stale-icache", "stale-bp"},
        set(),
    ),
    "h1-bp-arm32": ({"none", "last-vcpu-ran", "trap-ttlb"}, {"stale-bp"}, set()),
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
        assert {v.category for v in out.violations} == categories
        last = len(scenario.events)
        assert all(v.step == last for v in out.violations), "the last step is the stale use"
    assert {g.kind for g in out.guest_errors} == guest_errors


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_declared_expectation_agrees_with_the_table(name: str) -> None:
    scenario = load(EXAMPLES / f"{name}.toml")
    unsafe = EXPECTED[name][0]
    if scenario.expect is not None and scenario.policy in ALL:  # plug-ins: their own tests
        assert scenario.expect == ("violation" if scenario.policy in unsafe else "clean")
