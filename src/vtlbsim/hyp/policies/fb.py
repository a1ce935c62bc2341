"""`fb`: HCR_EL2.FB (with BSU = Inner Shareable) for every guest, nothing on load.

Xen commit e2faa286fa (2016, the seed) added HCR_FB to a flag set that already held
HCR_BSU_INNER (``get_default_hcr_flags()``, xen/arch/arm/traps.c).
"""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HypOp
from ..policy import FB_BSU, Policy, VcpuInfo, VcpuLoad


class ForceBroadcast(Policy):
    name = "fb"
    summary = "HCR_EL2.FB+BSU: local TLBI/IC IALLU/BPIALL broadcast to the IS domain; no flush"
    origin = "Xen e2faa286fa (2016, the seed)"
    load_history = False

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return FB_BSU

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return ()
