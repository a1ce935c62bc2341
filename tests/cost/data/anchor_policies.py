"""Policies for tests/cost/test_exact_anchors.py (loaded by file path, ``FILE.py:Class``): each
does one thing at every vCPU load, so an exact run's figures follow from the load count."""

from collections.abc import Sequence

from vtlbsim.arch.machine import Hcr
from vtlbsim.arch.ops import HYP_OPS, HypOp
from vtlbsim.hyp.policy import NO_FLAGS, Policy, VcpuInfo, VcpuLoad


class AllE1IsAtLoad(Policy):
    """TLBI ALLE1IS (every VMID, broadcast) at every load, as Xvisor does at a pCPU change."""

    name = "test-alle1is-at-load"
    summary = "TLBI ALLE1IS at every vCPU load"
    load_history = False

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return (HYP_OPS["alle1is"],)


class IcIalluIsAtLoad(Policy):
    """IC IALLUIS (the whole I-cache of every core, broadcast) at every load."""

    name = "test-ic-ialluis-at-load"
    summary = "IC IALLUIS at every vCPU load"
    load_history = False

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return (HYP_OPS["ialluis"],)


class VmallS12E1IsAtLoad(Policy):
    """TLBI VMALLS12E1IS (the loaded vCPU's VMID, broadcast) at every load."""

    name = "test-vmalls12e1is-at-load"
    summary = "TLBI VMALLS12E1IS at every vCPU load"
    load_history = False

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return (HYP_OPS["vmalls12e1is"],)
