"""A pCPU's TLB: combined stage 1 + stage 2 leaf entries tagged with VMID and ASID-or-global.

An entry matches a lookup by (VMID, VA page) when it is global (nG=0) or its ASID is the
current ASID (Arm ARM D8.12 "Translation Lookaside Buffers"). Two vCPUs of one VM share the
VMID, so either can hit what the other filled: that is hazard H2. The litmus/checker TLB has
no capacity limit: an entry stays until an invalidation removes it, which is the worst case
the architecture allows (a TLB may keep an entry indefinitely).
"""

from __future__ import annotations

from .ops import Match

GLOBAL = -1
"""The tag of a global (nG=0) entry, which matches every ASID."""


class TlbEntry:
    """One combined translation, with the provenance the oracle reports."""

    __slots__ = ("vmid", "tag", "va", "pa", "vcpu", "table", "step", "pcpu")

    def __init__(
        self, vmid: int, tag: int, va: int, pa: int, vcpu: str, table: str, step: int, pcpu: int
    ) -> None:
        self.vmid = vmid
        self.tag = tag
        self.va = va
        self.pa = pa
        self.vcpu = vcpu
        self.table = table
        self.step = step
        self.pcpu = pcpu

    @property
    def is_global(self) -> bool:
        return self.tag == GLOBAL

    def __repr__(self) -> str:
        tag = "global" if self.tag == GLOBAL else f"asid {self.tag}"
        return f"TlbEntry(vmid {self.vmid}, {tag}, {self.va:#x}->{self.pa:#x}, by {self.vcpu})"


class Tlb:
    """A PE's TLB, indexed VMID -> VA page -> tag -> entry."""

    __slots__ = ("by_vmid",)

    def __init__(self) -> None:
        self.by_vmid: dict[int, dict[int, dict[int, TlbEntry]]] = {}

    def lookup(self, vmid: int, asid: int, va: int) -> list[TlbEntry]:
        """Every entry a translation of ``va`` under (vmid, asid) matches: its ASID's and the global one."""
        pages = self.by_vmid.get(vmid)
        if pages is None:
            return []
        tags = pages.get(va)
        if not tags:
            return []
        found = []
        entry = tags.get(asid)
        if entry is not None:
            found.append(entry)
        entry = tags.get(GLOBAL)
        if entry is not None:
            found.append(entry)
        return found

    def fill(self, entry: TlbEntry) -> None:
        """Cache a walk's result (replacing an entry with the same tags)."""
        self.by_vmid.setdefault(entry.vmid, {}).setdefault(entry.va, {})[entry.tag] = entry

    def invalidate(
        self, vmid: int, match: Match, asid: int = 0, va: int = 0, pages: int = 1
    ) -> int:
        """Remove the entries of ``vmid`` that ``match`` selects; returns how many went."""
        by_va = self.by_vmid.get(vmid)
        if not by_va:
            return 0
        if match is Match.ALL:
            n = sum(len(t) for t in by_va.values())
            del self.by_vmid[vmid]
            return n
        if match is Match.ASID:
            n = 0
            for tags in by_va.values():
                if tags.pop(asid, None) is not None:
                    n += 1
            return n
        n = 0
        for page in range(va, va + pages):
            found = by_va.get(page)
            if not found:
                continue
            if match is Match.VA_ANY_ASID:
                n += len(found)
                del by_va[page]
            else:  # VA_ASID: that ASID's entry and the global one
                n += (found.pop(asid, None) is not None) + (found.pop(GLOBAL, None) is not None)
        return n

    def invalidate_all(self) -> int:
        """Remove every entry of every VMID (TLBI ALLE1)."""
        n = self.size()
        self.by_vmid.clear()
        return n

    def size(self, vmid: int | None = None) -> int:
        if vmid is not None:
            return sum(len(t) for t in self.by_vmid.get(vmid, {}).values())
        return sum(len(t) for p in self.by_vmid.values() for t in p.values())

    def entries(self) -> list[TlbEntry]:
        return [e for p in self.by_vmid.values() for t in p.values() for e in t.values()]
