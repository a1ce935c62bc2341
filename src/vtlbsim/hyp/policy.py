"""The Policy interface (SPEC §4): what the hypervisor does when it loads a vCPU on a pCPU, and
when a guest TLB instruction traps; and which HCR_EL2 bits it sets for a vCPU.

A policy only *decides*; the engine executes the operations it returns and charges their cost.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..arch.machine import Hcr
from ..arch.ops import HYP_OPS, Arch, HypOp, MaintenanceOp, is_equivalent


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
class VcpuLoad:
    """A load of ``vcpu`` on ``pcpu``, with the history a policy may consult."""

    vcpu: VcpuInfo
    pcpu: int
    last_pcpu: int | None
    """The pCPU this vCPU last ran on; ``None`` on its first load."""
    last_vcpu_here: int | None
    """The vCPU of the same VM that last ran on this pCPU; ``None`` for an empty slot."""

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


HypAction = HypOp | MaintenanceOp
"""A hypervisor flush, or a guest instruction to execute (with the trapped operands)."""


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

    @abstractmethod
    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        """HCR_EL2.FB / HCR_EL2.TTLB while this vCPU runs."""

    @abstractmethod
    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        """The flushes to execute on ``load.pcpu`` before the vCPU runs."""

    def on_trap(self, trap: TrappedOp) -> Sequence[HypAction]:
        """What to execute for a trapped guest instruction: by default, the instruction itself."""
        return (trap.op,)


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
