"""The checker's search modules against expectations worked out by hand: the explorer
(``explore.py``: distinct states per level, the shortest counterexample, its argument checks),
the canonical key (``key.py``: equal under a renaming of pCPUs and vCPUs, different where the
futures differ) and the snapshot (``snapshot.py``: a copy independent of its parent).

Every figure is derived in the docstring from the guest kinds' disciplines
(``data/profiles/guests/``) and SPEC §5/§7, never read off the code's output; each holds under
any state-preserving reduction of the search (only distinct states of the first two levels are
pinned, never the probed last levels)."""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from test_explore_invariants import follow

from vtlbsim import datafiles
from vtlbsim.arch.machine import Hcr
from vtlbsim.arch.ops import BpReading, HypOp
from vtlbsim.check.actions import GuestModel, GuestState, Operation
from vtlbsim.check.explore import Explorer, GuestDisciplineError, check, probe
from vtlbsim.check.oracle import Oracle
from vtlbsim.check.snapshot import copy_state
from vtlbsim.hyp.policy import NO_FLAGS, Policy, VcpuInfo, VcpuLoad
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.engine import Engine
from vtlbsim.sim.events import Access, AccessKind, Event

PERCPU = "percpu-tables"
DATA = datafiles.package_dir(datafiles.GUESTS)


def _explorer(kind: str = PERCPU, policy: str = "none", vcpus: int = 2) -> Explorer:
    return Explorer(GuestModel.for_kind(kind, vcpus), resolve(policy), 2)


def _follow(ex: Explorer, labels: list[str]) -> tuple[Engine, Oracle, GuestState]:
    """The state after the operations named by ``labels``, applied in turn from the start."""
    ops: list[Operation] = follow(ex, labels)  # type: ignore[assignment]
    path = tuple(e for op in ops for e in op.events)
    engine, oracle = ex.replay(path)
    return engine, oracle, ops[-1].state if ops else ex.model.initial()


def _key(ex: Explorer, labels: list[str]) -> object:
    return ex.key(*_follow(ex, labels))


# ---- explore.py: distinct states per level ---------------------------------------------------


def test_percpu_tables_has_one_state_at_depth_1_and_three_more_at_depth_2() -> None:
    """``percpu-tables`` under ``none`` (no maintenance, no load history), 2 vCPUs on 2 pCPUs,
    one VA. From the initial state (nothing loaded) the only actions are the four first loads
    ``run vX on Y``; renaming vCPUs (with their own tables, ``main`` <-> ``cpu1``) and pCPUs
    makes them one state: **1 new state at depth 1** (2 with the initial one).

    From "v0 on pCPU 0" the actions are: v0 to pCPU 1 (the same state with the pCPUs renamed:
    not new), v1 onto pCPU 0 (v0 descheduled), v1 onto pCPU 1 (both running), and v0's only
    guest operation, ``map 0x1000`` to the first fresh PA (no VA was ever mapped, so no fetch,
    write-code or unmap; no table switch for per-CPU tables). Those three differ in what runs
    where or in what a table maps: **3 new states at depth 2** (5 in all). ``progress`` is told
    (depth done, states so far) after each level."""
    told: list[tuple[int, int]] = []
    r = check(PERCPU, "none", depth=4, progress=lambda d, s: told.append((d, s)))
    assert told[:2] == [(1, 2), (2, 5)]
    assert r.safe and r.depth_reached == 4  # H2 needs 5 actions (below)


def test_a_one_vcpu_kind_has_one_state_at_depth_1() -> None:
    """``linux-arm32-up`` (a UP kernel: one vCPU whatever is asked) under ``fb``: the two first
    loads differ only by the pCPU's number, so depth 1 adds one state to the initial one."""
    told: list[tuple[int, int]] = []
    check("linux-arm32-up", "fb", depth=4, progress=lambda d, s: told.append((d, s)))
    assert told[0] == (1, 2)


