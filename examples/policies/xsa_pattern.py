"""A deliberately buggy hypervisor policy with state of its own: the XSA pattern.

KVM flushes a VM's TLB entries on a pCPU when the VM's *last* vCPU there was another one (a
per-VM, per-pCPU slot holding one vCPU). This plug-in remembers instead every vCPU of the VM
that *ever* ran on the pCPU, and skips the flush for any of them: "this vCPU ran here before,
its entries are its own". That is wrong as soon as another vCPU of the VM ran there in between
(per-CPU page tables, hazard H2), which is the shape of the bugs Xen's security advisories
fixed in this code.

Check it against every guest kind (it is found unsafe for ``percpu-tables``)::

    PYTHONPATH=examples/policies vtlbsim check --policy xsa_pattern:SkipIfRanHereBefore --matrix

The state is a frozenset of the ``VcpuId`` values the engine hands out (``load.vcpu.vcpu``), in
the VM's slot for the pCPU, so the model checker can rename vCPUs under symmetry.
"""

from __future__ import annotations

from vtlbsim.arch.machine import Hcr
from vtlbsim.hyp.policy import FB_BSU, Decision, Policy, VcpuInfo, VcpuLoad, flush_tlb_ic


class SkipIfRanHereBefore(Policy):
    name = "xsa-pattern"
    summary = "FB+BSU; flush locally unless this vCPU ran on this pCPU at any time before (buggy)"
    origin = "examples/policies/xsa_pattern.py: a user plug-in with its own state"
    load_history = False
    initial_vm_pcpu = frozenset()
    """The VM's vCPUs that ever ran on the pCPU."""

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return FB_BSU

    def on_load(self, load: VcpuLoad) -> Decision:
        ran_here: frozenset[int] = load.state.vm_pcpu  # type: ignore[assignment]
        me = load.vcpu.vcpu
        if me in ran_here:
            return Decision()  # the bug: another vCPU may have run here since
        return Decision(flush_tlb_ic(load.vcpu.arch), vm_pcpu=ran_here | {me})
