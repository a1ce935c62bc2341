"""`fb`: HCR_EL2.FB for every guest, nothing on load (Xen commit e2faa286fa, 2016)."""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HypOp
from ..policy import FB, Policy, VcpuInfo, VcpuLoad


class ForceBroadcast(Policy):
    name = "fb"
    summary = "HCR_EL2.FB: local TLBI/IC IALLU/BPIALL broadcast to the IS domain; no flush"
    origin = "Xen e2faa286fa (2016, the seed)"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return FB

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return ()
