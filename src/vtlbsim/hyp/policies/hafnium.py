"""`hafnium`: FB + BSU for secondary VMs; local TLBI VMALLE1 when the VM's last vCPU on this
pCPU differs; no I-cache flush (TF-Hafnium/hafnium 21bfbdc1).

- HCR_EL2: src/arch/aarch64/sysregs.c sets ``HCR_EL2_BSU_INNER_SHAREABLE`` and ``HCR_EL2_FB``
  only ``if (vm_id != HF_PRIMARY_VM_ID)``. The primary VM (the scheduler VM) runs without them,
  with its vCPUs pinned one per pCPU; the model tells the primary by its pinned vCPUs
  (``pinned = true``), so a pinned domain runs with neither bit.
- On load: ``maybe_invalidate_tlb()`` (src/arch/aarch64/hypervisor/handler.c, commit 1f32e72b,
  2019) runs ``isb; tlbi vmalle1; isb; dsb nsh`` when ``vm->arch.last_vcpu_on_cpu[cpu]``
  differs from the vCPU's index, then records it. The array is zero-initialised with the VM,
  so an empty slot reads as vCPU 0: vCPU 0's first load on a pCPU does not flush, any other
  vCPU's does. (No vCPU of the VM ran there, so the TLB holds none of its entries: safe.)
- DSB on deschedule: a secondary vCPU is run by its own kernel thread in the primary
  (Hafnium's Linux driver, ``hf_vcpu_thread``), so it changes pCPU only with that thread, and
  the primary's arm64 ``__switch_to()`` executes ``dsb(ish)`` before the thread leaves.
"""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HYP_OPS, HypOp
from ..policy import FB_BSU, NO_FLAGS, Policy, VcpuInfo, VcpuLoad


class Hafnium(Policy):
    name = "hafnium"
    summary = "Hafnium: FB+BSU (secondary VMs) + local VMALLE1 when another vCPU ran here last; no I-cache"
    origin = "Hafnium 1f32e72b (2019)"
    dsb_on_deschedule = True

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS if vcpu.pinned else FB_BSU

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        slot = 0 if load.last_vcpu_here is None else load.last_vcpu_here
        return (HYP_OPS["vmalle1"],) if slot != load.vcpu.vcpu else ()
