"""The hand-derived verdict table (``tests/check/data/verdicts.toml``), for the tests that hold
the checker, the shipped verdict cache and the cost CLI's safety column to it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TABLE = Path(__file__).parent / "check" / "data" / "verdicts.toml"


@dataclass(frozen=True, slots=True)
class HandVerdict:
    """One row: the verdict reasoned by hand, and what the checker answers where it differs."""

    kind: str
    policy: str
    safe: bool
    why: str
    checker: bool | None = None
    checker_why: str = ""

    @property
    def expected_from_checker(self) -> bool:
        """What the checker is held to: the hand verdict, unless a known disagreement is recorded."""
        return self.safe if self.checker is None else self.checker


@cache
def hand_verdicts() -> dict[tuple[str, str], HandVerdict]:
    """Every row of the table, keyed by (kind, policy)."""
    with TABLE.open("rb") as f:
        raw = tomllib.load(f)
    out: dict[tuple[str, str], HandVerdict] = {}
    for kind, rows in raw.items():
        for policy, row in rows.items():
            out[(kind, policy)] = HandVerdict(
                kind,
                policy,
                row["safe"],
                row["why"],
                row.get("checker"),
                row.get("checker_why", ""),
            )
    return out


def disagreements() -> list[HandVerdict]:
    """The rows where the checker does not reproduce the hand verdict."""
    return [v for v in hand_verdicts().values() if v.checker is not None]
