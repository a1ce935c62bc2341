"""The result of costing one policy on one machine: cycles lost by cause, events, safety."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VALID_OVERHEAD_PCT = 100.0
"""Above this share of the machine's cycles the machine would be saturated: the cost model,
which adds costs as if every core had the cycles to spare, no longer predicts anything."""


@dataclass(slots=True)
class CostResult:
    """What one policy costs for one workload at one core count.

    ``cycles`` maps each cause to the cycles it loses, summed over every pCPU of the machine;
    the causes add up to ``total_cycles``. ``machine_cycles`` is pCPUs × clock × duration, so
    ``overhead_pct = 100 · total_cycles / machine_cycles``. ``cost_to_others_pct`` is the part
    of the overhead paid by cores that did not issue the maintenance (DVM work on the other
    cores of the Inner Shareable domain, and the collateral refills it causes there).
    ``safe`` is None when unknown (cost/ never consults the checker; the CLI fills it in).
    """

    policy: str
    pcpus: int
    platform: str
    overhead_pct: float
    cost_to_others_pct: float
    cycles: dict[str, float]
    events: dict[str, float]
    safe: bool | None = None
    mode: str = "analytic"
    total_cycles: float = 0.0
    machine_cycles: float = 0.0
    duration_s: float = 0.0
    baseline_cycles: float = 0.0
    """Policy-independent cycles (the scheduler's vCPU switches), not part of ``cycles``."""
    assumptions: list[str] = field(default_factory=list)
    """Names of the figures this result used that have no source (``platform:field``)."""

    @property
    def valid(self) -> bool:
        """Within the model's validity: the lost cycles fit in the machine's
        (``overhead_pct <= VALID_OVERHEAD_PCT``)."""
        return self.overhead_pct <= VALID_OVERHEAD_PCT

    def dominant_cause(self) -> str | None:
        """The cause with the most cycles (None when nothing costs anything)."""
        best = max(self.cycles.items(), key=lambda kv: kv[1], default=None)
        return best[0] if best is not None and best[1] > 0 else None

    def to_json(self) -> dict[str, Any]:
        """The issue's JSON object: policy, pcpus, overhead_pct, cost_to_others_pct, cycles,
        events, safe, platform; ``valid`` (see :attr:`valid`); plus mode, total_cycles, machine_cycles, duration_s."""
        return {
            "policy": self.policy,
            "pcpus": self.pcpus,
            "platform": self.platform,
            "overhead_pct": self.overhead_pct,
            "cost_to_others_pct": self.cost_to_others_pct,
            "cycles": dict(self.cycles),
            "events": dict(self.events),
            "safe": self.safe,
            "valid": self.valid,
            "mode": self.mode,
            "total_cycles": self.total_cycles,
            "machine_cycles": self.machine_cycles,
            "duration_s": self.duration_s,
            "baseline_cycles": self.baseline_cycles,
            "assumptions": list(self.assumptions),
        }
