"""What the oracle reports: violations of the guest's contract, and the guest's own errors."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PAGE = 4096
NEVER = (0, "")
"""No covering instruction yet: the window is the whole history (step 0 = the initial state)."""

Mark = tuple[int, str]
"""(step, instruction name) of the last covering maintenance."""

CATEGORIES = (
    "stale-tlb",
    "cross-vcpu-tlb",
    "cross-vm-tlb",
    "stale-icache",
    "stale-bp",
    "tlb-conflict",
)


@dataclass(slots=True)
class Violation:
    """A use of something the guest's own rules say it can no longer see."""

    step: int
    category: str
    vcpu: str
    pcpu: int
    va: int
    used: str
    legal: list[str]
    filled_by: str
    filled_at_step: int
    filled_on_pcpu: int
    covered_by: str
    covered_at_step: int
    line: int = 0

    def explain(self) -> str:
        """One line: what was used, where it came from, and which instruction should have removed it."""
        what = {"stale-icache": "fetched code", "stale-bp": "a branch prediction"}.get(
            self.category, "a translation"
        )
        legal = ", ".join(self.legal) if self.legal else "no translation"
        cover = (
            f"; the guest's {self.covered_by} at step {self.covered_at_step} covers it"
            if self.covered_at_step
            else ""
        )
        return (
            f"step {self.step}{f' (line {self.line})' if self.line else ''}: {self.category}: "
            f"{self.vcpu} on pCPU {self.pcpu} used {what} {self.used} for VA {self.va * PAGE:#x}, "
            f"filled by {self.filled_by} on pCPU {self.filled_on_pcpu} at step "
            f"{self.filled_at_step}{cover}; legal: {legal}"
        )

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["va"] = f"{self.va * PAGE:#x}"
        out["explanation"] = self.explain()
        return out


@dataclass(slots=True)
class GuestError:
    """The guest broke its own rules: reported apart, never a hypervisor violation."""

    step: int
    vcpu: str
    kind: str
    message: str
    line: int = 0

    def explain(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"step {self.step}{where}: guest-error {self.kind}: {self.vcpu}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["explanation"] = self.explain()
        return out
