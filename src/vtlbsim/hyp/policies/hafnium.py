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
  The slot is the policy's ``vm_pcpu`` state, initially ``VcpuId(0)``.
- VMID reuse: none. Hafnium creates its VMs once, from the manifest at boot, and never
  destroys one, so a VMID never serves a second VM.
- DSB on deschedule: a secondary vCPU is run by its own kernel thread in the primary
  (Hafnium's Linux driver, ``hf_vcpu_thread``), so it changes pCPU only with that thread, and
  the primary's arm64 ``__switch_to()`` executes ``dsb(ish)`` before the thread leaves.
"""

from ...arch.machine import Hcr
from ...arch.ops import HYP_OPS
from ..policy import FB_BSU, NO_FLAGS, Decision, Policy, VcpuId, VcpuInfo, VcpuLoad


class Hafnium(Policy):
    name = "hafnium"
    summary = "Hafnium: FB+BSU (secondary VMs) + local VMALLE1 when another vCPU ran here last; no I-cache"
    origin = "Hafnium 1f32e72b (2019)"
    dsb_on_deschedule = True
    load_history = False
    initial_vm_pcpu = VcpuId(0)  # last_vcpu_on_cpu[] is zero-initialised with the VM

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS if vcpu.pinned else FB_BSU

    def on_load(self, load: VcpuLoad) -> Decision:
        me = load.vcpu.vcpu
        if load.state.vm_pcpu == me:
            return Decision()
        return Decision((HYP_OPS["vmalle1"],), vm_pcpu=me)

    def on_vmid_reuse(self, vmid: int) -> None:
        return None
