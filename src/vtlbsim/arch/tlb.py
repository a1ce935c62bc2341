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

    __slots__ = ("by_vmid", "_shared")

    def __init__(self) -> None:
        self.by_vmid: dict[int, dict[int, dict[int, TlbEntry]]] = {}
        self._shared = False
        """``by_vmid`` is shared with a ``snapshot``: copied before this TLB changes it."""

    def snapshot(self) -> Tlb:
        """A TLB with the same entries, sharing them with this one until either changes
        (the model checker copies a state for each successor; most leave a TLB as it is)."""
        self._shared = True
        c = Tlb.__new__(Tlb)
        c.by_vmid = self.by_vmid
        c._shared = True
        return c

    def _own(self) -> dict[int, dict[int, dict[int, TlbEntry]]]:
        """``by_vmid``, made this TLB's own first if it is shared."""
        if self._shared:
            self.by_vmid = {
                vmid: {va: tags.copy() for va, tags in pages.items()}
                for vmid, pages in self.by_vmid.items()
            }
            self._shared = False
        return self.by_vmid

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
        self._own().setdefault(entry.vmid, {}).setdefault(entry.va, {})[entry.tag] = entry

    def invalidate(
        self, vmid: int, match: Match, asid: int = 0, va: int = 0, pages: int = 1
    ) -> int:
        """Remove the entries of ``vmid`` that ``match`` selects; returns how many went."""
        if not self.by_vmid.get(vmid):
            return 0
        by_va = self._own()[vmid]
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
        self.by_vmid = {}  # not cleared in place: a snapshot may share it
        self._shared = False
        return n

    def size(self, vmid: int | None = None) -> int:
        if vmid is not None:
            return sum(len(t) for t in self.by_vmid.get(vmid, {}).values())
        return sum(len(t) for p in self.by_vmid.values() for t in p.values())

    def entries(self) -> list[TlbEntry]:
        return [e for p in self.by_vmid.values() for t in p.values() for e in t.values()]
