"""`flush-on-migrate`: the local flush only when the vCPU last ran on another pCPU."""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HypOp
from ..policy import NO_FLAGS, Policy, VcpuInfo, VcpuLoad, flush_tlb_ic


class FlushOnMigrate(Policy):
    name = "flush-on-migrate"
    summary = "local VMALLS12E1 + IC IALLU when the vCPU arrives from another pCPU"
    origin = "the seed's prototype; Xvisor, RISC-V KVM"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return flush_tlb_ic(load.vcpu.arch) if load.migrated else ()
