"""The canonical key is a congruence: two states with equal keys get equal keys after the same
action (and the same verdict from it). Merging by key is sound only then — the search keeps
whichever path reached a key first, so a fact the future depends on and the key lacks would
make the kept path's future stand for a different one's.

The property is checked on the key's facts before the smallest renaming (``exact``): states
equal up to a pCPU or vCPU permutation take each other's actions renamed, which a comparison
by action label cannot follow; the renaming itself only relabels facts."""

from __future__ import annotations

from typing import Any

import pytest
from test_explore_invariants import follow

from vtlbsim.arch.tlb import GLOBAL
from vtlbsim.check.actions import GLOBAL_VA, GuestModel, GuestState, Operation
from vtlbsim.check.explore import Explorer
from vtlbsim.check.key import raw_facts
from vtlbsim.check.oracle import Oracle
from vtlbsim.check.snapshot import copy_state
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.engine import Engine
from vtlbsim.sim.events import Event

State = tuple[tuple[str, ...], Engine, Oracle, GuestState]


def _state(ex: Explorer, labels: list[str]) -> State:
    """The state after the actions ``labels`` from the start."""
    path: tuple[Event, ...] = ()
    g = ex.model.initial()
    for op in follow(ex, labels):
        assert isinstance(op, Operation)
        path, g = path + op.events, op.state
    engine, oracle = ex.replay(path)
    return tuple(labels), engine, oracle, g


def exact(ex: Explorer, s: State) -> tuple[Any, ...]:
    """The key's facts with the identity renaming (``canonical_key`` minus the symmetry)."""
    return tuple(tuple(sorted(x)) for x in raw_facts(ex.plan, s[1], s[2], s[3]).values())


def _next(ex: Explorer, s: State) -> dict[str, State]:
    """Each successor of ``s`` by its action label (a state with a violation has none: the
    search stops there)."""
    labels, engine, oracle, _ = s
    out: dict[str, State] = {}
    for op in ex.successors(engine, s[3]):
        e2, o2 = copy_state(engine, oracle)
        e2.apply(op.events)
        out[op.label] = ((*labels, op.label), e2, o2, op.state)
    return out


def _breaks(ex: Explorer, a: State, b: State) -> list[str]:
    """The actions after which ``a`` and ``b`` (equal keys) differ in key or in violations."""
    na, nb = _next(ex, a), _next(ex, b)
    out = []
    for label in sorted(na.keys() & nb.keys()):
        oa, ob = na[label][2], nb[label][2]
        if bool(oa.violations) != bool(ob.violations):
            out.append(f"{label}: violation in one only")
        elif not oa.violations and exact(ex, na[label]) != exact(ex, nb[label]):
            out.append(f"{label}: keys differ")
    return out


def congruence_breaks(ex: Explorer, depth: int) -> list[str]:
    """Every pair (the first state of a key, another) among the states at most ``depth``
    actions from the start, unmerged, whose common successors break the congruence."""
    first: dict[tuple[Any, ...], State] = {}
    level = [_state(ex, [])]
    out = []
    for d in range(depth + 1):
        nxt = []
        for s in level:
            if s[2].violations:
                continue
            k = exact(ex, s)
            rep = first.setdefault(k, s)
            if rep is not s:
                out += [f"{rep[0]} ~ {s[0]}, then {b}" for b in _breaks(ex, rep, s)]
            if d < depth:
                nxt.extend(_next(ex, s).values())
        level = nxt
    return out


A = ["run v0 on 0", "v0 switch as1, ASID 1", "v0 map-global 0x8000 0xa000"]
B = ["run v0 on 0", "v0 map-global 0x8000 0xa000", "v0 switch as1, ASID 1"]


def _global_legal(ex: Explorer, s: State) -> dict[str, tuple[int, ...]]:
    """Per table, the PAs the key says v0 may still use through a global entry of 0x8000."""
    return {
        table: pas
        for v, table, tag, va, pas in raw_facts(ex.plan, s[1], s[2], s[3])["L"]
        if v == 0 and tag == GLOBAL and va == GLOBAL_VA
    }


def test_mapping_a_global_page_before_or_after_a_switch_is_told_apart() -> None:
    """Both paths leave v0 on as1 with the kernel page mapped global to 0xa000 in every table
    and nothing in any TLB. In A the page was mapped while as1 was v0's table; in B while
    `main` was, and `main` stays mapped to it. After `v0 fetch 0x8000` (a global entry on
    pCPU 0) the oracle accepts that entry for v0 under `main` in B (0xa000 was mapped while
    `main` was its table, after the last covering TLBI) but not in A: a fact of the state
    before the fetch, so the keys must differ before it, and equal keys must stay equal after
    each common action."""
    ex = Explorer(GuestModel.for_kind("linux-arm64-smp", 2, globals=True), resolve("none"), 2)
    a, b = _state(ex, A), _state(ex, B)
    # v0's legal outputs for a global entry of page 8 (0x8000), per table: 0xa000 is page 10;
    # `as2` was never v0's table, and v1 never ran
    assert _global_legal(ex, a) == {"main": (), "as1": (10,), "as2": ()}
    assert _global_legal(ex, b) == {"main": (10,), "as1": (10,), "as2": ()}
    fa, fb = _next(ex, a)["v0 fetch 0x8000"], _next(ex, b)["v0 fetch 0x8000"]
    assert ex.key(fa[1], fa[2], fa[3]) != ex.key(fb[1], fb[2], fb[3])
    assert ex.key(a[1], a[2], a[3]) != ex.key(b[1], b[2], b[3])
    assert exact(ex, a) != exact(ex, b)
    # and a common prefix's equal keys (B without its switch, twice) stay congruent
    assert _breaks(ex, _state(ex, B[:2]), _state(ex, B[:2])) == []


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("linux-arm64-smp", {"globals": True}),
        ("linux-arm64-local", {"globals": True}),
        ("freebsd-arm64-smp", {"globals": True}),
        ("linux-arm64-smp", {"asid_flush": True}),
        ("linux-arm32-up", {"asid_flush": True}),
    ],
)
def test_equal_keys_have_equal_successor_keys(kind: str, options: dict[str, bool]) -> None:
    """For every pair of states with equal keys within 3 actions (unmerged), every action both
    can take gives both the same verdict and equal keys."""
    ex = Explorer(GuestModel.for_kind(kind, 2, **options), resolve("none"), 2)
    assert congruence_breaks(ex, 3) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "options", "vms"),
    [
        ("linux-arm64-smp", {"globals": True}, 1),
        ("linux-arm64-local", {"globals": True}, 1),
        ("linux-arm32-smp", {"globals": True}, 1),
        ("freebsd-armv7-smp", {"globals": True, "asid_flush": True}, 1),
        ("linux-arm64-smp", {}, 2),
    ],
)
def test_equal_keys_have_equal_successor_keys_deeper(
    kind: str, options: dict[str, bool], vms: int
) -> None:
    """The same at 4 actions, with a second VM too."""
    ex = Explorer(GuestModel.for_kind(kind, 2, **options), resolve("none"), 2, vms=vms)
    assert congruence_breaks(ex, 4) == []
