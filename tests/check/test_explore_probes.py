"""The last level of the search is probed, not keyed (check/explore.py ``probe``): the probes
must be exactly the fetches the guest model would generate, and probing must find what applying
every last-level use finds."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_explore_invariants import POLICIES, walk

from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer, check, probe
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.events import Access, AccessKind


def _fetch_ops(ex: Explorer, engine: object, g: object) -> list[tuple[int, int]]:
    """(vCPU, VA) of every single-fetch operation the guest model offers, in its order."""
    out = []
    for op in ex.successors(engine, g):  # type: ignore[arg-type]
        if len(op.events) == 1:
            ev = op.events[0]
            if isinstance(ev, Access) and ev.kind is AccessKind.FETCH:
                out.append((ev.vcpu, ev.va))
    return out


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KIND_NAMES),
    policy=st.sampled_from(POLICIES),
    choices=st.lists(st.integers(0, 60), min_size=0, max_size=9),
)
def test_probes_are_the_guest_models_fetches(kind: str, policy: str, choices: list[int]) -> None:
    """On random paths, the fetches ``probe`` applies (it records each one it makes) are the
    fetch operations ``actions.GuestModel.operations`` generates, in the same order."""
    ex = Explorer(GuestModel.for_kind(kind, 2), resolve(policy), 2)
    path, g = walk(ex, choices)
    engine, oracle = ex.replay(path)
    if oracle.violations:
        return
    expected = _fetch_ops(ex, engine, g)
    made: list[tuple[int, int]] = []
    apply_one = engine.apply_one

    def record(ev: object) -> None:
        assert isinstance(ev, Access)
        made.append((ev.vcpu, ev.va))
        apply_one(ev)

    engine.apply_one = record  # type: ignore[method-assign]
    hit = probe(engine, oracle)
    if hit is None:
        assert made == expected
    else:  # it stops at the first fetch that shows a violation
        assert made == expected[: len(made)] and hit[0].va == made[-1][1]


@pytest.mark.parametrize(
    ("kind", "policy", "depth"),
    [
        ("linux-arm32-up", "none", 7),  # found by a probe: H1, 7 actions
        ("percpu-tables", "fb", 5),  # found by a probe: H2, 5 actions
        ("percpu-tables", "xvisor", 6),  # found by a probe: H2 after a return, 6 actions
        ("linux-arm64-local", "none", 7),
        ("freebsd-armv7-up", "fb", 6),  # safe: every probe comes back clean
    ],
)
def test_probing_finds_what_applying_every_leaf_use_finds(
    kind: str, policy: str, depth: int
) -> None:
    """The merged search with probes against the plain search, which applies every use of the
    last level as an operation of its own: same verdict, same length; and the counterexample's
    last action is a fetch (a probe) whenever the violation sits at the last level."""
    a = check(kind, policy, depth=depth)
    b = check(kind, policy, depth=depth, merge=False)
    assert (a.safe, len(a.actions)) == (b.safe, len(b.actions))
    if not a.safe and len(a.actions) == depth:
        assert " fetch " in a.actions[-1]
