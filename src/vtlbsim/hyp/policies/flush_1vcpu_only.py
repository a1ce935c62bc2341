"""`flush-1vcpu-only`: flush-on-migrate for 1-vCPU domains, nothing for the others."""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HypOp
from ..policy import NO_FLAGS, Policy, VcpuInfo, VcpuLoad, flush_tlb_ic


class Flush1VcpuOnly(Policy):
    name = "flush-1vcpu-only"
    summary = "flush-on-migrate for 1-vCPU domains only (assumes SMP guests broadcast)"
    origin = "the seed's compromise"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        if load.vcpu.domain_vcpus == 1 and load.migrated:
            return flush_tlb_ic(load.vcpu.arch)
        return ()
