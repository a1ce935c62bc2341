"""The verdict of one check: safe up to a depth, or the shortest counterexample, as the CLI
prints it and the verdict cache stores it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..arch.ops import BP_READINGS, DEFAULT_BP, BpReading
from ..sim.scenario import Scenario
from .actions import DEFAULT_VAS
from .findings import PAGE, Violation


@dataclass(slots=True)
class CheckResult:
    """The verdict for one guest kind under one policy on one machine size."""

    kind: str
    policy: str
    pcpus: int
    vcpus: int
    depth: int
    states: int
    depth_reached: int
    seconds: float
    counterexample: Scenario | None = None
    violation: Violation | None = None
    actions: list[str] = field(default_factory=list)
    vas: int = DEFAULT_VAS
    policy_ref: str = ""
    """How the policy was asked for (a registered name, or a plug-in's ``module:Class``)."""
    from_cache: bool = False
    """Read from a verdict cache rather than computed now."""
    incomplete: bool = False
    """Checked with incomplete maintenance (``check --incomplete``)."""
    bp: BpReading = DEFAULT_BP
    """How the platform's branch predictors were read (``arch.ops.BpReading``)."""
    vms: int = 1
    """VMs over the run (``check --vms 2``: the second reuses the destroyed first's VMID)."""

    def __post_init__(self) -> None:
        if not self.policy_ref:
            self.policy_ref = self.policy

    @property
    def safe(self) -> bool:
        return self.counterexample is None

    def summary(self) -> str:
        """One line: ``safe up to depth D (S states)`` or the violation found."""
        if self.safe:
            return f"safe up to depth {self.depth} ({self.states} states)"
        assert self.violation is not None
        return (
            f"unsafe: {self.violation.category} after {len(self.actions)} actions "
            f"({len(self.counterexample.events) if self.counterexample else 0} events; "
            f"{self.states} states)"
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckResult:
        """The result ``to_json`` wrote (a verdict cache entry)."""
        from ..litmus import parse  # the counterexample is kept as its litmus file

        r = cls(
            data["kind"],
            data["policy"],
            data["pcpus"],
            data["vcpus"],
            data["depth"],
            data["states"],
            data["depth_reached"],
            data["seconds"],
            vas=data["vas"],
            policy_ref=data.get("policy_ref", data["policy"]),
            from_cache=True,
            incomplete=data.get("incomplete", False),
            bp=BP_READINGS[data.get("bp", DEFAULT_BP.name)],
            vms=data.get("vms", 1),
        )
        if not data["safe"]:
            v = dict(data["violation"])
            v.pop("explanation", None)
            v["va"] = int(v["va"], 16) // PAGE
            r.violation = Violation(**v)
            r.actions = list(data["actions"])
            r.counterexample = parse(data["litmus"], path="<verdict cache>")
        return r

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "policy": self.policy,
            "policy_ref": self.policy_ref,
            "pcpus": self.pcpus,
            "vcpus": self.vcpus,
            "depth": self.depth,
            "vas": self.vas,
            "incomplete": self.incomplete,
            "bp": self.bp.name,
            "vms": self.vms,
            "safe": self.safe,
            "states": self.states,
            "depth_reached": self.depth_reached,
            "seconds": round(self.seconds, 3),
        }
        if self.counterexample is not None and self.violation is not None:
            out["violation"] = self.violation.to_json()
            out["actions"] = self.actions
            out["litmus"] = self.counterexample.to_litmus()
        return out
