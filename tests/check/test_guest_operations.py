"""What a guest kind may do next (``check/actions.py``), operation by operation, on an engine
driven directly (not through the explorer): each expected label, event list and guest state
written from the kind's discipline (``data/profiles/guests/*.toml``, SPEC §3) and the module's
documented rules (fresh PAs, ``mm_cpumask``-style local TLBIs, Linux's ASID allocator)."""

from __future__ import annotations

import pytest

from vtlbsim.arch.machine import Machine
from vtlbsim.arch.ops import lookup_op
from vtlbsim.check.actions import (
    GLOBAL_VA,
    GuestModel,
    GuestState,
    Operation,
    ever_mapped,
    fresh_pa,
    own_table,
)
from vtlbsim.check.oracle import Oracle
from vtlbsim.guest.domain import Domain
from vtlbsim.guest.tables import Pte
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.engine import Engine
from vtlbsim.sim.events import (
    Access,
    AccessKind,
    Maintain,
    PteWrite,
    Run,
    SetAsid,
    SetTable,
    WriteCode,
)

E = frozenset[int]


def setup(kind: str, vcpus: int = 2, **options: bool) -> tuple[GuestModel, Engine]:
    model = GuestModel.for_kind(kind, vcpus, **options)
    doms = [Domain("g", 1, model.discipline.arch, model.vcpus, kind=kind)]
    return model, Engine(Machine(2), doms, resolve("none"), Oracle(doms))


def do(engine: Engine, op: Operation) -> GuestState:
    engine.apply(op.events)
    return op.state


def by_label(ops: list[Operation]) -> dict[str, Operation]:
    return {o.label: o for o in ops}


def mnt(model: GuestModel, v: int, name: str, **kw: int | None) -> Maintain:
    op = lookup_op(model.discipline.arch, name)
    assert op is not None
    return Maintain("g", v, op, **kw)  # type: ignore[arg-type]


def bring_up(model: GuestModel, engine: Engine, g: GuestState, v: int, pcpu: int) -> GuestState:
    """Load ``v`` on ``pcpu`` with its (only) bring-up."""
    engine.apply([Run("g", v, pcpu)])
    ((evs, g2),) = model.bring_ups(engine, g, v)
    engine.apply(evs)
    return g2


def test_the_first_vcpu_enters_main_with_asid_0_and_no_instruction() -> None:
    """Linux: main holds ASID 0 from the start; arm64's switch writes TTBR0 (no TLBI):
    no events, and main becomes active on v0."""
    model, engine = setup("linux-arm64-local")
    g = model.initial()
    assert g == GuestState(frozenset(), (E(), E(), E()), (0, None, None), "g")
    assert model.bring_ups(engine, g, 0) == [
        ([], GuestState(frozenset(), (E({0}), E(), E()), (0, None, None), "g"))
    ]


def test_what_a_fresh_vcpu_may_do_first() -> None:
    """Nothing is mapped: no fetch, write-code or unmap; a map of the one VA to the first PA
    (arm64's IC IVAU of a fresh page is left out); a switch to as1 or as2, each taking the
    free ASID 1 (TTBR write and ASID change, no instruction)."""
    model, engine = setup("linux-arm64-local")
    g = bring_up(model, engine, model.initial(), 0, 0)
    ops = model.operations(engine, g, 0)
    assert [o.label for o in ops] == [
        "v0 map 0x1000 0xa000",
        "v0 switch as1, ASID 1",
        "v0 switch as2, ASID 1",
    ]
    assert ops[0].events == (PteWrite("g", 0, 1, Pte(0xA, False)),) and ops[0].state == g
    assert ops[1].events == (SetTable("g", 0, "as1"), SetAsid("g", 0, 1))
    assert ops[1].state == GuestState(frozenset(), (E({0}), E({0}), E()), (0, 1, None), "g")


