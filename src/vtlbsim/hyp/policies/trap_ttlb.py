"""`trap-ttlb`: HCR_EL2.TTLB; each trapped TLB instruction is executed as its IS form.

TTLB traps TLB maintenance only: ``IC IALLU`` and ``BPIALL`` are not trapped (HCR_EL2.TPU and
others would be needed), so a UP guest's local I-cache maintenance stays local.
"""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HypOp
from ..policy import TTLB, HypAction, Policy, TrappedOp, VcpuInfo, VcpuLoad, emulate_as_is


class TrapTtlb(Policy):
    name = "trap-ttlb"
    summary = "HCR_EL2.TTLB: trap every guest TLBI, execute it as its IS form; IC/BP not trapped"
    origin = "trap-and-emulate (KVM does this for nested guests only)"
    load_history = False

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return TTLB

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return ()

    def on_trap(self, trap: TrappedOp) -> Sequence[HypAction]:
        return emulate_as_is(trap)
