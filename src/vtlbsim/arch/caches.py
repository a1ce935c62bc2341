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

    __slots__ = ("lines", "_shared")

    def __init__(self) -> None:
        self.lines: dict[tuple[int, int], CodeLine] = {}
        self._shared = False
        """``lines`` is shared with a ``snapshot``: copied before this I-cache changes it."""

    def snapshot(self) -> ICache:
        """An I-cache with the same lines, sharing them with this one until either changes
        (the model checker copies a state for each successor; most leave an I-cache as it is)."""
        self._shared = True
        c = ICache.__new__(ICache)
        c.lines = self.lines
        c._shared = True
        return c

    def _own(self) -> dict[tuple[int, int], CodeLine]:
        """``lines``, made this I-cache's own first if it is shared."""
        if self._shared:
            self.lines = self.lines.copy()
            self._shared = False
        return self.lines

    def lookup(self, vmid: int, pa: int) -> CodeLine | None:
        return self.lines.get((vmid, pa))

    def fill(self, vmid: int, line: CodeLine) -> None:
        self._own()[(vmid, line.pa)] = line

    def invalidate_all(self) -> int:
        n = len(self.lines)
        if n:
            self.lines = {}  # not cleared in place: a snapshot may share it
            self._shared = False
        return n

    def invalidate_pa(self, vmid: int, pa: int) -> int:
        if (vmid, pa) not in self.lines:
            return 0
        del self._own()[(vmid, pa)]
        return 1


class BranchPredictor:
    """(VMID, ASID, VA page) -> the (PA, code version) a prediction was trained on."""

    __slots__ = ("entries", "_shared")

    def __init__(self) -> None:
        self.entries: dict[tuple[int, int, int], CodeLine] = {}
        self._shared = False
        """``entries`` is shared with a ``snapshot``: copied before this predictor changes it."""

    def snapshot(self) -> BranchPredictor:
        """A predictor with the same predictions, sharing them with this one until either
        changes (as ``ICache.snapshot``)."""
        self._shared = True
        c = BranchPredictor.__new__(BranchPredictor)
        c.entries = self.entries
        c._shared = True
        return c

    def _own(self) -> dict[tuple[int, int, int], CodeLine]:
        """``entries``, made this predictor's own first if it is shared."""
        if self._shared:
            self.entries = self.entries.copy()
            self._shared = False
        return self.entries

    def lookup(self, vmid: int, asid: int, va: int) -> CodeLine | None:
        return self.entries.get((vmid, asid, va))

    def train(self, vmid: int, asid: int, va: int, line: CodeLine) -> None:
        self._own()[(vmid, asid, va)] = line

    def invalidate_vmid(self, vmid: int) -> int:
        """BPIALL at EL1: every prediction of the current VMID."""
        gone = [k for k in self.entries if k[0] == vmid]
        return self._drop(gone)

    def invalidate_va(self, vmid: int, va: int) -> int:
        """BPIMVA: the predictions for one VA, whatever their ASID."""
        gone = [k for k in self.entries if k[0] == vmid and k[2] == va]
        return self._drop(gone)

    def _drop(self, gone: list[tuple[int, int, int]]) -> int:
        if gone:
            entries = self._own()
            for k in gone:
                del entries[k]
        return len(gone)

    def invalidate_all(self) -> int:
        n = len(self.entries)
        if n:
            self.entries = {}  # not cleared in place: a snapshot may share it
            self._shared = False
        return n
