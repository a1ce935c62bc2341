"""More cost anchors by hand (issue 15, items 3 and 6): what the first anchors
(``test_cost_anchors.py``) leave open and mutation testing found unpinned - a migration onto a
pCPU where a *sibling* ran last (``Machine.sibling_retention``), the I-cache lines a load loses
to another load's IC IALLU, a VMID snoop filter (``dvm_scope = "filtered"``), and the guest's
op stream (``cost/guest_ops.py``).

Same platform and guest as ``test_cost_anchors.py`` (anchor-round, 1 GHz; tlbi_local 100,
ic_iallu 300, walk_2stage 200, icache_line_refill 20, dvm_receive 10; L2 TLB 128 entries and
I-cache 128 lines, both fully associative; the quiet guest's working sets 64 entries and 64
lines, shared fraction 0.25; 1 s runs). Every expected value is derived in the docstring from
the rules of docs/cost.md and hyp/scheduler.py, never from a call into ``vtlbsim.cost``.

Two VMs of two vCPUs on 4 pCPUs under ``random-migrate`` at 100 migrations per vCPU-second
(``V = P = 4``: every vCPU runs all the time, ``c = 1``, busy = 1) give, per hyp/scheduler.py,
400 loads in 1 s, all migrations: a share ``1/k = 1/2`` migrate-self (this vCPU was the VM's
last one on the new pCPU) and ``1/2`` migrate-other (a sibling was), 200 each. With
``e = exp(-64/128) = exp(-0.5)``, the retention rules of ``cost/analytic_machine.py`` give:

- revisit (migrate-self): ``exp(-(2c - 1) x) / P / (1 - (1 - 1/P) exp(-c x))`` with
  ``x = 64/128``: ``R = e / (4 (1 - 0.75 e)) = e / (4 - 3e)``;
- sibling (migrate-other): the private 3/4 of the working set is ``R`` that has also been
  through the sibling's run, ``R e``; the shared 1/4 was refreshed by the VM's last vCPU
  there: ``p = k / V = 1/2``, ``p / (1 - (1 - p) e) = 1 / (2 - e)``, times ``e`` (the arriving
  vCPU's own fills evict some first): ``e / (2 - e)``; together
  ``S = 0.25 e / (2 - e) + 0.75 R e``.

The same figures hold for the I-cache (64 of 128 lines).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import pytest
from test_cost_anchors import KINDS, only, run

from vtlbsim.arch.machine import Hcr
from vtlbsim.arch.ops import HYP_OPS, HypOp
from vtlbsim.cost.guest_ops import guest_ops
from vtlbsim.guest.rates import load_rates
from vtlbsim.hyp.policy import HypAction, Policy, TrappedOp, VcpuInfo, VcpuLoad

E = math.exp(-0.5)
R = E / (4.0 - 3.0 * E)
"""Revisit retention, P = 4, c = 1, 64 of 128 entries."""
S = 0.25 * E / (2.0 - E) + 0.75 * R * E
"""Sibling retention, two VMs of two vCPUs (p = 1/2)."""
MIGRATING = {"pcpus": 4, "vms": 2, "vcpus": 2, "sched": "random-migrate", "migrations": 100.0}


def test_xen_flushes_at_a_migration_onto_a_siblings_pcpu() -> None:
    """Xen (p2m_restore_state: local TLBI VMALLS12E1 when the VM's slot on the pCPU holds
    another vCPU) flushes at the 200 migrate-other loads only:

    - hyp-flush = 200 x tlbi_local 100 = 20,000;
    - tlb-refill = the entries the vCPU would have found there: 200 x 64 x S x 200
      = 2.56e6 S.

    Xen sets FB but the guest issues nothing; the flush is local: no DVM cause."""
    res = run("xen", **MIGRATING)  # type: ignore[arg-type]
    assert res.events["loads:migrate-other"] == 200.0
    assert res.events["loads:migrate-self"] == 200.0
    only(res, hyp_flush=20_000.0, tlb_refill=2.56e6 * S)


def test_kvm_icache_flush_also_costs_the_loads_that_do_not_flush() -> None:
    """KVM (VMALLE1 + IC IALLU when last_vcpu_ran differs) flushes at the 200 migrate-other
    loads:

    - hyp-flush = 200 x (100 + 300) = 80,000;
    - tlb-refill = 200 x 64 x S x 200 = 2.56e6 S;
    - icache-refill at those loads: 200 x 64 x S x 20 = 256,000 S;
    - and at the 200 migrate-self loads, which flush nothing: half of all loads flush the
      whole (PIPT) I-cache locally (f = 1/2), and after a migration 2c - 1 = 1 load ran on
      the pCPU since this vCPU's last run there, so a share 1 - (1 - 1/2)^1 = 1/2 of the lines
      it would have found (64 R) are gone: 200 x 1/2 x 64 x R x 20 = 128,000 R.

    icache-refill = 256,000 S + 128,000 R."""
    res = run("kvm", **MIGRATING)  # type: ignore[arg-type]
    only(
        res,
        hyp_flush=80_000.0,
        tlb_refill=2.56e6 * S,
        icache_refill=256_000.0 * S + 128_000.0 * R,
    )


@pytest.mark.parametrize(("scope", "dvm_others"), [("filtered", 100_000.0), ("system", 120_000.0)])
def test_a_vmid_snoop_filter_spares_the_cores_a_pinned_vm_never_ran_on(
    scope: str, dvm_others: float
) -> None:
    """FB; one VM of 2 vCPUs pinned on 4 cores (V = 2, P = 4: running share 1, busy = 1/2,
    so 3 x 1/2 = 1.5 other busy cores on average); the guest's local TLBI VALE1 and IC IALLU
    at 1000 per vCPU-second each: 2000 VALE1IS and 2000 IC IALLUIS.

    - dvm-others, system scope: every broadcast reaches 1.5 busy cores, 2 messages of 10
      cycles: (2000 + 2000) x 2 x 1.5 x 10 = 120,000.
    - dvm-others, filtered: the filter delivers TLB maintenance of a pinned VM only to its
      siblings' cores, (2 - 1) x 1 = 1 of them: 2000 x 2 x 1 x 10 = 40,000; the I-cache
      broadcast still reaches every core: 2000 x 2 x 1.5 x 10 = 60,000; 100,000.
    - collateral-tlb (both scopes): the one running sibling loses the page if shared:
      2000 x 1 x 0.25 x 200 = 100,000.
    - icache-refill (both): the 1.5 other busy cores refill 64 lines each:
      2000 x 1.5 x 64 x 20 = 3.84e6."""
    res = run(
        "fb",
        pcpus=4,
        vcpus=2,
        ops={"pte_user": ("vale1",), "code_change": ("iallu",)},
        rates={"pte_changes_per_s": 1e3, "code_changes_per_s": 1e3},
        plat={"dvm_scope": scope},
    )
    assert res.events["dvm-broadcasts"] == 4000.0
    assert res.cycles["dvm-others"] == pytest.approx(dvm_others)
    assert res.cycles["collateral-tlb"] == pytest.approx(100_000.0)
    assert res.cycles["icache-refill"] == pytest.approx(3.84e6)
    # all three fall on other cores: their share of 4 cores x 1e9 cycles
    assert res.cost_to_others_pct == pytest.approx(100.0 * (dvm_others + 3.94e6) / 4e9)


def test_guest_ops_prices_each_key_at_its_own_rate() -> None:
    """The op stream of a discipline with every key, per running vCPU-second, in a VM of 2
    vCPUs: 1000 PTE changes, 20% by the local form and 30% relaxations, so 50% plain;
    exec maps 7, ASID flushes 11, rollovers 13 (broadcast: one vCPU does it for the VM, so
    13 / 2 per vCPU), code changes 17, context switches 19."""
    base = load_rates(KINDS["aarch64"])
    discipline = dataclasses.replace(
        base.discipline,
        pte_user=("vale1is",),
        pte_user_local=("vale1",),
        pte_relax=("vae1is", "dsb"),
        map_exec=("ivau",),
        asid_flush=("aside1is",),
        rollover=("vmalle1is",),
        rollover_broadcast=True,
        code_change=("iallu",),
        ttbr_switch=("aside1",),
    )
    rates = dataclasses.replace(
        base,
        discipline=discipline,
        pte_changes_per_s=1000.0,
        pte_local_fraction=0.2,
        pte_relax_fraction=0.3,
        exec_maps_per_s=7.0,
        asid_flushes_per_s=11.0,
        asid_rollovers_per_s=13.0,
        code_changes_per_s=17.0,
        context_switches_per_s=19.0,
    )
    assert list(guest_ops(rates, 2)) == [
        ("pte-changes", "vale1is", 500.0),
        ("pte-changes", "vale1", 200.0),
        ("pte-changes", "vae1is", 300.0),
        ("pte-changes", "dsb", 300.0),
        ("exec-maps", "ivau", 7.0),
        ("asid-flushes", "aside1is", 11.0),
        ("asid-rollovers", "vmalle1is", 6.5),
        ("code-changes", "iallu", 17.0),
        ("guest-context-switches", "aside1", 19.0),
    ]
    # a rollover that each vCPU does for itself (not broadcast), and no local / relax forms:
    # every PTE change uses pte_user
    plain = dataclasses.replace(
        rates,
        discipline=dataclasses.replace(
            discipline, rollover_broadcast=False, pte_user_local=None, pte_relax=None
        ),
    )
    ops = list(guest_ops(plain, 2))
    assert ops[0] == ("pte-changes", "vale1is", 1000.0)
    assert ("asid-rollovers", "vmalle1is", 13.0) in ops
    assert len(ops) == 6


class IsFlushOnMigrate(Policy):
    """Test policy: TLBI VMALLS12E1IS and IC IALLUIS on every migration, no FB."""

    name = "test-is-flushes-on-migrate"
    summary = "test: VMALLS12E1IS + IC IALLUIS on migration"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return Hcr()

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return (HYP_OPS["vmalls12e1is"], HYP_OPS["ialluis"]) if load.migrated else ()


@pytest.mark.parametrize("arch", ["aarch64", "aarch32"])
def test_hypervisor_broadcasts_at_migrations(arch: str) -> None:
    """IsFlushOnMigrate on the migrating configuration at 100,000 migrations per vCPU-second:
    400,000 migrations (200,000 migrate-self, 200,000 migrate-other), 800,000 broadcasts,
    200,000 per busy core per second, one per I = 5000 cycles; dvm_receive 0 (no stall).
    DVM price: Z = I - op - sync + op = 4000, N = 4, D = 1000:
    R^2 + (4000 - 4000) R - 4e6 = 0, R = 2000: a broadcast costs op + R = 2500.

    - hyp-flush: VMALLS12E1IS 2500, IC IALLUIS 2500 + (300 - 100) = 2700:
      400,000 x 5200 = 2.08e9 (priced idle, op + sync = 1500, if the hypervisor's own
      broadcasts did not count in the load);
    - tlb-refill: 200,000 x 64 x (R + S) x 200 = 2.56e9 (R + S);
    - collateral-tlb (the VMID's entries on the one running sibling's core):
      400,000 x 1 x 64 x 200 = 5.12e9;
    - icache-refill: this core 200,000 x 64 x (R + S) x 20 = 2.56e8 (R + S); the 3 other
      busy cores, 64 lines each: 400,000 x 3 x 64 x 20 = 1.536e9;
    - bp-retrain, AArch32 guest only (IC IALLU also flushes its visible predictor): the share
      exp(-1) of the predictor still useful after one other run (busy = 1):
      400,000 x e^-1 x 5000 = 2e9 e^-1.

    Cost to others: collateral-tlb and the other cores' icache-refill, 6.656e9 of the
    machine's 4 x 1e9 cycles: 166.4%."""
    res = run(
        f"{__name__}:IsFlushOnMigrate",
        arch=arch,
        plat={"dvm_receive_cycles": 0.0},
        **{**MIGRATING, "migrations": 100_000.0},  # type: ignore[arg-type]
    )
    assert res.events["hyp-flushes-is"] == 800_000.0
    assert res.cost_to_others_pct == pytest.approx(166.4)
    only(
        res,
        hyp_flush=2.08e9,
        tlb_refill=2.56e9 * (R + S),
        collateral_tlb=5.12e9,
        icache_refill=2.56e8 * (R + S) + 1.536e9,
        bp_retrain=2e9 / math.e if arch == "aarch32" else 0.0,
    )
    # with dvm_receive 10: each broadcast's 2 messages stall the 3 other busy cores
    stalled = run(f"{__name__}:IsFlushOnMigrate", **{**MIGRATING, "migrations": 100_000.0})  # type: ignore[arg-type]
    assert stalled.cycles["dvm-others"] == pytest.approx(800_000.0 * 2 * 3 * 10)
    # on other cores: 4.8e7 + 5.12e9 + 1.536e9 = 6.704e9 of 4e9 cycles
    assert stalled.cost_to_others_pct == pytest.approx(167.6)


