"""`flush-on-switch`: flush the VMID's TLB entries and the I-cache (which also flushes visible
branch predictors) on every load."""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HypOp
from ..policy import NO_FLAGS, Policy, VcpuInfo, VcpuLoad, flush_tlb_ic


class FlushOnSwitch(Policy):
    name = "flush-on-switch"
    summary = "local VMALLS12E1 + IC IALLU on every vCPU load"
    origin = "Stefano Stabellini's first idea in the seed thread"
    load_history = False

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return flush_tlb_ic(load.vcpu.arch)
