"""`flush-on-migrate`: the local flush only when the vCPU last ran on another pCPU.

The vCPU's state is the pCPU it was last loaded on (``None`` before its first load, which is
not a migration).
"""

from ...arch.machine import Hcr
from ..policy import NO_FLAGS, Decision, Policy, VcpuInfo, VcpuLoad, flush_tlb_ic


def moved(load: VcpuLoad) -> bool:
    """The vCPU was last loaded on another pCPU (its ``vcpu`` state; None: never loaded)."""
    return load.state.vcpu is not None and load.state.vcpu != load.pcpu


class FlushOnMigrate(Policy):
    name = "flush-on-migrate"
    summary = "local VMALLS12E1 + IC IALLU when the vCPU arrives from another pCPU"
    origin = "the seed's prototype; Xvisor, RISC-V KVM"
    load_history = False

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Decision:
        ops = flush_tlb_ic(load.vcpu.arch) if moved(load) else ()
        return Decision(ops, vcpu=load.pcpu)
