"""What a policy costs (issue 3): platform profiles, workloads, the analytic model, results.

``evaluate(workload, policy, pcpus, mode, seed, sample)`` is the one entry point: a pure,
deterministic function of its arguments. ``mode="analytic"`` uses the closed-form model in
``analytic.py``; ``mode="exact"`` defers to ``cost/exact.py`` (``evaluate_exact``).
"""

from __future__ import annotations

import importlib

from .platform import Platform, PlatformError, load_platform, platform_names
from .result import CostResult
from .workload import Workload, WorkloadError, load_workload

MODES: tuple[str, ...] = ("analytic", "exact")


class CostError(ValueError):
    """A cost run that cannot be done (unknown mode, missing exact mode, bad policy or kind)."""


def evaluate(
    workload: Workload,
    policy: str,
    pcpus: int | None = None,
    mode: str = "analytic",
    seed: int = 0,
    sample: float | None = None,
) -> CostResult:
    """The cost of ``policy`` for ``workload`` on ``pcpus`` cores (default: the workload's
    ``pcpus``, else the platform's core count). Deterministic in its arguments."""
    if mode == "analytic":
        from .analytic import evaluate_analytic

        return evaluate_analytic(workload, policy, pcpus)
    if mode == "exact":
        try:
            exact = importlib.import_module(".exact", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.exact":
                raise
            raise CostError(
                "mode 'exact' is not available yet (vtlbsim.cost.exact is missing)"
            ) from None
        result: CostResult = exact.evaluate_exact(workload, policy, pcpus, seed, sample)
        return result
    raise CostError(f"mode: unknown mode {mode!r} (expected one of: {', '.join(MODES)})")


__all__ = [
    "MODES",
    "CostError",
    "CostResult",
    "Platform",
    "PlatformError",
    "Workload",
    "WorkloadError",
    "evaluate",
    "load_platform",
    "load_workload",
    "platform_names",
]
