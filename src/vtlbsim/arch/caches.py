"""The PA-tagged instruction cache and the AArch32 branch predictor of one pCPU.

The I-cache is PIPT and holds, per physical page, the version of the code it fetched; a fetch
that hits uses that version even after the guest wrote new code (Arm ARM B2.4.4
"Concurrent modification and execution of instructions": new code needs IC maintenance).
``IC IALLU`` empties the PE's I-cache; ``IC IVAU`` removes one PA's lines on every PE.

The branch predictor holds, per (VMID, ASID, VA), what it learnt the code there was (the
page's PA and code version). On AArch32 the architecture requires ``BPIALL``/``BPIMVA`` after
changing code or mappings (Arm ARM G4.4.1), so a prediction trained on a mapping or code the
guest has since maintained away is stale. AArch64 has no branch-predictor maintenance; the
model keeps no predictor state for AArch64 domains.
"""

from __future__ import annotations


class CodeLine:
    """What a cache or predictor holds for one page, with provenance."""

    __slots__ = ("pa", "version", "vcpu", "step", "pcpu")

    def __init__(self, pa: int, version: int, vcpu: str, step: int, pcpu: int) -> None:
        self.pa = pa
        self.version = version
        self.vcpu = vcpu
        self.step = step
        self.pcpu = pcpu


class ICache:
    """PIPT I-cache: (VMID, PA page) -> the code version fetched. Each VM's memory is its own."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        self.lines: dict[tuple[int, int], CodeLine] = {}

    def lookup(self, vmid: int, pa: int) -> CodeLine | None:
        return self.lines.get((vmid, pa))

    def fill(self, vmid: int, line: CodeLine) -> None:
        self.lines[(vmid, line.pa)] = line

    def invalidate_all(self) -> int:
        n = len(self.lines)
        self.lines.clear()
        return n

    def invalidate_pa(self, vmid: int, pa: int) -> int:
        return 1 if self.lines.pop((vmid, pa), None) is not None else 0


class BranchPredictor:
    """(VMID, ASID, VA page) -> the (PA, code version) a prediction was trained on."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: dict[tuple[int, int, int], CodeLine] = {}

    def lookup(self, vmid: int, asid: int, va: int) -> CodeLine | None:
        return self.entries.get((vmid, asid, va))

    def train(self, vmid: int, asid: int, va: int, line: CodeLine) -> None:
        self.entries[(vmid, asid, va)] = line

    def invalidate_vmid(self, vmid: int) -> int:
        """BPIALL at EL1: every prediction of the current VMID."""
        gone = [k for k in self.entries if k[0] == vmid]
        for k in gone:
            del self.entries[k]
        return len(gone)

    def invalidate_va(self, vmid: int, va: int) -> int:
        """BPIMVA: the predictions for one VA, whatever their ASID."""
        gone = [k for k in self.entries if k[0] == vmid and k[2] == va]
        for k in gone:
            del self.entries[k]
        return len(gone)

    def invalidate_all(self) -> int:
        n = len(self.entries)
        self.entries.clear()
        return n
