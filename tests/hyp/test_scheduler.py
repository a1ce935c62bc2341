"""The analytic scheduler model (hyp/scheduler.py, issue 3 §4): load rates by situation,
computed by hand from the module's rules for a few machines, and the flushes each situation's
history makes a policy execute.

Rules (the module docstring): f = min(1, P/V), busy = min(1, V/P), c = max(1, V/P); with
overcommit a vCPU is loaded 1000/timeslice_ms times per running second; round-robin migrates a
share 1 - 1/P of loads; random-migrate loads max(1000/timeslice, m) times with m migrations
(m loads, all migrations, without overcommit); a migration finds itself in the slot with
probability 1/k; a stay finds a sibling in between with probability
1 - (1 - (k-1)/(V-1))^(c-1) (pinned: 1 if k > P, else 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from vtlbsim.arch.machine import Hcr
from vtlbsim.arch.ops import HYP_OPS, Arch, HypOp
from vtlbsim.hyp.policy import Policy, VcpuInfo, VcpuLoad
from vtlbsim.hyp.registry import resolve
from vtlbsim.hyp.scheduler import LoadSituation, load_rates_for, situation_flushes

S = LoadSituation


def rates(kind: str, p: int, v: int, k: int, m: float = 5.0, ts: float = 10.0) -> object:
    return load_rates_for(kind, p, v, k, m, ts)


def by(r: object) -> list[float]:
    d = r.by_situation  # type: ignore[attr-defined]
    return [d[S.STAY_SELF], d[S.STAY_OTHER], d[S.MIGRATE_SELF], d[S.MIGRATE_OTHER],
            d[S.MIGRATE_EMPTY]]  # fmt: skip


def test_pinned_with_overcommit() -> None:
    """P=4, V=8 (c=2), k=2, 10 ms slices: 100 loads/s, none a migration; k=2 <= P, so vCPUs of
    the VM sit on distinct pCPUs and no sibling runs between two loads: all STAY_SELF."""
    r = rates("pinned", 4, 8, 2)
    assert r.loads_per_s == pytest.approx(100.0)
    assert r.migrations_per_s == 0.0
    assert by(r) == pytest.approx([100.0, 0.0, 0.0, 0.0, 0.0])
    assert (r.running_share, r.busy, r.overcommit, r.pinned) == (0.5, 1.0, 2.0, True)


def test_pinned_vm_larger_than_the_machine_takes_turns() -> None:
    """P=2, V=4, k=4 > P: siblings share each pCPU, so every stay has a sibling in between;
    20 ms slices: 50 loads/s."""
    r = rates("pinned", 2, 4, 4, ts=20.0)
    assert by(r) == pytest.approx([0.0, 50.0, 0.0, 0.0, 0.0])


def test_pinned_vm_as_large_as_the_machine_does_not_take_turns() -> None:
    """P=2, V=4 (two 2-vCPU VMs), k=2 = P: the VM's two vCPUs sit on the two pCPUs, so a
    reload never finds its sibling in between: all 100 loads/s are STAY_SELF."""
    r = rates("pinned", 2, 4, 2)
    assert by(r) == pytest.approx([100.0, 0.0, 0.0, 0.0, 0.0])


def test_round_robin_with_overcommit() -> None:
    """P=4, V=8, k=2: 100 loads/s, 3/4 of them migrations (75), 25 stays. A stay finds a
    sibling in between with 1 - (1 - 1/7)^1 = 1/7; a migration finds itself with 1/2."""
    r = rates("round-robin", 4, 8, 2)
    assert r.loads_per_s == pytest.approx(100.0)
    assert r.migrations_per_s == pytest.approx(75.0)
    assert by(r) == pytest.approx([25.0 * 6 / 7, 25.0 / 7, 37.5, 37.5, 0.0])
    assert not r.pinned


def test_round_robin_fractional_overcommit() -> None:
    """P=4, V=6 (c=1.5), k=3, 5 ms slices: 200 loads/s, 150 migrations, 50 stays; the sibling
    probability is 1 - (1 - 2/5)^0.5 = 1 - sqrt(0.6) = 0.225403; f = 2/3, busy = 1."""
    r = rates("round-robin", 4, 6, 3, ts=5.0)
    q = 1.0 - 0.6**0.5
    assert q == pytest.approx(0.225403, abs=1e-6)
    assert by(r) == pytest.approx([50.0 * (1 - q), 50.0 * q, 50.0, 100.0, 0.0])
    assert r.running_share == pytest.approx(2 / 3)
    assert (r.busy, r.overcommit) == (1.0, 1.5)


def test_random_migrate_with_overcommit() -> None:
    """P=4, V=8, k=2, m=5/s: loads max(100, 5) = 100, 5 of them migrations (2.5 to its own
    slot, 2.5 to a sibling's); 95 stays split 6/7 : 1/7."""
    r = rates("random-migrate", 4, 8, 2, m=5.0)
    assert (r.loads_per_s, r.migrations_per_s) == pytest.approx((100.0, 5.0))
    assert by(r) == pytest.approx([95.0 * 6 / 7, 95.0 / 7, 2.5, 2.5, 0.0])


def test_random_migrate_faster_than_the_timeslice() -> None:
    """m = 300/s > 100 slices/s: 300 loads, every one a migration; k=3: 100 to itself, 200 to
    a sibling."""
    r = rates("random-migrate", 4, 8, 3, m=300.0)
    assert (r.loads_per_s, r.migrations_per_s) == pytest.approx((300.0, 300.0))
    assert by(r) == pytest.approx([0.0, 0.0, 100.0, 200.0, 0.0])


def test_no_overcommit() -> None:
    """P=8, V=4 (c=1): no timeslice loads. Random-migrate: m loads, all migrations (k=4: 1/4
    self); round-robin and pinned: no loads at all; f = 1, busy = 1/2."""
    r = rates("random-migrate", 8, 4, 4, m=8.0)
    assert (r.loads_per_s, r.migrations_per_s) == pytest.approx((8.0, 8.0))
    assert by(r) == pytest.approx([0.0, 0.0, 2.0, 6.0, 0.0])
    assert (r.running_share, r.busy, r.overcommit) == (1.0, 0.5, 1.0)
    for kind in ("round-robin", "pinned"):
        r = rates(kind, 8, 4, 4)
        assert (r.loads_per_s, r.migrations_per_s) == (0.0, 0.0), kind
        assert by(r) == [0.0] * 5, kind


def test_exactly_full_machine_has_no_timeslice_loads() -> None:
    """V = P = 4: no overcommit (a vCPU per pCPU), so round-robin has no loads."""
    r = rates("round-robin", 4, 4, 2)
    assert r.loads_per_s == 0.0 and r.overcommit == 1.0


def test_one_vcpu_machine_and_no_vcpus() -> None:
    """P=1, V=2, k=1 (two 1-vCPU VMs on one pCPU): 100 loads, none a migration (1 - 1/1 = 0);
    a stay finds a sibling with 1 - (1 - 0/1)^1 = 0. total_vcpus = 0 counts as one vCPU."""
    r = rates("round-robin", 1, 2, 1)
    assert by(r) == pytest.approx([100.0, 0.0, 0.0, 0.0, 0.0])
    z = rates("random-migrate", 2, 0, 1, m=3.0)
    assert z.running_share == 1.0 and z.busy == 0.5
    assert z.loads_per_s == pytest.approx(3.0)


def test_random_migrate_on_one_pcpu_cannot_migrate() -> None:
    """P=1: a vCPU has nowhere to migrate to, whatever the asked migration rate. V=1: no
    loads at all; V=2 (two 1-vCPU VMs, timeslice 10 ms): the 100 timeslice reloads per second,
    every one a stay on the same pCPU."""
    alone = rates("random-migrate", 1, 1, 1, m=50.0)
    assert alone.loads_per_s == 0.0 and alone.migrations_per_s == 0.0  # type: ignore[attr-defined]
    shared = rates("random-migrate", 1, 2, 1, m=50.0)
    assert shared.migrations_per_s == 0.0  # type: ignore[attr-defined]
    assert by(shared) == pytest.approx([100.0, 0.0, 0.0, 0.0, 0.0])


def test_two_siblings_on_one_pcpu_always_meet() -> None:
    """P=1, V=2, k=2 (one 2-vCPU VM on one pCPU, c=2): the other vCPU ran in between every
    reload, 1 - (1 - 1/1)^1 = 1; no migrations (1 - 1/1 = 0): 100 STAY_OTHER per second."""
    r = rates("round-robin", 1, 2, 2)
    assert by(r) == pytest.approx([0.0, 100.0, 0.0, 0.0, 0.0])


def test_unknown_scheduler_is_refused() -> None:
    with pytest.raises(ValueError):
        rates("fifo", 4, 8, 2)


# ---- the flushes of each situation ---------------------------------------------------------


class FlushOnHistory(Policy):
    """Flushes the I-cache when the engine's history says it migrated, the TLB when another
    vCPU of the VM ran here last (reads ``VcpuLoad``'s history, as a stateless plug-in does)."""

    name = "history"
    summary = "test double"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return Hcr()

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        ops = []
        if load.migrated:
            ops.append(HYP_OPS["iallu"])
        if load.other_vcpu_ran_here:
            ops.append(HYP_OPS["vmalle1"])
        return tuple(ops)


@pytest.mark.parametrize("vcpu", [0, 1, 2])
def test_situations_give_the_engine_history(vcpu: int) -> None:
    """Each situation's history on pCPU 0 (the self vCPU, or a sibling, any vCPU index):
    STAY_SELF: neither; STAY_OTHER: a sibling in between; MIGRATE_SELF: moved from pCPU 1 to
    where it ran last; MIGRATE_OTHER: moved, a sibling here; MIGRATE_EMPTY: moved, empty slot."""
    me = VcpuInfo("vm", vcpu, 1, Arch.AARCH64, 3)
    i, t = HYP_OPS["iallu"], HYP_OPS["vmalle1"]
    expect = {
        S.STAY_SELF: (),
        S.STAY_OTHER: (t,),
        S.MIGRATE_SELF: (i,),
        S.MIGRATE_OTHER: (i, t),
        S.MIGRATE_EMPTY: (i,),
    }
    for sit, ops in expect.items():
        assert situation_flushes(FlushOnHistory(), me, sit) == ops, sit


class RecordsVcpus(FlushOnHistory):
    def __init__(self) -> None:
        self.seen: set[int] = set()

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        self.seen.add(load.vcpu.vcpu)
        return ()


@pytest.mark.parametrize("vcpu", [0, 1])
def test_the_sibling_of_a_two_vcpu_vm_is_its_other_vcpu(vcpu: int) -> None:
    """A 2-vCPU VM has vCPUs 0 and 1 only: the histories load exactly those."""
    pol = RecordsVcpus()
    for sit in S:
        situation_flushes(pol, VcpuInfo("vm", vcpu, 1, Arch.AARCH64, 2), sit)
    assert pol.seen == {0, 1}


def test_situations_of_flush_on_migrate_and_flush_on_arrival() -> None:
    """flush-on-migrate flushes on every migration and never on a stay; flush-on-arrival also
    on a stay with a sibling in between (its slot holds the sibling)."""
    me = VcpuInfo("vm", 0, 1, Arch.AARCH64, 2)
    flush = (HYP_OPS["vmalls12e1"], HYP_OPS["iallu"])
    fom = {s: situation_flushes(resolve("flush-on-migrate"), me, s) for s in S}
    assert fom == {
        S.STAY_SELF: (),
        S.STAY_OTHER: (),
        S.MIGRATE_SELF: flush,
        S.MIGRATE_OTHER: flush,
        S.MIGRATE_EMPTY: flush,
    }
    foa = {s: situation_flushes(resolve("flush-on-arrival"), me, s) for s in S}
    assert foa == {
        S.STAY_SELF: (),
        S.STAY_OTHER: flush,
        S.MIGRATE_SELF: flush,
        S.MIGRATE_OTHER: flush,
        S.MIGRATE_EMPTY: flush,
    }


def test_the_sibling_is_another_vcpu_whatever_the_index() -> None:
    """Hafnium's empty slot reads 0: for vCPU 1 the sibling (vCPU 0) in the slot and the empty
    slot look alike, so STAY_OTHER flushes (the slot held 0, not 1) as does MIGRATE_EMPTY; for
    vCPU 0 the sibling is vCPU 1, STAY_OTHER flushes and MIGRATE_EMPTY does not."""
    h = resolve("hafnium")
    v0 = VcpuInfo("vm", 0, 1, Arch.AARCH64, 2)
    v1 = replace(v0, vcpu=1)
    t = (HYP_OPS["vmalle1"],)
    assert situation_flushes(h, v0, S.STAY_OTHER) == t
    assert situation_flushes(h, v1, S.STAY_OTHER) == t
    assert situation_flushes(h, v0, S.MIGRATE_EMPTY) == ()
    assert situation_flushes(h, v1, S.MIGRATE_EMPTY) == t
