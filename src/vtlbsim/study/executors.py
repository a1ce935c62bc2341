"""Where work runs: in this process, in local worker processes (``vtlbsim.workers``, shared
with the checker's matrix), or on a Dask cluster.

An executor maps a module-level function over argument tuples and yields the results as they
finish, in any order: the single writer (``study.run``) stores them, so the rows never depend
on which executor or how many workers computed them. While waiting it yields None at least
every half second, so the writer can notice Ctrl-C.

A task may ``report`` progress (any picklable message): the local executors pass it to their
``on_message`` callback in the calling process while they wait (Dask drops it).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from ..workers import InProcess, LocalProcesses, Task, report

__all__ = [
    "DaskCluster",
    "Executor",
    "ExecutorError",
    "InProcess",
    "LocalProcesses",
    "Task",
    "make_executor",
    "report",
]

R = TypeVar("R")

PRELOAD = ("vtlbsim.study.sweep",)
"""What the local workers' fork server imports once for them all: the study's task code."""


class ExecutorError(RuntimeError):
    """An executor that cannot start (e.g. no Dask scheduler at the address); one line."""


class Executor(Protocol):
    """Runs tasks and yields their results as they finish."""

    def run(self, fn: Callable[..., R], tasks: Sequence[Task]) -> Iterator[R | None]:
        """Yield ``fn(*task)`` for each task, in completion order; None while waiting."""
        ...

    def close(self, abort: bool = False) -> None:
        """Stop: drop queued tasks, release workers and connections (``abort``: without
        waiting for the running tasks)."""
        ...


class DaskCluster:
    """Tasks on a ``dask.distributed`` cluster at ``address`` (``tcp://HOST:PORT``)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._client: Any = None
        self._futures: list[Any] = []

    def _connect(self) -> Any:
        dist: Any = importlib.import_module("distributed")  # untyped
        if self._client is None:
            try:
                self._client = dist.Client(self.address, timeout="5s", set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ExecutorError(
                    f"--scheduler {self.address}: cannot reach a Dask scheduler: "
                    f"{' '.join(str(exc).split())}"
                ) from None
        return dist

    def run(self, fn: Callable[..., R], tasks: Sequence[Task]) -> Iterator[R | None]:
        if not tasks:
            return
        dist = self._connect()
        self._futures = [self._client.submit(fn, *t, pure=False) for t in tasks]
        try:
            done = dist.as_completed(self._futures, loop=self._client.loop)
            while not done.is_empty():
                batch = done.next_batch(block=False)
                if not batch:
                    time.sleep(0.05)
                    yield None
                for fut in batch:
                    yield fut.result()
        finally:
            unfinished = [f for f in self._futures if not f.done()]
            if unfinished:
                self._client.cancel(unfinished)
            self._futures = []

    def close(self, abort: bool = False) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def make_executor(workers: int, scheduler: str | None) -> Executor:
    """Dask when a scheduler address is given, else local processes (in-process for 1)."""
    if scheduler:
        return DaskCluster(scheduler)
    return InProcess() if workers <= 1 else LocalProcesses(workers, preload=PRELOAD)
