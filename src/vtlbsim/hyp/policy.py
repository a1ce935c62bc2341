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

    @abstractmethod
    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        """HCR_EL2.FB / HCR_EL2.TTLB while this vCPU runs."""

    @abstractmethod
    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        """The flushes to execute on ``load.pcpu`` before the vCPU runs."""

    def on_trap(self, trap: TrappedOp) -> Sequence[HypAction]:
        """What to execute for a trapped guest instruction: by default, the instruction itself."""
        return (trap.op,)


def flush_tlb_ic(arch: Arch, *, tlb: str = "vmalls12e1", bp: bool = True) -> tuple[HypOp, ...]:
    """The local flush of a vCPU's VMID: TLB + I-cache (+ BPIALL for an AArch32 guest)."""
    ops = [HYP_OPS[tlb], HYP_OPS["iallu"]]
    if bp and arch is Arch.AARCH32:
        ops.append(HYP_OPS["bpiall"])
    return tuple(ops)


def emulate_as_is(trap: TrappedOp) -> tuple[MaintenanceOp]:
    """Trap-and-emulate: execute the trapped TLB instruction as its Inner Shareable form."""
    return (is_equivalent(trap.op),)


NO_FLAGS = Hcr()
FB = Hcr(fb=True)
TTLB = Hcr(ttlb=True)
