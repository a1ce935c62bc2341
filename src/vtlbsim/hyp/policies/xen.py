"""`xen`: Xen on Arm as shipped (xen-project/xen c447b7308b).

HCR_EL2: FB and BSU = Inner Shareable for every guest (``get_default_hcr_flags()`` in
xen/arch/arm/traps.c: ``HCR_BSU_INNER | ... | HCR_FB``; FB since commit e2faa286fa, 2016).
On load, ``p2m_restore_state()`` (xen/arch/arm/mmu/p2m.c, commit 607ad85d85, 2017) flushes
locally (``flush_guest_tlb_local()``: TLBI VMALLS12E1) only when the per-p2m slot
``last_vcpu_ran[cpu]`` holds *another* vCPU; ``p2m_init`` fills the slots with
INVALID_VCPU_ID, so an empty slot does not flush. No I-cache or BP flush on that path. The
slot is the policy's ``vm_pcpu`` state (``None`` stands for INVALID_VCPU_ID).

VMID reuse: ``p2m_free_vmid()`` returns a dead domain's VMID to the bitmap allocator, and the
next ``p2m_alloc_table()`` flushes the VMID it was handed before using it
(``p2m_force_tlb_flush_sync()`` -> ``flush_guest_tlb()``: TLBI VMALLS12E1IS), "Make sure that
all TLBs corresponding to the new VMID are flushed before using it".

DSB on deschedule: every guest exit runs ``check_pending_guest_serror`` (xen/arch/arm/arm64/
entry.S), whose first instruction is ``dsb sy``, under the default ``serrors=diverse``; and
``ctxt_switch_from()`` saves a GICv3 with ``gicv3_save_state()``, which starts with
``dsb(sy)``. Either completes the guest's maintenance on the pCPU it leaves.
"""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HYP_OPS, HypOp
from ..policy import FB_BSU, Decision, Policy, VcpuInfo, VcpuLoad


class Xen(Policy):
    name = "xen"
    summary = (
        "Xen: FB+BSU + local VMALLS12E1 when another vCPU of the VM ran here last (empty: none)"
    )
    origin = "Xen e2faa286fa (2016) + 607ad85d85 (2017)"
    dsb_on_deschedule = True
    load_history = False
    initial_vm_pcpu = None  # INVALID_VCPU_ID

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return FB_BSU

    def on_load(self, load: VcpuLoad) -> Decision:
        last, me = load.state.vm_pcpu, load.vcpu.vcpu
        ops = (HYP_OPS["vmalls12e1"],) if last is not None and last != me else ()
        return Decision(ops, vm_pcpu=me)

    def on_vmid_reuse(self, vmid: int) -> Sequence[HypOp]:
        return (HYP_OPS["vmalls12e1is"],)
