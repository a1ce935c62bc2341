"""Ctrl-C deferred to a point the code chooses (``vtlbsim.interrupts``): the first SIGINT is a
flag raised by ``check``, a second one raises at once, a handler someone else installed is left
alone, and the default handler comes back afterwards."""

from __future__ import annotations

import os
import signal
from types import FrameType

import pytest

from vtlbsim.interrupts import deferred_sigint


def _sigint() -> None:
    """Deliver SIGINT to this process; Python runs the handler before the next bytecode."""
    os.kill(os.getpid(), signal.SIGINT)


def test_the_first_sigint_waits_for_check() -> None:
    with deferred_sigint() as sigint:
        _sigint()
        reached = True  # not interrupted: the handler only set the flag
        with pytest.raises(KeyboardInterrupt):
            sigint.check()
        sigint.check()  # raised once: the flag is cleared
    assert reached
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_sigint_raises_at_once() -> None:
    with pytest.raises(KeyboardInterrupt), deferred_sigint():
        _sigint()
        _sigint()
        pytest.fail("the second SIGINT did not raise")  # pragma: no cover
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_sigint_after_the_last_check_is_raised_on_leaving() -> None:
    with pytest.raises(KeyboardInterrupt), deferred_sigint():
        _sigint()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_handler_someone_else_installed_stays() -> None:
    seen: list[int] = []

    def flag(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    old = signal.signal(signal.SIGINT, flag)
    try:
        with deferred_sigint() as sigint:
            assert signal.getsignal(signal.SIGINT) is flag
            _sigint()
            sigint.check()  # their handler took it: nothing to raise here
        assert seen == [signal.SIGINT]
        assert signal.getsignal(signal.SIGINT) is flag
    finally:
        signal.signal(signal.SIGINT, old)
