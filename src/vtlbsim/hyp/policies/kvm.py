"""`kvm`: KVM/arm64 as shipped, which is `fb+last-vcpu-ran`."""

from .fb_last_vcpu_ran import FbLastVcpuRan


class Kvm(FbLastVcpuRan):
    name = "kvm"
    summary = "KVM/arm64: HCR_FB + __kvm_flush_cpu_context (VMALLE1 + IC IALLU) on last_vcpu_ran"
    origin = "KVM 94d0e5980d67 (2016) + 01dc9262ff57 (2021)"