class IsFlushOnLoad(Policy):
    """Test policy: TLBI VMALLS12E1IS at every load, no FB."""

    name = "test-is-flush-on-load"
    summary = "test: VMALLS12E1IS on every load"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return Hcr()

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return (HYP_OPS["vmalls12e1is"],)


@pytest.mark.parametrize(("scope", "dvm_others"), [("filtered", 2000.0), ("system", 4000.0)])
def test_a_vmid_snoop_filter_also_filters_the_hypervisors_vmid_flush(
    scope: str, dvm_others: float
) -> None:
    """IsFlushOnLoad; two VMs of 2 vCPUs pinned on 2 cores (V = 4, P = 2: c = 2, each vCPU
    runs half the time, busy = 1, a load every 10 ms timeslice): 100 x 4 x 0.5 = 200 loads,
    200 VMALLS12E1IS. Each stalls, 2 messages of 10 cycles, the other busy core (system:
    1 x 1 = 1), or under a VMID filter only the cores of the pinned VM's running siblings
    ((2 - 1) x 0.5 = 0.5): 200 x 2 x 1 x 10 = 4000, or 200 x 2 x 0.5 x 10 = 2000."""
    res = run(f"{__name__}:IsFlushOnLoad", pcpus=2, vms=2, vcpus=2, plat={"dvm_scope": scope})
    assert res.events["hyp-flushes-is"] == 200.0
    assert res.cycles["dvm-others"] == pytest.approx(dvm_others)
    # the sibling runs half the time: collateral-tlb = 200 x (2 - 1) x 0.5 x 64 x 200
    assert res.cycles["collateral-tlb"] == pytest.approx(1.28e6)


