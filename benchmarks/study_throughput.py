"""Study throughput: points per second of an analytic sweep stored in DuckDB, 1 and 2 workers.

The sweep is the flagship's (studies/seed.toml: 8 core counts x 7 guest mixes x 5 policies)
with 36 migration rates instead of 9: 10,080 points. Each run goes into a fresh store whose
safety verdicts were computed beforehand by a small warm-up study (the model checker's cost
is not the sweep's), so the timed part is: expand, key, cost, store,
canonicalise. The reference is ``vtlbsim.cost.evaluate`` called in a plain loop in this
process on the same points (no keys, no store): the ratio is what the study machinery costs
on top of the cost model.

Both studies' stores must hold, for every point, the total the reference loop computed (and
so the same rows as each other); the script exits 1 when they do not.

Usage: python benchmarks/study_throughput.py   (prints a table)
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from vtlbsim.study.run import run_study
from vtlbsim.study.spec import load_spec
from vtlbsim.study.store import Store
from vtlbsim.study.sweep import expand


def main() -> int:
    base = load_spec("seed")
    rates = sorted({round(10 ** (i / 35 * 4), 3) for i in range(36)})  # 1 ... 10,000
    axes = base.axes.model_copy(update={"migration_rates": rates})
    spec = base.model_copy(update={"axes": axes})
    warm_axes = axes.model_copy(update={"pcpus": [8], "migration_rates": [1.0], "seeds": [99]})
    warm = base.model_copy(update={"axes": warm_axes})
    points = expand(spec)
    n = len(points)
    print(f"analytic sweep: {n} points ({os.cpu_count()} CPUs)")

    from vtlbsim.cost import evaluate
    from vtlbsim.cost.workload import DomainGroup, SchedulerSpec, Workload

    reference: dict[tuple[object, ...], float] = {}
    t0 = time.perf_counter()
    for p in points:
        wl = Workload(
            platform=p.platform,
            pcpus=p.pcpus,
            duration_s=p.duration_s,
            policy=p.policy,
            scheduler=SchedulerSpec(
                kind="random-migrate",
                migrations_per_vcpu_s=p.migration_rate,
                timeslice_ms=p.timeslice_ms,
            ),
            domains=[DomainGroup(kind=k, count=c, vcpus=v) for k, c, v in p.domains],
        )
        r = evaluate(wl, p.policy, pcpus=p.pcpus, mode="analytic")
        reference[(p.pcpus, p.mix, p.migration_rate, p.policy)] = r.total_cycles
    ref = time.perf_counter() - t0
    print(
        f"{'reference: evaluate() loop, 1 process':<40} {ref:7.2f} s  {n / ref:9,.0f} pts/s  1.00x"
    )
    with tempfile.TemporaryDirectory() as tmp:
        t1 = time.perf_counter()
        run_study(warm, Path(tmp) / "warm", workers=2, progress=io.StringIO(), fancy=False)
        print(f"(safety verdicts for the warm-up: {time.perf_counter() - t1:.1f} s, not counted)")
        for workers in (1, 2):
            out = Path(tmp) / f"w{workers}"
            shutil.copytree(Path(tmp) / "warm", out)
            t1 = time.perf_counter()
            run = run_study(spec, out, workers=workers, progress=io.StringIO(), fancy=False)
            dt = time.perf_counter() - t1
            assert run.computed == n and run.stored == n
            label = f"vtlbsim study --workers {workers}"
            print(f"{label:<40} {dt:7.2f} s  {n / dt:9,.0f} pts/s  {ref / dt:4.2f}x")
            with Store(out, read_only=True) as store:
                _, rows = store.query(
                    "SELECT pcpus, mix, migration_rate, policy, total_cycles FROM results"
                )
            stored = {tuple(r[:4]): r[4] for r in rows}
            if stored != reference:
                wrong = [k for k in reference if stored.get(k) != reference[k]]
                print(
                    f"DISAGREEMENT: {label} stored {len(wrong)} totals unlike the reference "
                    f"loop's (first: {wrong[:1]})",
                    file=sys.stderr,
                )
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
