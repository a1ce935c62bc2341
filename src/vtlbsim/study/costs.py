"""Several cost evaluations at once — the (policy, core count) cells of a ``vtlbsim run``
table, the comparisons of ``vtlbsim validate`` — on local processes, with progress.

A task is a pure function of its arguments: ``cost.evaluate`` and ``cost.exact.evaluate_exact``
are deterministic in their seed, and exact mode's loop gives the same result whatever the
number of threads it uses (``sim/fastpath.run_step``). So a result is the same, bit for bit,
whether it is computed alone, in this process, or in a worker process among others;
``run_tasks`` yields the results as they finish and the caller puts them in its own order.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from ..cost import evaluate
from ..cost.result import CostResult
from ..cost.workload import Workload
from .executors import PRELOAD, Executor, InProcess, LocalProcesses, report

REFS_PER_CORE_S = 3.0e7
"""References one core simulates per second in exact mode (loop and driver), for the estimate
printed before a run: a round figure below what ``benchmarks/exact_throughput.py`` measures on
this project's shared 2-core machine (docs/exact.md, "Speed")."""


STARTUP_S = 2.0
"""Seconds before the first step: worker processes, imports, loading numba's cached loop."""


@dataclass(frozen=True, slots=True)
class CostTask:
    """One cost evaluation: ``cost.evaluate``'s arguments (``traces``: exact mode's
    ``KIND=FILE`` replacements, as pairs)."""

    workload: Workload
    policy: str
    pcpus: int | None
    mode: str = "analytic"
    seed: int = 0
    sample: float | None = None
    traces: tuple[tuple[str, str], ...] = ()

    def cores(self) -> int:
        """The core count it is priced at (the task's, the workload's, or the platform's)."""
        from ..cost.platform import load_platform

        plat = load_platform(self.workload.platform, self.workload.base_dir)
        return self.pcpus or self.workload.pcpus or plat.cores

    def simulated_s(self) -> float:
        """Seconds exact mode simulates, warm-up included (0 for the analytic model)."""
        from ..cost.exact import MAX_DT_S, WARMUP_SLICES

        if self.mode != "exact":
            return 0.0
        slice_s = self.workload.scheduler.timeslice_ms / 1e3
        dt = slice_s / math.ceil(slice_s / MAX_DT_S)
        steps = max(1, round(self.workload.duration_s * (self.sample or 1.0) / dt))
        return (steps + round(WARMUP_SLICES * slice_s / dt)) * dt

    def references(self) -> float:
        """References exact mode simulates (every running vCPU's, for ``simulated_s``)."""
        from ..cost.exact import REFS_PER_VCPU_S

        running = min(self.workload.total_vcpus, self.cores())
        return running * self.simulated_s() * REFS_PER_VCPU_S


def evaluate_task(index: int, task: CostTask) -> tuple[int, CostResult, float]:
    """Compute one task (in a worker or here): (index, result, seconds it took). An exact
    run reports ``(index, simulated seconds done)`` as it goes (``executors.report``)."""
    t0 = time.perf_counter()
    if task.mode == "exact":
        from ..cost.exact import evaluate_exact

        def progress(done: float, total: float) -> None:
            report((index, done))

        res = evaluate_exact(
            task.workload,
            task.policy,
            task.pcpus,
            task.seed,
            task.sample,
            traces=dict(task.traces) or None,
            progress=progress,
        )
    else:
        res = evaluate(task.workload, task.policy, task.pcpus, task.mode, task.seed, task.sample)
    return index, res, time.perf_counter() - t0


def _set_threads(n: int) -> None:
    """A worker's numba threads for one exact run (a worker's ``setup``)."""
    from ..sim.fasttlbs import set_threads

    set_threads(n)


def processes_for(tasks: list[CostTask], workers: int) -> int:
    """Worker processes for ``tasks``: one per task up to ``workers`` (0: one per CPU); 1 means
    this process (one exact run then uses every core for its pCPUs)."""
    cpus = os.cpu_count() or 1
    return max(1, min(workers or cpus, len(tasks)))


def estimate_s(tasks: list[CostTask], workers: int) -> float:
    """About how long the exact runs among ``tasks`` take on this machine's cores
    (``STARTUP_S`` + references / ``REFS_PER_CORE_S`` per core: one run alone spreads its pCPUs
    over the cores' threads, several runs share the cores as processes)."""
    cores = os.cpu_count() or 1
    refs = sum(t.references() for t in tasks)
    return STARTUP_S + refs / (REFS_PER_CORE_S * cores) if refs else 0.0


def run_tasks(
    tasks: list[CostTask], workers: int, on_progress: Callable[[float], None] | None = None
) -> Iterator[tuple[int, CostResult, float]]:
    """Compute ``tasks`` (``processes_for`` them) and yield (index, result, seconds) as each
    finishes. ``on_progress`` receives the simulated seconds done so far (exact runs; a
    finished run counts whole). Leaving early (Ctrl-C, a failure) ends the workers at once."""
    done = [0.0] * len(tasks)

    def message(got: object) -> None:
        if isinstance(got, tuple) and len(got) == 2 and on_progress is not None:
            i, s = got
            done[int(i)] = float(s)
            on_progress(sum(done))

    n = processes_for(tasks, workers)
    cpus = os.cpu_count() or 1
    executor: Executor = (
        InProcess(message)
        if n == 1
        else LocalProcesses(n, message, partial(_set_threads, max(1, cpus // n)), PRELOAD)
    )
    finished = False
    try:
        for got in executor.run(evaluate_task, [(i, t) for i, t in enumerate(tasks)]):
            if got is None:
                continue
            i, res, secs = got
            done[i] = tasks[i].simulated_s()
            if on_progress is not None:
                on_progress(sum(done))
            yield i, res, secs
        finished = True
    finally:
        executor.close(abort=not finished)
