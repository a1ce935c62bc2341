"""The search's memos of guest operations, process switches and scheduler loads
(``GuestModel.operations``, ``GuestModel._switches``, ``Explorer._loads``): along random
paths, a long-lived explorer, whose memos fill as it goes, offers in each state exactly the
successors an explorer with empty memos computes afresh."""

from __future__ import annotations

import random

import pytest
from walks import random_states

from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.registry import resolve


@pytest.mark.parametrize("kind", KIND_NAMES)
@pytest.mark.parametrize("options", [{}, {"globals": True, "asid_flush": True}])
def test_memoised_successors_are_fresh_ones(kind: str, options: dict[str, bool]) -> None:
    pol = resolve("kvm")
    warm = Explorer(GuestModel.for_kind(kind, 2, **options), pol, 2)
    rng = random.Random(kind)
    hits, size = 0, -1
    for engine, _, g, ops in random_states(warm, rng, 25, 10):
        # ``random_states`` computed ``ops`` with ``warm``'s memos: from them alone if they
        # did not grow since the last state
        now = len(warm.model.operation_memo) + len(warm.load_memo)
        hits += now == size
        size = now
        cold = Explorer(GuestModel.for_kind(kind, 2, **options), pol, 2)
        fresh = cold.successors(engine, g)
        assert [(o.label, o.events, o.state) for o in ops] == [
            (o.label, o.events, o.state) for o in fresh
        ]
    assert hits > 0  # the memos answered
