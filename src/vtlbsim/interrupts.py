"""Ctrl-C taken at a point the code chooses, not wherever the main thread happens to be.

Python raises KeyboardInterrupt at the next bytecode of the main thread. When that bytecode is
inside ``concurrent.futures`` (``wait`` acquiring each future's lock in turn, ``submit``
spawning a worker), the pool is left with a lock held for ever, and the shutdown that follows
waits for ever on the pool's manager thread (a CI run hung 120 s in
``test_ctrl_c_during_an_exact_run_keeps_what_finished``). ``deferred_sigint`` makes the first
SIGINT a flag that ``check`` turns into KeyboardInterrupt where the caller has no lock and no
half-made call: between two waits. A second SIGINT raises at once, as an impatient user asks.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class DeferredSigint:
    """Whether a SIGINT arrived while deferred; ``check`` raises it as KeyboardInterrupt."""

    def __init__(self) -> None:
        self.pending = False

    def check(self) -> None:
        """Raise KeyboardInterrupt if a SIGINT arrived since the deferral began."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.pending:
            raise KeyboardInterrupt  # the second Ctrl-C: now
        self.pending = True


@contextmanager
def deferred_sigint() -> Iterator[DeferredSigint]:
    """Defer SIGINT to ``check`` inside the block. Only Python's own handler (the one that
    raises KeyboardInterrupt) is replaced: a handler someone else installed (a study's "stop
    after this chunk" flag) stays, and off the main thread nothing can be installed; in both
    cases ``check`` never raises."""
    deferral = DeferredSigint()
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield deferral
        return
    signal.signal(signal.SIGINT, deferral._handler)
    try:
        yield deferral
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    deferral.check()  # a Ctrl-C that came after the last check is not lost
