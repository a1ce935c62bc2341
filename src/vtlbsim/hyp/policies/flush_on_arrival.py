"""`flush-on-arrival`: flush if the vCPU last ran elsewhere, or another vCPU of its VM ran here
last (an empty slot does not count). State: the vCPU's last pCPU and the VM's slot for this pCPU.
"""

from ...arch.machine import Hcr
from ..policy import NO_FLAGS, Decision, Policy, VcpuInfo, VcpuLoad, flush_tlb_ic
from .flush_on_migrate import moved


class FlushOnArrival(Policy):
    name = "flush-on-arrival"
    summary = "flush-on-migrate's flush, also when another vCPU of the VM ran here last; no FB"
    origin = "the seed's prototype + the H2 fix"
    load_history = False

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Decision:
        slot = load.state.vm_pcpu
        other = slot is not None and slot != load.vcpu.vcpu
        ops = flush_tlb_ic(load.vcpu.arch) if moved(load) or other else ()
        return Decision(ops, vm_pcpu=load.vcpu.vcpu, vcpu=load.pcpu)
