"""Policies for tests/cost/test_exact_anchors_hcr.py and test_exact_guest_op_prices.py (loaded
by file path, ``FILE.py:Class``): trap handlers that execute hypervisor flushes instead of the
trapped instruction, or the instruction twice, so an exact run charges their figures per
trapped instruction."""

from collections.abc import Sequence

from vtlbsim.arch.machine import Hcr
from vtlbsim.arch.ops import HYP_OPS, is_equivalent
from vtlbsim.hyp.policy import TTLB, HypAction, Policy, TrappedOp, VcpuInfo, VcpuLoad


class _TrapsTlbInstructions(Policy):
    """Traps the guest's TLB instructions (HCR_EL2.TTLB); flushes nothing at a load."""

    load_history = False

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return TTLB

    def on_load(self, load: VcpuLoad) -> Sequence[HypAction]:
        return ()


class FlushVmidAndIcacheOnTrap(_TrapsTlbInstructions):
    """Traps the guest's TLB instructions (HCR_EL2.TTLB) and, for each, executes the local
    TLBI VMALLS12E1 (the trapping vCPU's VMID) and IC IALLU on the trapping PE."""

    name = "test-flush-vmid-and-icache-on-trap"
    summary = "TLBI VMALLS12E1 + IC IALLU for every trapped TLB instruction"

    def on_trap(self, trap: TrappedOp) -> Sequence[HypAction]:
        return (HYP_OPS["vmalls12e1"], HYP_OPS["iallu"])


class LocalThenBroadcastOnTrap(_TrapsTlbInstructions):
    """Traps the guest's TLB instructions (HCR_EL2.TTLB) and executes each twice: as written
    (local), then its Inner Shareable form."""

    name = "test-local-then-broadcast-on-trap"
    summary = "a trapped TLB instruction as written, then as its IS form"

    def on_trap(self, trap: TrappedOp) -> Sequence[HypAction]:
        return (trap.op, is_equivalent(trap.op))
