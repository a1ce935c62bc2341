"""Replaying a scenario under a policy with the oracle watching: the result of a litmus run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..arch.machine import Machine
from ..guest.domain import Domain
from ..hyp.policy import Policy
from ..sim.engine import Engine
from ..sim.scenario import Scenario
from .oracle import GuestError, Oracle, Violation


@dataclass(slots=True)
class Outcome:
    """What one policy made of one scenario."""

    policy: str
    violations: list[Violation]
    guest_errors: list[GuestError]
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def outcome(self) -> str:
        """``violation`` if the hypervisor broke the guest's contract at least once, else ``clean``."""
        return "violation" if self.violations else "clean"

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "policy": self.policy,
            "violations": [v.to_json() for v in self.violations],
            "guest_errors": [g.to_json() for g in self.guest_errors],
            "counts": dict(sorted(self.counts.items())),
        }


def build_domains(scenario: Scenario) -> list[Domain]:
    """Fresh domains for a run, VMIDs 1, 2, ... in declaration order (or as a domain names)."""
    return [
        Domain(d.name, d.vmid or vmid, d.arch, d.vcpus, kind=d.kind, pinned=d.pinned)
        for vmid, d in enumerate(scenario.domains, start=1)
    ]


def replay(scenario: Scenario, policy: Policy) -> Outcome:
    """Run every event of ``scenario`` under ``policy``; the oracle judges every use."""
    domains = build_domains(scenario)
    oracle = Oracle(domains)
    engine = Engine(
        Machine(scenario.pcpus, bp=scenario.bp), domains, policy, oracle, scenario.incomplete
    )
    engine.apply(scenario.events)
    lines = scenario.lines
    for v in oracle.violations:
        v.line = lines[v.step - 1] if 0 < v.step <= len(lines) else 0
    for g in oracle.guest_errors:
        g.line = lines[g.step - 1] if 0 < g.step <= len(lines) else 0
    return Outcome(policy.name, oracle.violations, oracle.guest_errors, engine.counts)
