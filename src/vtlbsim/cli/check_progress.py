"""Progress of `vtlbsim check`: a rich bar on a terminal, plain lines on stderr otherwise, as
``cli/progress.py`` draws them, with what a check needs besides: states per second (of the
pairs checked, not read from the cache) and an ETA for one check from how depths grow."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..check.explore import CheckResult

PLAIN_EVERY_S = 2.0


class MatrixProgress:
    """Pairs done of the matrix, states per second of the pairs checked so far, ETA."""

    def __init__(self, total: int, fancy: bool) -> None:
        self.total, self.done, self.states, self.cached = total, 0, 0, 0
        self.t0 = self.last = time.monotonic()
        self.bar: Progress | None = None
        if fancy and total:
            self.bar = Progress(
                TextColumn("[bold]check --matrix"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} states/s"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=True,
            )
            self.task = self.bar.add_task("pairs", total=total, rate="-")
            self.bar.start()

    def __call__(self, r: CheckResult, done: int, total: int) -> None:
        self.done = done
        if r.seconds and not getattr(r, "from_cache", False):
            self.states += r.states
        now = time.monotonic()
        rate = self.states / max(now - self.t0, 1e-9)
        if self.bar is not None:
            self.bar.update(self.task, completed=done, rate=f"{rate:,.0f}")
        elif now - self.last >= PLAIN_EVERY_S:  # short runs print nothing
            self.last = now
            per_pair = (now - self.t0) / max(done, 1)
            print(
                f"vtlbsim: check --matrix: {done}/{total} pairs, {rate:,.0f} states/s, "
                f"eta {per_pair * (total - done):.0f} s",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class LevelProgress:
    """Depth reached by one check, states so far, states per second, and an ETA from how
    much longer each depth took than the one before."""

    def __init__(self, depth: int, fancy: bool) -> None:
        self.depth = depth
        self.level, self.states = 0, 0
        self.t0 = self.last_print = time.monotonic()
        self.times: list[float] = []
        self.bar: Progress | None = None
        if fancy:
            self.bar = Progress(
                TextColumn("[bold]check depth"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[states]} states, {task.fields[rate]} states/s"),
                TimeElapsedColumn(),
                TextColumn("eta {task.fields[eta]}"),
                console=Console(file=sys.stderr),
                transient=True,
            )
            self.task = self.bar.add_task("depth", total=depth, states="0", rate="-", eta="-")
            self.bar.start()

    def __call__(self, level: int, states: int) -> None:
        now = time.monotonic()
        self.times.append(now - (self.t0 + sum(self.times)))
        self.level, self.states = level, states
        rate = states / max(now - self.t0, 1e-9)
        eta = self.eta()
        if self.bar is not None:
            self.bar.update(
                self.task,
                completed=level,
                states=f"{states:,}",
                rate=f"{rate:,.0f}",
                eta=f"~{eta:.0f} s" if eta is not None else "-",
            )
        elif now - self.last_print >= PLAIN_EVERY_S:  # short runs print nothing
            self.last_print = now
            print(
                f"vtlbsim: check: depth {level}/{self.depth}, {states:,} states, {rate:,.0f} states/s"
                + (f", eta ~{eta:.0f} s" if eta is not None else ""),
                file=sys.stderr,
                flush=True,
            )

    def eta(self) -> float | None:
        """Each remaining depth takes as much longer than the last as the last did."""
        if len(self.times) < 2 or self.times[-2] <= 0:
            return None
        growth = max(1.0, self.times[-1] / self.times[-2])
        t, total = self.times[-1], 0.0
        for _ in range(self.depth - self.level):
            t *= growth
            total += t
        return total

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
