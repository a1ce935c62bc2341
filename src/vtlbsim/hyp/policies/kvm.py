"""`kvm`: KVM/arm64 as shipped, which is `fb+last-vcpu-ran`.

DSB on deschedule: a KVM vCPU runs in its own host thread and changes pCPU only with that
thread, and arm64 ``__switch_to()`` (arch/arm64/kernel/process.c) executes ``dsb(ish)``:
"Complete any pending TLB or cache maintenance on this CPU in case the thread migrates to a
different CPU".
"""

from .fb_last_vcpu_ran import FbLastVcpuRan


class Kvm(FbLastVcpuRan):
    name = "kvm"
    summary = (
        "KVM/arm64: HCR_FB+BSU + __kvm_flush_cpu_context (VMALLE1 + IC IALLU) on last_vcpu_ran"
    )
    origin = "KVM 94d0e5980d67 (2016) + 01dc9262ff57 (2021)"
    dsb_on_deschedule = True