@pytest.mark.parametrize(("kind", "new_at_2"), [("linux-arm32-smp", 5), ("linux-arm64-smp", 4)])
def test_processes_that_map_nothing_are_interchangeable(kind: str, new_at_2: int) -> None:
    """Kinds with an ASID allocator under ``fb`` (no load history), 2 vCPUs on 2 pCPUs. Depth 1:
    the four first loads (each enters ``main``, which holds ASID 0) are one state up to
    renaming. Depth 2, from "v0 in ``main`` on pCPU 0": v0 to pCPU 1 (the same state renamed),
    v1 onto pCPU 0 and v1 onto pCPU 1 (2 new), v0 maps 0x1000 (1 new), v0 switches to ``as1``
    or to ``as2``, each taking the free ASID 1. An AArch32 guest has two mapping processes
    (``main`` and ``as1``: a prediction is looked up by ASID and VA), so ``as1`` and ``as2``
    differ: 2 new, **5** in all. An AArch64 guest maps in ``main`` only, so ``as1`` and ``as2``
    are interchangeable (``process_renamings``) and the two switches are one state: **4**."""
    told: list[tuple[int, int]] = []
    check(kind, "fb", depth=4, progress=lambda d, s: told.append((d, s)))
    assert told[:2] == [(1, 2), (2, 2 + new_at_2)]


# ---- explore.py: the shortest counterexample ----------------------------------------------------


def test_percpu_tables_h2_needs_exactly_five_actions() -> None:
    """H2 (per-CPU tables, the same VA and ASID in each, only local TLBI): v0 is loaded on
    pCPU A (1), maps the VA (2) and fetches it, filling A's TLB (3); v1 is loaded on A (4) and
    fetches the VA through v0's entry, which its own table never mapped (5): cross-vcpu-tlb.
    No shorter path: the fill needs a load, a map and a use; the second vCPU needs its own
    load and its own use. So depth 4 is safe and depth 5 finds exactly 5 actions, ending with
    v1's fetch on the pCPU v0 filled."""
    assert check(PERCPU, "none", depth=4).safe
    r = check(PERCPU, "none", depth=5)
    assert not r.safe and len(r.actions) == 5 and r.depth_reached == 5
    assert r.violation is not None and r.violation.category == "cross-vcpu-tlb"
    assert r.actions[1].endswith("map 0x1000 0xa000")
    assert r.actions[-1].endswith("fetch 0x1000")
    sc = r.counterexample
    assert sc is not None
    assert (sc.title, sc.policy, sc.expect, sc.pcpus) == (
        f"check: {PERCPU} under none",
        "none",
        "violation",
        2,
    )
    assert [(d.name, d.vcpus, d.kind) for d in sc.domains] == [("g", 2, PERCPU)]
    assert not sc.incomplete and sc.bp.name == "visible"
    runs = [e for e in sc.events if type(e).__name__ == "Run"]
    assert len(runs) == 2 and runs[0].pcpu == runs[1].pcpu and runs[0].vcpu != runs[1].vcpu


def test_the_result_says_what_was_checked() -> None:
    """A safe result names the kind, the policy, the machine size, the VAs, the depth asked and
    reached, and carries no counterexample."""
    r = check(PERCPU, "none", pcpus=2, vcpus=2, depth=3, vas=2)
    assert (r.kind, r.policy, r.policy_ref, r.pcpus, r.vcpus, r.vas) == (
        PERCPU,
        "none",
        "none",
        2,
        2,
        2,
    )
    assert (r.depth, r.depth_reached, r.safe, r.actions) == (3, 3, True, [])
    assert r.counterexample is None and r.violation is None
    assert not r.incomplete and r.vms == 1 and r.bp.name == "visible"


