"""KVM's policy on a host that does not complete a vCPU's maintenance when the vCPU leaves a
pCPU (``dsb_on_deschedule = False``): a bare-metal partitioner that moves vCPUs through a
mailbox, say. Arm64 Linux executes ``dsb(ish)`` in ``__switch_to()``, so real KVM has it.

    PYTHONPATH=examples/policies vtlbsim check --policy no_deschedule_dsb:KvmWithoutDescheduleDsb \\
        --guest linux-arm64-smp --incomplete
"""

from __future__ import annotations

from vtlbsim.hyp.policies.kvm import Kvm


class KvmWithoutDescheduleDsb(Kvm):
    name = "kvm-without-deschedule-dsb"
    summary = "KVM's flushes and FB+BSU, but no DSB on the pCPU a vCPU leaves"
    origin = "examples/policies/no_deschedule_dsb.py"
    dsb_on_deschedule = False
