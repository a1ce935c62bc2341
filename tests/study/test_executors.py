"""The local worker pool and Ctrl-C: an interrupt that arrives while the pool waits is raised
between two waits, from ``DeferredSigint.check``, never inside ``concurrent.futures`` (where it
can leave a future's lock held and the pool's shutdown waiting for ever); after it the pool
closes and its workers are gone."""

from __future__ import annotations

import os
import signal
import time
import traceback
from concurrent.futures import wait as real_wait
from typing import Any

import pytest

from vtlbsim import workers as worker_pool
from vtlbsim.study.executors import LocalProcesses


def test_ctrl_c_while_the_pool_waits_is_raised_between_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = [0]

    def wait_interrupted(*args: Any, **kw: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2:  # the runs are under way
            os.kill(os.getpid(), signal.SIGINT)
        return real_wait(*args, **kw)

    monkeypatch.setattr(worker_pool, "wait", wait_interrupted)
    pool = LocalProcesses(2)
    got: list[object] = []
    with pytest.raises(KeyboardInterrupt) as caught:
        for result in pool.run(time.sleep, [(0.3,)] * 8):
            got.append(result)
    innermost = traceback.extract_tb(caught.value.__traceback__)[-1]
    assert (innermost.name, os.path.basename(innermost.filename)) == ("check", "interrupts.py")
    assert calls[0] == 2  # raised right after the wait it arrived in
    workers = list(pool._pool._processes.values()) if pool._pool else []  # noqa: SLF001
    assert workers
    pool.close(abort=True)
    for w in workers:
        w.join(timeout=60)
        assert not w.is_alive()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