def test_the_result_keeps_how_the_policy_was_named_the_reading_and_the_vms() -> None:
    """A policy asked for by its ``module:Class`` path keeps that path (a litmus file names it
    so) beside its name; the predictor reading reaches the result and the counterexample (the
    UP kernel under ``none`` with invisible predictors: H1 through the TLB, 7 actions); the
    number of VMs reaches the result; the time taken is between 0 and the wall time around
    the call."""
    t0 = time.perf_counter()
    r = check(PERCPU, "vtlbsim.hyp.policies.none:NonePolicy", depth=2)
    wall = time.perf_counter() - t0
    assert (r.policy, r.policy_ref) == ("none", "vtlbsim.hyp.policies.none:NonePolicy")
    assert 0 <= r.seconds <= wall
    invisible = BpReading(False, False)
    up = check("linux-arm32-up", "none", depth=7, bp=invisible)
    assert not up.safe and len(up.actions) == 7 and up.bp == invisible
    assert up.counterexample is not None and up.counterexample.bp == invisible
    assert check(PERCPU, "xen", depth=2, vms=2).vms == 2
    # a policy handed over as an object is named by its name
    assert check(PERCPU, _Remembers(), depth=2).policy_ref == "remembers"


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"depth": -1}, "depth"),
        ({"pcpus": 0}, "pcpus"),
        ({"vcpus": 0}, "vcpus"),
        ({"vms": 3}, "vms"),
        ({"vms": 0}, "vms"),
    ],
)
def test_bad_sizes_are_refused(kw: dict[str, int], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        check(PERCPU, "none", **kw)  # type: ignore[arg-type]


def test_depth_0_checks_only_the_initial_state() -> None:
    """Nothing has run: no violation, one state, depth 0 reached."""
    r = check(PERCPU, "none", depth=0)
    assert r.safe and r.states == 1 and r.depth_reached == 0


def test_the_garbage_collector_is_left_as_it_was() -> None:
    """The search turns automatic collection off while it runs and restores what it found."""
    assert gc.isenabled()
    check(PERCPU, "none", depth=2)
    assert gc.isenabled()
    gc.disable()
    try:
        check(PERCPU, "none", depth=2)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_guest_that_breaks_its_own_rules_is_reported_with_its_path(tmp_path: Path) -> None:
    """A per-CPU-tables kind whose unmap issues no TLBI: unmapping 0x1000 and mapping it to
    a new page with no invalidation in between breaks break-before-make (Arm ARM D8.16.1), a
    guest error, which means the guest model is wrong: the search stops with the kind's name,
    the error and the path. The plain search (every path, in order: v0's first load on pCPU 0
    comes first) meets it at 4 actions: load, map, unmap, map to the next fresh page 0xb000."""
    text = (DATA / f"{PERCPU}.toml").read_text()
    kind = tmp_path / "no-tlbi.toml"
    kind.write_text(text.replace('pte_user = { value = ["vale1"]', "pte_user = { value = []"))
    assert kind.read_text() != text
    with pytest.raises(GuestDisciplineError) as err:
        check(str(kind), "none", depth=5, merge=False)
    assert str(err.value) == (
        f"{kind}: the guest broke its discipline: step 4: guest-error break-before-make: g.0: "
        "mapped 0x1000 to 0xb000 in table 'main': no TLB invalidation of it since it was "
        "unmapped at step 3 [path: run g.0 on 0; g.0 map 0x1000 0xa000; g.0 unmap 0x1000; "
        "g.0 map 0x1000 0xb000]"
    )


# ---- explore.py: successors with incomplete maintenance --------------------------------------


def test_between_its_maintenance_and_its_dsb_a_vcpu_only_executes_the_dsb() -> None:
    """``--incomplete``, per-CPU tables under ``none``: v0 on pCPU 0 and v1 on pCPU 1 have each
    mapped 0x1000 in their own table; v0 unmaps it with its local TLBI VALE1. Its next
    instruction is its DSB, NSH (it wrote no Inner Shareable instruction): v0's one
    operation. v1 may still fetch, but not write code or unmap (the OS serialises PTE and code
    changes with the flush in flight); the scheduler may still load either vCPU elsewhere."""
    ex = Explorer(GuestModel.for_kind(PERCPU, 2), resolve("none"), 2, incomplete=True)
    labels = [
        "run v0 on 0",
        "run v1 on 1",
        "v1 map 0x1000 0xa000",
        "v0 map 0x1000 0xb000",
        "v0 unmap 0x1000",
    ]
    engine, _, g = _follow(ex, labels)
    ops = ex.successors(engine, g)
    assert [o.label for o in ops] == ["run v0 on 1", "run v1 on 0", "v0 dsb nsh", "v1 fetch 0x1000"]
    dsb = ops[2].events
    assert len(dsb) == 1 and (dsb[0].vcpu, dsb[0].name, dsb[0].option) == (0, "dsb", "nsh")
    assert ops[2].state == g


def test_after_a_broadcast_the_dsb_is_inner_shareable() -> None:
    """``linux-arm64-smp`` unmaps with TLBI VALE1IS: the DSB after it is ISH."""
    ex = Explorer(GuestModel.for_kind("linux-arm64-smp", 2), resolve("none"), 2, incomplete=True)
    engine, _, g = _follow(ex, ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 unmap 0x1000"])
    dsb = [o for o in ex.successors(engine, g) if o.label.startswith("v0 ")]
    assert [o.label for o in dsb] == ["v0 dsb ish"]
    assert dsb[0].events[0].option == "ish"  # type: ignore[attr-defined]


# ---- explore.py: probes -----------------------------------------------------------------------


def test_a_probe_finds_the_other_vcpus_fetch_through_a_stale_entry() -> None:
    """After H2's first four actions (v0 on A maps and fetches the VA, v1 replaces it on A) the
    one running vCPU is v1, and its fetch of 0x1000 hits v0's entry: the probe returns that
    fetch, labelled as the guest model labels it."""
    ex = _explorer()
    engine, oracle, _ = _follow(
        ex, ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 fetch 0x1000", "run v1 on 0"]
    )
    hit = probe(engine, oracle)
    assert hit is not None
    ev, label = hit
    assert (ev.vcpu, ev.va, ev.kind, label) == (1, 1, AccessKind.FETCH, "v1 fetch 0x1000")
    assert oracle.violations[0].category == "cross-vcpu-tlb"


def test_a_probe_of_a_clean_state_finds_nothing() -> None:
    """v1 on the other pCPU B: B's TLB is empty, and v1's table maps nothing, so its fetch
    only faults; v0's own fetch on A is its own mapping."""
    ex = _explorer()
    engine, oracle, _ = _follow(
        ex, ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 fetch 0x1000", "run v1 on 1"]
    )
    assert probe(engine, oracle) is None and oracle.violations == []


# ---- key.py -------------------------------------------------------------------------------------

FILL = ["v0 map 0x1000 0xa000", "v0 fetch 0x1000"]


def test_renaming_the_pcpus_gives_the_same_key() -> None:
    """v0 maps and fetches on pCPU 0, or on pCPU 1: the same state up to the pCPUs' names
    (``none`` compares no index with anything)."""
    ex = _explorer()
    assert _key(ex, ["run v0 on 0", *FILL]) == _key(ex, ["run v0 on 1", *FILL])


def test_renaming_the_vcpus_and_their_own_tables_gives_the_same_key() -> None:
    """Per-CPU tables: v1 doing on its table ``cpu1`` what v0 does on ``main`` is the same
    state with vCPUs and tables renamed (v1's bring-up installs ``cpu1``)."""
    ex = _explorer()
    v1 = ["run v1 on 0", "v1 map 0x1000 0xa000", "v1 fetch 0x1000"]
    assert _key(ex, ["run v0 on 0", *FILL]) == _key(ex, v1)


def test_where_the_entry_sits_is_in_the_key() -> None:
    """Fetch on A then move to B (the entry on A, where v0 no longer runs), or move then fetch
    (the entry on B, under v0): a later load of v1 on A meets v0's entry only in the first."""
    ex = _explorer()
    first = _key(ex, ["run v0 on 0", *FILL, "run v0 on 1"])
    second = _key(ex, ["run v0 on 0", "v0 map 0x1000 0xa000", "run v0 on 1", "v0 fetch 0x1000"])
    assert first != second


def test_what_the_tables_map_is_in_the_key() -> None:
    """v0 on A with the VA mapped, or with nothing mapped (v1 loaded on B in its place)."""
    ex = _explorer()
    assert _key(ex, ["run v0 on 0", "v0 map 0x1000 0xa000"]) != _key(ex, ["run v0 on 0"])
    assert _key(ex, ["run v0 on 0", "run v1 on 1"]) != _key(ex, ["run v0 on 0", "run v1 on 0"])


class _Remembers(Policy):
    """No FB, no flush, but keeps the engine's load history (``load_history`` left True, as a
    plug-in that reads ``VcpuLoad.last_pcpu`` / ``last_vcpu_here`` must)."""

    name = "remembers"
    summary = "no maintenance; reads the load history"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return ()


def test_a_policy_that_reads_the_history_keeps_it_in_the_key() -> None:
    """ "v0 on pCPU 0, then on pCPU 1" leaves pCPU 0 remembering v0 (and v0's last pCPU is 1);
    "v0 on pCPU 0" alone leaves the other pCPU with no history. For ``none`` the two are one
    state up to renaming the pCPUs; for a policy that reads the history they differ."""
    moved, loaded = ["run v0 on 0", "run v0 on 1"], ["run v0 on 0"]
    ex = _explorer()
    assert _key(ex, moved) == _key(ex, loaded)
    ex = Explorer(GuestModel.for_kind(PERCPU, 2), _Remembers(), 2)
    assert _key(ex, moved) != _key(ex, loaded)
    assert _key(ex, moved) == _key(ex, ["run v0 on 1", "run v0 on 0"])


def test_with_the_history_a_move_is_a_new_state_at_depth_2() -> None:
    """As ``test_percpu_tables_has_one_state_at_depth_1_and_three_more_at_depth_2`` but with
    ``_Remembers``: the four first loads are still one state (each leaves one pCPU
    remembering the vCPU it runs), and at depth 2 v0's move to pCPU 1 is new too (pCPU 0 now
    remembers v0): 4 new states, 6 in all."""
    told: list[tuple[int, int]] = []
    check(PERCPU, _Remembers(), depth=4, progress=lambda d, s: told.append((d, s)))
    assert told[:2] == [(1, 2), (2, 6)]


@pytest.mark.parametrize(
    ("kind", "policy"),
    [
        ("linux-arm32-smp", "kvm"),  # predictions, ASIDs, rollovers owed, policy state
        ("linux-arm64-local", "xen"),  # local unmaps (the mm's active vCPUs), policy state
        ("freebsd-armv7-smp", "fb"),  # two processes on one ASID
        (PERCPU, "trap-ttlb"),
    ],
)
def test_a_key_does_not_depend_on_what_the_search_met_before(kind: str, policy: str) -> None:
    """The key is a function of the state: the memos (``KeyPlan``'s and ``canonical_key``'s)
    only save work. Along seeded random walks, each state's key from an explorer that has
    keyed every earlier state equals its key from a fresh explorer."""
    rng = random.Random(f"{kind}/{policy}")
    warm = _explorer(kind, policy)
    for _ in range(4):
        path: tuple[Event, ...] = ()
        g = warm.model.initial()
        for _ in range(8):
            engine, oracle = warm.replay(path)
            if oracle.violations:
                break
            assert warm.key(engine, oracle, g) == _explorer(kind, policy).key(engine, oracle, g)
            op = rng.choice(warm.successors(engine, g))
            path, g = path + op.events, op.state


# ---- snapshot.py --------------------------------------------------------------------------------


def test_a_copy_and_its_parent_go_their_own_ways() -> None:
    """v0 has mapped the VA on pCPU 0. The copy fetches it (a TLB entry and an I-cache line on
    pCPU 0), moves v0 to pCPU 1 and unmaps the VA there (a local TLBI on pCPU 1: pCPU 0's
    entry stays). The parent still has the mapping, empty structures, v0 on pCPU 0 and its
    step; the parent's own fetch then fills its own TLB, and the copy keeps its one entry."""
    ex = _explorer()
    engine, oracle, g = _follow(ex, ["run v0 on 0", "v0 map 0x1000 0xa000"])
    step = engine.step
    e2, o2 = copy_state(engine, oracle)
    assert e2.observer is o2 and o2 is not oracle
    e2.apply([Access("g", 0, 1, AccessKind.FETCH)])
    e2.apply(next(o for o in ex.successors(e2, g) if o.label == "run v0 on 1").events)
    e2.apply(next(o for o in ex.successors(e2, g) if o.label == "v0 unmap 0x1000").events)
    parent_p0, copy_p0 = engine.machine.pcpus[0], e2.machine.pcpus[0]
    assert parent_p0.tlb.entries() == [] and parent_p0.icache.lines == {}
    assert len(copy_p0.tlb.entries()) == 1 and len(copy_p0.icache.lines) == 1
    assert 1 in engine.domains["g"].table("main").current
    assert 1 not in e2.domains["g"].table("main").current
    assert engine.domains["g"].vcpus[0].pcpu == 0 and e2.domains["g"].vcpus[0].pcpu == 1
    assert parent_p0.running == "g.0" and copy_p0.running is None
    assert engine.step == step < e2.step
    # the oracle's records of the unmap and of its TLBI are the copy's alone
    assert oracle.unmapped_at == {} and len(o2.unmapped_at) == 1
    assert oracle.any_tlbi_va["g"] == {} and list(o2.any_tlbi_va["g"]) == [1]
    engine.apply([Access("g", 0, 1, AccessKind.FETCH)])
    assert len(parent_p0.tlb.entries()) == 1 and oracle.violations == []
    assert len(copy_p0.tlb.entries()) == 1 and o2.violations == []
