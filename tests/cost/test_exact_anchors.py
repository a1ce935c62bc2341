"""Exact mode's anchors by hand (issue 15, items 3 and 6): tiny exact runs whose figures are worked
out on paper from the figures of ``data/anchor-round.toml`` and the rules of ``cost/exact.py``;
every expected value is a literal derived in the docstring, never a call into ``vtlbsim.cost``.

The figures used (anchor-round, 1 GHz, one socket, system scope)::

    tlbi_local 100   dvm_op 500   dvm_sync 1000   dvm_receive 10   walk_2stage 200
    ic_iallu 300     icache_line_refill 20        bp_retrain 5000  trap_roundtrip 1000
    vcpu_switch 10000; TLBs and I-cache fully associative, far larger than what a run touches

Every run: timeslice 10 ms, so steps of dt = 1 ms; 20 timeslices (200 steps) of uncharged
warm-up, then ``duration_s / dt`` charged steps (0.1 s: steps 0 to 99). A timeslice ends with
the scheduler's tick of every tenth step, so the loads of the charged part happen at steps 9,
19, ..., 99 (10 timeslice ends), and their flushes act on the references of the *next* step:
those of steps -1, 9, ..., 89 are the ones whose refills are counted. (Runs that load nothing
at a timeslice end take a 1 ms timeslice, ``SHORT_SLICE_MS``: 20 warm-up steps, the same
figures.)

The guest is ``data/anchor-quiet-*.toml`` (no maintenance unless a test gives it some), its
stream replaced by a two-reference trace: one instruction fetch (page 16, one I-cache line) and
one load (page 32), read cyclically: after a flush a vCPU walks exactly twice (one page each
side) and misses the I-cache once; nothing is ever evicted for capacity.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vtlbsim.cost import dvm
from vtlbsim.cost.exact import evaluate_exact
from vtlbsim.cost.result import CostResult
from vtlbsim.cost.workload import DomainGroup, SchedulerSpec, Workload

DATA = Path(__file__).parent / "data"
PLATFORM = str(DATA / "anchor-round.toml")
ALLE1IS_AT_LOAD = f"{DATA / 'anchor_policies.py'}:AllE1IsAtLoad"
IALLUIS_AT_LOAD = f"{DATA / 'anchor_policies.py'}:IcIalluIsAtLoad"
VMALLS12E1IS_AT_LOAD = f"{DATA / 'anchor_policies.py'}:VmallS12E1IsAtLoad"
TRACE = "I  00010000,4\n L 00020000,8\n"
"""Fetch of line 0x400 (page 16), load of line 0x800 (page 32); both non-global."""
REFS = 1e5
"""References per running vCPU-second: 100 a step, enough to touch both pages in every step."""
SHORT_SLICE_MS = 1.0
"""For runs that load nothing at a timeslice end (one vCPU per pCPU): a 1 ms timeslice changes
no figure and shortens the uncharged warm-up to 20 steps (steps of 1 ms still, the same 100
charged ones)."""


def kind_file(tmp_path: Path, arch: str, ops: dict[str, str], rates: dict[str, float]) -> str:
    """The quiet guest of ``arch`` with discipline entries ``ops`` (one instruction each) and
    ``rates``, written to ``tmp_path``."""
    lines = (DATA / f"anchor-quiet-{arch}.toml").read_text().splitlines()
    out = []
    for line in lines:
        key = line.split(" = ", 1)[0]
        if key in ops:
            line = f'{key} = {{ value = ["{ops[key]}"], source = "test" }}'
        elif key in rates:
            line = f'{key} = {{ value = {rates[key]}, assumption = "test" }}'
        out.append(line)
    f = tmp_path / f"guest-{arch}.toml"
    f.write_text("\n".join(out) + "\n")
    return str(f)


@pytest.fixture(autouse=True)
def _fresh_dvm_solutions() -> None:
    """Each run prices its steps with ``dvm.solve``, not with a solution an earlier test cached."""
    dvm._step_solution.cache_clear()


def platform_file(tmp_path: Path, plat: dict[str, object]) -> str:
    """anchor-round with the figures ``plat`` replaced, written to ``tmp_path``."""
    lines = Path(PLATFORM).read_text().splitlines()
    for i, line in enumerate(lines):
        key = line.split(" = ", 1)[0]
        if key in plat:
            value = plat[key]
            if isinstance(value, str | bool):  # TOML: "text", true / false
                value = f'"{value}"' if isinstance(value, str) else str(value).lower()
            lines[i] = f'{key} = {{ value = {value}, assumption = "test" }}'
    f = tmp_path / "platform.toml"
    f.write_text("\n".join(lines) + "\n")
    return str(f)


def exact(
    tmp_path: Path,
    policy: str,
    *,
    pcpus: int,
    vms: int,
    arch: str = "aarch64",
    ops: dict[str, str] | None = None,
    rates: dict[str, float] | None = None,
    duration_s: float = 0.1,
    backend: str = "numba",
    sched: str = "pinned",
    migrations: float = 0.0,
    plat: dict[str, object] | None = None,
    vcpus: int = 1,
    lackey: str = TRACE,
    sample: float | None = None,
    timeslice_ms: float = 10.0,
) -> CostResult:
    """``policy`` over ``vms`` VMs of ``vcpus`` vCPUs of the traced quiet guest on ``pcpus``
    (``sched``: the scheduler's kind; ``plat``: figures replacing anchor-round's; ``lackey``:
    the trace's text)."""
    kind = kind_file(tmp_path, arch, ops or {}, rates or {})
    trace = tmp_path / "two-refs.lackey"
    trace.write_text(lackey)
    w = Workload(
        platform=platform_file(tmp_path, plat) if plat else PLATFORM,
        duration_s=duration_s,
        scheduler=SchedulerSpec(
            kind=sched, migrations_per_vcpu_s=migrations, timeslice_ms=timeslice_ms
        ),  # type: ignore[arg-type]
        domains=[DomainGroup(kind=kind, count=vms, vcpus=vcpus)],
    )
    return evaluate_exact(
        w,
        policy,
        pcpus,
        1,
        sample,
        traces={kind: str(trace)},
        backend=backend,
        refs_per_vcpu_s=REFS,
    )


def only(res: CostResult, **expected: float) -> None:
    """Each named cause equals its figure and every other cause is 0."""
    for cause, cycles in res.cycles.items():
        want = expected.get(cause.replace("-", "_"), 0.0)
        assert cycles == pytest.approx(want, rel=1e-9, abs=1e-6), cause


@pytest.mark.parametrize("backend", ["numba", "reference"])
def test_flush_on_switch_with_two_vms_on_one_pcpu(tmp_path: Path, backend: str) -> None:
    """Two one-vCPU VMs pinned on one pCPU take turns: every timeslice end loads the other, 10
    charged loads in 0.1 s (baseline: 10 x vcpu_switch 10,000 = 100,000). Each load runs the
    local TLBI VMALLS12E1 (100) and IC IALLU (300): hyp-flush = 10 x 400 = 4,000. The incoming
    vCPU's TLB entries were removed (its own VMID), and its I-cache line by the IC IALLU at the
    previous load: 2 walks and 1 I-cache miss per load, all charged to the hypervisor's load:
    tlb-refill = 20 x 200 = 4,000, icache-refill = 10 x 20 = 200. Total 8,200 cycles of a
    1e8-cycle machine: 0.0082%; nothing reaches another core. An AArch64 guest keeps no
    predictor state (no bp-retrain). Both backends, the same figures."""
    res = exact(tmp_path, "flush-on-switch", pcpus=1, vms=2, backend=backend)
    only(res, hyp_flush=4_000.0, tlb_refill=4_000.0, icache_refill=200.0)
    assert res.events["vcpu-loads"] == 10.0
    assert res.events["hyp-flushes"] == 20.0
    assert res.events.get("migrations", 0.0) == 0.0
    assert res.events["walks:hyp-load"] == 20.0
    assert res.events["icache-misses:hyp-load"] == 10.0
    assert res.events["walks:capacity"] == 0.0
    assert res.total_cycles == pytest.approx(8_200.0)
    assert res.machine_cycles == pytest.approx(1e8)
    assert res.overhead_pct == pytest.approx(0.0082)
    assert res.cost_to_others_pct == 0.0
    assert res.baseline_cycles == pytest.approx(100_000.0)
    assert res.mode == "exact" and res.pcpus == 1 and res.duration_s == 0.1
    assert res.events["references"] == pytest.approx(1e4)  # 1e5 per running vCPU-second
    # half of them fetches (the trace alternates); every reference hits the L1 TLB but the 20
    # walks, every fetch the I-cache but the 10 misses; the L2 TLB was flushed with the L1
    assert res.events["l1-tlb-hits"] == pytest.approx(1e4 - 20)
    assert res.events["l2-tlb-hits"] == 0.0
    assert res.events["icache-hits"] == pytest.approx(5e3 - 10)
    assert res.events["running-vcpu-s"] == pytest.approx(0.1)  # one pCPU: one vCPU at a time
    assert "exact:refs_per_vcpu_s" in res.assumptions


def test_flush_on_switch_retrains_an_aarch32_guests_predictor(tmp_path: Path) -> None:
    """As above with an AArch32 guest on a core whose predictors are visible: each load's
    IC IALLU also flushes the predictor, which the guest retrains (bp_retrain 5,000) on its own
    core only (the flush is local): bp-retrain = 10 x 5,000 = 50,000."""
    res = exact(tmp_path, "flush-on-switch", pcpus=1, vms=2, arch="aarch32")
    only(res, hyp_flush=4_000.0, tlb_refill=4_000.0, icache_refill=200.0, bp_retrain=50_000.0)


def test_a_broadcast_flush_at_each_load_reaches_the_other_busy_core(tmp_path: Path) -> None:
    """Four one-vCPU VMs pinned on two pCPUs (VMs 1, 3 on pCPU 0; 2, 4 on pCPU 1); at every
    load the policy issues TLBI ALLE1IS. Each timeslice end loads one vCPU on each pCPU, pCPU 0
    first: 20 charged loads. No guest broadcasts, so an IS flush costs its issuer the idle
    latency op + sync = 1,500: hyp-flush = 20 x 1,500 = 30,000. The other pCPU runs a vCPU in
    that step, so each flush sends 2 DVM messages to 1 busy core: dvm-others = 20 x 2 x 10 =
    400 (not 2 receivers: a core never receives its own broadcast).

    Refills: pCPU 0's own flush reaches pCPU 0 before pCPU 1's, so every entry removed on
    pCPU 0 is charged to the load (tlb-refill), while on pCPU 1 pCPU 0's broadcast removes them
    first (collateral-tlb). Each incoming vCPU walks its 2 pages after each of the 10 counted
    timeslice ends: tlb-refill = 10 x 2 x 200 = 4,000 and collateral-tlb = 4,000; the I-cache
    is untouched. Cost to others: 400 + 4,000 of 2 x 1e8 cycles = 0.0022%; total 38,400 =
    0.0192%."""
    res = exact(tmp_path, ALLE1IS_AT_LOAD, pcpus=2, vms=4)
    only(res, hyp_flush=30_000.0, dvm_others=400.0, tlb_refill=4_000.0, collateral_tlb=4_000.0)
    assert res.events["vcpu-loads"] == 20.0
    assert res.events["hyp-flushes-is"] == 20.0
    assert res.events["walks:hyp-load"] == 20.0
    assert res.events["walks:hyp-broadcast"] == 20.0
    assert res.cost_to_others_pct == pytest.approx(0.0022)
    assert res.overhead_pct == pytest.approx(0.0192)


@pytest.mark.parametrize(
    "plat",
    [{}, {"dvm_scope": "filtered"}, {"dvm_scope": "socket", "sockets": 2}],
    ids=["system", "filtered", "socket"],
)
def test_a_vmid_broadcast_at_each_load_reaches_the_vms_other_core(
    tmp_path: Path, plat: dict[str, object]
) -> None:
    """Two VMs of two vCPUs pinned on two pCPUs (vCPU k of each on pCPU k); at every load the
    policy issues TLBI VMALLS12E1IS for the loaded VMID. Each timeslice end switches both
    pCPUs to the other VM, pCPU 0 first: 20 charged loads, each an idle broadcast (1,500):
    hyp-flush = 30,000. The other pCPU runs a vCPU in that step, and it reaches it whatever
    the scope: system; a VMID snoop filter (the VM's other vCPU ran there); or socket scope
    with 2 sockets of 2 cores (pCPUs 0 and 1 share socket 0): dvm-others = 20 x 2 x 10 = 400
    in all three (pCPU 0's flush too, although pCPU 1's vCPU has left for the timeslice end).
    The incoming VM's entries on both pCPUs go; as with ALLE1IS, pCPU 0's are charged to its
    load and pCPU 1's to pCPU 0's broadcast: tlb-refill = collateral-tlb = 10 x 2 x 200."""
    res = exact(tmp_path, VMALLS12E1IS_AT_LOAD, pcpus=2, vms=2, vcpus=2, plat=plat)
    only(res, hyp_flush=30_000.0, dvm_others=400.0, tlb_refill=4_000.0, collateral_tlb=4_000.0)
    assert res.events["vcpu-loads"] == 20.0


def test_a_vmid_broadcast_spares_the_other_vms_entries(tmp_path: Path) -> None:
    """Three one-vCPU VMs pinned on two pCPUs: VMs 1 and 3 take turns on pCPU 0, VM 2 runs on
    pCPU 1 without a reload. TLBI VMALLS12E1IS at each of pCPU 0's 10 charged loads: hyp-flush
    = 10 x 1,500 = 15,000; 2 messages to busy pCPU 1 each: dvm-others = 200; the incoming VM's
    2 pages on pCPU 0: tlb-refill = 10 x 2 x 200 = 4,000. The broadcast names the loaded VMID,
    so VM 2's entries on pCPU 1 stay: no collateral."""
    res = exact(tmp_path, VMALLS12E1IS_AT_LOAD, pcpus=2, vms=3)
    only(res, hyp_flush=15_000.0, dvm_others=200.0, tlb_refill=4_000.0)
    assert res.events["vcpu-loads"] == 10.0


def test_a_lone_issuers_fb_broadcast_never_queues(tmp_path: Path) -> None:
    """FB, one VM of one vCPU on one pCPU; the guest issues a local TLBI VALE1 at 2,000 per
    second (about 200 in 0.1 s). FB makes each one VALE1IS: a lone issuer never queues at the
    Sync server (R = D), so it costs op + sync = 1,500 instead of a local TLBI's 100:
    broadcast-issue = 1,400 per upgraded instruction. No other core: no DVM stall, no
    collateral; the page it names is the guest's own (baseline)."""
    res = exact(
        tmp_path,
        "fb",
        pcpus=1,
        vms=1,
        ops={"pte_user": "vale1"},
        rates={"pte_changes_per_s": 2000.0},
        timeslice_ms=SHORT_SLICE_MS,
    )
    n = res.events["fb-upgraded"]
    assert 100 < n < 300  # Poisson, mean 200
    assert res.events["broadcasts-added"] == n
    assert res.events["guest-local-maintenance"] == n
    only(res, broadcast_issue=1_400.0 * n)


def test_trapped_tlbis_cost_a_round_trip_and_a_broadcast(tmp_path: Path) -> None:
    """trap-ttlb, the same lone vCPU: each local VALE1 traps (trap_roundtrip 1,000) and is
    executed as VALE1IS, 1,500 for a lone issuer against the 100 of the instruction the guest
    wrote: trap = 1,000 and broadcast-issue = 1,400 per trapped instruction."""
    res = exact(
        tmp_path,
        "trap-ttlb",
        pcpus=1,
        vms=1,
        ops={"pte_user": "vale1"},
        rates={"pte_changes_per_s": 2000.0},
        timeslice_ms=SHORT_SLICE_MS,
    )
    n = res.events["traps"]
    assert 100 < n < 300
    only(res, trap=1_000.0 * n, broadcast_issue=1_400.0 * n)


@pytest.mark.parametrize(
    ("plat", "stall", "low", "high"),
    [
        ({}, 20.0, 1_400.0, 2_400.0),
        ({"dvm_scope": "filtered"}, 0.0, 1_400.0, 2_400.0),
        ({"dvm_scope": "socket", "cores": 2, "sockets": 2}, 0.0, 1_400.0, 1_400.0),
        ({"cores": 2, "sockets": 2}, 20.0, 2_900.0, 4_900.0),
    ],
    ids=["system", "filtered", "socket", "system-two-sockets"],
)
def test_two_issuers_stall_each_other_and_queue(
    tmp_path: Path, plat: dict[str, object], stall: float, low: float, high: float
) -> None:
    """FB, two one-vCPU VMs pinned on two pCPUs, each guest a local VALE1 at 20,000 per second
    (20 per 1 ms step, both pCPUs issuing in every step).

    - system scope: each upgraded broadcast sends 2 DVM messages to the 1 other busy core:
      dvm-others = 20 per broadcast; its issuer waits op + R with D = 1,000 < R <= 2 D (the
      other's Sync may be ahead): broadcast-issue strictly between 1,400 and 2,400 each.
    - filtered (a VMID snoop filter): the other core never ran this VM: no stall; one Sync
      server still, so the same queueing bounds.
    - socket scope on 2 sockets of 1 core: the broadcast reaches no other core (no stall) and
      each socket has its own Sync server, so each issuer is alone at its server, R = D:
      exactly 1,400 each.
    - system scope on the same 2 sockets: one Sync server, as under system scope, but every
      broadcast spans both sockets, so op and Sync take twice as long (socket factor 1), 1,000
      and D = 2,000: 2,900 < broadcast-issue <= 4,900 each; the stall is not stretched (20).

    The VMs differ, so a VALE1IS removes nothing on the other core: no collateral."""
    res = exact(
        tmp_path,
        "fb",
        pcpus=2,
        vms=2,
        ops={"pte_user": "vale1"},
        rates={"pte_changes_per_s": 20_000.0},
        timeslice_ms=SHORT_SLICE_MS,
        plat=plat,
    )
    n = res.events["broadcasts-added"]
    assert 3_000 < n < 5_000  # Poisson, mean 2 x 2,000
    assert res.cycles["dvm-others"] == pytest.approx(stall * n)
    assert res.cost_to_others_pct == pytest.approx(100.0 * stall * n / 2e8)
    issue = res.cycles["broadcast-issue"]
    if low == high:
        assert issue == pytest.approx(low * n)
    else:
        assert low * n < issue < high * n
    for cause in ("collateral-tlb", "tlb-refill", "hyp-flush", "icache-refill", "trap"):
        assert res.cycles[cause] == 0.0, cause


def test_an_icache_broadcast_at_each_load_retrains_aarch32_predictors(tmp_path: Path) -> None:
    """Four one-vCPU AArch32 VMs pinned on two pCPUs, IC IALLUIS at every load (20 charged):
    the issuer waits the idle broadcast (1,500) plus what invalidating its whole I-cache costs
    beyond a local TLBI (300 - 100): hyp-flush = 20 x 1,700 = 34,000; 2 DVM messages to the
    other busy core: dvm-others = 20 x 20 = 400. On cores whose predictors are visible it also
    flushes the predictor: the incoming vCPU and the one running on the other core each
    retrain, bp-retrain = 20 x 2 x 5,000 = 200,000 (half of it to the other core). Every
    I-cache line of both cores goes: each incoming vCPU misses its line once after each of the
    10 counted timeslice ends, on pCPU 0 charged to its load, on pCPU 1 to pCPU 0's broadcast
    (it arrives first): icache-refill = 20 x 20 = 400 (200 of them to others). TLBs untouched.
    Cost to others 400 + 100,000 + 200 = 100,600 of 2e8 cycles = 0.0503%; total 234,800 =
    0.1174%."""
    res = exact(tmp_path, IALLUIS_AT_LOAD, pcpus=2, vms=4, arch="aarch32")
    only(res, hyp_flush=34_000.0, dvm_others=400.0, bp_retrain=200_000.0, icache_refill=400.0)
    assert res.events["icache-misses:hyp-load"] == 10.0
    assert res.events["icache-misses:hyp-broadcast"] == 10.0
    assert res.cost_to_others_pct == pytest.approx(0.0503)
    assert res.overhead_pct == pytest.approx(0.1174)


def test_round_robin_loads_every_pcpu_at_every_timeslice_end(tmp_path: Path) -> None:
    """flush-on-switch, four one-vCPU VMs round-robin on two pCPUs: at a timeslice end both
    running vCPUs go to the back of the FIFO behind the two waiting ones, so each pCPU loads a
    vCPU that was not running: 2 loads per timeslice end, 20 charged (baseline 200,000) and
    hyp-flush = 20 x 400 = 8,000. Which pCPU a vCPU lands on is random, but every load is
    followed by 2 walks and 1 I-cache miss: its entries on that pCPU are either removed by this
    load's flush (charged to it) or were never there (a cold miss, the baseline), and its I-cache
    line there was removed by some load's IC IALLU or never filled. So 20 x 2 walks and 20
    I-cache misses in all, those charged to loads costing 200 and 20 each."""
    res = exact(tmp_path, "flush-on-switch", pcpus=2, vms=4, sched="round-robin")
    assert res.events["vcpu-loads"] == 20.0
    assert res.baseline_cycles == pytest.approx(200_000.0)
    walks = res.events["walks:hyp-load"]
    misses = res.events["icache-misses:hyp-load"]
    assert walks > 0 and walks + res.events["walks:capacity"] == 40.0
    assert misses + res.events["icache-misses:capacity"] == 20.0
    assert 0 < res.events["migrations"] < 20
    only(res, hyp_flush=8_000.0, tlb_refill=200.0 * walks, icache_refill=20.0 * misses)


@pytest.mark.parametrize(
    ("vms", "rate", "low", "high"),
    [(1, 200.0, 5, 40), (2, 200.0, 10, 80), (4, 50.0, 10, 20), (4, 300.0, 40, 120)],
    ids=["to-an-idle-pcpu", "swaps", "steals", "steals-and-swaps"],
)
def test_random_migrate_flushes_at_every_load_it_makes(
    tmp_path: Path, vms: int, rate: float, low: int, high: int
) -> None:
    """flush-on-switch (400 a load) under random-migrate on two pCPUs for 0.1 s; the number of
    moves is random, what each costs is not: hyp-flush = 400 per load, tlb-refill 200 per walk
    charged to a load and icache-refill 20 per such miss, nothing else.

    - one vCPU, rate 200/s: it moves to the idle pCPU ~20 times, each load a migration;
    - two vCPUs on two pCPUs: ~20 swaps, each two loads and two migrations (even counts);
    - four vCPUs (overcommit), 50/s: 2 loads per timeslice end at most (10 counted), some
      steals (a vCPU may go on running: no load), migrations at most the loads;
    - four vCPUs, 300/s, above the timeslice rate: every timeslice end steals (2 loads, 20
      counted), plus swaps within the slice at (300 - 100) / 2 per running vCPU-second, two
      running: ~20 swaps, 40 loads; about 60 in all."""
    res = exact(
        tmp_path, "flush-on-switch", pcpus=2, vms=vms, sched="random-migrate", migrations=rate
    )
    loads, moves = res.events["vcpu-loads"], res.events.get("migrations", 0.0)
    assert low <= loads <= high
    if vms <= 2:
        assert moves == loads
    if vms == 2:
        assert loads % 2 == 0
    if vms == 4:
        assert 0 < moves <= loads
    walks, misses = res.events["walks:hyp-load"], res.events["icache-misses:hyp-load"]
    assert 0 < walks <= 2 * loads and 0 < misses <= loads
    only(res, hyp_flush=400.0 * loads, tlb_refill=200.0 * walks, icache_refill=20.0 * misses)


def test_a_broadcast_over_two_sockets_takes_twice_as_long(tmp_path: Path) -> None:
    """The ALLE1IS anchor (four VMs on two pCPUs, a broadcast at each of 20 loads) on two
    sockets of one core under system scope: every broadcast spans both sockets, so its operation
    and Sync take 1 + dvm_socket_factor (1) = 2 times as long, 2 x (500 + 1,000) = 3,000 for an
    idle machine: hyp-flush = 20 x 3,000 = 60,000. The receiver's stall is not stretched
    (dvm-others = 20 x 2 x 10 = 400), and the refills are the anchor's (4,000 each)."""
    res = exact(tmp_path, ALLE1IS_AT_LOAD, pcpus=2, vms=4, plat={"sockets": 2, "cores": 2})
    only(res, hyp_flush=60_000.0, dvm_others=400.0, tlb_refill=4_000.0, collateral_tlb=4_000.0)
