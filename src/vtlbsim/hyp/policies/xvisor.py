"""`xvisor`: FB (since 2018) and, on a pCPU change, TLBI ALLE1IS plus the I-cache on AArch32.

Per REFERENCES.md §Hypervisors (Xvisor's arm vCPU switch, 2013; FB added 2018).
"""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HYP_OPS, Arch, HypOp
from ..policy import FB, Policy, VcpuInfo, VcpuLoad


class Xvisor(Policy):
    name = "xvisor"
    summary = "Xvisor: FB + TLBI ALLE1IS (+ IC IALLU on aarch32) when the vCPU changes pCPU"
    origin = "Xvisor (2013 flush on pCPU change; FB since 2018)"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return FB

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        if not load.migrated:
            return ()
        if load.vcpu.arch is Arch.AARCH32:
            return (HYP_OPS["alle1is"], HYP_OPS["iallu"])
        return (HYP_OPS["alle1is"],)
