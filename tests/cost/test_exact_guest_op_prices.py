"""What exact mode charges one guest instruction, given its step's broadcast prices (issue 15
item 6, from ``exact.py``'s mutation survivors in ``_Run.guest_op``): ``_Run.guest_op`` on a run
of one pCPU whose step prices are set by hand, so that a broadcast costs its issuer 2,000
cycles under the policy's load and 1,500 under the bare-metal load (the guests' own
broadcasts only). Platform anchor-round: tlbi_local 100, trap_roundtrip 1,000; an IS
instruction costs its issuer the step's broadcast price (``dvm.instruction_cycles``: no
whole-I-cache work beyond a local TLBI's). Every expected value is derived in the docstring."""

from __future__ import annotations

import numpy as np
import pytest
from test_exact_anchors import DATA, PLATFORM

from vtlbsim.arch.ops import Arch
from vtlbsim.cost.exact import _Run, _Vcpu, geometry_of
from vtlbsim.cost.platform import load_platform
from vtlbsim.hyp.policy import VcpuInfo
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.reference import ReferenceTlbs

POLICIES = DATA / "anchor_trap_policies.py"
POLICY_PRICE = 2_000.0
"""A broadcast's cost to its issuer in this step under the policy's load."""
NATIVE_PRICE = 1_500.0
"""The same under the load of the broadcasts the guests wrote (the baseline)."""


def issue(policy: str, name: str) -> dict[str, float]:
    """The cycles charged when the lone vCPU on pCPU 0 issues ``name`` under ``policy``."""
    plat = load_platform(PLATFORM)
    info = VcpuInfo("vm1", 0, 1, Arch.AARCH64, 1, True)
    vcpu = _Vcpu(info, 0, 0, 0, pcpu=0, last_pcpu=0)
    tlbs = ReferenceTlbs(1, geometry_of(plat))
    run = _Run(plat, 1, resolve(policy), tlbs, [vcpu], [], np.random.default_rng(1), [0])
    run.bcast = np.array([POLICY_PRICE])
    run.native_bcast = np.array([NATIVE_PRICE])
    run.busy = frozenset({0})
    run.guest_op(vcpu, 0, name, 32)
    return {cause: cycles for cause, cycles in run.cycles.items() if cycles}


def test_the_guests_own_broadcast_is_charged_the_longer_wait_the_policy_causes() -> None:
    """No policy, the guest's own TLBI VALE1IS: the instruction is the guest's (baseline), but
    it waits 2,000 under the step's load where bare metal would have waited 1,500:
    broadcast-issue = 500. It adds no broadcast: no DVM stall charged."""
    assert issue("none", "vale1is") == pytest.approx({"broadcast-issue": 500.0})


def test_an_fb_upgrade_is_charged_the_broadcast_beyond_the_local_instruction() -> None:
    """FB, the guest's local TLBI VALE1: it runs as VALE1IS, 2,000 under the step's load,
    against the 100 of the local instruction written: broadcast-issue = 1,900."""
    assert issue("fb", "vale1") == pytest.approx({"broadcast-issue": 1_900.0})


def test_a_trapped_broadcast_emulated_as_is_is_charged_the_longer_wait() -> None:
    """trap-ttlb, the guest's TLBI VALE1IS: the round trip (trap = 1,000), then the same
    VALE1IS executed by the hypervisor: 2,000 under the step's load against the 1,500 the
    written one costs on bare metal: broadcast-issue = 500."""
    got = issue("trap-ttlb", "vale1is")
    assert got == pytest.approx({"trap": 1_000.0, "broadcast-issue": 500.0})


def test_a_trap_handler_executing_two_instructions_is_charged_both() -> None:
    """A handler that executes the trapped local TLBI VALE1 as written (100) and then as VALE1IS
    (2,000 under the step's load): issued 2,100 against the written instruction's 100:
    broadcast-issue = 2,000; trap = 1,000."""
    got = issue(f"{POLICIES}:LocalThenBroadcastOnTrap", "vale1")
    assert got == pytest.approx({"trap": 1_000.0, "broadcast-issue": 2_000.0})
