"""The scheduler model of a cost run (issue 3 §4): how often vCPUs are loaded, and in which
situation a policy sees each load.

Rules (steady state; every vCPU is always runnable, an assumption docs/cost.md states):

- ``V`` vCPUs on ``P`` pCPUs run a share ``f = min(1, P / V)`` of the time each; the machine
  runs ``min(V, P)`` vCPUs at once (``busy = min(1, V / P)`` of each pCPU).
- Overcommit (``V > P``): each pCPU switches vCPU every ``timeslice_ms``, so a vCPU is loaded
  ``1000 / timeslice_ms`` times per running second. Without overcommit a vCPU is loaded only
  when it migrates.
- ``pinned``: no migration. vCPUs of one VM are spread over distinct pCPUs; only a VM with more
  vCPUs than pCPUs has siblings taking turns on one pCPU.
- ``round-robin``: a global run queue; each load lands on any of the ``P`` pCPUs, so a share
  ``1 - 1/P`` of loads are migrations (no loads at all without overcommit).
- ``random-migrate``: ``migrations_per_vcpu_s`` migrations per running vCPU-second, each a load
  on another pCPU. With overcommit a vCPU is loaded at least every timeslice; a vCPU that
  migrates more often than that is one that blocks and wakes (I/O, IPIs, idle balancing), so
  its loads are ``max(1000 / timeslice_ms, migrations_per_vcpu_s)`` and every extra load is a
  migration.
- A migrated vCPU arrives on a pCPU where, in steady state, the VM's last vCPU was itself with
  probability ``1/k`` and a sibling otherwise (``k`` = the VM's vCPUs): the per-VM per-pCPU slot
  is never empty once the VM has run everywhere, so empty-slot loads are warm-up only and
  not counted. A vCPU reloaded on the same pCPU finds a sibling was there in between with
  probability ``1 - (1 - (k-1)/(V-1))^(c-1)`` (``c = V/P`` other vCPUs ran there meanwhile).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from ..arch.ops import HypOp
from .policy import Policy, VcpuInfo
from .state import PolicyState


class SchedulerKind(StrEnum):
    PINNED = "pinned"
    ROUND_ROBIN = "round-robin"
    RANDOM_MIGRATE = "random-migrate"


class LoadSituation(StrEnum):
    """What a policy sees at a load: moved or not, and who of the VM ran last on this pCPU."""

    STAY_SELF = "stay-self"
    """Same pCPU as last time; this vCPU was the VM's last one here."""
    STAY_OTHER = "stay-other"
    """Same pCPU; a sibling vCPU of the VM ran here in between."""
    MIGRATE_SELF = "migrate-self"
    """Another pCPU than last time; this vCPU was the VM's last one on the new pCPU."""
    MIGRATE_OTHER = "migrate-other"
    """Another pCPU; a sibling was the VM's last one there."""
    MIGRATE_EMPTY = "migrate-empty"
    """Another pCPU where no vCPU of the VM ever ran (warm-up; zero in steady state)."""


@dataclass(frozen=True, slots=True)
class LoadRates:
    """Per running vCPU-second of one VM's vCPU: loads by situation, and overall figures."""

    loads_per_s: float
    migrations_per_s: float
    by_situation: dict[LoadSituation, float]
    running_share: float
    """``f``: the share of wall time each vCPU runs."""
    busy: float
    """Share of each pCPU's time that runs a vCPU."""
    overcommit: float
    """``c = max(1, V/P)``."""
    pinned: bool


def load_rates_for(
    kind: str,
    pcpus: int,
    total_vcpus: int,
    vm_vcpus: int,
    migrations_per_vcpu_s: float,
    timeslice_ms: float,
) -> LoadRates:
    """The load situations a vCPU of a ``vm_vcpus``-vCPU VM meets, per running second."""
    sched = SchedulerKind(kind)
    p, v, k = pcpus, max(total_vcpus, 1), vm_vcpus
    running = min(1.0, p / v)
    busy = min(1.0, v / p)
    c = max(1.0, v / p)
    switch_rate = 1000.0 / timeslice_ms if v > p else 0.0
    if sched is SchedulerKind.PINNED:
        loads, migr = switch_rate, 0.0
    elif sched is SchedulerKind.ROUND_ROBIN:
        loads = switch_rate
        migr = loads * (1.0 - 1.0 / p)
    else:
        moves = migrations_per_vcpu_s if p > 1 else 0.0  # one pCPU: nowhere to migrate to
        if v > p:
            loads = max(switch_rate, moves)
            migr = moves
        else:
            loads = migr = moves
    stays = loads - migr
    if sched is SchedulerKind.PINNED:
        p_sib_between = 1.0 if k > p else 0.0
    elif v > 1 and c > 1:
        p_sib_between = 1.0 - (1.0 - (k - 1) / (v - 1)) ** (c - 1.0)
    else:
        p_sib_between = 0.0
    by = {
        LoadSituation.STAY_SELF: stays * (1.0 - p_sib_between),
        LoadSituation.STAY_OTHER: stays * p_sib_between,
        LoadSituation.MIGRATE_SELF: migr / k,
        LoadSituation.MIGRATE_OTHER: migr * (k - 1) / k,
        LoadSituation.MIGRATE_EMPTY: 0.0,
    }
    return LoadRates(loads, migr, by, running, busy, c, sched is SchedulerKind.PINNED)


_HISTORY: dict[LoadSituation, tuple[tuple[str, int], ...]] = {
    # (who, pCPU) loads before the one a situation describes, which is ("self", 0)
    LoadSituation.STAY_SELF: (("self", 0),),
    LoadSituation.STAY_OTHER: (("self", 0), ("sibling", 0)),
    LoadSituation.MIGRATE_SELF: (("self", 0), ("self", 1)),
    LoadSituation.MIGRATE_OTHER: (("self", 1), ("sibling", 0)),
    LoadSituation.MIGRATE_EMPTY: (("self", 1),),
}
"""The shortest history that puts a VM's vCPU in each situation on pCPU 0 (``sibling``: another
vCPU of the VM). MIGRATE_EMPTY is a first load of the VM on pCPU 0: Xen's INVALID slot does not
flush there, KVM's -1 does."""


def situation_flushes(
    policy: Policy, info: VcpuInfo, situation: LoadSituation
) -> tuple[HypOp, ...]:
    """The flushes ``policy`` executes at a load of ``info`` in ``situation``: the situation's
    history is played through the policy from a fresh VM, so a stateful policy sees the state
    its own rules build (the same store the engine and exact mode use)."""
    sibling = replace(info, vcpu=0 if info.vcpu != 0 else 1)
    store = PolicyState()
    last_pcpu: dict[int, int] = {}
    last_here: dict[int, int] = {}

    def load(who: VcpuInfo, pcpu: int) -> tuple[HypOp, ...]:
        ops = store.load(policy, who, pcpu, last_pcpu.get(who.vcpu), last_here.get(pcpu))
        last_here[pcpu] = who.vcpu
        last_pcpu[who.vcpu] = pcpu
        return ops

    for who, pcpu in _HISTORY[situation]:
        load(info if who == "self" else sibling, pcpu)
    return load(info, 0)
