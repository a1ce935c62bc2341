"""`last-vcpu-ran`: flush locally when another vCPU of the VM (or nobody) ran last on this pCPU.

KVM commit 94d0e5980d67 (2016): per-VM per-CPU ``last_vcpu_ran`` initialised to -1
(``kvm_init_stage2_mmu``), and ``kvm_arch_vcpu_load()`` flushes the VMID locally when it
differs from the vCPU being loaded, then records the vCPU (so an empty slot flushes too);
commit 01dc9262ff57 (2021) added ``IC IALLU`` (``__kvm_flush_cpu_context``). No BP flush of
its own (the IC IALLU flushes visible predictors). The slot is the policy's ``vm_pcpu`` state.
"""

from ...arch.machine import Hcr
from ...arch.ops import HYP_OPS
from ..policy import NO_FLAGS, Decision, Policy, VcpuInfo, VcpuLoad

NO_VCPU = -1
"""KVM's initial ``last_vcpu_ran``: no vCPU (a plain int, never a vCPU index)."""


def kvm_flush_cpu_context(load: VcpuLoad) -> Decision:
    """``kvm_arch_vcpu_load()``: if the slot holds another vCPU (or -1), ``__kvm_flush_cpu_context``
    (local TLBI VMALLE1 + IC IALLU), and the slot records this vCPU."""
    me = load.vcpu.vcpu
    if load.state.vm_pcpu == me:
        return Decision()
    return Decision((HYP_OPS["vmalle1"], HYP_OPS["iallu"]), vm_pcpu=me)


class LastVcpuRan(Policy):
    name = "last-vcpu-ran"
    summary = "local VMALLE1 + IC IALLU when another vCPU of the VM (or none) ran here last; no FB"
    origin = "KVM 94d0e5980d67 (2016) + 01dc9262ff57 (2021), without FB"
    load_history = False
    initial_vm_pcpu = NO_VCPU

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Decision:
        return kvm_flush_cpu_context(load)
