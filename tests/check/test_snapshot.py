"""The explorer's copy of an engine and oracle (``check/snapshot.py``): a copy of a parent's
state plus a successor's events is the state a replay of the whole path gives, field by field,
and applying events to a copy leaves the original untouched."""

from __future__ import annotations

import random
from enum import Enum
from typing import Any

import pytest

from vtlbsim.arch.caches import BranchPredictor, ICache
from vtlbsim.arch.tlb import Tlb
from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer
from vtlbsim.check.snapshot import copy_state
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.policy import Policy
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.engine import Engine
from vtlbsim.sim.events import Event


def _fields(obj: object) -> list[str]:
    names: list[str] = []
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else list(slots)
    return names + sorted(getattr(obj, "__dict__", {}))


def norm(obj: Any, policy: Policy, open_: frozenset[int] = frozenset()) -> Any:
    """Every field reachable from ``obj``, as nested tuples (shared objects expanded; a cycle
    back to an object being expanded becomes its type name; the policy is not expanded)."""
    if obj is policy or isinstance(obj, (int, str, float, bool, type(None), Enum)):
        return obj if obj is not policy else "<policy>"
    if id(obj) in open_:
        return f"<cycle {type(obj).__name__}>"
    inner = open_ | {id(obj)}
    if isinstance(obj, dict):
        return (
            "dict",
            tuple((norm(k, policy, inner), norm(v, policy, inner)) for k, v in obj.items()),
        )
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, tuple(norm(x, policy, inner) for x in obj))
    if isinstance(obj, (set, frozenset)):
        return ("set", tuple(sorted(repr(norm(x, policy, inner)) for x in obj)))
    return (
        type(obj).__name__,
        tuple(
            (n, norm(getattr(obj, n), policy, inner))
            for n in _fields(obj)
            if hasattr(obj, n) and (type(obj), n) not in NOT_STATE
        ),
    )


NOT_STATE = {
    (Engine, "counts"),
    (Engine, "_info"),
    (Engine, "owned"),
    (Engine, "key_blocks"),
    (Tlb, "_shared"),
    (ICache, "_shared"),
    (BranchPredictor, "_shared"),
}
"""What a checker copy shares on purpose: event statistics the checker never reads, and the
cache of each vCPU's (unchanging) ``VcpuInfo``; and whether a TLB's, I-cache's, predictor's,
table's or code memory's contents are still shared with a copy (``Tlb.snapshot``,
``Engine.owned``: bookkeeping, not state)."""


def dump(engine: Engine, policy: Policy) -> Any:
    """Every field of the engine, its machine, domains and oracle."""
    return norm(engine, policy)


@pytest.mark.parametrize("kind", KIND_NAMES)
@pytest.mark.parametrize("policy", ["none", "fb", "trap-ttlb", "kvm"])
def test_copy_plus_events_is_a_replay(kind: str, policy: str) -> None:
    pol = resolve(policy)
    ex = Explorer(GuestModel.for_kind(kind, 2), pol, 2)
    rng = random.Random(f"{kind}/{policy}")
    for _ in range(20):
        path: tuple[Event, ...] = ()
        g = ex.model.initial()
        engine, oracle = ex.replay(path)
        for _ in range(9):
            ops = ex.successors(engine, g)
            before = dump(engine, pol)
            for op in rng.sample(ops, min(3, len(ops))):
                e2, o2 = copy_state(engine, oracle)
                assert e2.observer is o2
                e2.apply(op.events)
                assert dump(e2, pol) == dump(ex.replay(path + op.events)[0], pol)
            assert dump(engine, pol) == before  # the copies share nothing mutable with it
            op = rng.choice(ops)
            engine, oracle = copy_state(engine, oracle)
            engine.apply(op.events)
            path, g = path + op.events, op.state
            if oracle.violations:
                break


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_the_original_changes_alone(kind: str) -> None:
    """The search applies a state's last successor to the state itself, after copying it for
    the others: what it changes there (tables, code, TLBs, I-caches, predictors, shared until
    then) must not reach the copies."""
    pol = resolve("none")
    ex = Explorer(GuestModel.for_kind(kind, 2), pol, 2)
    rng = random.Random(kind)
    for _ in range(20):
        path: tuple[Event, ...] = ()
        g = ex.model.initial()
        engine, oracle = ex.replay(path)
        for _ in range(9):
            ops = ex.successors(engine, g)
            copies = [copy_state(engine, oracle) for _ in range(2)]
            before = dump(copies[0][0], pol)
            op = rng.choice(ops)
            engine.apply(op.events)
            path, g = path + op.events, op.state
            assert dump(engine, pol) == dump(ex.replay(path)[0], pol)
            for e2, _ in copies:
                assert dump(e2, pol) == before
            copies[1][0].apply(rng.choice(ops).events)  # a copy changes: the other does not
            assert dump(copies[0][0], pol) == before
            if oracle.violations:
                break