def test_lru_sets_keep_what_fewer_than_ways_newer_entries_left() -> None:
    """flush-on-switch on 2-way TLB and I-cache (128 entries, 64 sets each; 128 lines, 64
    sets), two one-vCPU VMs pinned on 1 core: c = 2, 100 stay-self loads, each after one
    other run of 64 entries (as in test_cost_anchors.py's flush-on-switch anchor).

    Per set the vCPU holds k ~ Poisson(a) of its entries, a = 64 / 64 = 1, and receives
    m ~ Poisson(b) newer ones, b = 1 x 64 / 64 = 1; LRU keeps min(k, max(0, 2 - m)):

    - m = 0 (probability 1/e): E[min(k, 2)] = P(k >= 1) + P(k >= 2) = (1 - 1/e) + (1 - 2/e);
    - m = 1 (probability 1/e): E[min(k, 1)] = 1 - 1/e;
    - m >= 2: nothing.

    kept = (1/e)(3 - 4/e), out of E[k] = 1: keep = 3/e - 4/e^2 (0.5623).

    - hyp-flush = 100 x (100 + 300) = 40,000;
    - tlb-refill = 100 x 64 x keep x 200 = 1.28e6 keep;
    - icache-refill = 100 x 64 x keep x 20 = 128,000 keep.

    A guest with empty working sets finds nothing to refill (and nothing divides by them)."""
    two_way = {"l2_tlb_ways": 2, "icache_ways": 2}
    keep = 3.0 / math.e - 4.0 / math.e**2
    res = run("flush-on-switch", pcpus=1, vms=2, plat=two_way)
    only(res, hyp_flush=40_000.0, tlb_refill=1.28e6 * keep, icache_refill=128_000.0 * keep)
    empty = {"tlb_working_set_pages": 0.0, "icache_working_set_kib": 0.0}
    only(run("flush-on-switch", pcpus=1, vms=2, plat=two_way, rates=empty), hyp_flush=40_000.0)


