"""The search's memos of guest operations, process switches and scheduler loads
(``GuestModel.operations``, ``GuestModel._switches``, ``Explorer._loads``): along random
paths, a long-lived explorer, whose memos fill as it goes, offers in each state exactly the
successors an explorer with empty memos computes afresh."""

from __future__ import annotations

import random

import pytest

from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer
from vtlbsim.check.snapshot import copy_state
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.registry import resolve


@pytest.mark.parametrize("kind", KIND_NAMES)
@pytest.mark.parametrize("options", [{}, {"globals": True, "asid_flush": True}])
def test_memoised_successors_are_fresh_ones(kind: str, options: dict[str, bool]) -> None:
    pol = resolve("kvm")
    warm = Explorer(GuestModel.for_kind(kind, 2, **options), pol, 2)
    rng = random.Random(kind)
    hits = 0
    for _ in range(25):
        g = warm.model.initial()
        engine, oracle = warm.replay(())
        for _ in range(10):
            before = len(warm.model.operation_memo) + len(warm.load_memo)
            ops = warm.successors(engine, g)
            hits += len(warm.model.operation_memo) + len(warm.load_memo) == before
            cold = Explorer(GuestModel.for_kind(kind, 2, **options), pol, 2)
            fresh = cold.successors(engine, g)
            assert [(o.label, o.events, o.state) for o in ops] == [
                (o.label, o.events, o.state) for o in fresh
            ]
            op = rng.choice(ops)
            engine, oracle = copy_state(engine, oracle)
            engine.apply(op.events)
            g = op.state
            if oracle.violations:
                break
    assert hits > 0  # the memos answered
