"""`kvm`: KVM/arm64 as shipped, which is `fb+last-vcpu-ran` (the per-VM per-CPU
``last_vcpu_ran`` slot starts at -1, so a VM's first load on a pCPU flushes).

VMID reuse: a VMID serves one VM per generation; at a rollover ``kvm_arm_vmid_update()`` ->
``flush_context()`` runs ``__kvm_flush_vm_context`` (TLBI ALLE1IS) before any VMID is handed
out again (arch/arm64/kvm/vmid.c, hyp/vhe/tlb.c).

DSB on deschedule: a KVM vCPU runs in its own host thread and changes pCPU only with that
thread, and arm64 ``__switch_to()`` (arch/arm64/kernel/process.c) executes ``dsb(ish)``:
"Complete any pending TLB or cache maintenance on this CPU in case the thread migrates to a
different CPU".
"""

from collections.abc import Sequence

from ...arch.ops import HYP_OPS, HypOp
from .fb_last_vcpu_ran import FbLastVcpuRan


class Kvm(FbLastVcpuRan):
    name = "kvm"
    summary = (
        "KVM/arm64: HCR_FB+BSU + __kvm_flush_cpu_context (VMALLE1 + IC IALLU) on last_vcpu_ran"
    )
    origin = "KVM 94d0e5980d67 (2016) + 01dc9262ff57 (2021)"
    dsb_on_deschedule = True

    def on_vmid_reuse(self, vmid: int) -> Sequence[HypOp]:
        # __kvm_flush_vm_context (arch/arm64/kvm/hyp/vhe/tlb.c, nvhe/tlb.c): dsb ish; tlbi
        # alle1is; dsb ish. Its former `ic ialluis` served VPIPT I-caches only and went with
        # them ("KVM: arm64: Remove VPIPT I-cache handling"); a freed VMID is not handed out
        # again before the rollover (flush_context() clears the bitmap, then this flush)
        return (HYP_OPS["alle1is"],)
