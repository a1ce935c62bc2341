"""The DVM model (cost/dvm.py): hand-computed anchors, contention properties, the snoop filter,
and analytic and exact mode sharing it."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vtlbsim.arch.ops import HYP_OPS, Arch, op
from vtlbsim.cost import dvm
from vtlbsim.cost.analytic import evaluate_analytic
from vtlbsim.cost.dvm import IssuerClass, broadcast_load, solve, step_issue
from vtlbsim.cost.exact import evaluate_exact
from vtlbsim.cost.platform import Platform, load_platform
from vtlbsim.cost.workload import Workload

DATA = Path(__file__).parent / "data"
CONTENDED = str(DATA / "dvm-contended-16.toml")
PHI = (1 + math.sqrt(5)) / 2


def test_anchor_two_issuers_share_the_sync_server() -> None:
    """Two identical cores, each thinking Z = 1 cycle then one Sync of service D = 1.

    Schweitzer: R = D(1 + Q - Q/N) with N = 2 and Q = N R / (Z + R), so
    R = 1 + R / (1 + R), i.e. R^2 - R - 1 = 0: R = (1 + sqrt 5) / 2 = 1.6180 (the golden
    ratio); iteration T = Z + R = 2.6180; the two together complete 2 / 2.618 = 0.7639 Syncs
    per cycle, below the server's 1 / D = 1.
    """
    sol = solve([IssuerClass(2, 1.0, 0.0, 1.0, 1.0)], np.zeros((1, 1)), 0.0)
    assert sol.residence[0] == pytest.approx(1.6180, abs=1e-4)
    assert sol.iteration[0] == pytest.approx(2.6180, abs=1e-4)
    assert 2 * sol.throughput[0] == pytest.approx(0.7639, abs=1e-4)
    assert sol.utilisation[0] == pytest.approx(0.7639, abs=1e-4)


def test_anchor_a_lone_issuer_does_not_queue() -> None:
    """One core: work 100, issue 20, one Sync of 30: R = D = 30, T = 150 (nobody to wait for)."""
    sol = solve([IssuerClass(1, 100.0, 20.0, 1.0, 30.0)], np.zeros((1, 1)), 0.0)
    assert sol.residence[0] == pytest.approx(30.0)
    assert sol.iteration[0] == pytest.approx(150.0)


def test_anchor_the_victim_loses_what_it_receives() -> None:
    """An issuer (work 800, issue 100, one Sync of 100: T = 1000 cycles alone) sends 2 DVM
    messages per iteration to a victim (work 1000, no maintenance); each costs the victim 50
    cycles. The victim loses f = 50 x 2 / 1000 = 0.1 of its time: T = 1000 / 0.9 = 1111.1,
    throughput 0.9 of its quiet value. The issuer receives nothing: T stays 1000."""
    issuer = IssuerClass(1, 800.0, 100.0, 1.0, 100.0)
    victim = IssuerClass(1, 1000.0, 0.0, 0.0, 0.0)
    received = np.array([[0.0, 0.0], [2.0, 0.0]])
    sol = solve([issuer, victim], received, 50.0)
    assert sol.iteration[0] == pytest.approx(1000.0)
    assert sol.stall[1] == pytest.approx(0.1)
    assert sol.iteration[1] == pytest.approx(1111.111, abs=1e-3)


def test_anchor_exact_mode_step_pricing() -> None:
    """Exact mode's pricing of one step: pCPUs 0 and 1 each issue one broadcast in an interval
    of 2 cycles, with an operation of 0 and a Sync of 1 cycle: Z = 2 - 0 - 1 = 1, D = 1, N = 2:
    the golden-ratio case above, so one broadcast costs 0 + R = 1.6180. pCPU 2 issues none: a
    hypervisor flush there finds the backlog Q = N R / T = 2 x 1.618 / 2.618 = 1.2361 jobs of 1
    cycle, so it costs 0 + 1 + 1.2361 = 2.2361 (= sqrt 5)."""
    plat = load_platform(CONTENDED).model_copy(
        update={"dvm_op_cycles": 0.0, "dvm_sync_cycles": 1.0, "dvm_receive_cycles": 0.0}
    )
    dvm._step_solution.cache_clear()  # an earlier test's solution would hide a change of solve
    out = step_issue(plat, np.array([1, 1, 0, 0]), np.zeros(4, np.int64), 2.0, 1)
    assert out[0] == pytest.approx(1.6180, abs=1e-4) and out[1] == out[0]
    assert out[2] == pytest.approx(2.2361, abs=1e-4)


def test_anchor_idle_broadcast_and_socket_crossing() -> None:
    """An idle machine: a broadcast costs its operation plus its Sync; over two sockets with
    dvm_socket_factor = 1 both take twice as long (kunpeng920-2s: 2 x (op + sync))."""
    p = load_platform("kunpeng920-2s")
    assert p.dvm_socket_factor == 1.0
    one = broadcast_load(p, 0.0, 0.0, 1, 0.0)
    two = broadcast_load(p, 0.0, 0.0, 2, 0.0)
    assert one.issue == p.dvm_op_cycles + p.dvm_sync_cycles
    assert two.issue == 2 * (p.dvm_op_cycles + p.dvm_sync_cycles)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(1.0, 1e4),
    st.floats(1.0, 1e3),
    st.lists(st.integers(1, 200), min_size=2, max_size=6, unique=True),
)
def test_latency_never_falls_and_throughput_saturates(
    think: float, service: float, counts: list[int]
) -> None:
    """Issuer latency is non-decreasing in the number of concurrent issuers; their throughput
    of Syncs is non-decreasing, never above one per service time, and reaches most of it when
    issuers far outnumber what the server can keep up with."""
    counts = sorted(counts)
    res, thr = [], []
    for n in counts:
        s = solve([IssuerClass(n, think, 0.0, 1.0, service)], np.zeros((1, 1)), 0.0)
        res.append(float(s.residence[0]))
        thr.append(n * float(s.throughput[0]))
    assert all(b >= a * (1 - 1e-9) for a, b in zip(res, res[1:], strict=False))
    assert all(b >= a * (1 - 1e-9) for a, b in zip(thr, thr[1:], strict=False))
    assert all(x <= (1 + 1e-9) / service for x in thr)
    many = 20 * math.ceil((think + service) / service)
    s = solve([IssuerClass(many, think, 0.0, 1.0, service)], np.zeros((1, 1)), 0.0)
    assert many * s.throughput[0] >= 0.9 / service


def _tlb_only_kind(tmp: Path) -> str:
    """A guest kind whose only maintenance is TLB maintenance (a snoop filter can skip it):
    the shipped percpu-tables kind (local VALE1, ASIDE1, VMALLE1) with no code changes."""
    from vtlbsim import datafiles

    text = (datafiles.package_dir(datafiles.GUESTS) / "percpu-tables.toml").read_text()
    text = text.replace('name = "percpu-tables"', 'name = "tlb-only"')
    text = re.sub(
        r"code_changes_per_s = \{ value = [0-9.]+", "code_changes_per_s = { value = 0.0", text
    )
    assert 'name = "tlb-only"' in text and "code_changes_per_s = { value = 0.0" in text
    f = tmp / "tlb-only.toml"
    f.write_text(text)
    return str(f)


def _scoped(tmp: Path, scope: str) -> str:
    text = Path(CONTENDED).read_text()
    text = text.replace('dvm_scope = { value = "system"', f'dvm_scope = {{ value = "{scope}"')
    text = text.replace('name = "dvm-contended-16"', f'name = "dvm-{scope}-16"')
    f = tmp / f"{scope}.toml"
    f.write_text(text)
    return str(f)


@pytest.mark.parametrize("vcpus", [1, 2])
def test_filtered_scope_spares_cores_the_vm_never_ran_on(tmp_path: Path, vcpus: int) -> None:
    """Pinned VMs of k vCPUs on 8 busy cores under FB: with a VMID snoop filter each upgraded
    TLBI reaches only the VM's k - 1 other cores, instead of the 7 others: dvm-others is
    (k - 1) / 7 of what it is without the filter (0 for a 1-vCPU VM), in both modes."""
    kind = _tlb_only_kind(tmp_path)
    out = {}
    for scope in ("system", "filtered"):
        wl = Workload.model_validate(
            {
                "platform": _scoped(tmp_path, scope),
                "duration_s": 0.05,
                "scheduler": {"kind": "pinned"},
                "domains": [{"kind": kind, "count": 8 // vcpus, "vcpus": vcpus}],
            }
        )
        a = evaluate_analytic(wl, "fb", 8)
        e = evaluate_exact(wl, "fb", 8, 0, None)
        out[scope] = (a.cycles["dvm-others"], e.cycles["dvm-others"])
    assert out["system"][0] > 0 and out["system"][1] > 0
    share = (vcpus - 1) / 7
    assert out["filtered"][0] == pytest.approx(share * out["system"][0], rel=1e-9)
    assert out["filtered"][1] == pytest.approx(share * out["system"][1], rel=1e-9, abs=1e-9)


def test_analytic_and_exact_share_the_model_and_agree_when_contended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """16 pinned UP guests under FB on a 16-core machine whose DVM Sync takes 20 us: the
    broadcasts queue (each costs its issuer well above the idle op + Sync), both modes price
    them with dvm.solve, and they agree on broadcast-issue and dvm-others within 25 %."""
    calls = {"n": 0}
    real = dvm.solve

    def counting(*args: object, **kw: object) -> dvm.Solution:
        calls["n"] += 1
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(dvm, "solve", counting)
    dvm._step_solution.cache_clear()
    wl = Workload.model_validate(
        {
            "platform": CONTENDED,
            "duration_s": 0.1,
            "scheduler": {"kind": "pinned"},
            "domains": [{"kind": "linux-arm32-up", "count": 16, "vcpus": 1}],
        }
    )
    a = evaluate_analytic(wl, "fb", 16)
    from_analytic = calls["n"]
    e = evaluate_exact(wl, "fb", 16, 0, None)
    assert from_analytic > 0 and calls["n"] > from_analytic
    p = load_platform(CONTENDED)
    per_bcast = a.cycles["broadcast-issue"] / a.events["dvm-broadcasts"]
    assert per_bcast > 1.2 * (p.dvm_op_cycles + p.dvm_sync_cycles)
    for cause in ("broadcast-issue", "dvm-others"):
        assert e.cycles[cause] == pytest.approx(a.cycles[cause], rel=0.25), cause


def test_fb_cost_grows_with_load() -> None:
    """Under FB, UP guests' local maintenance becomes load on the DVM node: the same guests
    cost more per broadcast on more busy cores (the analytic model's load-dependence)."""
    per = []
    for n in (2, 16):
        wl = Workload.model_validate(
            {
                "platform": CONTENDED,
                "duration_s": 1.0,
                "scheduler": {"kind": "pinned"},
                "domains": [{"kind": "linux-arm32-up", "count": n, "vcpus": 1}],
            }
        )
        r = evaluate_analytic(wl, "fb", n)
        per.append(r.cycles["broadcast-issue"] / r.events["dvm-broadcasts"])
    assert per[1] > per[0]


@settings(max_examples=80, deadline=None)
@given(
    st.floats(1.0, 200.0),
    st.floats(0.0, 1e6),
    st.floats(0.0, 1e4),
    st.floats(0.5, 4.0),
    st.floats(1.0, 5e3),
    st.floats(0.0, 2e3),
    st.floats(0.0, 2e3),
)
def test_closed_form_matches_the_iteration(
    count: float, work: float, issue: float, syncs: float, service: float, msgs: float, stall: float
) -> None:
    """One class: the closed form (quadratic + bisection) and the general damped iteration
    reach the same fixed point - two different algorithms for the same equations."""
    c = IssuerClass(count, work, issue, syncs, service)
    a = dvm._solve_one(c, msgs, stall, 1)
    b = dvm._solve_iterative([c], np.array([[msgs]]), stall, 1)
    assert a.residence[0] == pytest.approx(b.residence[0], rel=1e-6, abs=1e-6)
    assert a.stall[0] == pytest.approx(b.stall[0], abs=1e-6)


def test_anchor_socket_scope_gives_each_socket_its_own_sync_server() -> None:
    """dvm_scope = "socket", 2 sockets, 4 busy issuers (2 per socket), op 0 and Sync 1 cycle,
    each issuer thinking Z = 1 cycle between broadcasts (rate 1/2 per cycle). A broadcast stays
    on its socket (no socket-crossing factor) and each socket's 2 issuers share their own Sync
    server: the golden-ratio anchor above, R = 1.6180. One server for all 4 issuers would give
    R = 1 + 3R/(1 + R), i.e. R^2 - 3R - 1 = 0: R = (3 + sqrt 13)/2 = 3.3028 (the analytic model
    priced socket scope that way until this test); a system-scope broadcast over the 2 sockets
    with dvm_socket_factor 1 takes Sync 2 and queues all 4 issuers at one server."""
    base = load_platform("kunpeng920-2s").model_copy(
        update={"dvm_op_cycles": 0.0, "dvm_sync_cycles": 1.0, "dvm_socket_factor": 1.0}
    )
    socket = base.model_copy(update={"dvm_scope": "socket"})
    load = broadcast_load(socket, 0.5, 4.0, 2, 0.0)
    assert load.issue == pytest.approx(1.6180, abs=1e-4)
    assert broadcast_load(socket, 0.5, 2.0, 1, 0.0).issue == pytest.approx(1.6180, abs=1e-4)
    one_server = solve([IssuerClass(4, 1.0, 0.0, 1.0, 1.0)], np.zeros((1, 1)), 0.0)
    assert one_server.residence[0] == pytest.approx(3.3028, abs=1e-4)
    system = base.model_copy(update={"dvm_scope": "system"})
    assert broadcast_load(system, 0.5, 4.0, 2, 0.0).sync == 2.0


def test_anchor_a_class_without_members_adds_nothing() -> None:
    """The golden-ratio pair (two cores, Z = 1, one Sync of D = 1) solved together with a class
    of no members (work 5, one Sync of 1): the pair keeps R = 1.6180, T = 2.6180, its queue at
    the server Q = 2 R / T = 1.2361 jobs of 1 cycle (the backlog) and the server's utilisation
    2 / T = 0.7639; the empty class has nothing at the server (residence exactly 0, stall 0),
    so its iteration is its work, 5 cycles."""
    pair = IssuerClass(2, 1.0, 0.0, 1.0, 1.0)
    empty = IssuerClass(0, 5.0, 0.0, 1.0, 1.0)
    sol = solve([pair, empty], np.zeros((2, 2)), 0.0)
    assert sol.residence[0] == pytest.approx(1.6180, abs=1e-4)
    assert sol.iteration[0] == pytest.approx(2.6180, abs=1e-4)
    assert sol.residence[1] == 0.0 and sol.stall[1] == 0.0
    assert sol.iteration[1] == pytest.approx(5.0)
    assert sol.utilisation[0] == pytest.approx(0.7639, abs=1e-4)
    assert sol.backlog[0] == pytest.approx(1.2361, abs=1e-4)


def test_anchor_one_class_with_demand_above_one_cycle() -> None:
    """The golden-ratio pair scaled by 2 (Z = 2, D = 2): R^2 + (2 - 2 x 2) R - 2 x 2 = 0, so
    R = 1 + sqrt 5 = 3.2361 and T = 5.2361; the server is busy N / T x D = 4 / 5.2361 = 0.7639
    of the time (scale-free) and an arriving Sync finds the pair's queue, N R / T = 1.2361
    jobs of D = 2 cycles: a backlog of 2.4721 cycles."""
    sol = solve([IssuerClass(2, 2.0, 0.0, 1.0, 2.0)], np.zeros((1, 1)), 0.0)
    assert sol.residence[0] == pytest.approx(1.0 + math.sqrt(5.0))
    assert sol.iteration[0] == pytest.approx(3.0 + math.sqrt(5.0))
    assert sol.utilisation[0] == pytest.approx(0.7639, abs=1e-4)
    assert sol.backlog[0] == pytest.approx(2.4721, abs=1e-4)


def test_anchor_an_empty_class_alone() -> None:
    """A class of no members (work 5, one Sync of 1) on its own: nothing at the server
    (residence, utilisation and backlog exactly 0); its iteration is its work, 5 cycles."""
    sol = solve([IssuerClass(0, 5.0, 0.0, 1.0, 1.0)], np.zeros((1, 1)), 0.0)
    assert sol.residence[0] == 0.0
    assert sol.utilisation[0] == 0.0 and sol.backlog[0] == 0.0
    assert sol.iteration[0] == pytest.approx(5.0)


def test_anchor_a_pair_that_stalls_each_other() -> None:
    """Two cores, no Syncs (no server), each working 900 cycles and issuing for 100 per
    iteration, each receiving 2 messages per iteration of the other at 50 cycles each: the
    stall share f = 100 / T with T = 900 / (1 - f) + 100, i.e. f^2 - 11 f + 1 = 0:
    f = (11 - sqrt 117) / 2 = 0.091673 and T = 100 / f = 550 + 50 sqrt 117 = 1090.83."""
    sol = solve([IssuerClass(2, 900.0, 100.0, 0.0, 0.0)], np.array([[2.0]]), 50.0)
    assert sol.stall[0] == pytest.approx((11.0 - math.sqrt(117.0)) / 2.0, rel=1e-9)
    assert sol.iteration[0] == pytest.approx(550.0 + 50.0 * math.sqrt(117.0), rel=1e-9)
    assert sol.residence[0] == 0.0


def _unit(scope: str = "system", **more: float) -> Platform:
    """kunpeng920-2s (2 sockets) with an operation of 0 cycles, a Sync of 1 and no receive
    stall, so broadcast_load's figures are the closed model's in units of one Sync."""
    return load_platform("kunpeng920-2s").model_copy(
        update={
            "dvm_op_cycles": 0.0,
            "dvm_sync_cycles": 1.0,
            "dvm_socket_factor": 1.0,
            "dvm_receive_cycles": 0.0,
            "dvm_scope": scope,
            **more,
        }
    )


def test_anchor_broadcast_load_records_what_it_solved() -> None:
    """One socket, op 0, Sync 1, two issuers at rate 1/2 (Z = 2 - 0 - 1 = 1): the golden pair,
    issue = 0 + R = 1.6180, the server busy 0.7639, no stall; idle (rate 0, or no issuers)
    it is op + Sync = 1 with nothing at the server; one issuer at rate 1/2 never queues
    (issue 1) and keeps the server busy rate x Sync = 0.5 of the time."""
    plat = _unit()
    load = broadcast_load(plat, 0.5, 2.0, 1, 0.0)
    assert (load.rate, load.issuers, load.op, load.sync) == (0.5, 2.0, 0.0, 1.0)
    assert load.issue == pytest.approx(1.6180, abs=1e-4)
    assert load.utilisation == pytest.approx(0.7639, abs=1e-4) and load.stall == 0.0
    idle = dvm.BroadcastLoad(0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0)
    assert broadcast_load(plat, 0.0, 2.0, 1, 0.0) == idle
    assert broadcast_load(plat, 0.5, 0.0, 1, 0.0) == idle
    alone = broadcast_load(plat, 0.5, 1.0, 1, 0.0)
    assert alone.issue == pytest.approx(1.0) and alone.utilisation == pytest.approx(0.5)


def test_anchor_saturated_issuers_wait_for_every_other_sync() -> None:
    """Issuers with no think time (1 / rate <= op + Sync: work 0) queue behind every other
    one: R^2 - N D R = 0, R = N D. One socket, two at rate 1 (1 / rate = 1 = the Sync):
    issue = 2. System scope over 2 sockets (Sync x 2 = 2 cycles, one server), four at rate
    1/2 (1 / rate = 2 = the Sync): R = 4 x 2 = 8. Socket scope, two issuers on 2 sockets: each
    alone at its socket's server, R = D = 1."""
    assert broadcast_load(_unit(), 1.0, 2.0, 1, 0.0).issue == pytest.approx(2.0)
    assert broadcast_load(_unit(), 0.5, 4.0, 2, 0.0).issue == pytest.approx(8.0)
    assert broadcast_load(_unit("socket"), 0.5, 2.0, 2, 0.0).issue == pytest.approx(1.0)


def test_anchor_the_servers_follow_the_classes() -> None:
    """No class: empty per-class arrays and one idle server. A lone issuer (work 100, issue
    20, one Sync of 30: R = 30, T = 150) visiting server 1: two servers, server 0 idle and
    server 1 busy 30 / 150 = 0.2 of the time; at server 0 (the default): one server."""
    none = solve([], np.zeros((0, 0)), 0.0)
    assert none.iteration.shape == none.residence.shape == none.stall.shape == (0,)
    assert list(none.utilisation) == [0.0] and list(none.backlog) == [0.0]
    lone = IssuerClass(1, 100.0, 20.0, 1.0, 30.0)
    at_1 = solve([dataclasses.replace(lone, server=1)], np.zeros((1, 1)), 0.0)
    assert list(at_1.utilisation) == [0.0, pytest.approx(0.2)]
    assert at_1.iteration[0] == pytest.approx(150.0)
    assert len(solve([lone], np.zeros((1, 1)), 0.0).utilisation) == 1


def test_anchor_the_victim_of_an_issuer_with_two_syncs() -> None:
    """The victim anchor with the issuer's Sync time split into two Syncs of 50 (work 800,
    issue 100): alone at its server it waits 2 x 50 = 100, T = 1000; the server is busy
    1 / 1000 x 2 x 50 = 0.1 of the time and holds its queue 100 / 1000 = 0.1 jobs of 50
    cycles: backlog 5. The victim loses 50 x 2 / 1000 = 0.1 of its time: T = 1111.1."""
    issuer = IssuerClass(1, 800.0, 100.0, 2.0, 50.0)
    victim = IssuerClass(1, 1000.0, 0.0, 0.0, 0.0)
    sol = solve([issuer, victim], np.array([[0.0, 0.0], [2.0, 0.0]]), 50.0)
    assert sol.residence[0] == pytest.approx(100.0)
    assert sol.iteration[0] == pytest.approx(1000.0)
    assert sol.utilisation[0] == pytest.approx(0.1)
    assert sol.backlog[0] == pytest.approx(5.0)
    assert sol.stall[1] == pytest.approx(0.1)
    assert sol.iteration[1] == pytest.approx(1111.111, abs=1e-3)


def test_anchor_an_instructions_own_work() -> None:
    """``local_cycles``: a whole-I-cache invalidate (the guest's IC IALLU / ICIALLU, local or
    IS, or the hypervisor's) costs ic_iallu 300 on anchor-round, any other instruction (a TLBI,
    by-VA I-cache maintenance, BPIALL) a local TLBI's 100. ``instruction_cycles``: a local one
    costs that; a broadcast costs the broadcast's wait plus the work beyond a local TLBI's
    (a broadcast of 1,500: IC IALLUIS 1,700, VALE1IS or IC IVAU 1,500)."""
    plat = load_platform(str(DATA / "anchor-round.toml"))
    a64, a32 = Arch.AARCH64, Arch.AARCH32
    whole = [op(a64, "iallu"), op(a64, "ialluis"), op(a32, "iciallu"), HYP_OPS["iallu"]]
    other = [op(a64, "vale1"), op(a64, "vmalle1is"), op(a64, "ivau"), op(a32, "bpiall")]
    other += [HYP_OPS["vmalls12e1is"], HYP_OPS["alle1is"]]
    assert [dvm.local_cycles(plat, o) for o in whole] == [300.0] * 4
    assert [dvm.local_cycles(plat, o) for o in other] == [100.0] * 6
    assert dvm.instruction_cycles(plat, op(a64, "iallu"), 1_500.0) == 300.0
    assert dvm.instruction_cycles(plat, op(a64, "vale1"), 1_500.0) == 100.0
    assert dvm.instruction_cycles(plat, op(a64, "ialluis"), 1_500.0) == 1_700.0
    assert dvm.instruction_cycles(plat, HYP_OPS["ialluis"], 1_500.0) == 1_700.0
    assert dvm.instruction_cycles(plat, op(a64, "vale1is"), 1_500.0) == 1_500.0
    assert dvm.instruction_cycles(plat, op(a64, "ivau"), 1_500.0) == 1_500.0


def test_anchor_step_pricing_of_an_idle_pcpu_by_scope_and_span() -> None:
    """``step_issue`` on anchor-round (op 500, Sync 1,000) for two pCPUs in one interval of 1e6
    cycles: pCPU 0 issues one broadcast, pCPU 1 none (a hypervisor flush there).

    - pCPU 0 is alone at its Sync server: R = D, it pays op + Sync = 1,500 whatever the scope;
    - system scope: pCPU 1 shares that server and finds its mean backlog, Q = R / T jobs of
      1,000 cycles, T the interval (work 1e6 - 1,500, op 500, Sync 1,000): 1,500 + 1 = 1,501;
    - socket scope with the two pCPUs on two sockets: pCPU 1's server is idle: 1,500;
    - system scope spanning two sockets (factor 1): op and Sync take twice as long, 1,000 and
      2,000: pCPU 0 pays 3,000 and pCPU 1 3,000 + 2,000 x 2,000 / 1e6 = 3,004."""
    base = load_platform(str(DATA / "anchor-round.toml"))
    socket = base.model_copy(update={"dvm_scope": "socket", "sockets": 2, "cores": 2})
    counts, sockets = np.array([1, 0]), np.array([0, 1])
    dvm._step_solution.cache_clear()
    system = step_issue(base, counts, sockets, 1e6, 1)
    assert system[0] == pytest.approx(1_500.0, abs=1e-6)
    assert system[1] == pytest.approx(1_501.0, abs=1e-6)
    per_socket = step_issue(socket, counts, sockets, 1e6, 1)
    assert per_socket.tolist() == pytest.approx([1_500.0, 1_500.0], abs=1e-6)
    spanning = step_issue(base, counts, sockets, 1e6, 2)
    assert spanning[0] == pytest.approx(3_000.0, abs=1e-6)
    assert spanning[1] == pytest.approx(3_004.0, abs=1e-6)