def test_a_mapped_page_is_fetched_written_and_unmapped_locally_while_only_this_vcpu_ran_it() -> (
    None
):
    """linux-arm64-local: code_change IC IVAU by VA; an unmap issues VALE1 while the mm was
    active on this vCPU only, VALE1IS once v1 has run it too (the RFC's mm_cpumask test)."""
    model, engine = setup("linux-arm64-local")
    g = bring_up(model, engine, model.initial(), 0, 0)
    g = do(engine, by_label(model.operations(engine, g, 0))["v0 map 0x1000 0xa000"])
    ops = by_label(model.operations(engine, g, 0))
    assert list(ops)[:3] == ["v0 fetch 0x1000", "v0 write-code 0x1000", "v0 unmap 0x1000"]
    assert "v0 map 0x1000 0xb000" not in ops  # one VA, already mapped
    assert ops["v0 fetch 0x1000"].events == (Access("g", 0, 1, AccessKind.FETCH),)
    assert ops["v0 write-code 0x1000"].events == (
        WriteCode("g", 0, 1),
        mnt(model, 0, "ivau", va=1, asid=None),
    )
    assert ops["v0 unmap 0x1000"].events == (
        PteWrite("g", 0, 1, None),
        mnt(model, 0, "vale1", va=1, asid=None),
    )
    # v1 comes up in main: main is now active on both, so the unmap broadcasts
    g = bring_up(model, engine, g, 1, 1)
    assert g.active[0] == E({0, 1})
    ops = by_label(model.operations(engine, g, 0))
    assert ops["v0 unmap 0x1000"].events == (
        PteWrite("g", 0, 1, None),
        mnt(model, 0, "vale1is", va=1, asid=None),
    )
    # v1 sees the page v0 mapped: it may fetch it; as2 does not map (one mapping process)
    assert "v1 fetch 0x1000" in by_label(model.operations(engine, g, 1))


def test_a_rollover_keeps_running_processes_asids_and_the_others_owe_the_flush() -> None:
    """Linux new_context(): v0 runs main (0) then as1 (takes 1); as2 needs one, none is free:
    roll over. v1 has not come up, so only v0's as1 is running: as1 keeps 1, main and as2
    lose theirs and as2 gets 0; v0 flushes now (local VMALLE1), v1 owes it. main, no longer
    holding an ASID, has no active vCPUs in the new generation."""
    model, engine = setup("linux-arm64-local")
    g = bring_up(model, engine, model.initial(), 0, 0)
    g = do(engine, by_label(model.operations(engine, g, 0))["v0 switch as1, ASID 1"])
    ops = by_label(model.operations(engine, g, 0))
    assert [k for k in ops if "switch" in k] == [
        "v0 switch main",  # main keeps ASID 0 this generation: no allocation, no label suffix
        "v0 switch as2, rollover, ASID 0",
    ]
    assert ops["v0 switch main"].events == (SetTable("g", 0, "main"), SetAsid("g", 0, 0))
    roll = ops["v0 switch as2, rollover, ASID 0"]
    assert roll.events == (
        mnt(model, 0, "vmalle1"),
        SetTable("g", 0, "as2"),
        SetAsid("g", 0, 0),
    )
    assert roll.state == GuestState(frozenset({1}), (E(), E({0}), E({0})), (None, 1, 0), "g")
    g = do(engine, roll)
    # v1's bring-up enters main, which holds no ASID, and none is free: another rollover.
    # Running now: as2 on v0 and main on v1 itself; as1 (on no vCPU) loses its 1 and main
    # takes it. v1 runs the flush (it owed one anyway) and v0 owes the new one.
    engine.apply([Run("g", 1, 1)])
    ups = model.bring_ups(engine, g, 1)
    assert len(ups) == 1
    evs, g2 = ups[0]
    assert evs == [mnt(model, 1, "vmalle1"), SetAsid("g", 1, 1)]
    assert g2.asids == (1, None, 0) and g2.needs_flush == frozenset({0})


