"""Cost anchors by hand (issue 15, item 3): for each cause of the analytic model, a tiny
configuration whose cycles are worked out on paper from the rules of docs/cost.md ("The
analytic model", "The DVM model") and the figures of ``data/anchor-round.toml``; the model's
figure must equal it.

Every expected value below is a literal derived in the test's docstring, never a call into
``vtlbsim.cost``. The figures used (anchor-round, 1 GHz, one socket, system scope):

    tlbi_local 100   dvm_op 500   dvm_sync 1000   dvm_receive 10   walk_2stage 200
    ic_iallu 300     icache_line_refill 20        bp_retrain 5000  trap_roundtrip 1000
    L2 TLB 128 entries, I-cache 8 KiB / 64 B = 128 lines, both fully associative (more than
    64 ways, so the retention after r other runs of ws_avg entries is exp(-r * ws_avg / cap)).

The guest (``data/anchor-quiet-*.toml``) issues nothing until a test gives it instructions and
a rate; its TLB working set is 64 pages and its I-cache working set 4 KiB = 64 lines (half of
each structure), its shared fraction 0.25. Every run lasts 1 s.

Two DVM facts the arithmetic uses (``cost/dvm.py``, Bard–Schweitzer with one class of ``N``
issuers, think time ``Z``, Sync service ``D``): the residence at the Sync server solves
``R^2 + (Z - N D) R - D Z = 0``; for ``N = 1`` its root is ``R = D`` whatever ``Z`` (a lone
issuer never queues), so a broadcast then costs ``op + sync = 1500`` cycles.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest

from vtlbsim.cost.analytic import evaluate_analytic
from vtlbsim.cost.platform import load_platform
from vtlbsim.cost.result import CostResult
from vtlbsim.cost.workload import DomainGroup, SchedulerSpec, Workload
from vtlbsim.guest.rates import load_rates

DATA = Path(__file__).parent / "data"
PLATFORM = str(DATA / "anchor-round.toml")
KINDS = {arch: str(DATA / f"anchor-quiet-{arch}.toml") for arch in ("aarch64", "aarch32")}
E_HALF = math.exp(-0.5)
"""Retention of a 64-entry working set after one other run of 64 entries in 128 (fully
associative): exp(-1 x 64 / 128)."""


def run(
    policy: str,
    *,
    pcpus: int,
    vms: int = 1,
    vcpus: int = 1,
    sched: str = "pinned",
    migrations: float = 0.0,
    arch: str = "aarch64",
    ops: dict[str, tuple[str, ...]] | None = None,
    rates: dict[str, float] | None = None,
    plat: dict[str, Any] | None = None,
) -> CostResult:
    """``policy`` on anchor-round for 1 s: ``vms`` VMs of ``vcpus`` vCPUs of the quiet guest,
    given the discipline entries ``ops`` at ``rates`` (per running vCPU-second)."""
    kind = KINDS[arch]
    base = load_rates(kind)
    guest = dataclasses.replace(
        base, discipline=dataclasses.replace(base.discipline, **(ops or {})), **(rates or {})
    )
    w = Workload(
        platform=PLATFORM,
        duration_s=1.0,
        scheduler=SchedulerSpec(kind=sched, migrations_per_vcpu_s=migrations, timeslice_ms=10.0),  # type: ignore[arg-type]
        domains=[DomainGroup(kind=kind, count=vms, vcpus=vcpus)],
    )
    platform = load_platform(PLATFORM).model_copy(update=plat or {})
    return evaluate_analytic(w, policy, pcpus, platform=platform, rates={kind: guest})


def only(res: CostResult, **expected: float) -> None:
    """Each named cause equals its figure (to float rounding) and every other cause is 0."""
    for cause, cycles in res.cycles.items():
        want = expected.get(cause.replace("-", "_"), 0.0)
        assert cycles == pytest.approx(want, rel=1e-9, abs=1e-6), cause


# ---- broadcast-issue: the DVM contention term, at two loads ---------------------------------


@pytest.mark.parametrize(("pcpus", "issue_each"), [(2, 2000.0), (4, 3500.0)])
def test_broadcast_issue_at_two_loads(pcpus: int, issue_each: float) -> None:
    """FB upgrades a guest's local TLBI VALE1 (400,000 per vCPU-second) to VALE1IS; ``pcpus``
    one-vCPU VMs pinned on ``pcpus`` cores (busy = 1, no loads); dvm_receive set to 0 so no
    core stalls. Each busy core issues 400,000 broadcasts/s = one per 2500 cycles, so
    Z = 2500 - op - sync + op = 1500, D = 1000:

    - N = 2: R^2 + (1500 - 2000) R - 1.5e6 = 0, R = (500 + sqrt(250000 + 6e6)) / 2 = 1500;
      a broadcast costs op + R = 2000; 800,000 of them, each replacing a local TLBI of 100:
      broadcast-issue = 800,000 x (2000 - 100) = 1.52e9.
    - N = 4: R^2 + (1500 - 4000) R - 1.5e6 = 0, R = (2500 + sqrt(6.25e6 + 6e6)) / 2 = 3000;
      a broadcast costs 3500; 1.6e6 of them: broadcast-issue = 1.6e6 x 3400 = 5.44e9.

    No sibling (one vCPU per VM): no collateral; no receiving stall: no dvm-others."""
    res = run(
        "fb",
        pcpus=pcpus,
        vms=pcpus,
        ops={"pte_user": ("vale1",)},
        rates={"pte_changes_per_s": 400_000.0},
        plat={"dvm_receive_cycles": 0.0},
    )
    n = 400_000.0 * pcpus
    assert res.events["dvm-broadcasts"] == n
    want = {2: 1.52e9, 4: 5.44e9}[pcpus]
    assert n * (issue_each - 100.0) == want  # the docstring's two lines agree
    only(res, broadcast_issue=want)


def test_the_guests_own_broadcasts_wait_longer_under_the_policys_load() -> None:
    """Half of a guest's 400,000 PTE changes per vCPU-second use TLBI VALE1IS (its own
    broadcast), half the local VALE1 (``pte_local_fraction`` 0.5); FB upgrades the local ones.
    Two one-vCPU VMs pinned on 2 cores (N = 2), dvm_receive 0.

    - Under FB every busy core broadcasts 400,000/s: R = 1500 (as above), 2000 a broadcast.
    - On bare metal only the guest's own 200,000/s: one per 5000 cycles, Z = 5000 - 1000
      = 4000: R^2 + (4000 - 2000) R - 4e6 = 0, R = (-2000 + sqrt(2e7)) / 2 = 1000 (sqrt 5 - 1)
      = 1236.07; a broadcast costs 500 + R = 1736.07.
    - broadcast-issue = 400,000 upgraded x (2000 - 100) + 400,000 own x (2000 - 1736.07)
      = 7.6e8 + 4e5 x (2500 - 1000 sqrt 5) = 1.76e9 - 4e8 sqrt 5 (= 8.6557e8): the policy
      pays for the longer queue its broadcasts make the guest's own ones wait in."""
    res = run(
        "fb",
        pcpus=2,
        vms=2,
        ops={"pte_user": ("vale1is",), "pte_user_local": ("vale1",)},
        rates={"pte_changes_per_s": 400_000.0, "pte_local_fraction": 0.5},
        plat={"dvm_receive_cycles": 0.0},
    )
    assert res.events["dvm-broadcasts"] == 800_000.0
    only(res, broadcast_issue=1.76e9 - 4e8 * math.sqrt(5.0))


