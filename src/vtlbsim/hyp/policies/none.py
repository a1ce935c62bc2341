"""`none`: no maintenance at all (what static partitioners run, with pinned vCPUs)."""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HypOp
from ..policy import NO_FLAGS, Policy, VcpuInfo, VcpuLoad


class NonePolicy(Policy):
    name = "none"
    summary = "no FB, no flush: safe only if every vCPU is pinned alone on its pCPU"
    origin = "Bao, Jailhouse (pinned vCPUs)"
    load_history = False

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return ()
