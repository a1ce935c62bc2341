"""`hafnium`: FB for secondary VMs, local TLBI VMALLE1 when the last vCPU here differs; no I-cache.

Hafnium commit 1f32e72b (2019), per REFERENCES.md §Hypervisors. The last-vCPU slot is
compared as KVM does (an empty slot differs from every vCPU).
"""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HYP_OPS, HypOp
from ..policy import FB, Policy, VcpuInfo, VcpuLoad


class Hafnium(Policy):
    name = "hafnium"
    summary = "Hafnium: FB + local VMALLE1 when another vCPU (or none) ran here last; no I-cache"
    origin = "Hafnium 1f32e72b (2019)"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return FB

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return (HYP_OPS["vmalle1"],) if load.last_vcpu_here != load.vcpu.vcpu else ()
