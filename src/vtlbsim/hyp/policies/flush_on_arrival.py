"""`flush-on-arrival`: flush if the vCPU last ran elsewhere, or another vCPU of its VM ran here last."""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HypOp
from ..policy import NO_FLAGS, Policy, VcpuInfo, VcpuLoad, flush_tlb_ic


class FlushOnArrival(Policy):
    name = "flush-on-arrival"
    summary = "flush-on-migrate's flush, also when another vCPU of the VM ran here last; no FB"
    origin = "the seed's prototype + the H2 fix"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        if load.migrated or load.other_vcpu_ran_here:
            return flush_tlb_ic(load.vcpu.arch)
        return ()
