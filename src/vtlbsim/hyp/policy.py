"""The Policy interface (SPEC §4): what the hypervisor does when it loads a vCPU on a pCPU, and
when a guest TLB instruction traps; and which HCR_EL2 bits it sets for a vCPU.

A policy only *decides*; the engine executes the operations it returns and charges their cost.

A policy may keep **state**, as real hypervisors do (Xen's per-p2m ``last_vcpu_ran[]``, KVM's
per-CPU ``last_vcpu_ran``, Xvisor's per-vCPU ``last_hcpu``): one hashable value per VM, per
(VM, pCPU) slot, per pCPU and per vCPU, starting at the class's ``initial_*`` values. A load or
a trap shows the policy the four values that concern it (``VcpuLoad.state``,
``TrappedOp.state``); the policy returns a ``Decision`` that carries the operations and the
new values of the slots it changes. A stateless policy returns the operations alone, as before.
The state is part of what the model checker explores and merges, so it must be hashable, and
it must refer to vCPUs and pCPUs only through the ``VcpuId`` and ``PcpuId`` the engine hands
out (``load.vcpu.vcpu``, ``load.pcpu``): the checker renames those under symmetry, and treats a
plain int as data.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..arch.machine import Hcr
from ..arch.ops import HYP_OPS, Arch, HypOp, MaintenanceOp, is_equivalent


class VcpuId(int):
    """A vCPU's index within its VM, as a policy stores it in its state."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"VcpuId({int(self)})"


class PcpuId(int):
    """A pCPU's index, as a policy stores it in its state."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"PcpuId({int(self)})"


@dataclass(frozen=True, slots=True)
class VcpuInfo:
    """What a policy may know of a vCPU."""

    domain: str
    vcpu: int
    vmid: int
    arch: Arch
    domain_vcpus: int
    pinned: bool = False
    """The scheduler never moves this vCPU (a static partition, or a pinned vCPU)."""


@dataclass(frozen=True, slots=True)
class PolicyView:
    """The policy state a load or a trap concerns: the VM's, the VM's slot for this pCPU, the
    pCPU's (shared by every VM) and the vCPU's."""

    vm: Hashable = None
    vm_pcpu: Hashable = None
    pcpu: Hashable = None
    vcpu: Hashable = None


class _Keep:
    """The value of a ``Decision`` slot the policy leaves as it is."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Hashable = _Keep()


@dataclass(frozen=True, slots=True)
class VcpuLoad:
    """A load of ``vcpu`` on ``pcpu``, with the history a policy may consult."""

    vcpu: VcpuInfo
    pcpu: int
    last_pcpu: int | None
    """The pCPU this vCPU last ran on; ``None`` on its first load."""
    last_vcpu_here: int | None
    """The vCPU of the same VM that last ran on this pCPU; ``None`` for an empty slot."""
    state: PolicyView = PolicyView()
    """The policy's own state for this VM, slot, pCPU and vCPU."""

    @property
    def migrated(self) -> bool:
        """It last ran on another pCPU (a first load is not a migration)."""
        return self.last_pcpu is not None and self.last_pcpu != self.pcpu

    @property
    def other_vcpu_ran_here(self) -> bool:
        """Another vCPU of the same VM ran last on this pCPU (an empty slot does not count)."""
        return self.last_vcpu_here is not None and self.last_vcpu_here != self.vcpu.vcpu


@dataclass(frozen=True, slots=True)
class TrappedOp:
    """A guest TLB instruction that HCR_EL2.TTLB trapped, on the pCPU that ran it."""

    vcpu: VcpuInfo
    pcpu: int
    op: MaintenanceOp
    state: PolicyView = PolicyView()
    """The policy's own state for this VM, slot, pCPU and vCPU."""


HypAction = HypOp | MaintenanceOp
"""A hypervisor flush, or a guest instruction to execute (with the trapped operands)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What a stateful ``on_load`` / ``on_trap`` returns: the operations to execute, and the new
    value of each state slot it changes (``KEEP``: unchanged)."""

    ops: tuple[HypAction, ...] = ()
    vm: Hashable = KEEP
    vm_pcpu: Hashable = KEEP
    pcpu: Hashable = KEEP
    vcpu: Hashable = KEEP