def test_invisible_predictors_make_bpiall_a_nop_and_nothing_else() -> None:
    """bp_visible = false (BPIALL "can execute as a NOP"), FB, four one-vCPU VMs pinned on 4
    cores, an AArch32 guest issuing BPIALL then TLBIMVA at each code change, 1000 per
    vCPU-second:

    - the 4000 BPIALLs cost nothing, and are not even counted as guest maintenance;
    - the 4000 TLBIMVAs (FB: TLBIMVAIS) are priced as on any platform: 4000 broadcasts, each
      2 messages to the 3 other busy cores: dvm-others = 4000 x 2 x 3 x 10 = 240,000."""
    res = run(
        "fb",
        pcpus=4,
        vms=4,
        arch="aarch32",
        ops={"code_change": ("bpiall", "tlbimva")},
        rates={"code_changes_per_s": 1e3},
        plat={"bp_visible": False},
    )
    assert res.events["guest-maintenance"] == 4000.0
    assert res.events["dvm-broadcasts"] == 4000.0
    assert res.cycles["dvm-others"] == pytest.approx(240_000.0)
    assert res.cycles["bp-retrain"] == 0.0


@pytest.mark.parametrize(
    ("scope", "issue", "dvm_others"), [("system", 2.9e6, 15_000.0), ("socket", 1.4e6, 5_000.0)]
)
def test_a_broadcast_across_two_sockets(scope: str, issue: float, dvm_others: float) -> None:
    """Two sockets of 2 cores (dvm_socket_factor 1), FB, one one-vCPU VM pinned on 4 cores
    (busy = 1/4: one issuer, which never queues: a broadcast costs op + sync), its local
    TLBI VALE1 at 1000 per second: 1000 VALE1IS.

    - system scope: the 4 cores span both sockets, so op and Sync take 1 + 1 x (2 - 1) = 2
      times as long: 1000 + 2000 = 3000; broadcast-issue = 1000 x (3000 - 100) = 2.9e6; the
      3 other cores, busy 1/4, stall: 1000 x 2 x 3 x 0.25 x 10 = 15,000.
    - socket scope: a broadcast stays on the issuer's socket: 500 + 1000 = 1500,
      broadcast-issue = 1000 x 1400 = 1.4e6; only the socket's other core stalls:
      1000 x 2 x 1 x 0.25 x 10 = 5000."""
    res = run(
        "fb",
        pcpus=4,
        ops={"pte_user": ("vale1",)},
        rates={"pte_changes_per_s": 1e3},
        plat={"sockets": 2, "dvm_socket_factor": 1.0, "dvm_scope": scope},
    )
    only(res, broadcast_issue=issue, dvm_others=dvm_others)


