"""`flush-1vcpu-only`: flush-on-migrate for 1-vCPU domains, nothing for the others."""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HypOp
from ..policy import NO_FLAGS, Decision, Policy, VcpuInfo, VcpuLoad, flush_tlb_ic
from .flush_on_migrate import moved


class Flush1VcpuOnly(Policy):
    name = "flush-1vcpu-only"
    summary = "flush-on-migrate for 1-vCPU domains only (assumes SMP guests broadcast)"
    origin = "the seed's compromise"
    load_history = False

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp] | Decision:
        if load.vcpu.domain_vcpus != 1:
            return ()  # no flush ever: nothing to remember
        return Decision(flush_tlb_ic(load.vcpu.arch) if moved(load) else (), vcpu=load.pcpu)
