"""Where work runs: in this process, in local worker processes, or on a Dask cluster.

An executor maps a module-level function over argument tuples and yields the results as they
finish, in any order: the single writer (``study.run``) stores them, so the rows never depend
on which executor or how many workers computed them. While waiting it yields None at least
every half second, so the writer can notice Ctrl-C.

A task may ``report`` progress (any picklable message): the local executors pass it to their
``on_message`` callback in the calling process while they wait (Dask drops it).
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

from ..interrupts import deferred_sigint

R = TypeVar("R")
Task = tuple[Any, ...]


class ExecutorError(RuntimeError):
    """An executor that cannot start (e.g. no Dask scheduler at the address); one line."""


_channel: Connection | None = None
"""In a local worker process: the pipe its tasks' ``report`` messages go to (a small message
is one write, which a pipe keeps whole among several writers)."""
_sink: Callable[[Any], None] | None = None
"""In the calling process, while ``InProcess`` runs a task: where ``report`` sends."""


def report(message: Any) -> None:
    """Send ``message`` from a running task to the executor's ``on_message`` (if any)."""
    if _channel is not None:
        _channel.send(message)
    elif _sink is not None:
        _sink(message)


class Executor(Protocol):
    """Runs tasks and yields their results as they finish."""

    def run(self, fn: Callable[..., R], tasks: Sequence[Task]) -> Iterator[R | None]:
        """Yield ``fn(*task)`` for each task, in completion order; None while waiting."""
        ...

    def close(self, abort: bool = False) -> None:
        """Stop: drop queued tasks, release workers and connections (``abort``: without
        waiting for the running tasks)."""
        ...


def _worker_init(lifeline: Connection, channel: Connection | None = None, threads: int = 0) -> None:
    """Worker initialiser: Ctrl-C goes to the writer process only, which stops cleanly; and
    the worker exits when the writer is gone (even killed with SIGKILL) or closes the pipe.
    ``channel``: where ``report`` sends; ``threads`` > 0: the numba threads of one task
    (exact mode's loop), so that the workers share the cores instead of each taking all.

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
    # Locks this worker creates come from the default context: with "fork" they are unlinked
    # at once, so a worker ended mid-task (os._exit above) leaves no named semaphore behind
    # for the resource tracker to report as leaked (numba's parallel loop creates one).
    mp.set_start_method("fork", force=True)
    global _channel
    _channel = channel
    if threads > 0:
        from ..sim.fasttlbs import set_threads

        set_threads(threads)


class InProcess:
    """Compute in the calling process, one task at a time (``--workers 1``)."""

    def __init__(self, on_message: Callable[[Any], None] | None = None) -> None:
        self.on_message = on_message

    def run(self, fn: Callable[..., R], tasks: Sequence[Task]) -> Iterator[R | None]:
        global _sink
        for task in tasks:
            _sink = self.on_message
            try:
                got = fn(*task)
            finally:
                _sink = None
            yield got

    def close(self, abort: bool = False) -> None:
        return None


class LocalProcesses:
    """A pool of ``workers`` local processes (started once, reused by every ``run``); at most
    two tasks per worker are queued at a time, so stopping is quick. ``on_message`` receives
    the tasks' ``report`` messages; ``threads`` > 0 sets each worker's numba threads."""

    def __init__(
        self, workers: int, on_message: Callable[[Any], None] | None = None, threads: int = 0
    ) -> None:
        self.workers = workers
        self.on_message = on_message
        self.threads = threads
        self._pool: ProcessPoolExecutor | None = None
        self._lifeline: tuple[Connection, Connection] | None = None
        self._channel: tuple[Connection, Connection] | None = None
        self._pending: set[Future[Any]] = set()

    def run(self, fn: Callable[..., R], tasks: Sequence[Task]) -> Iterator[R | None]:
        if not tasks:
            return
        if self._pool is None:
            # forkserver: workers do not inherit the writer's DuckDB threads and locks
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(["vtlbsim.study._forkserver"])
            self._lifeline = ctx.Pipe(duplex=False)
            if self.on_message is not None:
                self._channel = ctx.Pipe(duplex=False)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=ctx,
                initializer=_worker_init,
                initargs=(
                    self._lifeline[0],
                    None if self._channel is None else self._channel[1],
                    self.threads,
                ),
            )
        pool = self._pool
        pending: set[Future[R]] = set()
        todo = iter(tasks)
        # Ctrl-C is raised only here, between two waits: never inside the pool's own calls,
        # where it would leave a lock held and ``close`` waiting for ever (interrupts.py)
        with deferred_sigint() as sigint:
            try:
                while True:
                    sigint.check()
                    while len(pending) < 2 * self.workers:
                        nxt = next(todo, None)
                        if nxt is None:
                            break
                        pending.add(pool.submit(fn, *nxt))
                    if not pending:
                        return
                    timeout = 0.5 if self._channel is None else 0.1
                    done, pending = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
                    self._deliver()
                    sigint.check()
                    if not done:
                        yield None
                    for fut in done:
                        yield fut.result()
            finally:
                self._pending = pending  # ``close`` cancels them, or lets an abort fail them

    def _deliver(self) -> None:
        """Pass the messages the workers reported to ``on_message``."""
        if self._channel is not None and self.on_message is not None:
            while self._channel[0].poll():
                self.on_message(self._channel[0].recv())

    def close(self, abort: bool = False) -> None:
        """Stop the pool: wait for the running tasks, or (``abort``) end the workers now (they
        exit when their lifeline closes)."""
        if not abort:
            for fut in self._pending:
                fut.cancel()
        self._pending = set()
        if abort and self._lifeline is not None:
            for end in self._lifeline:
                end.close()
            self._lifeline = None
        if abort and self._pool is not None:
            # and at once: a worker inside a compiled loop (or numba compiling it) holds its
            # GIL, so its lifeline thread could not end it before the loop returns
            workers: dict[int, Any] = getattr(self._pool, "_processes", None) or {}
            for worker in list(workers.values()):
                worker.kill()
        if self._pool is not None:
            # aborted: the workers are exiting; the pool notices (its futures fail), and its
            # thread ends. (Cancelling futures then would race with that thread.)
            self._pool.shutdown(wait=True, cancel_futures=not abort)
            self._pool = None
        if self._lifeline is not None:
            for end in self._lifeline:
                end.close()
            self._lifeline = None
        if self._channel is not None:
            for end in self._channel:
                end.close()
            self._channel = None


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
    return InProcess() if workers <= 1 else LocalProcesses(workers)