def test_a_broadcast_rollover_owes_nothing_and_shared_asid_kinds_never_allocate() -> None:
    model, engine = setup("freebsd-arm64-smp")
    assert model.rollover_owed is False and model.allocates
    g = bring_up(model, engine, model.initial(), 0, 0)
    g = do(engine, by_label(model.operations(engine, g, 0))["v0 switch as1, ASID 1"])
    roll = by_label(model.operations(engine, g, 0))["v0 switch as2, rollover, ASID 0"]
    assert roll.state.needs_flush == frozenset()
    assert roll.events[0] == mnt(model, 0, "vmalle1is")
    armv7, _ = setup("freebsd-armv7-smp")
    assert not armv7.allocates and armv7.asid_numbers == (0,) and not armv7.rollover_owed
    assert armv7.tables == ("main", "as1") and armv7.initial().asids == (0, 0)
    assert armv7.process_renamings() == [({}, {})]


def test_process_renamings() -> None:
    """as1/as2 are interchangeable where only main maps (AArch64), and so are the two ASID
    numbers; AArch32 maps in two processes, so only the ASIDs swap."""
    arm64, _ = setup("linux-arm64-smp")
    assert arm64.process_renamings() == [
        ({}, {}),
        ({"as1": "as2", "as2": "as1"}, {}),
        ({}, {0: 1, 1: 0}),
        ({"as1": "as2", "as2": "as1"}, {0: 1, 1: 0}),
    ]
    arm32, _ = setup("linux-arm32-smp")
    assert arm32.process_renamings() == [({}, {}), ({}, {0: 1, 1: 0})]
    assert arm32.maps("as1") and not arm32.maps("as2") and not arm64.maps("as1")


def test_per_cpu_tables() -> None:
    """percpu-tables: vCPU N translates through its own table (main for vCPU 0), ASID 0, no
    switches; vCPU 1's bring-up installs cpu1."""
    model, engine = setup("percpu-tables")
    assert model.tables == ("main", "cpu1") and model.asid_numbers == (0,)
    assert model.tables_of(1) == ("cpu1",) and own_table(0) == "main"
    g = bring_up(model, engine, model.initial(), 0, 0)
    assert g.active == (E({0}), E())
    engine.apply([Run("g", 1, 1)])
    ((evs, g1),) = model.bring_ups(engine, g, 1)
    assert evs == [SetTable("g", 1, "cpu1")] and g1.active == (E({0}), E({1}))
    assert not any("switch" in o.label for o in model.operations(engine, g1, 1))


def test_the_checker_options_add_global_pages_and_process_exits() -> None:
    model, engine = setup("linux-arm64-local", globals=True, asid_flush=True)
    g = bring_up(model, engine, model.initial(), 0, 0)
    (glob,) = model.global_operations(engine, g, 0)
    # the kernel page, global, to the next fresh PA, in every process's table
    assert glob.label == "v0 map-global 0x8000 0xa000" and GLOBAL_VA == 8
    assert glob.events == tuple(
        PteWrite("g", 0, 8, Pte(0xA, True), table=t) for t in ("main", "as1", "as2")
    )
    g = do(engine, glob)
    (unglob,) = model.global_operations(engine, g, 0)
    # removed from every table, then the kind's pte_user (broadcast), by VA
    assert unglob.label == "v0 unmap-global 0x8000"
    assert unglob.events == (
        *(PteWrite("g", 0, 8, None, table=t) for t in ("main", "as1", "as2")),
        mnt(model, 0, "vale1is", va=8, asid=None),
    )
    g = do(engine, by_label(model.operations(engine, g, 0))["v0 map 0x1000 0xb000"])
    exits = by_label(model.asid_flushes(engine, g, 0))
    # main's pages go (not the global one) and ASIDE1IS of its ASID, then a switch
    assert list(exits) == [
        "v0 exit+asid-flush, switch as1, ASID 1",
        "v0 exit+asid-flush, switch as2, ASID 1",
    ]
    assert exits["v0 exit+asid-flush, switch as1, ASID 1"].events == (
        PteWrite("g", 0, 1, None),
        mnt(model, 0, "aside1is", asid=0),
        SetTable("g", 0, "as1"),
        SetAsid("g", 0, 1),
    )
    assert exits["v0 exit+asid-flush, switch as1, ASID 1"].state.active == (E(), E({0}), E())
    extra = [o.label for o in model.extra_operations(engine, g, 0)]
    assert extra == ["v0 unmap-global 0x8000", *exits]
    # not while another brought-up vCPU runs main
    g = bring_up(model, engine, g, 1, 1)
    assert model.asid_flushes(engine, g, 0) == []
    plain, engine2 = setup("linux-arm64-local")
    assert plain.extra_operations(engine2, plain.initial(), 0) == []


