"""Study throughput on a real Dask cluster: points per second with 1, 2 and 4 ``dask worker``
processes (one thread each, started in an empty directory, as on another machine), against the
same points computed in this process (``vtlbsim study --workers 1``) in the same run.

The sweep is 32 exact-mode points (Cortex-A57 Juno, 4 pCPUs, 0.05 simulated seconds after a
20 ms warm-up; two guest mixes x four policies x four migration rates): a point costs tens of
milliseconds, enough that the workers, not the single writer, decide the rate. Each run goes
into a fresh copy of a store whose safety verdicts a warm-up computed, and each cluster first
computes a warm-up sweep (imports, numba's compiled kernels loaded: not timed). Every run's
rows are compared with the reference's: the script exits 1 if they differ.

Usage: python benchmarks/dask_throughput.py   (prints a table)
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vtlbsim.study.run import run_study
from vtlbsim.study.spec import load_spec
from vtlbsim.study.store import Store

DASK = str(Path(sys.executable).parent / "dask")
SPEC = """
name = "dask-bench"
title = "exact points for the Dask benchmark"
[axes]
platforms = ["cortex-a57-juno"]
pcpus = [4]
policies = ["fb", "flush-on-migrate", "kvm", "trap-ttlb"]
migration_rates = [1, 10, 100, 1000]
seeds = [SEEDS]
modes = ["exact"]
[fixed]
duration_s = 0.05
timeslice_ms = 1
scheduler = "random-migrate"
[[mixes]]
name = "up"
domains = [{ kind = "linux-arm32-up", per_pcpu = 2, vcpus = 1 }]
[[mixes]]
name = "smp"
domains = [{ kind = "linux-arm64-smp", count = 2, vcpus = 4 }]
"""


def rows(out: Path) -> list[tuple[object, ...]]:
    with Store(out, read_only=True) as store:
        return store.query("SELECT * FROM results")[1]


def cluster(workers: int, home: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """A scheduler and ``workers`` single-threaded worker processes started in ``home``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["NUMBA_NUM_THREADS"] = "1"  # one core per worker process
    procs: list[subprocess.Popen[bytes]] = []
    info = home / "scheduler.json"

    def start(*args: str) -> None:
        log = (home / f"{len(procs)}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [DASK, *args], cwd=home, env=env, stdout=log, stderr=log, start_new_session=True
            )
        )

    start("scheduler", "--scheduler-file", str(info), "--port", "0", "--no-dashboard")
    while not info.is_file():
        time.sleep(0.1)
    start(
        "worker",
        "--scheduler-file",
        str(info),
        "--nworkers",
        str(workers),
        "--nthreads",
        "1",
        "--no-dashboard",
    )
    address = json.loads(info.read_text())["address"]
    import distributed

    with distributed.Client(address, timeout="60s") as client:
        client.wait_for_workers(workers, timeout=180)
    return address, procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        p.wait(timeout=60)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "spec.toml").write_text(SPEC.replace("SEEDS", "0"))
        spec = load_spec(tmp / "spec.toml")
        (tmp / "warm.toml").write_text(SPEC.replace("SEEDS", "99").replace("0.05", "0.001"))
        run_study(load_spec(tmp / "warm.toml"), tmp / "warm", workers=1, progress=io.StringIO())
        print(f"exact sweep: 32 points ({os.cpu_count()} CPUs)")
        out = tmp / "reference"
        shutil.copytree(tmp / "warm", out)
        t0 = time.perf_counter()
        n = run_study(spec, out, workers=1, progress=io.StringIO(), fancy=False).computed
        ref = time.perf_counter() - t0
        reference = rows(out)
        label = "reference: vtlbsim study --workers 1"
        print(f"{label:<42} {ref:7.2f} s  {n / ref:7.2f} pts/s  1.00x")
        status = 0
        for workers in (1, 2, 4):
            home = tmp / f"cluster{workers}"
            home.mkdir()
            address, procs = cluster(workers, home)
            try:  # warm the workers up (imports, numba's cached kernels): not timed
                shutil.copytree(tmp / "warm", home / "warm")
                text = SPEC.replace("SEEDS", str(100 + workers)).replace("0.05", "0.001")
                (home / "warm.toml").write_text(text)
                warm = load_spec(home / "warm.toml")
                run_study(warm, home / "warm", scheduler=address, progress=io.StringIO())
                out = tmp / f"dask{workers}"
                shutil.copytree(tmp / "warm", out)
                t0 = time.perf_counter()
                run = run_study(spec, out, scheduler=address, progress=io.StringIO(), fancy=False)
                dt = time.perf_counter() - t0
            finally:
                stop(procs)
            same = rows(out) == reference and run.computed == n
            label = f"Dask: {workers} worker process{'es' * (workers > 1)}, 1 thread each"
            print(f"{label:<42} {dt:7.2f} s  {n / dt:7.2f} pts/s  {ref / dt:4.2f}x", end="")
            print("" if same else "  ROWS DIFFER FROM THE REFERENCE")
            status |= 0 if same else 1
        return status


if __name__ == "__main__":
    sys.exit(main())