def test_guest_broadcasts_reach_siblings_by_their_running_share() -> None:
    """FB, two VMs of 2 vCPUs pinned on 2 cores (each vCPU runs half the time: 4 x 0.5 = 2
    running vCPU-seconds), a local TLBI VALE1 at 1000 per running vCPU-second: 2000
    VALE1IS; the one sibling runs half the time and shares the page with probability 0.25:
    collateral-tlb = 2000 x (2 - 1) x 0.5 x 0.25 x 200 = 50,000."""
    res = run(
        "fb",
        pcpus=2,
        vms=2,
        vcpus=2,
        ops={"pte_user": ("vale1",)},
        rates={"pte_changes_per_s": 1e3},
    )
    assert res.events["dvm-broadcasts"] == 2000.0
    assert res.cycles["collateral-tlb"] == pytest.approx(50_000.0)


@pytest.mark.parametrize(
    ("instruction", "causes"),
    [
        # BPIALLIS: 1000 x 0.75 other busy cores x 5000 = 3.75e6
        ("bpiall", {"bp_retrain": 3.75e6}),
        # ICIALLUIS: the other cores' I-cache, 1000 x 0.75 x 64 x 20 = 9.6e5, and their
        # predictors, 3.75e6
        ("iciallu", {"bp_retrain": 3.75e6, "icache_refill": 9.6e5}),
    ],
)
def test_an_aarch32_guests_predictor_broadcast_retrains_the_other_cores(
    instruction: str, causes: dict[str, float]
) -> None:
    """FB upgrades an AArch32 guest's local ``instruction`` (1000 per second) to its IS form;
    one one-vCPU VM on 4 cores (busy = 1/4: one issuer, a broadcast costs op + sync = 1500,
    0.75 other busy core): broadcast-issue = 1000 x 1400 (BPIALLIS 1500 for a BPIALL of
    100; ICIALLUIS 1500 + (300 - 100) = 1700 for an ICIALLU of 300), dvm-others = 1000 x 2 x 0.75 x 10 = 15,000; the retraining and refills fall
    on other cores, so they count in the cost to others."""
    res = run(
        "fb",
        pcpus=4,
        arch="aarch32",
        ops={"code_change": (instruction,)},
        rates={"code_changes_per_s": 1e3},
    )
    only(res, broadcast_issue=1.4e6, dvm_others=15_000.0, **causes)
    others = 15_000.0 + sum(causes.values())
    assert res.cost_to_others_pct == pytest.approx(100.0 * others / 4e9)


