"""The per-PE structures' bookkeeping, each value worked out by hand: what a range TLBI over a
hole removes, what BPIMVA removes, how many entries each invalidation reports (the engine's
``tlb-entries-removed.*`` counts), and the machine's size checks. These close the arch/ gaps
the first mutation run listed (docs/testing.md)."""

from __future__ import annotations

import pytest

from vtlbsim.arch.caches import BranchPredictor, CodeLine, ICache
from vtlbsim.arch.machine import Machine
from vtlbsim.arch.ops import Match
from vtlbsim.arch.tlb import GLOBAL, Tlb, TlbEntry


def _entry(va: int, tag: int, vmid: int = 1, pcpu: int = 0) -> TlbEntry:
    return TlbEntry(vmid, tag, va, 0xA0 + va, "g.0", "main", 1, pcpu)


def _tlb() -> Tlb:
    """VMID 1: VA 1 (ASID 0 and global), VA 3 (ASID 0 and ASID 1), nothing at VA 2;
    VMID 2: VA 1 (ASID 0). Six entries."""
    t = Tlb()
    for e in (_entry(1, 0), _entry(1, GLOBAL), _entry(3, 0), _entry(3, 1), _entry(1, 0, vmid=2)):
        t.fill(e)
    return t


def test_sizes() -> None:
    t = _tlb()
    assert t.size() == 5 and t.size(1) == 4 and t.size(2) == 1 and t.size(9) == 0


def test_a_range_by_va_and_asid_goes_on_past_a_page_without_entries() -> None:
    """VA_ASID over pages 1..3, ASID 0: VA 1's ASID-0 and global entries (2), none at VA 2,
    VA 3's ASID-0 entry (1) = 3; VA 3's ASID 1 and VMID 2 stay."""
    t = _tlb()
    assert t.invalidate(1, Match.VA_ASID, asid=0, va=1, pages=3) == 3
    assert [(e.vmid, e.va, e.tag) for e in t.entries()] == [(1, 3, 1), (2, 1, 0)]


def test_a_range_by_va_any_asid_goes_on_past_a_page_without_entries() -> None:
    """VA_ANY_ASID over pages 1..3: both of VA 1 and both of VA 3 = 4."""
    t = _tlb()
    assert t.invalidate(1, Match.VA_ANY_ASID, va=1, pages=3) == 4
    assert t.size(1) == 0 and t.size(2) == 1


def test_counts_by_asid_all_and_every_vmid() -> None:
    t = _tlb()
    assert t.invalidate(1, Match.ASID, asid=0) == 2  # VA 1 and VA 3's ASID 0 (not global)
    assert t.invalidate(1, Match.ALL) == 2  # the global one and ASID 1
    assert t.invalidate(1, Match.ALL) == 0
    assert _tlb().invalidate_all() == 5


def test_icache_counts() -> None:
    ic = ICache()
    ic.fill(1, CodeLine(0xA, 0, "g.0", 1, 0))
    ic.fill(1, CodeLine(0xB, 0, "g.0", 1, 0))
    ic.fill(2, CodeLine(0xA, 0, "h.0", 1, 0))
    assert ic.invalidate_pa(1, 0xA) == 1 and ic.invalidate_pa(1, 0xA) == 0
    assert ic.invalidate_all() == 2


def test_bpimva_removes_that_va_only_whatever_the_asid() -> None:
    bp = BranchPredictor()
    line = CodeLine(0xA, 0, "g.0", 1, 0)
    for key in ((1, 0, 5), (1, 1, 5), (1, 0, 6), (2, 0, 5)):
        bp.train(*key, line)
    assert bp.invalidate_va(1, 5) == 2
    assert sorted(bp.entries) == [(1, 0, 6), (2, 0, 5)]
    assert bp.invalidate_vmid(1) == 1
    assert bp.invalidate_all() == 1


def test_provenance_keeps_the_pcpu_that_filled() -> None:
    assert _entry(1, 0, pcpu=3).pcpu == 3
    assert CodeLine(0xA, 0, "g.0", 1, 2).pcpu == 2


@pytest.mark.parametrize("sockets", [0, 5])
def test_socket_count_outside_one_to_pcpus_is_refused(sockets: int) -> None:
    with pytest.raises(ValueError, match="sockets"):
        Machine(4, sockets)


def test_sockets_are_contiguous_blocks() -> None:
    """5 pCPUs in 2 sockets: blocks of ceil(5/2) = 3: 0,0,0,1,1."""
    assert [p.socket for p in Machine(5, 2).pcpus] == [0, 0, 0, 1, 1]