# ---- dvm-others ---------------------------------------------------------------------------


def test_dvm_others_every_busy_core_stalls_per_message() -> None:
    """FB, a local VALE1 at 1000 per vCPU-second, four one-vCPU VMs pinned on 4 cores: 4000
    broadcasts, each 2 DVM messages (operation + Sync) reaching the 3 other busy cores, 10
    cycles per message: dvm-others = 4000 x 2 x 3 x 10 = 240,000."""
    res = run("fb", pcpus=4, vms=4, ops={"pte_user": ("vale1",)}, rates={"pte_changes_per_s": 1e3})
    assert res.cycles["dvm-others"] == pytest.approx(240_000.0)
    assert res.cycles["collateral-tlb"] == 0.0  # no siblings


# ---- collateral-tlb: by VA, whole ASID, whole VM -------------------------------------------


@pytest.mark.parametrize(
    ("instruction", "collateral"),
    [("vale1", 600_000.0), ("aside1", 0.0), ("vmalle1", 153_600_000.0)],
)
def test_collateral_tlb_of_a_guest_broadcast(instruction: str, collateral: float) -> None:
    """FB, one VM of 4 vCPUs pinned on 4 cores (running share 1, so 3 running siblings), the
    guest's local ``instruction`` at 1000 per vCPU-second: 4 x 1000 = 4000 broadcasts.

    - TLBI VALE1IS (one page): each sibling loses the page if it shares it (shared fraction
      0.25): 4000 x 3 x 0.25 x 200 = 600,000 (the by-VA term).
    - TLBI ASIDE1IS: siblings seldom run that process: 0 (docs/cost.md).
    - TLBI VMALLE1IS: each sibling loses its whole working set, 64 entries:
      4000 x 3 x 64 x 200 = 153,600,000.

    The local forms cost no collateral on bare metal, so nothing is subtracted."""
    res = run(
        "fb",
        pcpus=4,
        vcpus=4,
        ops={"pte_user": (instruction,)},
        rates={"pte_changes_per_s": 1e3},
    )
    assert res.events["dvm-broadcasts"] == 4000.0
    assert res.cycles["collateral-tlb"] == pytest.approx(collateral, abs=1e-6)


