"""`gunyah`: FB only for vCPUs that may migrate; pinned vCPUs run with FB off.

Gunyah's comment calls FB "the same as forcing a TLB flush at migrate time" (REFERENCES.md).
A domain declares its vCPUs pinned with ``pinned = true``.
"""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HypOp
from ..policy import FB, NO_FLAGS, Policy, VcpuInfo, VcpuLoad


class Gunyah(Policy):
    name = "gunyah"
    summary = "Gunyah: FB for vCPUs that may migrate, nothing for pinned ones; no flush"
    origin = "Gunyah hypervisor (vcpu affinity-dependent HCR_EL2.FB)"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS if vcpu.pinned else FB

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return ()
