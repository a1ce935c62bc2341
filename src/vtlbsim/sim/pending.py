"""Incomplete maintenance: a broadcast completes on the other PEs only at the issuer's DSB.

By default the engine is sequential: a maintenance instruction takes effect everywhere it
reaches when it executes, and DSB/ISB change nothing (SPEC §2). With ``incomplete`` on
(``vtlbsim check --incomplete``, a litmus file's ``incomplete = true``), the engine follows the
completion rules instead (Arm ARM B2.3.12 / D8.15 "Completion of TLB maintenance"; the same
holds for cache and branch-predictor maintenance):

- An instruction that acts on other PEs (an IS instruction, or a local one FB made IS) takes
  effect on the issuing PE at once and stays *pending* on the others, recorded under the
  issuing PE.
- A DSB completes every pending instruction the executing PE issued, if its shareability
  covers the Inner Shareable domain: ``DSB SY``/``ISH``/``OSH``, or ``DSB NSH`` at EL1 while
  HCR_EL2.BSU is Inner Shareable (BSU upgrades the barrier). A ``DSB NSH`` without BSU
  completes only this PE's own part. A DSB qualified ``ST`` or ``LD`` is not counted as
  completing maintenance.
- A DSB by a vCPU completes what *the PE it runs on* issued, not what the vCPU issued on
  another PE: a vCPU preempted between its TLBI and its DSB and run elsewhere leaves its
  broadcast pending on the PE it left — unless the hypervisor executes a DSB there when the
  vCPU leaves (``Policy.dsb_on_deschedule``, which every shipping hypervisor does).
- The hypervisor's own flushes, and a trapped instruction it emulates, complete at once (each
  is followed by its DSB in the sources).
- What the guest may rely on follows its own DSB: the oracle learns of a vCPU's maintenance
  (SPEC §5 "covers") when the vCPU's next DSB executes, not when the instruction does, so
  another vCPU that uses an entry between a broadcast and its DSB sees what bare metal allows.
  The cover is dated by the DSB's step. That equals the instruction's own date as long as no
  PTE and no code changes in between, which kernels guarantee by holding the page-table or
  text-patching lock until their flush completes, and which the model checker keeps
  (``check/explore.py``); a litmus file that changes memory in between is judged with the
  DSB's date.
"""

from __future__ import annotations

from ..arch.ops import MaintenanceOp
from .events import Barrier, Maintain

Remote = tuple[MaintenanceOp, int, int, int, int, int | None, int]
"""A pending remote part: (instruction, VMID, ASID, VA, pages, PA, target pCPU)."""
Undone = tuple[Maintain, int, int | None]
"""A guest instruction its next DSB will report: (event, ASID, PA)."""

COMPLETING = {"", "sy", "ish", "osh"}
"""DSB options whose shareability covers the Inner Shareable domain."""


def completes_remote(barrier: Barrier, bsu: bool) -> bool:
    """Whether this DSB completes the remote parts of what its PE issued."""
    return barrier.option in COMPLETING or (barrier.option == "nsh" and bsu)


def completes_own(barrier: Barrier) -> bool:
    """Whether this barrier is a DSB that completes maintenance at all (not ISB, not LD/ST)."""
    return barrier.name == "dsb" and not barrier.option.endswith(("st", "ld"))


class Pending:
    """Remote parts not yet complete, by issuing pCPU; guest maintenance not yet reported to
    the observer, by vCPU. Tuples throughout, so a copy shares them."""

    __slots__ = ("remote", "undone")

    def __init__(self) -> None:
        self.remote: dict[int, tuple[Remote, ...]] = {}
        self.undone: dict[str, tuple[Undone, ...]] = {}

    def copy(self) -> Pending:
        c = Pending.__new__(Pending)
        c.remote = self.remote.copy()
        c.undone = self.undone.copy()
        return c

    def __bool__(self) -> bool:
        return bool(self.remote or self.undone)

    def issue(self, pcpu: int, remote: Remote) -> None:
        self.remote[pcpu] = (*self.remote.get(pcpu, ()), remote)

    def defer(self, vcpu: str, undone: Undone) -> None:
        self.undone[vcpu] = (*self.undone.get(vcpu, ()), undone)

    def take_remote(self, pcpu: int) -> tuple[Remote, ...]:
        return self.remote.pop(pcpu, ())

    def take_undone(self, vcpu: str) -> tuple[Undone, ...]:
        return self.undone.pop(vcpu, ())
