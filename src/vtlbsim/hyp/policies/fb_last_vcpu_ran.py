"""`fb+last-vcpu-ran`: HCR_EL2.FB plus the last-vcpu-ran flush: what KVM/arm64 ships."""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HypOp
from ..policy import FB, Policy, VcpuInfo, VcpuLoad
from .last_vcpu_ran import kvm_flush_cpu_context


class FbLastVcpuRan(Policy):
    name = "fb+last-vcpu-ran"
    summary = "FB, and local VMALLE1 + IC IALLU when another vCPU (or none) ran here last"
    origin = "KVM/arm64 (HCR_FB in HCR_GUEST_FLAGS + __kvm_flush_cpu_context)"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return FB

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return kvm_flush_cpu_context(load)
