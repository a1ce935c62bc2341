"""The explorer's rules (``check/explore.py``) against figures derived by hand, written from the
mutants of ``explore.py`` that survived the tests before them (docs/testing.md,
"check/explore.py"): the states a result counts at the probed level, the depth a violation is
reported at, the defaults and argument checks of ``check``, and what ``--globals`` and
``--asid-flush`` add to a search.

Each figure follows from the kinds' disciplines (``data/profiles/guests/``) and the state count
docs/check.md defines ("S states": the distinct canonical states at depths below D-1 plus every
state at depth D-1, duplicates included), never from the code's output."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from test_explore_invariants import follow

from vtlbsim.arch.machine import Hcr
from vtlbsim.arch.ops import HypOp
from vtlbsim.check.actions import GuestModel, GuestState
from vtlbsim.check.explore import Explorer, check
from vtlbsim.hyp.policy import NO_FLAGS, Policy, VcpuInfo, VcpuLoad
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.engine import Engine

PERCPU = "percpu-tables"


def _after(ex: Explorer, labels: list[str]) -> tuple[Engine, GuestState]:
    """The engine and guest bookkeeping after the operations named by ``labels``."""
    ops = follow(ex, labels)
    engine, _ = ex.replay(tuple(e for op in ops for e in op.events))
    return engine, ops[-1].state


def _labels(ex: Explorer, labels: list[str]) -> list[str]:
    """The labels of the successors of the state ``labels`` reach."""
    return [o.label for o in ex.successors(*_after(ex, labels))]


def _told(kind: str, policy: str, depth: int, **kw: object) -> list[tuple[int, int]]:
    told: list[tuple[int, int]] = []
    check(kind, policy, depth=depth, progress=lambda d, s: told.append((d, s)), **kw)  # type: ignore[arg-type]
    return told


def test_the_probed_level_counts_every_state() -> None:
    """``percpu-tables`` under ``none``, 2 vCPUs on 2 pCPUs, depth 4 (safe: H2 needs 5 actions).
    Below depth 3 the states are merged: the initial one, 1 at depth 1, 3 at depth 2
    (``test_search_modules``): 5. Depth 3 = D-1 counts every successor of those three:

    - v1 loaded on pCPU 0 in v0's place: loads v0 on 0, v0 on 1, v1 on 1 (3); v1's own table
      maps nothing and no VA was ever mapped, so v1 can only map 0x1000 (1): 4;
    - v0 on 0 and v1 on 1: loads v0 on 1, v1 on 0 (2); each maps 0x1000 in its own table (2): 4;
    - v0 on 0 with 0x1000 mapped in ``main``: loads v0 on 1, v1's bring-up on 0 and on 1 (3);
      v0 fetches, writes code at and unmaps 0x1000 (3; no relax, the only VA is mapped): 6.

    14 at depth 3, **19** in all; ``progress`` is told (4, 19) when depth 3 stands for depth 4.
    A fetch that shows nothing is counted without being applied: still one state.

    At depth 2, depth 1 is the probed level: the initial state and the four first loads
    (``run vX on Y``, duplicates up to renaming included): **5**."""
    told: list[tuple[int, int]] = []
    r = check(PERCPU, "none", depth=4, progress=lambda d, s: told.append((d, s)))
    assert r.safe and r.depth_reached == 4
    assert r.states == 19
    assert told[-1] == (4, 19)
    r = check(PERCPU, "none", depth=2)
    assert r.safe and r.states == 5


def test_a_violation_above_the_probed_level_is_reported_at_its_own_depth() -> None:
    """H2 needs exactly 5 actions (``test_search_modules``). Asked for depth 7, the search meets
    it at depth 5, two levels above the probed one: it stops there and says depth 5 was
    reached, keeping the depth asked for."""
    r = check(PERCPU, "none", depth=7)
    assert not r.safe and len(r.actions) == 5
    assert (r.depth, r.depth_reached) == (7, 5)


def test_the_default_depth_is_10() -> None:
    """``check`` without a depth searches 10 actions deep (SPEC §7): the UP kernel's H1
    (7 actions, ``test_explore_expectations``) is found, the result saying depth 10 was
    asked."""
    r = check("linux-arm32-up", "none")
    assert r.depth == 10 and not r.safe and len(r.actions) == 7


def test_one_pcpu_is_a_machine_too() -> None:
    """One pCPU: H2 happens on it. v0 is loaded (1), maps 0x1000 (2) and fetches it (3); v1 is
    loaded in its place (4) and fetches 0x1000 through v0's entry (5): cross-vcpu-tlb. Nothing
    shorter (the fill needs a load, a map and a use, the other vCPU a load and a use; a vCPU
    never meets its own stale entry, since with one pCPU its local maintenance always runs
    where the entry is)."""
    assert check(PERCPU, "none", pcpus=1, depth=4).safe
    r = check(PERCPU, "none", pcpus=1, depth=5)
    assert not r.safe and len(r.actions) == 5 and r.pcpus == 1
    assert r.violation is not None and r.violation.category == "cross-vcpu-tlb"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"depth": -1}, "depth must be >= 0, pcpus and vcpus >= 1"),
        ({"pcpus": 0}, "depth must be >= 0, pcpus and vcpus >= 1"),
        ({"vms": 3}, "vms must be 1 or 2"),
    ],
)
def test_bad_sizes_are_refused_with_the_rule(kw: dict[str, int], message: str) -> None:
    """The CLI shows the message as it is: it states the rule, nothing else."""
    with pytest.raises(ValueError) as err:
        check(PERCPU, "none", **kw)  # type: ignore[arg-type]
    assert str(err.value) == message


def test_globals_add_the_kernel_page_at_depth_2() -> None:
    """``--globals``: from "v0 on pCPU 0" (the one state at depth 1), besides the 3 new states
    of ``test_search_modules`` v0 may map the kernel page 0x8000 global in both tables
    (``main`` and v1's ``cpu1``): a state of its own (v1, once loaded, could fetch 0x8000, which
    no other state lets it): 4 new at depth 2, 6 in all. Without the option: 5."""
    assert _told(PERCPU, "none", 4, globals=True)[:2] == [(1, 2), (2, 6)]
    assert _told(PERCPU, "none", 4)[:2] == [(1, 2), (2, 5)]


def test_asid_flush_adds_an_exit_at_depth_2() -> None:
    """``linux-arm64-local`` under ``none``: depth 1 is one state (every first load enters
    ``main``, ASID 0; the vCPUs and pCPUs renamed). From "v0 in ``main`` on pCPU 0", depth 2 has
    v1 loaded on pCPU 0 or on pCPU 1, v0 mapping 0x1000, and v0 switching to ``as1`` or ``as2``
    (ASID 1; one state, the two processes map nothing and are interchangeable): 4 new, 6 in
    all. ``--asid-flush`` adds the exit of ``main``'s process (no other vCPU was loaded, so none
    uses ``main``) with its ASIDE1IS, then the switch to ``as1`` or ``as2`` (again one state):
    ``main`` is then active on no vCPU, where after a plain switch it is still active on v0,
    and this kind picks a local TLBI by that set (a later unmap in ``main`` by v1 is local after
    the exit, broadcast after the switch): a 5th new state, 7 in all."""
    assert _told("linux-arm64-local", "none", 4)[:2] == [(1, 2), (2, 6)]
    assert _told("linux-arm64-local", "none", 4, asid_flush=True)[:2] == [(1, 2), (2, 7)]


def test_incomplete_maintenance_leaves_h2_at_five_actions() -> None:
    """``--incomplete`` changes when a TLBI completes, and H2 involves none: v0 loaded on A (1),
    maps 0x1000 (2), fetches it (3), v1 loaded on A (4) fetches it through v0's entry (5),
    cross-vcpu-tlb, as with complete maintenance. Nothing is shorter (the argument of
    ``test_one_pcpu_is_a_machine_too``; a violation through a TLBI still in flight needs a map,
    a fill and the TLBI, three actions, besides its loads and its use). Asked for depth 6, the
    last level probed, every state at depth 5 counted, the search still returns H2."""
    r = check(PERCPU, "none", depth=6, incomplete=True)
    assert not r.safe and len(r.actions) == 5 and r.incomplete
    assert r.violation is not None and r.violation.category == "cross-vcpu-tlb"


def test_no_vcpu_is_brought_up_while_a_rollover_holds_the_allocator() -> None:
    """FreeBSD arm64, ``--incomplete``: v0 on pCPU 0 switches to ``as1`` (ASID 1), then to
    ``as2``: no ASID is free (2 numbers, ``main`` and ``as1`` hold them), so it rolls the ASIDs
    over with TLBI VMALLE1IS, ``asid_set_mutex`` held until the DSB ISH after it
    (``pmap_reset_asid_set``, sys/arm64/arm64/pmap.c). v1 was never loaded: its first context
    switch enters ``main``, whose ASID is of the old generation, so it waits in
    ``pmap_alloc_asid`` for the mutex: the scheduler may load it nowhere yet. What is left: v0
    moved to pCPU 1, and v0's DSB (its next instruction). After the DSB both loads of v1 are
    back."""
    ex = Explorer(GuestModel.for_kind("freebsd-arm64-smp", 2), resolve("none"), 2, incomplete=True)
    labels = ["run v0 on 0", "v0 switch as1, ASID 1", "v0 switch as2, rollover, ASID 0"]
    assert _labels(ex, labels) == ["run v0 on 1", "v0 dsb ish"]
    after = _labels(ex, [*labels, "v0 dsb ish"])
    assert after[:3] == ["run v0 on 1", "run v1 on 0", "run v1 on 1"]


def test_a_running_vcpu_neither_switches_nor_maps_while_a_rollover_holds_the_allocator() -> None:
    """FreeBSD arm64, ``--incomplete``, both vCPUs running: v0 on pCPU 0 and v1 on pCPU 1 both
    switch to ``as1`` (ASID 1, shared); v0 then switches to ``as2`` and rolls the ASIDs over
    (``main`` still holds 0), its VMALLE1IS in flight until its DSB. v1 may not switch process
    (``pmap_alloc_asid`` waits for ``asid_set_mutex``), may not map (no vCPU changes a PTE while
    a flush is in flight; and ``as1`` maps nothing in an AArch64 guest, where only ``main``
    maps) and has no VA to fetch (none was ever mapped). Left: the two moves and v0's DSB."""
    ex = Explorer(GuestModel.for_kind("freebsd-arm64-smp", 2), resolve("none"), 2, incomplete=True)
    labels = ["run v0 on 0", "run v1 on 1", "v0 switch as1, ASID 1", "v1 switch as1"]
    rollover = [*labels, "v0 switch as2, rollover, ASID 0"]
    assert _labels(ex, rollover) == ["run v0 on 1", "run v1 on 0", "v0 dsb ish"]


