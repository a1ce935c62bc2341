"""Analytic cost model throughput: points per second for the study's budget (10,000 points in
under a minute on 2 cores, i.e. < 12 ms a point per core; the aim is < 2 ms).

The reference measured in the same run is ``load_workload`` of the same file with its caches
warm (parse + validate one TOML), so the ratio says how many workload parses one cost point
is worth. Usage: python benchmarks/cost_analytic.py [POINTS]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from vtlbsim.cost import Workload, evaluate, load_workload
from vtlbsim.hyp.registry import all_policies

ROOT = Path(__file__).resolve().parents[1]
FILES = ["consolidation-arm32-up", "cloud-arm64-4vcpu", "mixed-host"]
COUNTS = [8, 16, 24, 32, 48, 64, 96]


def best_of(n: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    points = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    policies = list(all_policies())
    for name in FILES:
        path = ROOT / "examples" / "workloads" / f"{name}.toml"
        w = load_workload(path)
        for p in policies:  # warm the profile and policy caches
            evaluate(w, p, 8)

        def sweep(w: Workload = w) -> None:
            for i in range(points):
                evaluate(w, policies[i % len(policies)], COUNTS[i % len(COUNTS)])

        def parse(path: Path = path) -> None:
            for _ in range(points // 10):
                load_workload(path)

        t = best_of(3, sweep) / points
        ref = best_of(3, parse) / (points // 10)
        print(
            f"{name:>24}: {1e3 * t:.3f} ms/point ({1 / t:,.0f} points/s); load_workload "
            f"{1e3 * ref:.3f} ms (reference); point/reference = {t / ref:.2f}; "
            f"10,000 points on one core: {10_000 * t:.1f} s"
        )


if __name__ == "__main__":
    main()
