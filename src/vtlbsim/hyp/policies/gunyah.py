"""`gunyah`: FB (with BSU = Inner Shareable) only for vCPUs that may migrate; pinned vCPUs run
with both off; no flush on load (quic/gunyah-hypervisor 36ca3a2a).

hyp/vm/vcpu/aarch64/src/aarch64_init.c: the default HCR_EL2 has FB = 0 and BSU = 0; a vCPU
that is not pinned gets ``HCR_EL2_set_FB(true)`` and ``HCR_EL2_set_BSU(1)``. Gunyah's comment
calls FB "the same as forcing a TLB flush at migrate time" (REFERENCES.md). A domain declares
its vCPUs pinned with ``pinned = true``.

DSB on deschedule: ``vcpu_context_switch_save()`` (hyp/vm/vcpu/aarch64/src/context_switch.c)
executes ``dsb ish`` for every vCPU that is not pinned, "to ensure that any cache or TLB op
executed by the VCPU in EL1 is complete before the VCPU potentially migrates".

VMID reuse: destroying a VM's address space (``pgtable_vm_destroy()``, hyp/mem/pgtable/armv8)
unmaps all of stage 2 and commits with ``vm_tlbi_vmalle1()`` for its VMID, broadcast (the
model's VMALLS12E1IS removes the same combined entries).
"""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HYP_OPS, HypOp
from ..policy import FB_BSU, NO_FLAGS, Policy, VcpuInfo, VcpuLoad


class Gunyah(Policy):
    name = "gunyah"
    summary = "Gunyah: FB+BSU for vCPUs that may migrate, nothing for pinned ones; no flush"
    origin = "Gunyah hypervisor (vcpu affinity-dependent HCR_EL2.FB)"
    load_history = False
    dsb_on_deschedule = True

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS if vcpu.pinned else FB_BSU

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return ()

    def on_vmid_reuse(self, vmid: int) -> Sequence[HypOp]:
        return (HYP_OPS["vmalls12e1is"],)
