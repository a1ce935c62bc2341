"""Many cost runs for one command (``vtlbsim run``'s table, ``vtlbsim validate``): exact mode's
estimate before it starts, its progress in simulated seconds with an ETA, local processes
(``study/costs.py``), and Ctrl-C turned into one line saying what was kept (exit 130).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..cost import CostError
from ..cost.platform import PlatformError
from ..cost.result import CostResult
from ..guest.rates import RatesError
from ..guest.workload import TraceError
from ..hyp.registry import PolicyError
from ..study.costs import CostTask, estimate_s, processes_for, run_tasks
from .common import fail
from .progress import Meter

SHOW_S = 5.0
"""Exact runs estimated to take longer than this are announced (shorter ones just run)."""
LONG_S = 60.0
"""Exact runs estimated to take longer than this get the ``--sample`` hint."""


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def announce(tasks: list[CostTask], workers: int) -> None:
    """Before exact runs that take more than a few seconds start: how much they simulate and
    about how long that takes; the ``--sample`` hint when it is long and nothing is sampled."""
    exact = [t for t in tasks if t.mode == "exact"]
    n, est = processes_for(tasks, workers), estimate_s(tasks, workers)
    if not exact or est < SHOW_S:
        return
    refs = sum(t.references() for t in exact)
    sim = sum(t.simulated_s() for t in exact)
    where = "in this process" if n == 1 else f"on {n} processes"
    line = (
        f"vtlbsim: exact mode: {len(exact)} run{'s' * (len(exact) > 1)}, {sim:.3g} simulated s"
        f" (warm-up included), {refs:.3g} references: about {_duration(est)} {where}"
    )
    if est > LONG_S and all(t.sample is None for t in exact):
        line += "; --sample 0.1 simulates a tenth of the duration (docs/exact.md, Sampling)"
    print(line, file=sys.stderr, flush=True)


def compute(
    tasks: list[CostTask],
    workers: int,
    what: str,
    kept: Callable[[list[tuple[int, CostResult, float]]], str],
    on_result: Callable[[int, CostResult, float], None] | None = None,
) -> list[tuple[CostResult, float]]:
    """Every task's (result, seconds), in the tasks' order; ``on_result`` sees each as it
    finishes. Bad input: one line, exit 2. Ctrl-C: ``kept(finished so far)`` says (and may
    print) what was kept, in one line; exit 130."""
    got: dict[int, tuple[CostResult, float]] = {}

    def finished() -> list[tuple[int, CostResult, float]]:
        return [(i, r, s) for i, (r, s) in sorted(got.items())]

    total = sum(t.simulated_s() for t in tasks)
    try:
        with Meter(what, total, "simulated s", kept=lambda: kept(finished())) as meter:
            announce(tasks, workers)
            for i, res, secs in run_tasks(tasks, workers, meter.update if total else None):
                got[i] = (res, secs)
                if on_result is not None:
                    on_result(i, res, secs)
    except (CostError, PolicyError, PlatformError, RatesError, TraceError, ValueError) as exc:
        fail(str(exc))
    return [got[i] for i in range(len(tasks))]
