"""Exact mode's speed.

1. The access loop: references simulated per second by the numba loop and by the plain-Python
   reference on the same stream (one pCPU, ThunderX geometry), and their ratio; the two must
   leave identical state and counters (else exit 1).
2. The flagship study's ThunderX 96-core point in exact mode for one simulated second (+0.2 s
   of warm-up): 192 one-vCPU linux-arm32-up guests, random migration at 100 per vCPU-second,
   10 ms slices; policies fb and flush-on-migrate; each in a fresh process (numba's compiled
   loop loaded from its cache first, not timed), with one thread and with one per CPU: wall
   time, CPU time, peak memory, references per wall second, and that rate as a multiple of the
   reference's. The results with one thread and with several must be identical (else exit 1).

Usage: python benchmarks/exact_throughput.py [--policies fb,flush-on-migrate] [--duration 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from vtlbsim.cost.exact import geometry_of
from vtlbsim.cost.platform import load_platform
from vtlbsim.guest.rates import load_rates
from vtlbsim.guest.workload import stream_for
from vtlbsim.sim.fasttlbs import FastTlbs
from vtlbsim.sim.reference import ReferenceTlbs

FLAGSHIP = """
import json, sys, time
from vtlbsim.cost import evaluate
from vtlbsim.cost.exact import evaluate_exact
from vtlbsim.cost.workload import Workload
from vtlbsim.sim.fasttlbs import set_threads
policy, duration, threads = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
wl = Workload.model_validate({
    "platform": "thunderx-cn8890-2s", "pcpus": 96, "duration_s": duration,
    "scheduler": {"kind": "random-migrate", "migrations_per_vcpu_s": 100, "timeslice_ms": 10},
    "domains": [{"kind": "linux-arm32-up", "count": 192, "vcpus": 1}],
})
set_threads(threads)
evaluate_exact(wl, policy, 96, 0, 1e-3)  # load the compiled loop (numba's cache): not timed
t0, c0 = time.perf_counter(), time.process_time()
r = evaluate_exact(wl, policy, 96, 0, None)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
# VmHWM: this process's peak resident set (ru_maxrss would include the parent's, kept over exec)
peak = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM")) / 1024
a = evaluate(wl, policy)
print(json.dumps({"wall": wall, "cpu": cpu, "peak_mib": peak, "result": r.to_json(),
                  "refs": r.events["references"], "analytic_pct": a.overhead_pct}))
"""


def loop_rates() -> tuple[float, float, bool]:
    """(numba references/s, reference references/s, identical state and counters)."""
    plat = load_platform("thunderx-cn8890-2s")
    geo = geometry_of(plat)
    stream = stream_for(load_rates("linux-arm32-up"), 1 << 22, seed=0)
    n = len(stream)
    FastTlbs(1, geo).run(0, 1, 1, stream.lines, stream.flags, 0, 1000)  # compile or load
    best = float("inf")
    for _ in range(3):
        t = FastTlbs(1, geo)
        t0 = time.perf_counter()
        t.run(0, 1, 1, stream.lines, stream.flags, 0, n)
        best = min(best, time.perf_counter() - t0)
    m = 300_000
    ref = ReferenceTlbs(1, geo)
    t0 = time.perf_counter()
    ref.run(0, 1, 1, stream.lines, stream.flags, 0, m)
    ref_rate = m / (time.perf_counter() - t0)
    t = FastTlbs(1, geo)
    t.run(0, 1, 1, stream.lines, stream.flags, 0, m)
    same = all(np.array_equal(a, b) for a, b in zip(t.snapshot(), ref.snapshot(), strict=True))
    print(
        f"stream: linux-arm32-up model, {n} references, ThunderX geometry (L1 I/D 32 fully"
        f" associative, L2 {plat.l2_tlb_entries}x{plat.l2_tlb_ways}, I-cache"
        f" {plat.icache_kib} KiB {plat.icache_ways}-way)"
    )
    print(f"numba loop: {n} references in {best:.3f} s (best of 3): {n / best:,.0f} refs/s")
    print(
        f"reference: {m} references: {ref_rate:,.0f} refs/s; state and counters identical: {same}"
    )
    print(f"ratio numba/reference: {n / best / ref_rate:.0f}x")
    return n / best, ref_rate, same


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policies", default="fb,flush-on-migrate")
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds")
    args = ap.parse_args()
    fast, ref_rate, same = loop_rates()
    status = 0 if same else 1
    if not same:
        print("FAIL: the numba loop and the reference disagree", file=sys.stderr)
    cpus = os.cpu_count() or 1
    for policy in args.policies.split(","):
        results = []
        for threads in sorted({1, cpus}):
            out = subprocess.run(
                [sys.executable, "-c", FLAGSHIP, policy, str(args.duration), str(threads)],
                capture_output=True,
                text=True,
                check=True,
            )
            fig = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(fig["result"])
            rate = fig["refs"] / fig["wall"]
            print(
                f"flagship ThunderX 96 pCPUs, arm32-up, 100 migrations/vCPU-s, {policy}, exact,"
                f" {args.duration:g} simulated s (+0.2 s warm-up), {threads} thread"
                f"{'s' * (threads > 1)}: wall {fig['wall']:.1f} s, CPU {fig['cpu']:.1f} s,"
                f" peak {fig['peak_mib']:.0f} MiB, {fig['refs']:.3g} references charged,"
                f" {rate:,.0f} refs/wall-s ({rate / ref_rate:.0f}x the reference),"
                f" overhead {fig['result']['overhead_pct']:.3f} %"
                f" (analytic {fig['analytic_pct']:.3f} %)"
            )
        if any(r != results[0] for r in results):
            print(f"FAIL: {policy}: the result depends on the thread count", file=sys.stderr)
            status = 1
    print(f"exact loop: {fast:,.0f} refs/s; reference: {ref_rate:,.0f} refs/s")
    return status


if __name__ == "__main__":
    sys.exit(main())