# ---- IC IALLUIS is not priced like IC IALLU ------------------------------------------------


def test_ic_ialluis_costs_a_broadcast_and_refills_every_other_core() -> None:
    """FB upgrades a guest's local IC IALLU (code changes, 400,000 per vCPU-second) to IC
    IALLUIS; four one-vCPU VMs pinned on 4 cores, dvm_receive 0. Per busy core one broadcast
    per 2500 cycles with N = 4 issuers: R = 3000 (as in test_broadcast_issue_at_two_loads),
    a broadcast costs op + R = 3500.

    - The issuer: IC IALLUIS = the broadcast + its local work beyond a TLBI's
      (3500 + 300 - 100 = 3700), where the guest's IC IALLU cost 300: +3400 each;
      1.6e6 of them: broadcast-issue = 5.44e9. (Priced like the local IC IALLU: 0.)
    - The 3 other busy cores refill their 64-line I-cache working set, 20 cycles a line:
      icache-refill = 1.6e6 x 3 x 64 x 20 = 6.144e9.

    An AArch64 guest keeps no predictor state: no bp-retrain."""
    res = run(
        "fb",
        pcpus=4,
        vms=4,
        ops={"code_change": ("iallu",)},
        rates={"code_changes_per_s": 400_000.0},
        plat={"dvm_receive_cycles": 0.0},
    )
    only(res, broadcast_issue=5.44e9, icache_refill=6.144e9)


def test_a_local_ic_iallu_under_no_fb_costs_nothing_extra() -> None:
    """The same guest without FB (policy none): its IC IALLU stays local, what it costs on
    bare metal too: every cause 0."""
    res = run(
        "none",
        pcpus=4,
        vms=4,
        ops={"code_change": ("iallu",)},
        rates={"code_changes_per_s": 400_000.0},
    )
    only(res)


# ---- bp-retrain ----------------------------------------------------------------------------


