"""Every guest maintenance instruction's rule, against a table written from the Arm ARM.

The expectations below are written by hand from the Arm ARM (D8 TLB maintenance for AArch64, G5
for AArch32 CP15, HCR_EL2.FB and .TTLB field descriptions), not read from vtlbsim.arch.ops.
"""

from __future__ import annotations

import itertools

import pytest

from vtlbsim.arch.ops import (
    ALL_OPS,
    Arch,
    BpReading,
    Match,
    Scope,
    Structure,
    effective,
    is_equivalent,
    op,
)
from vtlbsim.arch.tlb import GLOBAL, Tlb, TlbEntry

A64, A32 = Arch.AARCH64, Arch.AARCH32

# name -> (match, broadcast?) for the TLB instructions
A64_TLBI = {
    "vmalle1": (Match.ALL, False),
    "vmalle1is": (Match.ALL, True),
    "vmalle1os": (Match.ALL, True),
    "vae1": (Match.VA_ASID, False),
    "vae1is": (Match.VA_ASID, True),
    "vale1": (Match.VA_ASID, False),
    "vale1is": (Match.VA_ASID, True),
    "aside1": (Match.ASID, False),
    "aside1is": (Match.ASID, True),
    "vaae1": (Match.VA_ANY_ASID, False),
    "vaae1is": (Match.VA_ANY_ASID, True),
    "vaale1": (Match.VA_ANY_ASID, False),
    "vaale1is": (Match.VA_ANY_ASID, True),
    "rvae1": (Match.VA_ASID, False),
    "rvae1is": (Match.VA_ASID, True),
    "rvale1": (Match.VA_ASID, False),
    "rvaae1": (Match.VA_ANY_ASID, False),
    "rvaale1": (Match.VA_ANY_ASID, False),
    "rvaale1is": (Match.VA_ANY_ASID, True),
    "vae1nxs": (Match.VA_ASID, False),
    "vae1isnxs": (Match.VA_ASID, True),
}
A32_TLBI = {
    "tlbiall": (Match.ALL, False),
    "tlbiallis": (Match.ALL, True),
    "tlbimva": (Match.VA_ASID, False),
    "tlbimvais": (Match.VA_ASID, True),
    "tlbiasid": (Match.ASID, False),
    "tlbiasidis": (Match.ASID, True),
    "tlbimvaa": (Match.VA_ANY_ASID, False),
    "tlbimvaais": (Match.VA_ANY_ASID, True),
    "tlbimval": (Match.VA_ASID, False),
    "tlbimvalis": (Match.VA_ASID, True),
    "tlbimvaal": (Match.VA_ANY_ASID, False),
    "tlbimvaalis": (Match.VA_ANY_ASID, True),
    "dtlbiall": (Match.ALL, False),
    "itlbiall": (Match.ALL, False),
    "dtlbimva": (Match.VA_ASID, False),
    "itlbimva": (Match.VA_ASID, False),
    "dtlbiasid": (Match.ASID, False),
    "itlbiasid": (Match.ASID, False),
}
# REFERENCES.md §FB: what HCR_EL2.FB upgrades
FB_A64 = {
    "vmalle1",
    "vae1",
    "aside1",
    "vaae1",
    "vale1",
    "vaale1",
    "rvae1",
    "rvaae1",
    "rvale1",
    "rvaale1",
    "iallu",
}
FB_A32 = {
    "bpiall",
    "tlbiall",
    "tlbimva",
    "tlbiasid",
    "dtlbiall",
    "dtlbimva",
    "dtlbiasid",
    "itlbiall",
    "itlbimva",
    "itlbiasid",
    "tlbimvaa",
    "iciallu",
    "tlbimval",
    "tlbimvaal",
}


@pytest.mark.parametrize(
    ("arch", "name", "match", "broadcast"),
    [(A64, n, m, b) for n, (m, b) in A64_TLBI.items()]
    + [(A32, n, m, b) for n, (m, b) in A32_TLBI.items()],
)
def test_tlbi_match_and_scope(arch: Arch, name: str, match: Match, broadcast: bool) -> None:
    o = op(arch, name)
    assert o.structure is Structure.TLB
    assert o.match is match
    assert o.broadcast is broadcast
    assert o.ttlb_traps, "HCR_EL2.TTLB traps every EL1 TLB maintenance instruction, IS ones too"


def test_fb_upgrades_exactly_the_listed_instructions() -> None:
    def base(name: str) -> str:
        return name[:-3] if name.endswith("nxs") else name

    got64 = {base(o.name) for o in ALL_OPS if o.arch is A64 and o.fb_upgrades}
    got32 = {o.name for o in ALL_OPS if o.arch is A32 and o.fb_upgrades}
    assert got64 == FB_A64
    assert got32 == FB_A32


