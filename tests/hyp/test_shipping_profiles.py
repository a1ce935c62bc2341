"""What each shipping hypervisor profile does on a vCPU load and to HCR_EL2, observed through the
engine (litmus replays): hand expectations from the sources REFERENCES.md §Hypervisors cites.

- KVM ``kvm_arch_vcpu_load()`` (94d0e5980d67 + 01dc9262ff57): ``last_vcpu_ran`` starts at -1;
  when it differs from the vCPU being loaded, ``__kvm_flush_cpu_context`` runs a local TLBI
  VMALLE1 *and* IC IALLU.
- Xen ``p2m_restore_state()`` (607ad85d85): flush (local VMALLS12E1) only when the slot holds
  *another* vCPU; INVALID_VCPU_ID (never ran here) does not flush; no I-cache flush.
- Gunyah: HCR_EL2.FB only for vCPUs that may migrate; a pinned vCPU runs with FB off.
"""

from __future__ import annotations

from vtlbsim.check.replay import replay
from vtlbsim.hyp.registry import resolve
from vtlbsim.litmus import parse


def scenario(steps: str, *, vcpus: int = 2, arch: str = "aarch64", pinned: bool = False) -> str:
    pin = "pinned = true\n" if pinned else ""
    return (
        f'pcpus = 2\nsteps = """\n{steps}\n"""\n\n[domains.g]\nvcpus = {vcpus}\n'
        f'arch = "{arch}"\n{pin}'
    )


# g.0 fetches 0x1000 on pCPU 0; g.1 rewrites the code on pCPU 1 with a *local* IC IALLU (which
# covers g.1 only) and then runs on pCPU 0, where g.0 ran last: it must not fetch the old line.
ICACHE_TURNS = """
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 fetch 0x1000
run g.1 on 1
g.1 write-code 0x1000
g.1 ic iallu
run g.1 on 0
g.1 fetch 0x1000
"""


def test_kvm_flush_includes_ic_iallu_which_is_what_saves_the_sibling() -> None:
    """Without FB (last-vcpu-ran), only the flush's IC IALLU removes g.0's old line from pCPU 0
    before g.1 fetches there; under none the fetch is stale. Three loads, each where the slot
    held another vCPU or nobody (-1): three VMALLE1 and three IC IALLU."""
    sc = parse(scenario(ICACHE_TURNS))
    assert [v.category for v in replay(sc, resolve("none")).violations] == ["stale-icache"]
    for policy in ("last-vcpu-ran", "fb+last-vcpu-ran", "kvm"):
        out = replay(sc, resolve(policy))
        assert out.violations == [] and out.guest_errors == [], policy
        assert out.counts["hyp.vmalle1"] == 3, policy
        assert out.counts["hyp.iallu"] == 3, policy
        assert out.counts["icache-miss"] == 2, policy  # g.1's fetch refilled from memory


def test_kvm_does_not_flush_when_the_same_vcpu_comes_back() -> None:
    steps = "run g.0 on 0\nrun g.0 on 1\nrun g.0 on 0\nrun g.1 on 1\nrun g.0 on 0"
    out = replay(parse(scenario(steps)), resolve("kvm"))
    # loads: g.0 on 0 (-1: flush), g.0 on 1 (-1: flush), g.0 on 0 (itself: none),
    # g.1 on 1 (g.0 was there: flush), g.0 on 0 (itself: none)
    assert out.counts["hyp.vmalle1"] == out.counts["hyp.iallu"] == 3


def test_xen_flushes_only_when_the_slot_holds_another_vcpu() -> None:
    steps = "run g.0 on 0\nrun g.1 on 1\nrun g.1 on 0\nrun g.0 on 0\nrun g.0 on 1\nrun g.0 on 0"
    out = replay(parse(scenario(steps)), resolve("xen"))
    # loads: g.0 on 0 (empty), g.1 on 1 (empty), g.1 on 0 (g.0 was there: flush),
    # g.0 on 0 (g.1 was there: flush), g.0 on 1 (g.1 was there: flush), g.0 on 0 (itself)
    assert out.counts["hyp.vmalls12e1"] == 3
    assert out.counts["hyp.iallu"] == 0  # no I-cache flush


LOCAL_TLBI = """
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 load 0x1000
g.0 unmap 0x1000
g.0 tlbi vale1 0x1000
g.0 ic iallu
"""


def test_gunyah_sets_fb_only_for_vcpus_that_may_migrate() -> None:
    moving = replay(parse(scenario(LOCAL_TLBI, vcpus=1)), resolve("gunyah"))
    assert moving.counts["fb-upgrade.tlb"] == 1 and moving.counts["fb-upgrade.ic"] == 1
    pinned = replay(parse(scenario(LOCAL_TLBI, vcpus=1, pinned=True)), resolve("gunyah"))
    assert pinned.counts["fb-upgrade.tlb"] == 0 and pinned.counts["fb-upgrade.ic"] == 0
    assert pinned.counts["guest.tlb.local"] == 1 and pinned.counts["dvm.tlbi"] == 0
    # fb itself does not look at pinning
    fb = replay(parse(scenario(LOCAL_TLBI, vcpus=1, pinned=True)), resolve("fb"))
    assert fb.counts["fb-upgrade.tlb"] == 1
