"""`xvisor`: FB without BSU and, when a vCPU is loaded on another pCPU than the one it last
left (or for the first time), TLBI ALLE1IS; no I-cache flush (xvisor/xvisor 8713a802).

- HCR_EL2: arch/arm/cpu/arm64/cpu_vcpu_helper.c sets ``HCR_FB_MASK`` (since commit 0ab19357,
  2018) and no BSU field, on both the arm64 and the arm32ve ports.
- On load, ``arch_vcpu_switch()`` (arm64 port) runs ``inv_tlb_guest_allis()`` (``tlbi
  alle1is; dsb ish; isb``) then ``dsb(sy); isb()`` when ``last_hcpu`` differs from this pCPU.
  ``last_hcpu`` is recorded when the vCPU is switched out and starts at 0xFFFFFFFF
  (``arch_vcpu_init``), so a vCPU's first load flushes too. The local ``invalidate_icache()``
  of the same function belongs to the arm32ve *host* port: an Armv8 host flushes no I-cache,
  for AArch64 and AArch32 guests alike. ``last_hcpu`` is the policy's ``vcpu`` state.
- VMID reuse: a guest's VMID is its guest id (``mmu_pgtbl_alloc(..., guest->id)``), which a
  new guest may take again; ``arch_guest_deinit()`` frees the stage-2 tables
  (``mmu_pgtbl_free``) without a TLB flush. What saves the new guest is the first-load flush:
  its vCPUs start with ``last_hcpu`` = 0xFFFFFFFF, so each first load broadcasts ALLE1IS.
- DSB on deschedule: a vCPU caught between its TLBI and its DSB leaves its pCPU through an
  interrupt, which a GICv3 host acknowledges with ``arch_gic_read_iar()``
  (arch/arm/cpu/arm64/include/arch_gicv3.h), ending in ``dsb(sy)`` on that pCPU before the
  scheduler switches the vCPU out. (A GICv2 host reads GICC_IAR through MMIO instead; the
  model assumes the GICv3 path.)
"""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HYP_OPS, HypOp
from ..policy import FB, Decision, Policy, VcpuInfo, VcpuLoad

NO_HCPU = 0xFFFFFFFF
"""``last_hcpu`` of a vCPU that never ran (``arch_vcpu_init``): a plain int, never a pCPU."""


class Xvisor(Policy):
    name = "xvisor"
    summary = (
        "Xvisor: FB (no BSU) + TLBI ALLE1IS on a vCPU's first load and on a pCPU change; no I-cache"
    )
    origin = "Xvisor (2013 flush on pCPU change; FB since 2018)"
    dsb_on_deschedule = True
    load_history = False
    initial_vcpu = NO_HCPU

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return FB

    def on_load(self, load: VcpuLoad) -> Decision:
        # last_hcpu is written when the vCPU is switched out, i.e. on the pCPU it is loaded on
        if load.state.vcpu == load.pcpu:
            return Decision()
        return Decision((HYP_OPS["alle1is"],), vcpu=load.pcpu)

    def on_vmid_reuse(self, vmid: int) -> Sequence[HypOp]:
        return ()
