"""`xen`: Xen on Arm as shipped.

HCR_EL2.FB for every guest (commit e2faa286fa, 2016; ``get_default_hcr_flags()`` in
xen/arch/arm/traps.c). Commit 607ad85d85 (2017): per-p2m ``last_vcpu_ran[]`` initialised to
INVALID_VCPU_ID; ``p2m_restore_state()`` flushes locally (TLBI VMALLS12E1) only when the slot
holds *another* vCPU, so an empty slot does not flush. No I-cache or BP flush.
"""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HYP_OPS, HypOp
from ..policy import FB, Policy, VcpuInfo, VcpuLoad


class Xen(Policy):
    name = "xen"
    summary = "Xen: FB + local VMALLS12E1 when another vCPU of the VM ran here last (empty: none)"
    origin = "Xen e2faa286fa (2016) + 607ad85d85 (2017)"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return FB

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return (HYP_OPS["vmalls12e1"],) if load.other_vcpu_ran_here else ()
