"""`fb+last-vcpu-ran`: HCR_EL2.FB plus the last-vcpu-ran flush: what KVM/arm64 ships.

``HCR_GUEST_FLAGS`` (arch/arm64/include/asm/kvm_arm.h) holds ``HCR_BSU_IS | HCR_FB``: FB
always travels with BSU = Inner Shareable.
"""

from ...arch.machine import Hcr
from ..policy import FB_BSU, Decision, Policy, VcpuInfo, VcpuLoad
from .last_vcpu_ran import NO_VCPU, kvm_flush_cpu_context


class FbLastVcpuRan(Policy):
    name = "fb+last-vcpu-ran"
    summary = "FB+BSU, and local VMALLE1 + IC IALLU when another vCPU (or none) ran here last"
    origin = "KVM/arm64 (HCR_FB in HCR_GUEST_FLAGS + __kvm_flush_cpu_context)"
    load_history = False
    initial_vm_pcpu = NO_VCPU

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return FB_BSU

    def on_load(self, load: VcpuLoad) -> Decision:
        return kvm_flush_cpu_context(load)
