"""Each policy's decisions, called directly: HCR_EL2 per vCPU, the flushes and new state of a
load in each slot situation, what a trap executes, and the flush before a VMID serves a new VM.

Every expectation is written from the policy's rule (SPEC §4) and the source its module cites,
never from the code's output:

- Xen ``p2m_restore_state()`` (607ad85d85): local VMALLS12E1 only when ``last_vcpu_ran[cpu]``
  holds *another* vCPU; INVALID_VCPU_ID (None) does not flush. ``p2m_alloc_table()`` flushes a
  reused VMID with VMALLS12E1IS. HCR: ``HCR_BSU_INNER | HCR_FB`` for every guest.
- KVM ``kvm_arch_vcpu_load()``: slot -1 or another vCPU -> ``__kvm_flush_cpu_context`` (local
  VMALLE1 + IC IALLU); rollover -> ``__kvm_flush_vm_context`` (TLBI ALLE1IS).
- Hafnium ``maybe_invalidate_tlb()``: ``tlbi vmalle1`` when ``last_vcpu_on_cpu[cpu]`` (zero-
  initialised) differs; FB+BSU only for secondary (not pinned) VMs; VMIDs never reused.
- Gunyah ``aarch64_init.c``: FB+BSU unless pinned; ``pgtable_vm_destroy()`` broadcasts the VMID
  flush.
- Xvisor ``arch_vcpu_switch()``: TLBI ALLE1IS when ``last_hcpu`` differs from this pCPU; FB
  without BSU; no flush at VMID reuse (the first-load flush covers it).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import pytest

from vtlbsim.arch.machine import Hcr
from vtlbsim.arch.ops import Arch, HypOp, op
from vtlbsim.hyp.policy import (
    KEEP,
    Decision,
    PcpuId,
    Policy,
    PolicyView,
    TrappedOp,
    VcpuId,
    VcpuInfo,
    VcpuLoad,
    emulate_as_is,
    flush_tlb_ic,
)
from vtlbsim.hyp.registry import resolve

NONE = object()
"""A policy's initial value for a slot (the test's marker: use ``policy.initial_*``)."""


def info(
    vcpu: int = 0, *, vcpus: int = 2, arch: Arch = Arch.AARCH64, pinned: bool = False
) -> VcpuInfo:
    return VcpuInfo("g", vcpu, 1, arch, vcpus, pinned)


def on_load(
    name: str,
    vcpu: int,
    pcpu: int,
    *,
    slot: object = NONE,
    last_pcpu_state: object = NONE,
    vcpus: int = 2,
    arch: Arch = Arch.AARCH64,
) -> tuple[list[str], Hashable, Hashable]:
    """The flush names a load returns, and the new (VM slot, vCPU) state it records (KEEP:
    unchanged; a plain sequence of ops keeps everything)."""
    pol = resolve(name)
    view = PolicyView(
        pol.initial_vm,
        pol.initial_vm_pcpu if slot is NONE else slot,
        pol.initial_pcpu,
        pol.initial_vcpu if last_pcpu_state is NONE else last_pcpu_state,
    )
    load = VcpuLoad(info(vcpu, vcpus=vcpus, arch=arch), PcpuId(pcpu), None, None, view)
    out = pol.on_load(load)
    if isinstance(out, Decision):
        assert out.vm is KEEP and out.pcpu is KEEP  # no builtin keeps VM or pCPU state
        return [o.name for o in out.ops], out.vm_pcpu, out.vcpu
    return [o.name for o in out], KEEP, KEEP


FLUSH = ["vmalls12e1", "iallu"]
KVM_FLUSH = ["vmalle1", "iallu"]


# ---- HCR_EL2 ---------------------------------------------------------------------------------

NO = Hcr()
FB_BSU = Hcr(fb=True, bsu=True)
HCR = {
    # name: (HCR for a vCPU that may migrate, HCR for a pinned vCPU)
    "none": (NO, NO),
    "fb": (FB_BSU, FB_BSU),
    "flush-on-switch": (NO, NO),
    "flush-on-migrate": (NO, NO),
    "flush-1vcpu-only": (NO, NO),
    "last-vcpu-ran": (NO, NO),
    "fb+last-vcpu-ran": (FB_BSU, FB_BSU),
    "flush-on-arrival": (NO, NO),
    "trap-ttlb": (Hcr(ttlb=True), Hcr(ttlb=True)),
    "xen": (FB_BSU, FB_BSU),
    "kvm": (FB_BSU, FB_BSU),
    "hafnium": (FB_BSU, NO),  # the primary VM (pinned) runs without FB and BSU
    "xvisor": (Hcr(fb=True), Hcr(fb=True)),  # HCR_FB_MASK, no BSU field
    "gunyah": (FB_BSU, NO),
}


@pytest.mark.parametrize("name", sorted(HCR))
def test_hcr_per_vcpu(name: str) -> None:
    pol = resolve(name)
    free, pinned = HCR[name]
    for arch in Arch:
        assert pol.hcr(info(arch=arch)) == free, (name, arch)
        assert pol.hcr(info(arch=arch, pinned=True)) == pinned, (name, arch)


# ---- loads -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["none", "fb", "gunyah", "trap-ttlb"])
def test_policies_that_never_flush_on_load(name: str) -> None:
    for slot, last in ((NONE, NONE), (VcpuId(1), PcpuId(1))):
        assert on_load(name, 0, 0, slot=slot, last_pcpu_state=last)[0] == []


def test_flush_on_switch_flushes_every_load_on_both_architectures() -> None:
    for arch in Arch:
        assert on_load("flush-on-switch", 0, 0, arch=arch) == (FLUSH, KEEP, KEEP)


def test_flush_on_migrate_flushes_when_the_vcpu_comes_from_another_pcpu() -> None:
    """The vCPU's state is its last pCPU: None (first load) and the same pCPU do not flush; it
    records the pCPU of every load."""
    assert on_load("flush-on-migrate", 0, 1) == ([], KEEP, 1)
    assert on_load("flush-on-migrate", 0, 1, last_pcpu_state=PcpuId(1)) == ([], KEEP, 1)
    assert on_load("flush-on-migrate", 0, 1, last_pcpu_state=PcpuId(0)) == (FLUSH, KEEP, 1)
    assert on_load("flush-on-migrate", 0, 0, last_pcpu_state=PcpuId(1)) == (FLUSH, KEEP, 0)


def test_flush_1vcpu_only_is_flush_on_migrate_for_one_vcpu_domains_only() -> None:
    assert on_load("flush-1vcpu-only", 0, 1, vcpus=1, last_pcpu_state=PcpuId(0)) == (
        FLUSH,
        KEEP,
        1,
    )
    assert on_load("flush-1vcpu-only", 0, 1, vcpus=1, last_pcpu_state=PcpuId(1)) == ([], KEEP, 1)
    assert on_load("flush-1vcpu-only", 0, 1, vcpus=1) == ([], KEEP, 1)
    # an SMP domain: never a flush, and nothing recorded
    assert on_load("flush-1vcpu-only", 0, 1, vcpus=2, last_pcpu_state=PcpuId(0)) == (
        [],
        KEEP,
        KEEP,
    )


def test_flush_on_arrival_flushes_on_a_move_or_a_sibling_in_the_slot() -> None:
    """Records the vCPU in the VM's slot and the pCPU in the vCPU's state at every load."""
    assert on_load("flush-on-arrival", 0, 1) == ([], 0, 1)  # empty slot, first load
    assert on_load("flush-on-arrival", 1, 1) == ([], 1, 1)
    assert on_load("flush-on-arrival", 1, 1, slot=VcpuId(1), last_pcpu_state=PcpuId(1)) == (
        [],
        1,
        1,
    )
    assert on_load("flush-on-arrival", 1, 1, slot=VcpuId(0), last_pcpu_state=PcpuId(1)) == (
        FLUSH,
        1,
        1,
    )
    assert on_load("flush-on-arrival", 1, 1, slot=VcpuId(1), last_pcpu_state=PcpuId(0)) == (
        FLUSH,
        1,
        1,
    )


@pytest.mark.parametrize("name", ["last-vcpu-ran", "fb+last-vcpu-ran", "kvm"])
def test_kvm_last_vcpu_ran(name: str) -> None:
    """-1 (nobody) or another vCPU: VMALLE1 + IC IALLU and the slot records this vCPU; the
    same vCPU: nothing, the slot kept."""
    assert on_load(name, 1, 0) == (KVM_FLUSH, 1, KEEP)  # slot -1
    assert on_load(name, 1, 0, slot=VcpuId(0)) == (KVM_FLUSH, 1, KEEP)
    assert on_load(name, 1, 0, slot=VcpuId(1)) == ([], KEEP, KEEP)
    assert on_load(name, 0, 0, slot=VcpuId(0)) == ([], KEEP, KEEP)


def test_xen_last_vcpu_ran() -> None:
    """INVALID_VCPU_ID (None) or itself: no flush; another vCPU: local VMALLS12E1 only. Every
    load records the vCPU."""
    assert on_load("xen", 1, 0) == ([], 1, KEEP)
    assert on_load("xen", 1, 0, slot=VcpuId(1)) == ([], 1, KEEP)
    assert on_load("xen", 1, 0, slot=VcpuId(0)) == (["vmalls12e1"], 1, KEEP)
    assert on_load("xen", 0, 0, slot=VcpuId(1)) == (["vmalls12e1"], 0, KEEP)


def test_hafnium_last_vcpu_on_cpu_reads_zero_when_empty() -> None:
    """The zero-initialised slot reads as vCPU 0: vCPU 0's first load does not flush, vCPU 1's
    does (local VMALLE1, no I-cache) and records 1."""
    assert on_load("hafnium", 0, 0) == ([], KEEP, KEEP)
    assert on_load("hafnium", 1, 0) == (["vmalle1"], 1, KEEP)
    assert on_load("hafnium", 0, 0, slot=VcpuId(1)) == (["vmalle1"], 0, KEEP)
    assert on_load("hafnium", 1, 0, slot=VcpuId(1)) == ([], KEEP, KEEP)


def test_xvisor_last_hcpu() -> None:
    """0xFFFFFFFF (never ran) or another pCPU: TLBI ALLE1IS and ``last_hcpu`` = this pCPU."""
    assert on_load("xvisor", 0, 1) == (["alle1is"], KEEP, 1)
    assert on_load("xvisor", 0, 1, last_pcpu_state=PcpuId(0)) == (["alle1is"], KEEP, 1)
    assert on_load("xvisor", 0, 1, last_pcpu_state=PcpuId(1)) == ([], KEEP, KEEP)
    assert on_load("xvisor", 0, 0, last_pcpu_state=PcpuId(0)) == ([], KEEP, KEEP)


# ---- traps -----------------------------------------------------------------------------------


def test_a_trap_executes_the_instruction_itself_unless_trap_ttlb() -> None:
    """By default the trapped instruction as written; trap-ttlb executes its IS form (VALE1 ->
    VALE1IS, AArch32 TLBIMVA -> TLBIMVAIS; an IS instruction stays itself)."""
    vale1 = op(Arch.AARCH64, "vale1")
    for name in ("none", "xen", "kvm"):
        pol = resolve(name)
        assert pol.on_trap(TrappedOp(info(), 0, vale1)) == (vale1,)
    ttlb = resolve("trap-ttlb")
    assert [o.name for o in ttlb.on_trap(TrappedOp(info(), 0, vale1))] == ["vale1is"]
    mva = op(Arch.AARCH32, "tlbimva")
    a32 = info(arch=Arch.AARCH32)
    assert [(o.name, o.arch) for o in ttlb.on_trap(TrappedOp(a32, 0, mva))] == [
        ("tlbimvais", Arch.AARCH32)
    ]
    vae1is = op(Arch.AARCH64, "vae1is")
    assert emulate_as_is(TrappedOp(info(), 0, vae1is)) == (vae1is,)


def test_flush_tlb_ic_is_the_vmid_flush_then_ic_iallu() -> None:
    for arch in Arch:
        assert [o.name for o in flush_tlb_ic(arch)] == FLUSH
        assert [o.name for o in flush_tlb_ic(arch, tlb="vmalle1")] == KVM_FLUSH


# ---- VMID reuse ------------------------------------------------------------------------------


class _Plain(Policy):
    name = "plain"
    summary = "the interface's defaults"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return Hcr()

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return ()


def _reuse(pol: Policy) -> list[str] | None:
    out = pol.on_vmid_reuse(5)
    return None if out is None else [o.name for o in out]


def test_vmid_reuse_flush_of_each_shipping_hypervisor() -> None:
    assert _reuse(resolve("xen")) == ["vmalls12e1is"]  # p2m_alloc_table -> flush_guest_tlb
    assert _reuse(resolve("kvm")) == ["alle1is"]  # rollover: __kvm_flush_vm_context
    assert _reuse(resolve("gunyah")) == ["vmalls12e1is"]  # pgtable_vm_destroy
    assert _reuse(resolve("hafnium")) is None  # VMs are never destroyed
    assert _reuse(resolve("xvisor")) == []  # no flush: the first load's ALLE1IS covers it


def test_vmid_reuse_default_is_vmalls12e1is() -> None:
    assert _reuse(_Plain()) == ["vmalls12e1is"]
    for name in ("none", "fb", "flush-on-migrate", "last-vcpu-ran", "fb+last-vcpu-ran"):
        assert _reuse(resolve(name)) == ["vmalls12e1is"], name


# ---- the interface's small types -------------------------------------------------------------


def test_reprs_and_load_history() -> None:
    assert repr(VcpuId(3)) == "VcpuId(3)"
    assert repr(PcpuId(2)) == "PcpuId(2)"
    assert repr(KEEP) == "KEEP"
    pol = _Plain()
    assert pol.on_trap(TrappedOp(info(), 0, op(Arch.AARCH64, "vmalle1"))) == (
        op(Arch.AARCH64, "vmalle1"),
    )
    first = VcpuLoad(info(0), 1, None, None)
    assert not first.migrated and not first.other_vcpu_ran_here
    same = VcpuLoad(info(0), 1, 1, 0)
    assert not same.migrated and not same.other_vcpu_ran_here
    moved = VcpuLoad(info(0), 1, 0, 1)
    assert moved.migrated and moved.other_vcpu_ran_here
