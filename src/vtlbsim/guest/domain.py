"""Domains (VMs) and their vCPUs, as the engine and the oracle see them."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..arch.ops import Arch
from .tables import CodeMemory, TranslationTable

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
    tables_used: set[str] = field(default_factory=set)
    """The tables this vCPU has translated through."""


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