def test_for_kind() -> None:
    assert GuestModel.for_kind("linux-arm32-up", 2).vcpus == 1  # a UP kind gets one vCPU
    assert GuestModel.for_kind("linux-arm64-smp", 2, 3).vas == (1, 2, 3)
    for vas in (0, 4):
        with pytest.raises(ValueError, match="vas must be 1..3"):
            GuestModel.for_kind("linux-arm64-smp", 2, vas)


def test_fresh_pas_and_ever_mapped_vas() -> None:
    model, engine = setup("linux-arm64-local")
    assert fresh_pa(engine.domains["g"].tables.values()) == 0xA and ever_mapped(engine) == set()
    engine.apply([Run("g", 0, 0), PteWrite("g", 0, 2, Pte(0xA, False)), PteWrite("g", 0, 2, None)])
    engine.apply([PteWrite("g", 0, 3, Pte(0xB, False), table="as1")])
    # a PA once mapped is never fresh again, even unmapped; every table counts
    assert fresh_pa(engine.domains["g"].tables.values()) == 0xC
    assert ever_mapped(engine) == {2, 3}


def test_a_process_on_asid_1_exits_with_the_flush_of_asid_1() -> None:
    """The exit's ASIDE1IS names the exiting process's ASID (flush_tlb_mm of its mm): here as1
    on ASID 1. as1 does not map pages (only main does on AArch64), so it offers no map."""
    model, engine = setup("linux-arm64-local", asid_flush=True)
    g = bring_up(model, engine, model.initial(), 0, 0)
    g = do(engine, by_label(model.operations(engine, g, 0))["v0 switch as1, ASID 1"])
    assert not any(" map " in o.label for o in model.operations(engine, g, 0))
    exits = by_label(model.asid_flushes(engine, g, 0))
    assert exits["v0 exit+asid-flush, switch main"].events[0] == mnt(model, 0, "aside1is", asid=1)


def test_two_vas_unmap_and_relax_by_their_own_va() -> None:
    """With two VA pages, 0x1000 unmapped and 0x2000 mapped (linux-arm64-local-relax: no local
    form for unmaps): the unmap of 0x2000 invalidates it with VALE1IS, its relaxation with
    VALE1, both by 0x2000's VA; a map offers 0x1000, the one fresh VA."""
    model = GuestModel.for_kind("linux-arm64-local-relax", 2, 2)
    doms = [Domain("g", 1, model.discipline.arch, model.vcpus, kind=model.kind)]
    engine = Engine(Machine(2), doms, resolve("none"), Oracle(doms))
    g = bring_up(model, engine, model.initial(), 0, 0)
    engine.apply([PteWrite("g", 0, 2, Pte(0xA, False))])
    ops = by_label(model.operations(engine, g, 0))
    assert ops["v0 unmap 0x2000"].events[1] == mnt(model, 0, "vale1is", va=2, asid=None)
    assert ops["v0 relax 0x2000"].events[1] == mnt(model, 0, "vale1", va=2, asid=None)
    assert [k for k in ops if " map " in k] == ["v0 map 0x1000 0xb000"]
