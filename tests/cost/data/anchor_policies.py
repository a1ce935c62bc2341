"""Policies for tests/cost/test_exact_anchors.py (loaded by file path, ``FILE.py:Class``): each
issues one hypervisor instruction at every vCPU load, so an exact run's figures follow from
the load count."""

from collections.abc import Sequence

from vtlbsim.arch.machine import Hcr
from vtlbsim.arch.ops import HYP_OPS, HypOp
from vtlbsim.hyp.policy import NO_FLAGS, Policy, VcpuInfo, VcpuLoad


def at_every_load(instruction: str) -> type[Policy]:
    """A policy that executes the hypervisor instruction ``instruction`` at every load."""

    class AtEveryLoad(Policy):
        name = f"test-{instruction}-at-load"
        summary = f"{instruction} at every vCPU load"
        load_history = False

        def hcr(self, vcpu: VcpuInfo) -> Hcr:
            return NO_FLAGS

        def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
            return (HYP_OPS[instruction],)

    return AtEveryLoad


AllE1IsAtLoad = at_every_load("alle1is")
"""TLBI ALLE1IS (every VMID, broadcast), as Xvisor does at a pCPU change."""
VmallS12E1IsAtLoad = at_every_load("vmalls12e1is")
"""TLBI VMALLS12E1IS (the loaded vCPU's VMID, broadcast)."""
IcIalluIsAtLoad = at_every_load("ialluis")
"""IC IALLUIS (the whole I-cache of every core, broadcast)."""