def test_bp_retrain_of_a_broadcast_bpiall() -> None:
    """An AArch32 guest's BPIALL (code changes, 1000 per vCPU-second) under FB on a platform
    whose FB upgrades BPIALL (bpiall_fb_upgrade): BPIALLIS, four one-vCPU VMs pinned on 4
    cores: 4000 broadcasts, each making the 3 other busy cores retrain (5000 cycles):
    bp-retrain = 4000 x 3 x 5000 = 6e7. Without the upgrade BPIALL stays local: 0."""
    kw: dict[str, Any] = {
        "pcpus": 4,
        "vms": 4,
        "arch": "aarch32",
        "ops": {"code_change": ("bpiall",)},
        "rates": {"code_changes_per_s": 1e3},
    }
    assert run("fb", **kw).cycles["bp-retrain"] == pytest.approx(6e7)
    off = run("fb", plat={"bpiall_fb_upgrade": False}, **kw)
    only(off)


# ---- hyp-flush, tlb-refill, icache-refill, bp-retrain at loads -----------------------------


@pytest.mark.parametrize("arch", ["aarch64", "aarch32"])
def test_flush_on_switch_at_every_load(arch: str) -> None:
    """flush-on-switch (local VMALLS12E1 + IC IALLU on every load); two one-vCPU VMs pinned on
    1 core: overcommit c = 2, each vCPU runs half the time, a load every 10 ms timeslice:
    100 loads/running-s x 2 vCPUs x 0.5 x 1 s = 100 loads, all stay-self with c - 1 = 1
    other run in between.

    - hyp-flush = 100 x (tlbi_local 100 + ic_iallu 300) = 40,000.
    - tlb-refill: the 64 entries the vCPU would have found, exp(-64/128) of them still
      there: 100 x 64 x e^-0.5 x 200 = 1.28e6 e^-0.5 (776,349).
    - icache-refill: 100 x 64 x e^-0.5 x 20 = 128,000 e^-0.5.
    - bp-retrain (AArch32 guest, visible predictors: IC IALLU flushes them): the share
      exp(-1) of the predictor still useful after one other run: 100 x e^-1 x 5000
      = 500,000 e^-1. An AArch64 guest: 0."""
    res = run("flush-on-switch", pcpus=1, vms=2, arch=arch)
    assert res.events["vcpu-loads"] == 100.0
    only(
        res,
        hyp_flush=40_000.0,
        tlb_refill=1.28e6 * E_HALF,
        icache_refill=128_000.0 * E_HALF,
        bp_retrain=500_000.0 * math.exp(-1.0) if arch == "aarch32" else 0.0,
    )


# ---- trap ----------------------------------------------------------------------------------


def test_trap_round_trip_per_trapped_tlbi() -> None:
    """trap-ttlb, a local TLBI VALE1 at 1000 per vCPU-second, four one-vCPU VMs pinned on 4
    cores: 4000 traps of 1000 cycles: trap = 4e6 (the emulation's VALE1IS is charged to the
    broadcast causes, not to trap)."""
    res = run(
        "trap-ttlb", pcpus=4, vms=4, ops={"pte_user": ("vale1",)}, rates={"pte_changes_per_s": 1e3}
    )
    assert res.events["traps"] == 4000.0
    assert res.cycles["trap"] == pytest.approx(4e6)
    assert res.cycles["dvm-others"] == pytest.approx(240_000.0)  # as under FB: 4000 x 2 x 3 x 10


# ---- the shipping profiles' distinctive behaviour ------------------------------------------


