"""Where work runs: in this process, in local worker processes, or on a Dask cluster.

An executor maps a module-level function over argument tuples and yields the results as they
finish, in any order: the single writer (``study.run``) stores them, so the rows never depend
on which executor or how many workers computed them. While waiting it yields None at least
every half second, so the writer can notice Ctrl-C.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing.connection import Connection
from typing import Any, Protocol, TypeVar

R = TypeVar("R")
Task = tuple[Any, ...]


class ExecutorError(RuntimeError):
    """An executor that cannot start (e.g. no Dask scheduler at the address); one line."""


class Executor(Protocol):
    """Runs tasks and yields their results as they finish."""

    def run(self, fn: Callable[..., R], tasks: Sequence[Task]) -> Iterator[R | None]:
        """Yield ``fn(*task)`` for each task, in completion order; None while waiting."""
        ...

    def close(self) -> None:
        """Stop: drop queued tasks, release workers and connections."""
        ...


def _worker_init(lifeline: Connection) -> None:
    """Worker initialiser: Ctrl-C goes to the writer process only, which stops cleanly; and
    the worker exits when the writer is gone (even killed with SIGKILL).

    ``lifeline`` is the read end of a pipe whose only write end the writer holds: when the
    writer dies the read sees end-of-file. Without this, a SIGKILLed writer leaves its workers
    blocked on the task queue for ever (every worker holds both ends of that queue's pipe, and
    the fork server lives as long as any worker does)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        try:
            lifeline.recv_bytes()
        except (EOFError, OSError):
            pass
        os._exit(1)

    threading.Thread(target=watch, name="vtlbsim-lifeline", daemon=True).start()


class InProcess:
    """Compute in the calling process, one task at a time (``--workers 1``)."""

    def run(self, fn: Callable[..., R], tasks: Sequence[Task]) -> Iterator[R | None]:
        for task in tasks:
            yield fn(*task)

    def close(self) -> None:
        return None


class LocalProcesses:
    """A pool of ``workers`` local processes (started once, reused by every ``run``); at most
    two tasks per worker are queued at a time, so stopping is quick."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lifeline: tuple[Connection, Connection] | None = None

    def run(self, fn: Callable[..., R], tasks: Sequence[Task]) -> Iterator[R | None]:
        if not tasks:
            return
        if self._pool is None:
            # forkserver: workers do not inherit the writer's DuckDB threads and locks
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(["vtlbsim.study._forkserver"])
            self._lifeline = ctx.Pipe(duplex=False)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=ctx,
                initializer=_worker_init,
                initargs=(self._lifeline[0],),
            )
        pool = self._pool
        pending: set[Future[R]] = set()
        todo = iter(tasks)
        try:
            while True:
                while len(pending) < 2 * self.workers:
                    nxt = next(todo, None)
                    if nxt is None:
                        break
                    pending.add(pool.submit(fn, *nxt))
                if not pending:
                    return
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                if not done:
                    yield None
                for fut in done:
                    yield fut.result()
        finally:
            for fut in pending:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._lifeline is not None:
            for end in self._lifeline:
                end.close()
            self._lifeline = None


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

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def make_executor(workers: int, scheduler: str | None) -> Executor:
    """Dask when a scheduler address is given, else local processes (in-process for 1)."""
    if scheduler:
        return DaskCluster(scheduler)
    return InProcess() if workers <= 1 else LocalProcesses(workers)