def test_trapping_the_guests_own_broadcast_costs_only_the_trap() -> None:
    """trap-ttlb, the guest's own TLBI VALE1IS at 1000 per second, four one-vCPU VMs pinned on
    4 cores: each of the 4000 traps (1000 cycles) emulates VALE1IS as is, so the broadcast,
    its wait and its stalls are what bare metal pays too: trap = 4e6 and nothing else. The
    bare-metal broadcasts are counted apart (native-dvm-broadcasts) to price that wait."""
    res = run(
        "trap-ttlb",
        pcpus=4,
        vms=4,
        ops={"pte_user": ("vale1is",)},
        rates={"pte_changes_per_s": 1e3},
    )
    assert res.events["dvm-broadcasts"] == 4000.0
    assert res.events["native-dvm-broadcasts"] == 4000.0
    only(res, trap=4e6)


class BpiallOnLoad(Policy):
    """Test policy: the hypervisor's BPIALL at every load, no FB."""

    name = "test-bpiall-on-load"
    summary = "test: BPIALL on every load"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return Hcr()

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return (HYP_OPS["bpiall"],)


@pytest.mark.parametrize("arch", ["aarch64", "aarch32"])
def test_a_hypervisor_bpiall_retrains_an_aarch32_guest(arch: str) -> None:
    """BpiallOnLoad, two one-vCPU VMs pinned on 1 core: 100 stay-self loads, each a local
    BPIALL (100 cycles): hyp-flush = 10,000; an AArch32 guest retrains the share exp(-1) of
    its predictor that one other run left useful: 100 x e^-1 x 5000 = 500,000 e^-1."""
    res = run(f"{__name__}:BpiallOnLoad", pcpus=1, vms=2, arch=arch)
    only(res, hyp_flush=10_000.0, bp_retrain=500_000.0 / math.e if arch == "aarch32" else 0.0)


def test_an_instruction_at_rate_zero_leaves_the_others_priced() -> None:
    """FB; every PTE change is local (pte_local_fraction 1), so the plain pte_user entry runs
    at rate 0 and the pte_user_local VALE1 at 1000 per second; four one-vCPU VMs pinned on
    4 cores: 4000 VALE1IS, dvm-others = 4000 x 2 x 3 x 10 = 240,000."""
    res = run(
        "fb",
        pcpus=4,
        vms=4,
        ops={"pte_user": ("vale1",), "pte_user_local": ("vale1",)},
        rates={"pte_changes_per_s": 1e3, "pte_local_fraction": 1.0},
    )
    assert res.cycles["dvm-others"] == pytest.approx(240_000.0)


class TrapToVmidFlush(Policy):
    """Test policy: traps TLB maintenance (TTLB) and emulates each by the hypervisor's local
    TLBI VMALLS12E1."""

    name = "test-trap-to-vmid-flush"
    summary = "test: TTLB, VMALLS12E1 per trapped TLBI"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return Hcr(ttlb=True)

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return ()

    def on_trap(self, trap: TrappedOp) -> Sequence[HypAction]:
        return (HYP_OPS["vmalls12e1"],)


def test_a_trap_handler_that_flushes_the_vmid() -> None:
    """TrapToVmidFlush, a local TLBI VALE1 at 1000 per second, four one-vCPU VMs pinned on 4
    cores: 4000 traps, trap = 4000 x 1000 = 4e6; each runs a local VMALLS12E1 from the
    hypervisor, hyp-flush = 4000 x 100 = 4e5, whose refills the model does not charge at a
    trap (no entry is counted useful there); minus the VALE1 the guest would have executed
    on bare metal, 4000 x 100 = 4e5 of broadcast-issue."""
    res = run(
        f"{__name__}:TrapToVmidFlush",
        pcpus=4,
        vms=4,
        ops={"pte_user": ("vale1",)},
        rates={"pte_changes_per_s": 1e3},
    )
    assert res.events["traps"] == 4000.0
    only(res, trap=4e6, hyp_flush=4e5, broadcast_issue=-4e5)
