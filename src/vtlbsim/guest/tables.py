"""Stage-1 translation tables and code memory, with the history of every write.

The oracle (SPEC §5) asks "did this table map VA x to PA p at some instant at or after step
M?", so every PTE write is kept as (step, value). Stage 2 is the identity: an IPA is the PA.
Each VM's memory is its own, so physical pages are named per domain.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import NamedTuple

Windows = tuple[tuple[int, int | None], ...]
"""Intervals of steps, each ``(first, last)`` (``None``: still open): the instants a table
was a vCPU's current one (``domain.Vcpu.windows``)."""


class Pte(NamedTuple):
    """A valid leaf descriptor: output page and whether it is global (nG=0)."""

    pa: int
    is_global: bool


class History:
    """A value that changes at given steps; ``None`` before the first write.

    A History is never changed once made: a write makes a new one (``then``), so copies of a
    table (the model checker's snapshots) share their histories."""

    __slots__ = ("steps", "values")

    def __init__(self, steps: tuple[int, ...] = (), values: tuple[object, ...] = ()) -> None:
        self.steps = steps
        self.values = values

    def then(self, step: int, value: object) -> History:
        """This history with ``value`` written at ``step``."""
        return History((*self.steps, step), (*self.values, value))

    def since(self, step: int) -> tuple[object, ...]:
        """Every value held at some instant at or after ``step`` (the one in force then included)."""
        i = bisect_right(self.steps, step) - 1
        if i < 0:
            return (None, *self.values)
        return self.values[i:]

    def during(self, lo: int, hi: int | None) -> tuple[object, ...]:
        """Every value held at some instant in ``[lo, hi]`` (``hi`` None: up to now)."""
        held = self.since(lo)
        if hi is None:
            return held
        later = len(self.steps) - bisect_right(self.steps, hi)  # writes after ``hi``
        return held[: len(held) - later] if later else held

    def at(self, step: int) -> object:
        i = bisect_right(self.steps, step) - 1
        return None if i < 0 else self.values[i]

    def changes_after(self, step: int) -> tuple[int, ...]:
        return self.steps[bisect_right(self.steps, step) :]


_EMPTY = History()


class TranslationTable:
    """A named stage-1 table: VA page -> Pte, or invalid."""

    __slots__ = ("name", "current", "history")

    def __init__(self, name: str) -> None:
        self.name = name
        self.current: dict[int, Pte] = {}
        self.history: dict[int, History] = {}

    def write(self, step: int, va: int, pte: Pte | None) -> None:
        """The guest writes a PTE (``None``: an invalid descriptor)."""
        if pte is None:
            self.current.pop(va, None)
        else:
            self.current[va] = pte
        self.history[va] = self.history.get(va, _EMPTY).then(step, pte)

    def walk(self, va: int) -> Pte | None:
        return self.current.get(va)

    def mapped_since(self, va: int, pa: int, step: int) -> bool:
        """Did this table map ``va`` to ``pa`` at some instant at or after ``step``?"""
        h = self.history.get(va)
        if h is None:
            return False
        return any(v is not None and v.pa == pa for v in h.since(step))  # type: ignore[attr-defined]

    def mapped_during(self, va: int, pa: int, windows: Windows) -> bool:
        """Did this table map ``va`` to ``pa`` at some instant of one of ``windows``?"""
        h = self.history.get(va)
        if h is None:
            return False
        return any(
            v is not None and v.pa == pa  # type: ignore[attr-defined]
            for lo, hi in windows
            for v in h.during(lo, hi)
        )

    def outputs_during(self, va: int, windows: Windows) -> list[int | None]:
        """The outputs ``va`` had at the instants of ``windows`` (``None``: no translation), in
        order, once each."""
        h = self.history.get(va)
        seen: list[int | None] = []
        for lo, hi in windows:
            for v in h.during(lo, hi) if h is not None else (None,):
                out = None if v is None else v.pa  # type: ignore[attr-defined]
                if out not in seen:
                    seen.append(out)
        return seen

    def outputs_since(self, va: int, step: int) -> list[int | None]:
        """The outputs ``va`` had at or after ``step`` (``None``: no translation), in order, once each."""
        h = self.history.get(va)
        seen: list[int | None] = []
        for v in h.since(step) if h is not None else (None,):
            out = None if v is None else v.pa  # type: ignore[attr-defined]
            if out not in seen:
                seen.append(out)
        return seen


class CodeMemory:
    """The code version held at each physical page of one VM (0 = the initial image)."""

    __slots__ = ("current", "history")

    def __init__(self) -> None:
        self.current: dict[int, int] = {}
        self.history: dict[int, History] = {}

    def version(self, pa: int) -> int:
        return self.current.get(pa, 0)

    def write(self, step: int, pa: int) -> int:
        """New instructions at ``pa``: the version goes up by one."""
        v = self.current.get(pa, 0) + 1
        self.current[pa] = v
        self.history[pa] = self.history.get(pa, _EMPTY).then(step, v)
        return v

    def version_at(self, pa: int, step: int) -> int:
        h = self.history.get(pa)
        if h is None:
            return 0
        v = h.at(step)
        return 0 if v is None else int(v)  # type: ignore[call-overload]