@pytest.mark.parametrize("o", [o for o in ALL_OPS if o.fb_upgrades], ids=lambda o: o.name)
def test_fb_turns_a_local_instruction_into_its_is_form(o: object) -> None:
    from vtlbsim.arch.ops import MaintenanceOp

    assert isinstance(o, MaintenanceOp)
    up = effective(o, fb=True, bp=BpReading(True, bpiall_fb_upgrade=True))
    assert up.scope is Scope.IS and up.match is o.match and up.structure is o.structure
    assert effective(o, fb=False) is o


def test_fb_leaves_bpiall_local_unless_the_platform_reads_the_field_text() -> None:
    """The BPIALL pseudocode (DDI0595) upgrades it only under an AArch32 EL2's HCR.FB: by
    default an AArch64 hypervisor's HCR_EL2.FB leaves it local; the HCR_EL2.FB field text,
    which lists BPIALL, is the ``bpiall_fb_upgrade`` reading. Every TLB and I-cache instruction
    on the list is upgraded either way."""
    bpiall = op(A32, "bpiall")
    assert effective(bpiall, fb=True) is bpiall
    assert effective(bpiall, fb=True, bp=BpReading(False, True)) is bpiall  # invisible: moot
    assert effective(bpiall, fb=True, bp=BpReading(True, True)).name == "bpiallis"
    for name in ("tlbimva", "iciallu", "tlbiall"):
        assert effective(op(A32, name), fb=True).scope is Scope.IS


def test_fb_leaves_broadcast_and_by_va_cache_ops_alone() -> None:
    for arch, name in [(A64, "ivau"), (A64, "vae1is"), (A32, "icimvau"), (A32, "bpimva")]:
        o = op(arch, name)
        assert effective(o, fb=True) is o
    assert op(A64, "ivau").broadcast, "IC IVAU is broadcast to the IS domain regardless of FB"


def test_cache_ops_are_not_trapped_by_ttlb() -> None:
    for o in ALL_OPS:
        if o.structure is not Structure.TLB:
            assert not o.ttlb_traps, o.name


def test_instructions_exist_only_on_their_architecture() -> None:
    with pytest.raises(KeyError):
        op(A64, "bpiall")
    with pytest.raises(KeyError):
        op(A32, "vae1")
    assert op(A32, "iallu").name == "iciallu", "the litmus spelling of ICIALLU on AArch32"


def test_trap_and_emulate_form() -> None:
    assert is_equivalent(op(A64, "vale1")).name == "vale1is"
    assert is_equivalent(op(A32, "dtlbimva")).name == "tlbimvais"


# ---- the matching rule, on a real TLB --------------------------------------------------------
VMIDS, ASIDS, VAS = (1, 2), (5, 6), (0x10, 0x11)


def _full_tlb() -> tuple[Tlb, list[TlbEntry]]:
    tlb, entries = Tlb(), []
    for vmid, tag, va in itertools.product(VMIDS, (*ASIDS, GLOBAL), VAS):
        e = TlbEntry(vmid, tag, va, va + 0x100, "g.0", "main", 1, 0)
        tlb.fill(e)
        entries.append(e)
    return tlb, entries


def _expected_removed(match: Match, e: TlbEntry, asid: int, va: int) -> bool:
    """The Arm ARM's rule, for an instruction executed with VMID 1."""
    if e.vmid != 1:
        return False
    if match is Match.ALL:
        return True
    if match is Match.ASID:
        return e.tag == asid  # non-global entries of that ASID only
    if match is Match.VA_ANY_ASID:
        return e.va == va
    return e.va == va and (e.tag == asid or e.tag == GLOBAL)  # by VA: that ASID + global


@pytest.mark.parametrize("name", sorted(A64_TLBI) + sorted(A32_TLBI))
def test_each_tlbi_removes_exactly_what_the_rule_says(name: str) -> None:
    arch = A64 if name in A64_TLBI else A32
    match = (A64_TLBI | A32_TLBI)[name][0]
    o = op(arch, name)
    tlb, entries = _full_tlb()
    n = tlb.invalidate(1, o.match, asid=5, va=0x10)
    survivors = {id(e) for e in tlb.entries()}
    for e in entries:
        assert (id(e) not in survivors) == _expected_removed(match, e, 5, 0x10), (name, e)
    assert n == len(entries) - len(survivors)


def test_lookup_matches_own_asid_and_global_only() -> None:
    tlb, _ = _full_tlb()
    hits = tlb.lookup(1, 5, 0x10)
    assert sorted(e.tag for e in hits) == sorted([5, GLOBAL])
    assert all(e.vmid == 1 for e in hits)
    assert tlb.lookup(3, 5, 0x10) == []


def test_range_instruction_covers_its_pages() -> None:
    tlb, _ = _full_tlb()
    tlb.invalidate(1, op(A64, "rvaae1").match, va=0x10, pages=2)
    assert not any(e.vmid == 1 for e in tlb.entries())
