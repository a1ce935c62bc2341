"""`last-vcpu-ran`: flush locally when another vCPU of the VM (or nobody) ran last on this pCPU.

KVM commit 94d0e5980d67 (2016): per-VM per-CPU ``last_vcpu_ran`` initialised to -1, and
``kvm_arch_vcpu_load()`` flushes the VMID locally when it differs from the vCPU being loaded
(so an empty slot flushes too); commit 01dc9262ff57 (2021) added ``IC IALLU``. No BP flush.
"""

from collections.abc import Sequence

from ...arch.machine import Hcr
from ...arch.ops import HYP_OPS, HypOp
from ..policy import NO_FLAGS, Policy, VcpuInfo, VcpuLoad


def kvm_flush_cpu_context(load: VcpuLoad) -> Sequence[HypOp]:
    """``__kvm_flush_cpu_context``: local TLBI VMALLE1 + IC IALLU if another vCPU (or none) ran here."""
    if load.last_vcpu_here != load.vcpu.vcpu:
        return (HYP_OPS["vmalle1"], HYP_OPS["iallu"])
    return ()


class LastVcpuRan(Policy):
    name = "last-vcpu-ran"
    summary = "local VMALLE1 + IC IALLU when another vCPU of the VM (or none) ran here last; no FB"
    origin = "KVM 94d0e5980d67 (2016) + 01dc9262ff57 (2021), without FB"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return kvm_flush_cpu_context(load)