def test_gunyah_sets_fb_only_for_vcpus_that_may_migrate() -> None:
    """Gunyah, one one-vCPU VM on 2 cores (busy = 0.5: one issuer, so a broadcast costs
    op + sync = 1500; 0.5 other busy core receives), a local TLBI VALE1 at 1000/s:

    - pinned: FB off, the local TLBI stays local: every cause 0;
    - random-migrate (at rate 0: it may migrate, so FB is on): 1000 VALE1IS,
      broadcast-issue = 1000 x (1500 - 100) = 1.4e6, dvm-others = 1000 x 2 x 0.5 x 10
      = 10,000; no sibling, no collateral."""
    kw: dict[str, Any] = {"ops": {"pte_user": ("vale1",)}, "rates": {"pte_changes_per_s": 1e3}}
    only(run("gunyah", pcpus=2, sched="pinned", **kw))
    only(
        run("gunyah", pcpus=2, sched="random-migrate", **kw), broadcast_issue=1.4e6, dvm_others=1e4
    )


def test_kvm_flushes_tlb_and_icache_when_a_sibling_ran_here_and_xen_only_the_tlb() -> None:
    """One VM of 2 vCPUs pinned on 1 core: c = 2, 100 loads (as in the flush-on-switch
    anchor), each finding the sibling was the VM's last vCPU on the pCPU (stay-other).

    - kvm (__kvm_flush_cpu_context: VMALLE1 + IC IALLU, 01dc9262ff57): hyp-flush =
      100 x (100 + 300) = 40,000; tlb-refill = 100 x 64 x e^-0.5 x 200 = 1.28e6 e^-0.5;
      icache-refill = 100 x 64 x e^-0.5 x 20 = 128,000 e^-0.5.
    - xen (p2m_restore_state: VMALLS12E1 only): hyp-flush = 100 x 100 = 10,000, the same
      tlb-refill, no icache-refill.
    - both set FB, but this guest issues no maintenance to upgrade."""
    kvm = run("kvm", pcpus=1, vcpus=2)
    assert kvm.events["loads:stay-other"] == 100.0
    only(kvm, hyp_flush=40_000.0, tlb_refill=1.28e6 * E_HALF, icache_refill=128_000.0 * E_HALF)
    only(run("xen", pcpus=1, vcpus=2), hyp_flush=10_000.0, tlb_refill=1.28e6 * E_HALF)


def test_kvm_and_xen_do_not_flush_when_the_vcpu_finds_itself() -> None:
    """Two one-vCPU VMs pinned on 1 core: 100 loads, each finding the VM's slot holds the
    vCPU itself (stay-self): neither KVM nor Xen flushes; every cause 0."""
    only(run("kvm", pcpus=1, vms=2))
    only(run("xen", pcpus=1, vms=2))


def test_xvisor_alle1is_on_a_pcpu_change() -> None:
    """Xvisor, one one-vCPU VM on 2 cores migrating 100 times a second: busy = 0.5, one
    issuer (a broadcast costs op + sync = 1500), 0.5 other busy core; every load is a
    migration onto the pCPU where it ran last-but-one (migrate-self): TLBI ALLE1IS each.

    - hyp-flush = 100 x 1500 = 150,000 (ALLE1IS does no local work beyond a TLBI's);
    - dvm-others = 100 x 2 x 0.5 x 10 = 1000;
    - collateral-tlb (ALLE1IS removes every VMID's entries on every core): 100 x 0.5 x 64
      x 200 = 640,000;
    - tlb-refill: the share of its 64 entries still on the pCPU it returns to, P = 2, c = 1,
      x = 64/128: e^-x / (P (1 - (1 - 1/P) e^-x)) = e^-0.5 / (2 - e^-0.5);
      100 x 64 x 200 x that = 1.28e6 e^-0.5 / (2 - e^-0.5).
    No I-cache flush."""
    res = run("xvisor", pcpus=2, sched="random-migrate", migrations=100.0)
    assert res.events["loads:migrate-self"] == 100.0
    only(
        res,
        hyp_flush=150_000.0,
        dvm_others=1000.0,
        collateral_tlb=640_000.0,
        tlb_refill=1.28e6 * E_HALF / (2.0 - E_HALF),
    )
