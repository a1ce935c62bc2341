"""Random walks through a search's state space, for tests that hold a rule in many states."""

from __future__ import annotations

import random
from collections.abc import Iterator

from vtlbsim.check.actions import GuestState, Operation
from vtlbsim.check.explore import Explorer
from vtlbsim.check.oracle import Oracle
from vtlbsim.check.snapshot import copy_state
from vtlbsim.sim.engine import Engine


def random_states(
    ex: Explorer, rng: random.Random, walks: int, steps: int
) -> Iterator[tuple[Engine, Oracle, GuestState, list[Operation]]]:
    """Each state of ``walks`` random paths of up to ``steps`` actions from the initial one,
    with its successors; a path stops at its first violation. The walk moves on (from a copy)
    once the caller has looked at a state."""
    for _ in range(walks):
        g = ex.model.initial()
        engine, oracle = ex.replay(())
        for _ in range(steps):
            ops = ex.successors(engine, g)
            yield engine, oracle, g, ops
            op = rng.choice(ops)
            engine, oracle = copy_state(engine, oracle)
            engine.apply(op.events)
            g = op.state
            if oracle.violations:
                break


def clean_successors(
    engine: Engine, oracle: Oracle, ops: list[Operation]
) -> Iterator[tuple[Operation, Engine, Oracle]]:
    """Each successor of a state (``ops`` applied to a copy of it) that finds no violation."""
    for op in ops:
        e2, o2 = copy_state(engine, oracle)
        e2.apply(op.events)
        if not o2.violations:
            yield op, e2, o2
