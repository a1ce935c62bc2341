"""Progress of a long command, on stderr: a rich bar with the rate and an ETA on a terminal,
a plain line every few seconds otherwise; and Ctrl-C turned into one line that says what was
kept, with exit code 130.

```python
with Meter("check --matrix", total=len(pairs), unit="pairs") as meter:
    meter.kept = lambda: f"{meter.done} of {meter.total} verdicts cached"
    for pair in pairs:
        ...
        meter.advance()
```

Lower layers never import this module: they take a plain ``Callable[[int], None]`` (called
with the units just finished) and the command passes ``meter.advance``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import NoReturn, TextIO

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as a shell reports it."""

PLAIN_EVERY_S = 2.0
"""Plain mode: seconds between two progress lines (the first after as long)."""


class _Rate(ProgressColumn):
    """Units per second (rich's moving estimate), e.g. ``1,234 states/s``."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None and task.elapsed:
            speed = task.completed / task.elapsed
        return Text(f"{'-' if speed is None else _num(speed)} {self.unit}/s")


def _num(x: float) -> str:
    """A count or a rate, readable: thousands separators, one decimal below 10."""
    return f"{x:,.1f}" if abs(x) < 10 and x != int(x) else f"{x:,.0f}"


def _eta(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


class Meter:
    """Progress of one piece of work of ``total`` units (None: unknown, no ETA).

    ``fancy`` (default: stderr is a terminal) picks the rich bar; otherwise a line
    ``vtlbsim: WHAT: DONE/TOTAL UNIT (P%), RATE UNIT/s, eta T`` every ``PLAIN_EVERY_S`` seconds
    and a last one when the work ends, if the work lasted long enough to print any.
    Leaving the ``with`` block through Ctrl-C prints ``vtlbsim: interrupted: KEPT`` (``kept``
    is a callable the command sets, saying what it stored) and exits 130.
    """

    def __init__(
        self,
        what: str,
        total: float | None,
        unit: str,
        *,
        stream: TextIO | None = None,
        fancy: bool | None = None,
        kept: Callable[[], str] | None = None,
    ) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.done = 0.0
        self.kept: Callable[[], str] = kept or (lambda: "nothing was stored")
        self.stream = stream if stream is not None else sys.stderr
        console = Console(file=self.stream, highlight=False)
        self.fancy = console.is_terminal if fancy is None else fancy
        self.t0 = self.last = time.monotonic()
        self.printed: float | None = None
        """The count the last plain line showed (None: no line yet)."""
        self.bar: Progress | None = None
        if self.fancy:
            known = total is not None
            self.bar = Progress(
                SpinnerColumn() if not known else TextColumn(""),
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn() if known else TextColumn("{task.completed:,.0f}"),
                _Rate(unit),
                TimeElapsedColumn(),
                *((TextColumn("eta"), TimeRemainingColumn()) if known else ()),
                console=console,
                transient=False,
            )
            self.task = self.bar.add_task(what, total=total)

    # ---- the work's side -----------------------------------------------------------------
    def advance(self, n: float = 1) -> None:
        """``n`` more units are done."""
        self.update(self.done + n)

    def update(self, done: float, total: float | None = None) -> None:
        """``done`` units are done (and the total is now ``total``, when given)."""
        self.done = done
        if total is not None:
            self.total = total
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=self.total)
            return
        now = time.monotonic()
        if now - self.last >= PLAIN_EVERY_S:
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        elapsed = max(now - self.t0, 1e-9)
        rate = self.done / elapsed
        text = f"vtlbsim: {self.what}: {_num(self.done)}"
        if self.total:
            pct = 100.0 * self.done / self.total
            text += f"/{_num(self.total)} {self.unit} ({pct:.0f}%)"
        else:
            text += f" {self.unit}"
        text += f", {_num(rate)} {self.unit}/s"
        if self.total and rate > 0:
            text += f", eta {_eta(max(self.total - self.done, 0.0) / rate)}"
        else:
            text += f", {_eta(elapsed)} elapsed"
        print(text, file=self.stream, flush=True)
        self.printed = self.done

    # ---- the command's side --------------------------------------------------------------
    def __enter__(self) -> Meter:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.bar is not None:
            self.bar.stop()
        elif self.printed is not None and self.printed != self.done and kind is None:
            self._line(time.monotonic())
        if kind is not None and issubclass(kind, KeyboardInterrupt):
            interrupted(self.kept())


def interrupted(kept: str) -> NoReturn:
    """Print ``vtlbsim: interrupted: KEPT`` on stderr and exit 130 (raises typer.Exit)."""
    print(f"vtlbsim: interrupted: {' '.join(kept.split())}", file=sys.stderr, flush=True)
    raise typer.Exit(INTERRUPTED)
