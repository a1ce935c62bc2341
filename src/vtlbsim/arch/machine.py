"""The machine: pCPUs grouped into sockets, one Inner Shareable domain spanning all of them."""

from __future__ import annotations

from dataclasses import dataclass, field

from .caches import BranchPredictor, ICache
from .ops import DEFAULT_BP, BpReading
from .tlb import Tlb


@dataclass(frozen=True, slots=True)
class Hcr:
    """The HCR_EL2 bits a policy sets for the vCPU a pCPU runs."""

    fb: bool = False
    """Force Broadcast: listed local EL1 maintenance acts as its Inner Shareable form."""
    ttlb: bool = False
    """Trap TLB maintenance: every EL1 TLBI traps to EL2."""
    bsu: bool = False
    """Barrier Shareability Upgrade = Inner Shareable (HCR_EL2.BSU = 0b01): a DSB or DMB executed
    at EL1/EL0 acts with at least Inner Shareable scope, so a guest's ``DSB NSH`` also waits for
    the remote part of a maintenance instruction FB made broadcast (Arm ARM, HCR_EL2.BSU)."""


@dataclass(slots=True)
class Pcpu:
    """A physical PE with its private TLB, I-cache and branch predictor."""

    index: int
    socket: int = 0
    tlb: Tlb = field(default_factory=Tlb)
    icache: ICache = field(default_factory=ICache)
    bp: BranchPredictor = field(default_factory=BranchPredictor)
    hcr: Hcr = field(default_factory=Hcr)
    running: str | None = None
    """The vCPU loaded here ("dom.index"), if any."""


class Machine:
    """``pcpus`` PEs in ``sockets`` sockets (contiguous blocks); one IS domain over all of them;
    ``bp``: whether their branch predictors are visible and what HCR_EL2.FB does to BPIALL."""

    def __init__(self, pcpus: int, sockets: int = 1, bp: BpReading = DEFAULT_BP) -> None:
        if pcpus < 1:
            raise ValueError("a machine needs at least one pCPU")
        if sockets < 1 or sockets > pcpus:
            raise ValueError("sockets must be between 1 and the pCPU count")
        per = -(-pcpus // sockets)
        self.pcpus = [Pcpu(i, i // per) for i in range(pcpus)]
        self.sockets = sockets
        self.bp = bp.normalised()
        """How the branch predictors behave (arch.ops.BpReading)."""

    def __len__(self) -> int:
        return len(self.pcpus)

    def inner_shareable(self) -> list[Pcpu]:
        """The PEs an IS instruction reaches: all of them."""
        return self.pcpus
