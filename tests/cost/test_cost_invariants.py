"""Invariants of the analytic cost model (issue 3 §Tests): no snapshots, only rules."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vtlbsim.cost import evaluate
from vtlbsim.cost.platform import platform_names
from vtlbsim.cost.workload import DomainGroup, SchedulerSpec, Workload
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.guest.rates import load_rates
from vtlbsim.hyp.registry import all_policies

POLICIES = sorted(all_policies())
SCHEDS = ["pinned", "round-robin", "random-migrate"]


def make(
    kind: str | list[str],
    *,
    count: int = 8,
    vcpus: int = 1,
    sched: str = "random-migrate",
    rate: float = 10.0,
    platform: str = "thunderx-cn8890-2s",
    duration: float = 10.0,
    timeslice: float = 10.0,
) -> Workload:
    kinds = [kind] if isinstance(kind, str) else kind
    return Workload(
        platform=platform,
        duration_s=duration,
        scheduler=SchedulerSpec(kind=sched, migrations_per_vcpu_s=rate, timeslice_ms=timeslice),  # type: ignore[arg-type]
        domains=[DomainGroup(kind=k, count=count, vcpus=vcpus) for k in kinds],
    )


kinds = st.sampled_from(KIND_NAMES)
policies = st.sampled_from(POLICIES)
counts = st.integers(1, 60)
vcpus_ = st.integers(1, 8)
pcpus_ = st.integers(1, 128)


@settings(max_examples=60, deadline=None)
@given(kind=kinds, count=counts, vcpus=vcpus_, pcpus=pcpus_)
def test_no_migrations_flush_on_migrate_costs_nothing(
    kind: str, count: int, vcpus: int, pcpus: int
) -> None:
    # Pinned vCPUs never migrate, overcommitted or not.
    r = evaluate(make(kind, count=count, vcpus=vcpus, sched="pinned"), "flush-on-migrate", pcpus)
    assert r.events.get("migrations", 0.0) == 0.0
    assert r.total_cycles == 0.0
    # random-migrate at rate 0 without overcommit: no loads at all.
    r0 = evaluate(make(kind, count=1, vcpus=1, rate=0.0), "flush-on-migrate", 4)
    assert r0.total_cycles == 0.0


IS_ONLY_KIND = """
name = "is-only"
arch = "aarch64"
[discipline]
pte_user = { value = ["vale1is"], source = "test" }
asid_flush = { value = ["aside1is"], source = "test" }
rollover = { value = ["vmalle1is"], source = "test" }
rollover_broadcast = { value = true, source = "test" }
code_change = { value = ["ivau"], source = "test" }
map_exec = { value = [], source = "test" }
ttbr_switch = { value = [], source = "test" }
smp = { value = true, source = "test" }
[rates]
pte_changes_per_s = { value = 3000, assumption = "test" }
pte_local_fraction = { value = 0, assumption = "test" }
asid_flushes_per_s = { value = 10, assumption = "test" }
context_switches_per_s = { value = 1000, assumption = "test" }
asid_rollovers_per_s = { value = 1, assumption = "test" }
code_changes_per_s = { value = 100, assumption = "test" }
tlb_working_set_pages = { value = 500, assumption = "test" }
icache_working_set_kib = { value = 32, assumption = "test" }
shared_fraction = { value = 0.3, assumption = "test" }
"""


@pytest.fixture
def is_only_kind(tmp_path: Path) -> str:
    p = tmp_path / "is-only.toml"
    p.write_text(IS_ONLY_KIND)
    return str(p)


@pytest.mark.parametrize("sched", SCHEDS)
@pytest.mark.parametrize("pcpus", [2, 16, 96])
def test_guest_without_local_maintenance_fb_costs_nothing(
    is_only_kind: str, sched: str, pcpus: int
) -> None:
    r = evaluate(make(is_only_kind, count=20, vcpus=4, sched=sched), "fb", pcpus)
    assert r.events["guest-maintenance"] > 0  # the guest does maintain ...
    assert r.events.get("fb-upgraded", 0.0) == 0.0  # ... but nothing is upgraded
    assert r.total_cycles == 0.0


@settings(max_examples=60, deadline=None)
@given(
    kind=kinds,
    count=counts,
    vcpus=vcpus_,
    sched=st.sampled_from(SCHEDS),
    platform=st.sampled_from(platform_names()),
    p1=pcpus_,
    extra=st.integers(1, 64),
)
def test_fb_cost_never_decreases_with_cores(
    kind: str, count: int, vcpus: int, sched: str, platform: str, p1: int, extra: int
) -> None:
    w = make(kind, count=count, vcpus=vcpus, sched=sched, platform=platform)
    small = evaluate(w, "fb", p1)
    big = evaluate(w, "fb", p1 + extra)
    assert big.total_cycles >= small.total_cycles * (1 - 1e-12)


# a guest mix on a machine, as the property tests below draw it
mixes = st.fixed_dictionaries(
    {
        "kind": st.lists(kinds, min_size=1, max_size=3),
        "count": counts,
        "vcpus": vcpus_,
        "sched": st.sampled_from(SCHEDS),
    }
)


@settings(max_examples=60, deadline=None)
@given(mix=mixes, policy=policies, pcpus=pcpus_, duration=st.floats(0.5, 1000.0))
def test_doubling_duration_doubles_every_count_and_cause(
    mix: dict[str, Any], policy: str, pcpus: int, duration: float
) -> None:
    one = evaluate(make(**mix, duration=duration), policy, pcpus)
    two = evaluate(make(**mix, duration=2 * duration), policy, pcpus)
    assert one.events.keys() == two.events.keys()
    for name, n in one.events.items():
        assert math.isclose(two.events[name], 2 * n, rel_tol=1e-9, abs_tol=1e-9), name
    for cause, c in one.cycles.items():
        assert math.isclose(two.cycles[cause], 2 * c, rel_tol=1e-9, abs_tol=1e-6), cause
    assert math.isclose(two.overhead_pct, one.overhead_pct, rel_tol=1e-9, abs_tol=1e-12)


@settings(max_examples=80, deadline=None)
@given(mix=mixes, policy=policies, pcpus=pcpus_, rate=st.floats(0.0, 500.0))
def test_causes_add_up_and_nothing_is_negative(
    mix: dict[str, Any], policy: str, pcpus: int, rate: float
) -> None:
    r = evaluate(make(**mix, rate=rate), policy, pcpus)
    assert math.isclose(sum(r.cycles.values()), r.total_cycles, rel_tol=1e-12, abs_tol=1e-6)
    assert all(c >= -1e-6 for c in r.cycles.values()), r.cycles
    assert math.isclose(
        r.overhead_pct, 100 * r.total_cycles / r.machine_cycles, rel_tol=1e-12, abs_tol=1e-15
    )
    assert 0.0 <= r.cost_to_others_pct <= r.overhead_pct + 1e-12
    assert r.pcpus == pcpus
    # a pure function: the same arguments give the same result
    assert evaluate(make(**mix, rate=rate), policy, pcpus) == r


def test_broadcast_cost_grows_when_it_crosses_a_socket() -> None:
    from vtlbsim.cost.dvm import broadcast_load
    from vtlbsim.cost.platform import load_platform

    p = load_platform("thunderx-cn8890-2s")
    assert p.is_sockets(48) == 1 and p.is_sockets(49) == 2
    one_socket = broadcast_load(p, 0.0, 0.0, p.is_sockets(48), 0.0).issue
    two_sockets = broadcast_load(p, 0.0, 0.0, p.is_sockets(49), 0.0).issue
    # idle machine: the operation and the Sync, each (1 + dvm_socket_factor) times as long
    assert one_socket == p.dvm_op_cycles + p.dvm_sync_cycles
    assert math.isclose(two_sockets, one_socket * (1 + p.dvm_socket_factor))
    assert one_socket >= p.tlbi_local_cycles


def test_fb_upgrades_what_arch_ops_says_only() -> None:
    # linux-arm32-up's local TLBIMVA, TLBIASID, TLBIALL and ICIALLU are upgraded; its BPIALL
    # (after new code and at a rollover) is not on the default platform reading (the BPIALL
    # pseudocode, docs/guests.md); linux-arm64-smp only has its lazy rollover VMALLE1 as a
    # local instruction.
    up = evaluate(make("linux-arm32-up"), "fb", 16)
    smp = evaluate(make("linux-arm64-smp"), "fb", 16)
    r = load_rates("linux-arm32-up")
    bpiall = (r.code_changes_per_s + r.asid_rollovers_per_s) * up.events["running-vcpu-s"]
    assert up.events["fb-upgraded"] == pytest.approx(up.events["guest-local-maintenance"] - bpiall)
    assert smp.events["fb-upgraded"] == smp.events["guest-local-maintenance"]
    assert smp.events["fb-upgraded"] < smp.events["guest-maintenance"]


def test_migrations_make_flush_on_migrate_cost_and_more_cost_more() -> None:
    slow = evaluate(make("linux-arm64-smp", rate=1.0), "flush-on-migrate", 32)
    fast = evaluate(make("linux-arm64-smp", rate=50.0), "flush-on-migrate", 32)
    assert 0.0 < slow.total_cycles < fast.total_cycles
    assert fast.cycles["hyp-flush"] > 0 and fast.cost_to_others_pct == 0.0


def test_user_policy_is_costed_through_the_interface() -> None:
    # A policy outside the registry, by dotted path: IS flush of the VMID on every migration.
    r = evaluate(make("linux-arm64-smp", vcpus=4), f"{__name__}:IsFlushOnMigrate", 32)
    assert r.policy == "test-is-flush-on-migrate"
    assert r.events["hyp-flushes-is"] == pytest.approx(r.events["migrations"])
    assert r.cycles["dvm-others"] > 0 and r.cycles["collateral-tlb"] > 0


from collections.abc import Sequence  # noqa: E402

from vtlbsim.arch.machine import Hcr  # noqa: E402
from vtlbsim.arch.ops import HYP_OPS, HypOp  # noqa: E402
from vtlbsim.hyp.policy import Policy, VcpuInfo, VcpuLoad  # noqa: E402


class IsFlushOnMigrate(Policy):
    name = "test-is-flush-on-migrate"
    summary = "test: VMALLS12E1IS on migration"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return Hcr()

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return (HYP_OPS["vmalls12e1is"],) if load.migrated else ()
