"""The checker's optional guest operations: global kernel mappings (``--globals``) and ASID
flushes at process exit (``--asid-flush``). The guest keeps its discipline with them on, and
the verdicts they leave alone are argued by hand."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_explore_invariants import POLICIES, follow, walk

from vtlbsim.arch.ops import BP_READINGS
from vtlbsim.arch.tlb import GLOBAL
from vtlbsim.check.actions import GLOBAL_VA, GuestModel
from vtlbsim.check.explore import Explorer, check
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.events import Maintain, PteWrite


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KIND_NAMES),
    policy=st.sampled_from(POLICIES),
    choices=st.lists(st.integers(0, 80), min_size=1, max_size=12),
)
def test_the_guest_keeps_its_discipline_with_every_option(
    kind: str, policy: str, choices: list[int]
) -> None:
    """Random paths with global mappings and ASID flushes on: no guest error (``walk``
    asserts it at every step)."""
    model = GuestModel.for_kind(kind, 2, globals=True, asid_flush=True)
    walk(Explorer(model, resolve(policy), 2), choices)


def test_a_global_page_is_mapped_in_every_table_and_fills_a_global_entry() -> None:
    """map-global writes the kernel page's global PTE into both processes' tables; a fetch
    fills a global TLB entry (it matches every ASID); unmap-global removes the PTE from both
    and invalidates it with the kind's by-VA TLBI, which covers the global entry."""
    ex = Explorer(GuestModel.for_kind("linux-arm64-smp", 2, globals=True), resolve("none"), 2)
    ops = follow(ex, ["run v0 on 0", "v0 map-global 0x8000 0xa000", "v0 fetch 0x8000"])
    writes = [e for e in ops[1].events if isinstance(e, PteWrite)]
    assert {w.table for w in writes} == {"main", "as1", "as2"}
    assert all(w.pte is not None and w.pte.is_global for w in writes)
    path = tuple(e for op in ops for e in op.events)
    engine, _ = ex.replay(path)
    tags = {e.tag for e in engine.machine.pcpus[0].tlb.entries()}
    assert tags == {GLOBAL}
    unmap = next(
        o for o in ex.successors(engine, ops[-1].state) if o.label == "v0 unmap-global 0x8000"
    )
    assert [e.table for e in unmap.events if isinstance(e, PteWrite)] == ["main", "as1", "as2"]
    assert [e.op.name for e in unmap.events if isinstance(e, Maintain)] == ["vale1is"]
    assert all(e.va == GLOBAL_VA for e in unmap.events if isinstance(e, Maintain))


def test_exit_with_an_asid_flush_is_a_path_linux_takes() -> None:
    """arm64 Linux frees a dead mm's pages and flushes its ASID with ASIDE1IS
    (``flush_tlb_mm``): the process on table main exits, the vCPU switches to as1."""
    ex = Explorer(GuestModel.for_kind("linux-arm64-smp", 2, asid_flush=True), resolve("kvm"), 2)
    ops = follow(
        ex,
        ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 exit+asid-flush, switch as1, ASID 1"],
    )
    evs = ops[-1].events
    assert isinstance(evs[0], PteWrite) and evs[0].pte is None
    flush = [e for e in evs if isinstance(e, Maintain)]
    assert [(e.op.name, e.asid) for e in flush] == [("aside1is", 0)]


def test_options_that_every_policy_here_survives() -> None:
    """FB upgrades the UP kernel's TLBIMVA (which covers global entries) and TLBIASID, and it
    has one vCPU: safe with both options. KVM's VMALLE1 removes global entries too, and FB
    makes percpu-tables' local VALE1 broadcast: safe with global pages."""
    fb_bp = BP_READINGS["visible-fb"]  # FB upgrades BPIALL too (docs/guests.md)
    assert check("linux-arm32-up", "fb", depth=8, globals=True, asid_flush=True, bp=fb_bp).safe
    assert check("percpu-tables", "kvm", depth=7, globals=True).safe


def test_the_shortest_counterexamples_do_not_change() -> None:
    """The UP kernel under none: the 7-action H1 of test_explore_expectations (new code with a
    local ICIALLU on B) is still the shortest; an exit with a local TLBIASID gives the same
    hazard in 8 (examples/litmus/asid-flush-after-migration-arm32-up.toml)."""
    r = check("linux-arm32-up", "none", depth=8, globals=True, asid_flush=True)
    assert not r.safe and len(r.actions) == 7
