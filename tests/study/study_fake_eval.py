"""A small deterministic stand-in for ``vtlbsim.cost.evaluate`` (same signature, same result
type), so the study machinery's tests do not depend on the cost model's numbers.

``VTLBSIM_FAKE_SLEEP`` (seconds per point) slows it down for the interruption tests;
``VTLBSIM_FAKE_FAIL_POLICY`` makes every point of that policy raise ValueError.
"""

from __future__ import annotations

import os
import time
from typing import Any

from vtlbsim.cost.result import CostResult


def evaluate(
    workload: Any,
    policy: str,
    pcpus: int | None = None,
    mode: str = "analytic",
    seed: int = 0,
    sample: float | None = None,
) -> CostResult:
    """fb costs grow with the core count; flush policies with the migration rate."""
    delay = float(os.environ.get("VTLBSIM_FAKE_SLEEP", "0") or 0)
    if delay:
        time.sleep(delay)
    if policy == os.environ.get("VTLBSIM_FAKE_FAIL_POLICY"):
        raise ValueError(f"fake failure for policy {policy}")
    n = pcpus or workload.pcpus or 1
    vcpus = sum(d.count * d.vcpus for d in workload.domains)
    rate = workload.scheduler.migrations_per_vcpu_s
    machine = n * 2.0e9 * workload.duration_s
    broadcast = 2.0e4 * n * n * (1.0 if policy.startswith("fb") else 0.1)
    flush = 3.0e5 * rate * vcpus * (0.0 if policy.startswith("fb") else 1.0)
    trap = 5.0e6 * vcpus if policy == "trap-ttlb" else 0.0
    jitter = 1.0 + 0.01 * ((seed * 7919 + n) % 5)
    cycles = {"tlbi-is": broadcast * jitter, "refill": flush * jitter, "trap": trap}
    if policy == "flush-on-arrival":
        cycles["icache refill"] = 0.5 * flush
    total = sum(cycles.values())
    return CostResult(
        policy=policy,
        pcpus=n,
        platform=str(workload.platform),
        overhead_pct=100.0 * total / machine,
        cost_to_others_pct=100.0 * 0.5 * broadcast / machine,
        cycles=cycles,
        events={"migrations": rate * vcpus * workload.duration_s, "tlbi_is": float(n)},
        mode=mode,
        total_cycles=total,
        machine_cycles=machine,
        duration_s=workload.duration_s,
        assumptions=[f"{workload.platform}:dvm_receive_cycles"],
    )
