"""Exact mode's scheduler: concrete placements and moves of vCPUs (the rules of ``hyp/scheduler.py``
played out event by event instead of as expected rates)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .exact import _Run


class Scheduler:
    """Places vCPUs and moves them (rules: ``hyp/scheduler.py``; concrete, not expected values).

    Placement: vCPU ``j`` (VMs in order) queues on pCPU ``j % P``; the head of each queue runs.
    Overcommit: at each timeslice end every pCPU requeues its vCPU and loads its queue's head
    (``pinned``), or the head of one global FIFO, pCPUs in a random order (``round-robin``). Under
    ``random-migrate`` a pCPU swaps with a random other pCPU's queue with probability
    ``s = 1 - sqrt(1 - q)``, ``q = min(1, rate * timeslice)``: it loads that queue's head and
    gives its own head away (the queues stay balanced); that makes ``s(2 - s) = q`` of the loads
    migrations, the share the scheduler model gives. A vCPU that goes on running is not reloaded.
    A rate above the timeslice rate (``rate * timeslice > 1``): every timeslice-end load is a
    steal (``q = 1``), and the rest, ``rate - 1 / timeslice`` per running vCPU-second, are extra
    loads within the slice (a vCPU that blocks and wakes elsewhere), each a migration: a random
    running vCPU swaps pCPUs with the vCPU running on a random other pCPU (two migrations, so
    swaps happen at half that rate); the queues are untouched. The model's rule: a vCPU is loaded
    ``max(1 / timeslice, rate)`` times per running second and migrates ``rate`` times.
    Without overcommit, ``random-migrate`` moves a random running vCPU to a random other pCPU
    at ``rate`` per running vCPU-second: to an idle one if any, else by swapping with the vCPU
    there (two migrations, so swaps happen at half the rate).
    """

    def __init__(self, run: _Run, kind: str, rate: float, timeslice_s: float) -> None:
        self.run = run
        self.kind = kind
        self.rate = rate
        self.timeslice_s = timeslice_s
        self.queues: list[list[int]] = [[] for _ in range(run.pcpus)]
        self.overcommit = len(run.vcpus) > run.pcpus
        self.elapsed = 0.0

    def place(self) -> None:
        for j in range(len(self.run.vcpus)):
            self.queues[j % self.run.pcpus].append(j)
        for p, q in enumerate(self.queues):
            if q:
                self.run.load(q.pop(0), p)
        if self.kind == "round-robin":  # one global FIFO, in placement order
            waiting = sorted(vi for q in self.queues for vi in q)
            self.queues = [waiting] + [[] for _ in range(self.run.pcpus - 1)]

    def tick(self, step: int, dt: float) -> None:
        run, rng = self.run, self.run.rng
        if not self.overcommit:
            if self.kind != "random-migrate" or self.rate <= 0 or run.pcpus < 2:
                return
            running = [vi for vi in run.running if vi is not None]
            idle = [p for p, vi in enumerate(run.running) if vi is None]
            rate = self.rate * len(running) * dt / (1.0 if idle else 2.0)
            for _ in range(int(rng.poisson(rate))):
                vi = running[int(rng.integers(0, len(running)))]
                here = run.vcpus[vi].pcpu
                assert here is not None
                idle = [p for p, x in enumerate(run.running) if x is None]
                if idle:
                    run.load(vi, idle[int(rng.integers(0, len(idle)))])
                    continue
                there = (here + 1 + int(rng.integers(0, run.pcpus - 1))) % run.pcpus
                other = run.running[there]
                run.load(vi, there)
                if other is not None:
                    run.load(other, here)
            return
        extra = self.rate - 1.0 / self.timeslice_s if self.kind == "random-migrate" else 0.0
        if extra > 1e-12 and run.pcpus >= 2:  # loads beyond one per timeslice: swaps
            running = [vi for vi in run.running if vi is not None]
            for _ in range(int(rng.poisson(extra * len(running) * dt / 2.0))):
                vi = running[int(rng.integers(0, len(running)))]
                here = run.vcpus[vi].pcpu
                assert here is not None
                there = (here + 1 + int(rng.integers(0, run.pcpus - 1))) % run.pcpus
                other = run.running[there]
                run.load(vi, there)
                if other is not None:
                    run.load(other, here)
        self.elapsed += dt
        if self.elapsed + 1e-12 < self.timeslice_s:
            return
        self.elapsed = 0.0
        before = list(run.running)
        for p, was in enumerate(before):  # every pCPU's timeslice ends: requeue, then pick
            if was is not None:
                self.queues[0 if self.kind == "round-robin" else p].append(was)
                run.vcpus[was].pcpu = None
                run.running[p] = None
        # a steal is a swap (two migrations: now, and when the vCPU given away is loaded there)
        # A swap migrates the vCPU taken now and, at its next load, the one given away: with
        # swaps at probability s per load, migrations per load are s(2 - s); solve for the
        # scheduler model's share q = min(1, rate * timeslice) of loads that migrate.
        q = min(1.0, self.rate * self.timeslice_s) if self.kind == "random-migrate" else 0.0
        steal = 1.0 - math.sqrt(1.0 - q)
        # pCPUs reach the end of their slices in a random order (round-robin: whoever is first
        # takes the FIFO's head, so a vCPU lands on any pCPU, 1 - 1/P of loads migrating).
        order = rng.permutation(run.pcpus) if self.kind == "round-robin" else range(run.pcpus)
        for p in (int(x) for x in order):
            src = 0 if self.kind == "round-robin" else p
            if steal and run.pcpus >= 2 and rng.random() < steal:  # one pCPU: nowhere to steal from
                cand = (p + 1 + int(rng.integers(0, run.pcpus - 1))) % run.pcpus
                if self.queues[cand]:
                    src = cand
                    if self.queues[p]:  # keep the queues balanced
                        self.queues[cand].append(self.queues[p].pop(0))
            if not self.queues[src]:
                continue
            vi = self.queues[src].pop(0)
            if vi == before[p]:  # the same vCPU goes on running: no world switch
                run.running[p] = vi
                run.vcpus[vi].pcpu = p
            else:
                run.load(vi, p)
