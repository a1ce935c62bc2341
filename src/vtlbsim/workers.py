"""Local worker processes for any package: a pool started from a fork server, one at a time in
this process otherwise; both yield results as they finish (``study.executors`` adds Dask).

Workers come from a *fork server*, never from a fork of the calling process. The caller may
run other threads (DuckDB's, numba's, a progress bar's, a test runner's) and a fork copies
only the forking thread: a lock another thread held at that instant stays held for ever in
the child (Python 3.12+ warns "This process is multi-threaded, use of fork() may lead to
deadlocks in the child"). The fork server is a fresh single-threaded interpreter, started once
per process, that imports ``preload`` and then forks each worker from that warm state: a
worker costs a fork, not a new interpreter's imports as with ``spawn``. Each worker gets the
caller's ``sys.path`` and working directory at its launch (``multiprocessing.spawn.prepare``),
so a plug-in module or a file named by a relative path loads in the workers as it did here.

A terminal's Ctrl-C sends SIGINT to the whole process group, workers included. The calling
process handles it (keeps what finished, says so); a worker that died of it would break the
pool, and a worker started just then would die before any initialiser could run. The fork
server saves its SIGINT handler *after* importing its preload modules and gives that saved
handler to every worker it forks; this module is always preloaded first and, imported by the
fork server, ignores SIGINT, which covers every worker from its first instruction. (The frame
check keeps this from happening in any other process that imports the module.)

A task may ``report`` progress (any picklable message): ``on_message`` receives it in the
calling process while the pool waits.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing.connection import Connection
from pathlib import PurePath
from typing import Any, TypeVar

from .interrupts import deferred_sigint

R = TypeVar("R")
Task = tuple[Any, ...]


def _in_fork_server() -> bool:
    """True when imported from ``multiprocessing.forkserver.main`` (the fork server)."""
    frame = sys._getframe()
    while frame is not None:
        code = frame.f_code
        if code.co_name == "main" and PurePath(code.co_filename).parts[-2:] == (
            "multiprocessing",
            "forkserver.py",
        ):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


if _in_fork_server():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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


def _worker_init(
    lifeline: Connection,
    channel: Connection | None = None,
    setup: Callable[[], object] | None = None,
) -> None:
    """Worker initialiser: Ctrl-C goes to the calling process only, which stops cleanly; and
    the worker exits when the caller is gone (even killed with SIGKILL) or closes the pipe.
    ``channel``: where ``report`` sends; ``setup``: called once (e.g. the numba threads of one
    task, so that the workers share the cores instead of each taking all).

    ``lifeline`` is the read end of a pipe whose only write end the caller holds: when the
    caller dies the read sees end-of-file. Without this, a SIGKILLed caller leaves its workers
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
    if setup is not None:
        setup()


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
    the tasks' ``report`` messages; ``setup`` runs once in each worker; ``preload``: the
    modules of the tasks' code, which the fork server imports once for every worker (it takes
    those of the first pool of the process: there is one fork server per process)."""

    def __init__(
        self,
        workers: int,
        on_message: Callable[[Any], None] | None = None,
        setup: Callable[[], object] | None = None,
        preload: Sequence[str] = (),
    ) -> None:
        self.workers = workers
        self.on_message = on_message
        self.setup = setup
        self.preload = [__name__, *preload]
        self._pool: ProcessPoolExecutor | None = None
        self._lifeline: tuple[Connection, Connection] | None = None
        self._channel: tuple[Connection, Connection] | None = None
        self._pending: set[Future[Any]] = set()

    def run(self, fn: Callable[..., R], tasks: Sequence[Task]) -> Iterator[R | None]:
        """Yield ``fn(*task)`` for each task, in completion order; None at least every half
        second while waiting (a Ctrl-C is raised from here, between two waits)."""
        if not tasks:
            return
        if self._pool is None:
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(self.preload)
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
                    self.setup,
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