def test_a_linux_rollover_holds_no_other_vcpu() -> None:
    """The same story on ``linux-arm64-smp``: v0's rollover flush is a local VMALLE1, and Linux
    takes ``cpu_asid_lock`` only to hand out the ASID (``check_and_switch_context``,
    arch/arm64/mm/context.c), not across the flush, which each CPU runs for itself. So while
    v0's VMALLE1 waits for its DSB NSH, v1 may still switch to ``as2``, which took ASID 0 in
    the new generation (v1 then runs the flush it owes)."""
    ex = Explorer(GuestModel.for_kind("linux-arm64-smp", 2), resolve("none"), 2, incomplete=True)
    labels = ["run v0 on 0", "run v1 on 1", "v0 switch as1, ASID 1", "v1 switch as1"]
    after = _labels(ex, [*labels, "v0 switch as2, rollover, ASID 0"])
    assert "v0 dsb nsh" in after and "v1 switch as2" in after


DESTROY = "destroy VM g, create VM h on its VMID"


def test_the_vm_may_be_destroyed_once_it_ran() -> None:
    """``--vms 2`` under ``xen`` (which hands a freed VMID out again after its flush): the
    scheduler may destroy VM g once it ran (``check``: "once it ran"), whichever vCPUs ran:
    not in the initial state (nothing ran: the scheduler's only actions are the four first
    loads), but after v0's first load, and still after v1's too (both vCPUs loaded)."""
    ex = Explorer(GuestModel.for_kind(PERCPU, 2), resolve("xen"), 2, vms=2)
    e0, _ = ex.replay(())
    assert [o.label for o in ex.successors(e0, ex.model.initial())] == [
        "run v0 on 0",
        "run v0 on 1",
        "run v1 on 0",
        "run v1 on 1",
    ]
    for labels in (["run v0 on 0"], ["run v0 on 0", "run v1 on 1"]):
        assert DESTROY in _labels(ex, labels)


