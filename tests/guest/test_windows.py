"""When a table was a vCPU's current one (``Vcpu.windows``) and what a PTE history held then
(``History.during``): the instants the legality rule (SPEC §5) may draw a translation from.
Every expectation below is worked out by hand from the steps written in the test."""

from __future__ import annotations

from vtlbsim.arch.ops import Arch
from vtlbsim.guest.domain import Domain
from vtlbsim.guest.tables import History, Pte


def test_during_holds_the_value_in_force_at_lo_and_every_write_up_to_hi() -> None:
    h = History().then(2, "a").then(5, "b").then(9, "c")
    assert h.during(0, 1) == (None,)  # before the first write: no translation
    assert h.during(3, 4) == ("a",)
    assert h.during(3, 5) == ("a", "b")  # written at 5: held at instant 5
    assert h.during(5, 8) == ("b",)
    assert h.during(6, None) == ("b", "c")
    assert h.during(0, None) == (None, "a", "b", "c")


def test_a_vcpu_that_never_ran_has_no_window() -> None:
    v = Domain("g", 1, Arch.AARCH64, 2).vcpus[1]
    assert v.windows("main", 0) == ()


def test_windows_follow_first_run_and_table_switches() -> None:
    """v runs first at step 4 on main, switches to as1 at 7 and back to main at 12: main was
    current over [4, 7] and from 12 on; as1 over [7, 12]. A covering mark at 6 trims the first
    window to [6, 7]; a mark at 8 leaves main only its open window."""
    v = Domain("g", 1, Arch.AARCH64, 1).vcpus[0]
    v.start(4)
    v.switch_table(7, "as1")
    v.switch_table(12, "main")
    v.start(20)  # running again later starts nothing new
    assert v.windows("main", 0) == ((4, 7), (12, None))
    assert v.windows("as1", 0) == ((7, 12),)
    assert v.windows("main", 6) == ((6, 7), (12, None))
    assert v.windows("main", 8) == ((12, None),)
    assert v.windows("as1", 13) == ()


def test_a_table_maps_during_a_window_only_what_it_held_then() -> None:
    """main maps 0x1000 -> 0xa000 at step 2 and unmaps it at 5; v joins at 7: nothing legal.
    A vCPU current since 3 may use 0xa000."""
    d = Domain("g", 1, Arch.AARCH64, 2)
    t = d.table("main")
    t.write(2, 1, Pte(0xA, False))
    t.write(5, 1, None)
    assert not t.mapped_during(1, 0xA, ((7, None),))
    assert t.outputs_during(1, ((7, None),)) == [None]
    assert t.mapped_during(1, 0xA, ((3, None),))
    assert t.outputs_during(1, ((3, None),)) == [0xA, None]
