"""Where the merged search's duplicate successors come from (what a partial-order reduction
could skip, and what it could not).

    .venv/bin/python benchmarks/check_duplicates.py [--kind linux-arm32-smp] [--policy hafnium]
        [--depth 10] [--globals] [--asid-flush] [--vms 2] [--incomplete]

Runs the merged search and sorts every keyed successor: a new state; a duplicate of a state
first met at the same level (what a partial-order reduction can skip when its last two actions
are independent); or a duplicate of a state of an earlier level, the parent itself among them
(a partial-order reduction never skips those). Levels count actions. Prints the counts by the
kind of the successor's last action. Instruments the search from outside (it wraps
``Explorer.key``, ``_Search.applied`` and ``explore.op_outcome``, whose fetches the
search may count without applying or keying them): a measurement, not a test.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

from vtlbsim.check import explore
from vtlbsim.check.actions import Operation
from vtlbsim.check.unchanged import CHANGES_NOTHING, SHOWS_NOTHING
from vtlbsim.sim.events import Event


def action_kind(label: str) -> str:
    """``load`` for a scheduler action, else the guest operation's verb (``map``, ``fetch``)."""
    words = label.split()
    return "load" if words[0] == "run" else words[1].rstrip(",")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kind", default="linux-arm32-smp")
    ap.add_argument("--policy", default="hafnium")
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--globals", action="store_true")
    ap.add_argument("--asid-flush", action="store_true")
    ap.add_argument("--incomplete", action="store_true")
    ap.add_argument("--vms", type=int, default=1, choices=(1, 2))
    a = ap.parse_args()
    first: dict[Any, int] = {}  # key -> level of its first arrival
    level_of: dict[tuple[Event, ...], int] = {(): 0}  # event path -> actions on it
    key_of: dict[tuple[Event, ...], Any] = {}
    now: dict[str, Any] = {}
    counts: Counter[tuple[str, str]] = Counter()
    applied, key = explore._Search.applied, explore.Explorer.key

    def applied_seen(self: Any, e: Any, o: Any, path: tuple[Event, ...], op: Operation) -> None:
        now["path"], now["op"] = path, op
        level_of[path + op.events] = level_of[path] + 1
        applied(self, e, o, path, op)

    def key_seen(self: Any, e: Any, o: Any, g: Any) -> Any:
        k = key(self, e, o, g)
        if "op" not in now:  # the root
            first[k] = 0
            key_of[()] = k
            return k
        path, op = now["path"], now["op"]
        level = level_of[path + op.events]
        key_of[path + op.events] = k
        kind = action_kind(op.label)
        if k not in first:
            first[k] = level
            counts[("new", kind)] += 1
        elif k == key_of.get(path):
            counts[("the parent", kind)] += 1
        elif first[k] == level:
            counts[("same level", kind)] += 1
        else:
            counts[("earlier level", kind)] += 1
        return k

    outcome = explore.op_outcome
    outcomes = Counter[int]()

    def outcome_seen(e: Any, o: Any, events: tuple[Event, ...]) -> int:
        got = outcome(e, o, events)
        outcomes[got] += 1
        return got

    explore.op_outcome = outcome_seen
    explore._Search.applied = applied_seen  # type: ignore[method-assign]
    explore.Explorer.key = key_seen  # type: ignore[method-assign]
    r = explore.check(
        a.kind,
        a.policy,
        depth=a.depth,
        globals=a.globals,
        asid_flush=a.asid_flush,
        incomplete=a.incomplete,
        vms=a.vms,
    )
    print(r.summary())
    total = Counter[str]()
    for (what, _), n in counts.items():
        total[what] += n
    print(
        f"fetches counted without applying or keying them (unchanged.py): "
        f"{outcomes[CHANGES_NOTHING]:,} that change nothing (each its parent's duplicate, or a "
        f"last-level state); of {outcomes[SHOWS_NOTHING]:,} that show nothing, those of the "
        f"last level"
    )
    print(f"keyed successors: {sum(total.values()):,}")
    for what in ("new", "same level", "the parent", "earlier level"):
        kinds = ", ".join(f"{k} {n:,}" for (w, k), n in counts.most_common() if w == what)
        print(f"{what}: {total[what]:,} ({kinds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
