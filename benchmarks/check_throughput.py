"""Model-checker throughput: states per second, and the time to exhaust depth 10 on 2 pCPUs x
2 vCPUs, against a reference measured in the same run (replays of the 9-event H1 litmus
scenario per second: the checker's unit of work is one replay per transition).

    .venv/bin/python benchmarks/check_throughput.py [--depth 10] [--kind K] [--policy P]
        [--matrix-depth D]   # also time the full matrix at depth D (default: skip)
        [--vms 2]            # with a second VM on a reused VMID (check --vms 2)
        [--incomplete]       # broadcasts complete at the issuer's DSB (check --incomplete)
        [--kinds K1,K2]      # the matrix over these kinds only (default: every built-in)

It also holds the merged search (state merging + symmetry) to the search of every path at
depth 6 for the benchmark's pair and for the seed's unsafe pair, and exits 1 when they differ.
"""

from __future__ import annotations

import argparse
import sys
import time

from vtlbsim.check.explore import check
from vtlbsim.check.matrix import matrix_results
from vtlbsim.check.replay import replay
from vtlbsim.hyp.registry import resolve
from vtlbsim.litmus import parse

H1 = """
pcpus = 2
steps = '''
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 load 0x1000
run g.0 on 1
g.0 unmap 0x1000
g.0 tlbi tlbimva 0x1000
g.0 bp bpiall
run g.0 on 0
g.0 load 0x1000
'''
[domains.g]
vcpus = 1
arch = "aarch32"
"""


def reference_replays_per_second(seconds: float = 1.0) -> float:
    sc = parse(H1)
    pol = resolve("none")
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        replay(sc, pol)
        n += 1
    return n / (time.perf_counter() - t0)


def agree_with_every_path(kind: str, policy: str, depth: int) -> bool:
    """The merged search and the every-path search give the same verdict and length."""
    merged = check(kind, policy, pcpus=2, vcpus=2, depth=depth)
    every = check(kind, policy, pcpus=2, vcpus=2, depth=depth, merge=False)
    same = (merged.safe, len(merged.actions)) == (every.safe, len(every.actions))
    print(
        f"{kind} under {policy}, depth {depth}: merged {merged.summary()}; every path "
        f"{every.summary()}: {'agree' if same else 'DISAGREE'}"
    )
    return same


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--kind", default="linux-arm64-smp")
    ap.add_argument("--policy", default="fb")
    ap.add_argument("--matrix-depth", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="matrix: processes (default 1: one core)")
    ap.add_argument("--vms", type=int, default=1, choices=(1, 2), help="check --vms")
    ap.add_argument("--incomplete", action="store_true", help="check --incomplete")
    ap.add_argument("--kinds", default="", help="matrix: comma-separated kinds (default all)")
    a = ap.parse_args()
    ref = reference_replays_per_second()
    print(f"reference: {ref:,.0f} replays/s of the 9-event H1 scenario")
    if replay(parse(H1), resolve("none")).outcome != "violation":
        print("DISAGREEMENT: the reference H1 scenario is clean under none", file=sys.stderr)
        return 1
    vms = (", 2 VMs" if a.vms == 2 else "") + (", incomplete" if a.incomplete else "")
    for d in range(6, a.depth + 1):
        r = check(a.kind, a.policy, pcpus=2, vcpus=2, depth=d, vms=a.vms, incomplete=a.incomplete)
        rate = r.states / r.seconds if r.seconds else 0.0
        verdict = "safe" if r.safe else f"unsafe after {len(r.actions)} actions"
        print(
            f"{a.kind} under {a.policy}, 2 pCPUs x 2 vCPUs{vms}, depth {d}: {verdict}, "
            f"{r.states:,} states in {r.seconds:.2f} s = {rate:,.0f} states/s "
            f"({rate / ref:.3f} states per reference replay)"
        )
    if a.matrix_depth:
        t0, c0 = time.perf_counter(), time.process_time()
        kinds = a.kinds.split(",") if a.kinds else None
        res = matrix_results(
            kinds, depth=a.matrix_depth, jobs=a.jobs, vms=a.vms, incomplete=a.incomplete
        )
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        unsafe = sum(not r.safe for r in res)
        states = sum(r.states for r in res)
        print(
            f"full matrix ({len(res)} pairs, {a.jobs} job{'s' * (a.jobs != 1)}{vms}) at depth "
            f"{a.matrix_depth}: {dt:.1f} s wall"
            + (f", {cpu:.1f} s CPU" if a.jobs == 1 else "")
            + f" ({unsafe} unsafe), {states:,} states = {states / dt:,.0f} states/s; "
            f"= {dt * ref:,.0f} reference replays"
        )
    pairs = [(a.kind, a.policy, 6), ("linux-arm32-up", "none", 7)]
    if not all([agree_with_every_path(*pair) for pair in pairs]):
        print("DISAGREEMENT: the merged search and the every-path search differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
