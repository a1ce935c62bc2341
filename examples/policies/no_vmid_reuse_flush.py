"""Two shipping hypervisors without the flush they execute before a freed VMID serves a new VM
(``Policy.on_vmid_reuse``), for ``vtlbsim check --vms 2``:

- ``XenWithoutReuseFlush``: Xen's policy had ``p2m_alloc_table()`` not flushed the VMID it was
  handed (xen/arch/arm/mmu/p2m.c: "Make sure that all TLBs corresponding to the new VMID are
  flushed before using it", ``p2m_force_tlb_flush_sync()``). A new domain's
  ``last_vcpu_ran[]`` slots start INVALID, so its first load on a pCPU does not flush either:
  the dead domain's entries are hit (unsafe).
- ``KvmWithoutRolloverFlush``: KVM's policy had the VMID rollover not run
  ``__kvm_flush_vm_context`` (TLBI ALLE1IS; arch/arm64/kvm/vmid.c ``flush_context()``). A new
  VM's per-CPU ``last_vcpu_ran`` slots start at -1, so its first load on each pCPU flushes the
  VMID there before the vCPU runs (safe for this hazard).

    PYTHONPATH=examples/policies vtlbsim check --policy no_vmid_reuse_flush:XenWithoutReuseFlush \\
        --guest linux-arm64-smp --vms 2
"""

from __future__ import annotations

from collections.abc import Sequence

from vtlbsim.arch.ops import HypOp
from vtlbsim.hyp.policies.kvm import Kvm
from vtlbsim.hyp.policies.xen import Xen


class XenWithoutReuseFlush(Xen):
    name = "xen-without-reuse-flush"
    summary = "Xen's load flush and FB+BSU, but no flush of a freed VMID before it is reused"
    origin = "examples/policies/no_vmid_reuse_flush.py"

    def on_vmid_reuse(self, vmid: int) -> Sequence[HypOp]:
        return ()


class KvmWithoutRolloverFlush(Kvm):
    name = "kvm-without-rollover-flush"
    summary = "KVM's load flush and FB+BSU, but no ALLE1IS before a VMID serves another VM"
    origin = "examples/policies/no_vmid_reuse_flush.py"

    def on_vmid_reuse(self, vmid: int) -> Sequence[HypOp]:
        return ()
