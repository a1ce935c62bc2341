"""Litmus engine throughput: a random 10^5-step script on 8 pCPUs and 16 vCPUs.

Prints steps per second for the oracle-checked engine (what `vtlbsim litmus` runs), for the
parser, and, as the reference measured in the same run, for the engine with no oracle; the
ratio is the oracle's overhead. The two runs must agree on every event count (the oracle only
watches); the script exits 1 when they do not. Usage: python benchmarks/litmus_throughput.py [STEPS]
"""

from __future__ import annotations

import sys
import time

from vtlbsim.arch.machine import Machine
from vtlbsim.arch.ops import Arch
from vtlbsim.check.replay import build_domains, replay
from vtlbsim.hyp.registry import resolve
from vtlbsim.litmus import parse
from vtlbsim.sim.engine import Engine
from vtlbsim.sim.events import render
from vtlbsim.sim.random_scenario import GuestShape, random_scenario

GUESTS = [
    GuestShape("smp64", 4, Arch.AARCH64, "broadcast"),
    GuestShape("percpu", 4, Arch.AARCH64, "percpu"),
    GuestShape("smp32", 4, Arch.AARCH32, "broadcast"),
    *(GuestShape(f"up{i}", 1, Arch.AARCH32, "local") for i in range(4)),
]


def best_of(n: int, fn: object) -> float:
    assert callable(fn)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    sc = random_scenario(2026, steps, 8, GUESTS)
    n = len(sc.events)
    text = sc.to_litmus()
    print(
        f"script: {n} steps, 8 pCPUs, {sum(g.vcpus for g in GUESTS)} vCPUs, {len(text) >> 10} KiB"
    )
    for policy in ("none", "fb", "flush-on-migrate"):

        def checked_run(policy: str = policy) -> None:
            replay(sc, resolve(policy))

        def bare(policy: str = policy) -> None:
            Engine(Machine(sc.pcpus), build_domains(sc), resolve(policy)).apply(sc.events)

        checked = best_of(3, checked_run)

        ref = best_of(3, bare)
        out = replay(sc, resolve(policy))
        alone = Engine(Machine(sc.pcpus), build_domains(sc), resolve(policy))
        alone.apply(sc.events)
        if out.counts != alone.counts:
            diff = sorted(set(out.counts.items()) ^ set(alone.counts.items()))
            print(
                f"DISAGREEMENT under {policy}: the oracle-checked run and the engine alone "
                f"count events differently: {diff[:6]}",
                file=sys.stderr,
            )
            return 1
        print(
            f"{policy:>17}: oracle-checked {n / checked:>10,.0f} steps/s; engine alone "
            f"{n / ref:>10,.0f} steps/s (reference); checked/reference = {ref / checked:.2f}; "
            f"{len(out.violations)} violations"
        )
    t = best_of(3, lambda: parse(text, "bench.toml"))
    print(f"parser: {n / t:,.0f} steps/s")
    if [render(e) for e in parse(text, "bench.toml").events] != [render(e) for e in sc.events]:
        print("DISAGREEMENT: the script read back differs from the one written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
