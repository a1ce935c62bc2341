"""Preloaded by the local worker pool's fork server: workers ignore Ctrl-C from birth.

A terminal's Ctrl-C sends SIGINT to the whole process group, workers included. The writer
process handles it (stores what it has, says how many points are stored); a worker that died
of it would break the pool, and a worker started just then would die before any initialiser
could run. The fork server saves its SIGINT handler *after* importing its preload modules and
gives that saved handler to every worker it forks, so ignoring SIGINT here, at import, covers
every worker from its first instruction. The frame check keeps this from ever happening in
any other process that imports the module.
"""

from __future__ import annotations

import signal
import sys
from pathlib import PurePath

from . import sweep  # noqa: F401  (warm import: the workers' code)


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
