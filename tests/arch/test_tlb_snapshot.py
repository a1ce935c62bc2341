"""``Tlb.snapshot``: a copy that shares its entries until either side changes them."""

from __future__ import annotations

from vtlbsim.arch.ops import Match
from vtlbsim.arch.tlb import GLOBAL, Tlb, TlbEntry


def _entry(va: int, tag: int, pa: int) -> TlbEntry:
    return TlbEntry(1, tag, va, pa, "g.0", "main", 1, 0)


def _held(t: Tlb) -> set[tuple[int, int, int]]:
    return {(e.va, e.tag, e.pa) for e in t.entries()}


def test_changes_after_a_snapshot_stay_on_their_side() -> None:
    a = Tlb()
    a.fill(_entry(1, 5, 0xA))
    a.fill(_entry(2, GLOBAL, 0xB))
    b = a.snapshot()
    b.fill(_entry(3, 5, 0xC))  # the copy gains an entry: the original does not
    assert _held(a) == {(1, 5, 0xA), (2, GLOBAL, 0xB)}
    assert _held(b) == {(1, 5, 0xA), (2, GLOBAL, 0xB), (3, 5, 0xC)}
    assert a.invalidate(1, Match.VA_ASID, asid=5, va=1) == 1  # the original loses one
    assert _held(a) == {(2, GLOBAL, 0xB)}
    assert _held(b) == {(1, 5, 0xA), (2, GLOBAL, 0xB), (3, 5, 0xC)}
    c = b.snapshot()
    assert c.invalidate(1, Match.ASID, asid=5) == 2
    assert b.invalidate_all() == 3
    assert _held(c) == {(2, GLOBAL, 0xB)}
    assert _held(b) == set()
    assert _held(a) == {(2, GLOBAL, 0xB)}


def test_an_invalidation_that_removes_nothing_changes_nothing() -> None:
    a = Tlb()
    a.fill(_entry(1, 5, 0xA))
    b = a.snapshot()
    assert b.invalidate(2, Match.ALL) == 0  # another VMID: nothing to copy or remove
    assert b.invalidate(1, Match.ALL) == 1
    assert _held(a) == {(1, 5, 0xA)} and _held(b) == set()
