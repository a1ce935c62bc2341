"""The guest model the checker derives from a discipline (check/actions.py): processes, the ASID
allocator, exec mappings, relaxations — each rule against what the OS source does."""

from __future__ import annotations

import pytest

from vtlbsim.check import actions
from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer, check
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.registry import all_policies, resolve
from vtlbsim.sim.events import Event, Maintain, PteWrite, SetAsid, SetTable


def _walk(kind: str, labels: list[str]) -> tuple[Explorer, tuple[Event, ...], object]:
    ex = Explorer(GuestModel.for_kind(kind, 2), resolve("none"), 2)
    path: tuple[Event, ...] = ()
    g = ex.model.initial()
    for label in labels:
        engine, _ = ex.replay(path)
        ops = {o.label: o for o in ex.successors(engine, g)}
        assert label in ops, (label, sorted(ops))
        path, g = path + ops[label].events, ops[label].state
    return ex, path, g


def _labels(ex: Explorer, path: tuple[Event, ...], g: object) -> set[str]:
    engine, _ = ex.replay(path)
    return {o.label for o in ex.successors(engine, g)}  # type: ignore[arg-type]


def test_a_rollover_recycles_only_a_descheduled_process_asid() -> None:
    """Linux new_context(): a process keeps its ASID for the generation; one without takes a
    free one; with none free the allocator rolls over, keeping the ASIDs of the processes
    running on some CPU (flush_context: active_asids / reserved_asids). v0 runs main (ASID 0),
    then as1 (the free ASID 1). as2 has none and none is free: the rollover keeps as1's 1 (v0
    runs it) and gives as2 main's 0 — main is alive but on no CPU. v0 runs the rollover flush
    at once; v1, which has not run yet, owes it."""
    ex, path, g = _walk(
        "linux-arm64-smp",
        ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 switch as1, ASID 1"],
    )
    labels = _labels(ex, path, g)
    assert "v0 switch as2, rollover, ASID 0" in labels
    assert not any(label.startswith("v0 switch as2, rollover, ASID 1") for label in labels)
    ex, path, g = _walk(
        "linux-arm64-smp",
        [
            "run v0 on 0",
            "v0 map 0x1000 0xa000",
            "v0 switch as1, ASID 1",
            "v0 switch as2, rollover, ASID 0",
        ],
    )
    assert g.asids == (None, 1, 0)  # type: ignore[attr-defined]
    assert g.needs_flush == frozenset({1})  # type: ignore[attr-defined]
    tail = path[path.index(SetTable("g", 0, "as1")) :]
    assert [e.op.name for e in tail if isinstance(e, Maintain)] == ["vmalle1"]
    assert SetAsid("g", 0, 0) in tail
    # main, descheduled, keeps its mapping: a live process, not an exit
    engine, _ = ex.replay(path)
    assert engine.domains["g"].table("main").walk(1) is not None


def test_a_broadcast_rollover_leaves_nothing_owed() -> None:
    """FreeBSD arm64 pmap_reset_asid_set(): one VMALLE1IS by the CPU that rolls over."""
    ex, path, g = _walk(
        "freebsd-arm64-smp",
        ["run v0 on 0", "v0 switch as1, ASID 1", "v0 switch as2, rollover, ASID 0"],
    )
    assert g.needs_flush == frozenset()  # type: ignore[attr-defined]
    assert [e.op.name for e in path if isinstance(e, Maintain)] == ["vmalle1is"]


def test_one_asid_for_every_process_and_a_flush_at_every_switch() -> None:
    """FreeBSD armv7: every process on ASID 0, no allocator (no rollover ever), and
    cpu_context_switch's TLBIASID x2 + BPIALL at every switch, a CPU's first included
    (cpu_throw)."""
    ex, path, g = _walk("freebsd-armv7-smp", ["run v0 on 0", "v0 switch as1"])
    names = [e.op.name for e in path if isinstance(e, Maintain)]
    assert names == ["tlbiasid", "tlbiasid", "bpiall"] * 2
    assert not any(isinstance(e, SetAsid) for e in path)
    assert not any("rollover" in label for label in _labels(ex, path, g))
    assert ex.model.tables == ("main", "as1")


def test_a_map_issues_the_whole_cache_part_of_map_exec() -> None:
    """Linux arm32's __sync_icache_dcache: ICIALLUIS on every executable PTE install. Linux
    arm64's IC IVAU of a fresh page changes nothing and is left out (it works through the
    kernel's own mapping of the page, not the user VA)."""
    _, path, _ = _walk("linux-arm32-smp", ["run v0 on 0", "v0 map 0x1000 0xa000"])
    assert [e.op.name for e in path if isinstance(e, Maintain)] == ["icialluis"]
    _, path, _ = _walk("linux-arm64-smp", ["run v0 on 0", "v0 map 0x1000 0xa000"])
    assert not any(isinstance(e, Maintain) for e in path)


def test_a_relaxation_rewrites_the_same_pte_then_flushes_locally() -> None:
    """Linux v6.19 __ptep_set_access_flags(): the PTE gains permissions, its output is the same,
    then TLBI VALE1 (local). Only a kind with pte_relax has the operation."""
    ex, path, g = _walk(
        "linux-arm64-local-relax", ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 relax 0x1000"]
    )
    writes = [e for e in path if isinstance(e, PteWrite)]
    assert len(writes) == 2 and writes[0].pte == writes[1].pte
    assert [e.op.name for e in path if isinstance(e, Maintain)] == ["vale1"]
    ex2, path2, g2 = _walk("linux-arm64-smp", ["run v0 on 0", "v0 map 0x1000 0xa000"])
    assert not any("relax" in label for label in _labels(ex2, path2, g2))


@pytest.mark.slow
def test_the_mapping_processes_find_what_every_process_mapping_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docs/check.md "Which processes map": letting every process map (and so write code, unmap
    and relax) gives the same verdicts and counterexample lengths at depth 7 on every pair."""
    every = {arch: len(actions.AS_TABLES) for arch in actions.MAPPING_PROCESSES}
    for k in KIND_NAMES:
        for p in all_policies():
            few = check(k, p, depth=7)
            with monkeypatch.context() as m:
                m.setattr(actions, "MAPPING_PROCESSES", every)
                many = check(k, p, depth=7)
            assert (few.safe, len(few.actions)) == (many.safe, len(many.actions)), (k, p)
