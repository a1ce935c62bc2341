"""The event vocabulary shared by litmus files, the model checker and exact mode.

Each event is what one litmus step says; ``line`` is where it came from (0 when generated).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..arch.ops import MaintenanceOp
from ..guest.tables import Pte


class AccessKind(StrEnum):
    LOAD = "load"
    STORE = "store"
    FETCH = "fetch"


@dataclass(frozen=True, slots=True)
class Run:
    """The hypervisor loads ``domain.vcpu`` on ``pcpu`` (the policy acts here)."""

    domain: str
    vcpu: int
    pcpu: int
    line: int = 0


@dataclass(frozen=True, slots=True)
class PteWrite:
    """The guest writes a PTE (``pte`` None: invalid) into ``table`` (None: the vCPU's current one)."""

    domain: str
    vcpu: int
    va: int
    pte: Pte | None
    table: str | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Access:
    """A data access or an instruction fetch at a VA page."""

    domain: str
    vcpu: int
    va: int
    kind: AccessKind
    line: int = 0


@dataclass(frozen=True, slots=True)
class WriteCode:
    """The guest writes new instructions at a VA page (a store, then the code version goes up)."""

    domain: str
    vcpu: int
    va: int
    line: int = 0


@dataclass(frozen=True, slots=True)
class Maintain:
    """A guest maintenance instruction with its operands.

    ``asid`` None means the vCPU's current ASID (the ASID field of a by-VA TLBI).
    """

    domain: str
    vcpu: int
    op: MaintenanceOp
    va: int = 0
    asid: int | None = None
    pages: int = 1
    line: int = 0


@dataclass(frozen=True, slots=True)
class Barrier:
    """DSB or ISB. The sequential model counts it and changes nothing; with incomplete
    maintenance (``sim/pending.py``) a DSB completes what its PE issued."""

    domain: str
    vcpu: int
    name: str
    line: int = 0
    option: str = ""
    """The DSB's option as written (``ish``, ``nsh``, ``sy``...; empty: SY)."""


@dataclass(frozen=True, slots=True)
class SetAsid:
    domain: str
    vcpu: int
    asid: int
    line: int = 0


@dataclass(frozen=True, slots=True)
class SetTable:
    domain: str
    vcpu: int
    table: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class Destroy:
    """The hypervisor destroys VM ``domain``: its vCPUs stop for good, its VMID is freed, and
    the hypervisor's VMID-reuse maintenance (``Policy.on_vmid_reuse``) runs before any other VM
    may be tagged with that VMID."""

    domain: str
    line: int = 0


Event = Run | PteWrite | Access | WriteCode | Maintain | Barrier | SetAsid | SetTable | Destroy
"""One step of a scenario."""


def render(event: Event) -> str:
    """The litmus step that denotes ``event`` (SPEC §6 syntax)."""
    if isinstance(event, Run):
        return f"run {event.domain}.{event.vcpu} on {event.pcpu}"
    if isinstance(event, Destroy):
        return f"destroy {event.domain}"
    who = f"{event.domain}.{event.vcpu}"
    if isinstance(event, PteWrite):
        tbl = f" table={event.table}" if event.table else ""
        if event.pte is None:
            return f"{who} unmap {event.va * 4096:#x}{tbl}"
        glob = " global" if event.pte.is_global else ""
        return f"{who} map {event.va * 4096:#x} {event.pte.pa * 4096:#x}{glob}{tbl}"
    if isinstance(event, Access):
        return f"{who} {event.kind} {event.va * 4096:#x}"
    if isinstance(event, WriteCode):
        return f"{who} write-code {event.va * 4096:#x}"
    if isinstance(event, Maintain):
        verb = {"tlb": "tlbi", "ic": "ic", "bp": "bp"}[event.op.structure]
        arg = ""
        if event.op.operand == "va":
            arg = f" {event.va * 4096:#x}"
            if event.asid is not None:
                arg += f" asid={event.asid}"
            if event.pages != 1:
                arg += f" pages={event.pages}"
        elif event.op.operand == "asid":
            arg = f" {event.asid}"
        return f"{who} {verb} {event.op.name}{arg}"
    if isinstance(event, Barrier):
        return f"{who} {event.name}" + (f" {event.option}" if event.option else "")
    if isinstance(event, SetAsid):
        return f"{who} asid {event.asid}"
    return f"{who} table {event.table}"