class _ReusesVmidOneUnflushed(Policy):
    """No FB, no flush on a load; hands VMID 1 out again with no flush, and no other VMID."""

    name = "reuses-vmid-1"
    summary = "no maintenance; VMID 1 reused unflushed"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return ()

    def on_vmid_reuse(self, vmid: int) -> Sequence[HypOp] | None:
        return () if vmid == 1 else None


def test_the_second_vm_is_the_same_kind_on_vmid_1() -> None:
    """``--vms 2``: VM h, created when g is destroyed, is g's kind and size on g's VMID 1, so the
    checker asks the policy about VMID 1. This policy hands VMID 1 out again without a flush:
    linux-arm64-smp's 6-action cross-VM story (``test_vms``: g loaded on A, maps and fetches
    0x1000, is destroyed; h loaded on A fetches 0x1000 through g's entry), against 8 actions
    for its shortest one-VM violation (the ASID rollover, ``test_explore_expectations``).
    The counterexample declares both VMs of that kind, h on VMID 1."""
    kind = "linux-arm64-smp"
    r = check(kind, _ReusesVmidOneUnflushed(), depth=7, vms=2)
    assert not r.safe and len(r.actions) == 6
    assert r.violation is not None and r.violation.category == "cross-vm-tlb"
    assert r.counterexample is not None
    assert [(d.name, d.vcpus, d.kind, d.vmid) for d in r.counterexample.domains] == [
        ("g", 2, kind, None),
        ("h", 2, kind, 1),
    ]