class Policy(ABC):
    """One TLB/I-cache/BP maintenance policy. Subclasses set ``name`` and ``summary``."""

    name: ClassVar[str]
    summary: ClassVar[str]
    origin: ClassVar[str] = ""
    dsb_on_deschedule: ClassVar[bool] = True
    """The hypervisor executes a DSB ISH (or SY) on a pCPU when a vCPU leaves it, before the
    vCPU can run anywhere else, so every maintenance instruction the vCPU issued there is
    complete even if the vCPU was preempted between its TLBI and its own DSB. A hypervisor that
    runs vCPUs as host threads gets it from the host's context switch (arm64 Linux
    ``__switch_to()``: ``dsb(ish)`` "in case the thread migrates to a different CPU"); each
    shipping profile cites where its source does it. Without it, ``vtlbsim check --incomplete``
    lets a vCPU migrate with its broadcast maintenance still pending on the pCPU it left."""
    initial_vm: ClassVar[Hashable] = None
    """The state of a VM when it is created."""
    initial_vm_pcpu: ClassVar[Hashable] = None
    """The state of a VM's slot for a pCPU when the VM is created."""
    initial_pcpu: ClassVar[Hashable] = None
    """The state of a pCPU at boot."""
    initial_vcpu: ClassVar[Hashable] = None
    """The state of a vCPU when it is created."""
    load_history: ClassVar[bool] = True
    """``on_load`` reads ``VcpuLoad.last_pcpu`` / ``last_vcpu_here``, the history the engine
    keeps for every policy. A policy that keeps what it needs in its own state sets False;
    the model checker then merges states that differ only in that history."""

    @abstractmethod
    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        """HCR_EL2.FB / HCR_EL2.TTLB / HCR_EL2.BSU while this vCPU runs."""

    @abstractmethod
    def on_load(self, load: VcpuLoad) -> Sequence[HypOp] | Decision:
        """The flushes to execute on ``load.pcpu`` before the vCPU runs (with the new state)."""

    def on_trap(self, trap: TrappedOp) -> Sequence[HypAction] | Decision:
        """What to execute for a trapped guest instruction: by default, the instruction itself."""
        return (trap.op,)

    def on_vmid_reuse(self, vmid: int) -> Sequence[HypOp] | None:
        """What the hypervisor executes, between a VM's destruction and its VMID serving a new
        VM, to remove the dead VM's entries of that VMID (at destruction, at allocation or at a
        VMID rollover); ``None``: this hypervisor never hands a freed VMID to another VM. By
        default TLBI VMALLS12E1IS of the VMID."""
        return (HYP_OPS["vmalls12e1is"],)


def flush_tlb_ic(arch: Arch, *, tlb: str = "vmalls12e1") -> tuple[HypOp, ...]:
    """The local flush of a vCPU's VMID: the TLB, then ``IC IALLU``, whatever the guest's
    architecture. An AArch64 EL2 has no BPIALL (an AArch32-only System instruction); its
    ``IC IALLU`` "also flushes branch predictors" where they are architecturally visible (Arm
    ARM, IC IALLU), which is how a hypervisor flushes an AArch32 guest's predictions."""
    del arch  # the same instructions for every guest: kept for the signature plug-ins use
    return (HYP_OPS[tlb], HYP_OPS["iallu"])


def emulate_as_is(trap: TrappedOp) -> tuple[MaintenanceOp]:
    """Trap-and-emulate: execute the trapped TLB instruction as its Inner Shareable form."""
    return (is_equivalent(trap.op),)


NO_FLAGS = Hcr()
FB = Hcr(fb=True)
"""HCR_EL2.FB alone (Xvisor: no BSU)."""
FB_BSU = Hcr(fb=True, bsu=True)
"""HCR_EL2.FB with BSU = Inner Shareable: what Xen, KVM, Hafnium and Gunyah set together."""
TTLB = Hcr(ttlb=True)
