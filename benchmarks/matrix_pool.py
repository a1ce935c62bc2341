"""What the worker pool of ``vtlbsim check --matrix --jobs N`` costs: the CPU time of the whole
process tree (the CLI, its fork server and every worker) and the wall time of the matrix with
``--jobs 1`` (no pool: the reference, measured in the same run) and with ``--jobs N``, each run
with ``--no-cache``. The difference at a small depth, where the checks themselves are short, is
the pool's start-up cost.

    .venv/bin/python benchmarks/matrix_pool.py [--depth 3] [--jobs 2] [--repeat 3]
        [--guest K]   # one kind against every policy (default: the whole matrix)
        [--module]    # run `python -m vtlbsim` instead of the `vtlbsim` script

The fork server's workers are its children, not the CLI's, and the fork server outlives the
CLI for a moment: this process makes itself a child subreaper (Linux ``prctl``) so that every
descendant is reaped here and its CPU time counted (``RUSAGE_CHILDREN``).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def _cpu_of_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _reap_all() -> None:
    """Wait for every descendant that was re-parented here (the fork server, its workers)."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


def run_once(command: list[str]) -> tuple[float, float]:
    """CPU seconds of the whole process tree and wall seconds of ``COMMAND``."""
    cpu0, t0 = _cpu_of_children(), time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    _reap_all()
    return _cpu_of_children() - cpu0, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--guest", default=None)
    ap.add_argument("--module", action="store_true", help="python -m vtlbsim, not the script")
    a = ap.parse_args()
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("matrix_pool: prctl(PR_SET_CHILD_SUBREAPER) failed (Linux only)", file=sys.stderr)
        return 1
    vtlbsim = (
        [sys.executable, "-m", "vtlbsim"]
        if a.module
        else [str(Path(sys.executable).parent / "vtlbsim")]
    )
    base = [*vtlbsim, "check", "--matrix", "--no-cache", "--depth", str(a.depth)]
    if a.guest:
        base += ["--guest", a.guest]
    figures: dict[int, list[tuple[float, float]]] = {1: [], a.jobs: []}
    for _ in range(a.repeat):  # alternating, so that a load change hits both alike
        for jobs in figures:
            figures[jobs].append(run_once([*base, "--jobs", str(jobs)]))
    cpu = {j: statistics.median(c for c, _ in runs) for j, runs in figures.items()}
    wall = {j: statistics.median(w for _, w in runs) for j, runs in figures.items()}
    what = f"{'python -m ' if a.module else ''}vtlbsim check --matrix --depth {a.depth}"
    what += f" --guest {a.guest}" if a.guest else ""
    print(f"{what}, median of {a.repeat} runs, CPU of the whole process tree:")
    for j in figures:
        print(f"  --jobs {j}: {cpu[j]:6.2f} s CPU, {wall[j]:6.2f} s wall")
    print(
        f"  --jobs {a.jobs} / --jobs 1: CPU x{cpu[a.jobs] / cpu[1]:.2f} "
        f"(+{cpu[a.jobs] - cpu[1]:.2f} s), wall x{wall[a.jobs] / wall[1]:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
