"""Domains (VMs) and their vCPUs, as the engine and the oracle see them."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..arch.ops import Arch
from .tables import CodeMemory, TranslationTable, Windows

MAIN_TABLE = "main"


@dataclass(slots=True)
class Vcpu:
    """A virtual CPU: where it runs, its ASID and table, and where it last ran."""

    domain: Domain
    index: int
    name: str
    pcpu: int | None = None
    last_pcpu: int | None = None
    asid: int = 0
    table: str = MAIN_TABLE
    tables_used: frozenset[str] = frozenset()
    """The tables this vCPU has translated through."""
    spans: tuple[tuple[str, int, int], ...] = ()
    """Closed intervals ``(table, first step, last step)`` during which a table was this vCPU's
    current one, once it had run (``current_since`` holds the open one)."""
    current_since: int | None = None
    """The step since which ``table`` has been current (None: the vCPU has never run)."""

    def start(self, step: int) -> None:
        """The vCPU runs for the first time: from now on its CPU may walk its current table."""
        if self.current_since is None:
            self.current_since = step

    def switch_table(self, step: int, table: str) -> None:
        """``table`` becomes current at ``step``; the previous one's interval closes there."""
        if self.current_since is not None:
            self.spans = (*self.spans, (self.table, self.current_since, step))
            self.current_since = step
        self.table = table

    def windows(self, table: str, since: int) -> Windows:
        """The instants at or after ``since`` at which ``table`` was this vCPU's current table
        (``None``: still is). SPEC §5: a CPU caches a table's translations only while that
        table is current on it, so on bare metal a translation this vCPU uses was mapped then
        (a CPU that joins an address space late never saw what it mapped before)."""
        out: list[tuple[int, int | None]] = [
            (max(lo, since), hi) for t, lo, hi in self.spans if t == table and hi >= since
        ]
        if table == self.table and self.current_since is not None:
            out.append((max(self.current_since, since), None))
        return tuple(out)


@dataclass(slots=True)
class Domain:
    """A VM: its VMID, architecture, vCPUs, translation tables and code memory."""

    name: str
    vmid: int
    arch: Arch
    nvcpus: int
    kind: str | None = None
    pinned: bool = False
    vcpus: list[Vcpu] = field(default_factory=list)
    tables: dict[str, TranslationTable] = field(default_factory=dict)
    code: CodeMemory = field(default_factory=CodeMemory)

    def __post_init__(self) -> None:
        if not self.vcpus:
            self.vcpus = [Vcpu(self, i, f"{self.name}.{i}") for i in range(self.nvcpus)]
        self.tables.setdefault(MAIN_TABLE, TranslationTable(MAIN_TABLE))

    def table(self, name: str) -> TranslationTable:
        t = self.tables.get(name)
        if t is None:
            t = self.tables[name] = TranslationTable(name)
        return t
