"""Invariants of the explorer: the guest keeps its discipline on every path, the canonical key
does not depend on how vCPUs and pCPUs are numbered, and state merging loses no violation."""

from __future__ import annotations

from itertools import permutations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer, check
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.events import (
    Access,
    Barrier,
    Event,
    Maintain,
    PteWrite,
    Run,
    SetAsid,
    SetTable,
    WriteCode,
)

POLICIES = [
    "none",
    "fb",
    "last-vcpu-ran",
    "trap-ttlb",
    "flush-on-migrate",
    # with state of their own (issue 12): slots and last pCPUs renamed with the symmetry
    "flush-on-arrival",
    "xen",
    "kvm",
    "xvisor",
]


def walk(ex: Explorer, choices: list[int]) -> tuple[tuple[Event, ...], object]:
    """Follow ``choices`` (indices into each state's successor list) from the initial state;
    stop at the first violation. Returns the path and the guest state."""
    path: tuple[Event, ...] = ()
    g = ex.model.initial()
    for c in choices:
        engine, oracle = ex.replay(path)
        assert oracle.guest_errors == [], [e.explain() for e in oracle.guest_errors]
        if oracle.violations:
            break
        ops = ex.successors(engine, g)
        assert ops, "every state has a successor (a scheduler load at least)"
        op = ops[c % len(ops)]
        path, g = path + op.events, op.state
    return path, g


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KIND_NAMES),
    policy=st.sampled_from(POLICIES),
    choices=st.lists(st.integers(0, 60), min_size=1, max_size=30),
)
def test_the_guest_never_breaks_its_own_rules(kind: str, policy: str, choices: list[int]) -> None:
    """On any path the generator allows, the oracle reports no guest error (SPEC §5)."""
    ex = Explorer(GuestModel.for_kind(kind, 2), resolve(policy), 2)
    path, _ = walk(ex, choices)
    _, oracle = ex.replay(path)
    assert oracle.guest_errors == []


def _rename(ev: Event, vp: tuple[int, ...], pp: tuple[int, ...], percpu: bool) -> Event:
    def table(name: str | None) -> str | None:
        if not percpu or name is None:
            return name
        own = {
            ("main" if i == 0 else f"cpu{i}"): ("main" if vp[i] == 0 else f"cpu{vp[i]}")
            for i in range(len(vp))
        }
        return own.get(name, name)

    v = vp[ev.vcpu]
    if isinstance(ev, Run):
        return Run(ev.domain, v, pp[ev.pcpu])
    if isinstance(ev, PteWrite):
        return PteWrite(ev.domain, v, ev.va, ev.pte, table(ev.table))
    if isinstance(ev, Access):
        return Access(ev.domain, v, ev.va, ev.kind)
    if isinstance(ev, WriteCode):
        return WriteCode(ev.domain, v, ev.va)
    if isinstance(ev, Maintain):
        return Maintain(ev.domain, v, ev.op, ev.va, ev.asid, ev.pages)
    if isinstance(ev, SetTable):
        t = table(ev.table)
        assert t is not None
        return SetTable(ev.domain, v, t)
    if isinstance(ev, SetAsid):
        return SetAsid(ev.domain, v, ev.asid)
    assert isinstance(ev, Barrier)
    return Barrier(ev.domain, v, ev.name)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(
        ["linux-arm64-smp", "linux-arm64-local", "linux-arm32-smp", "percpu-tables"]
    ),
    policy=st.sampled_from(POLICIES),
    choices=st.lists(st.integers(0, 60), min_size=1, max_size=10),
    vperm=st.sampled_from(list(permutations(range(2)))),
    pperm=st.sampled_from(list(permutations(range(2)))),
)
def test_key_is_invariant_under_renumbering(
    kind: str,
    policy: str,
    choices: list[int],
    vperm: tuple[int, ...],
    pperm: tuple[int, ...],
) -> None:
    """Symmetry reduction is sound only if renumbering vCPUs and pCPUs in a path gives a state
    with the same key (policies compare indices only for equality)."""
    ex = Explorer(GuestModel.for_kind(kind, 2), resolve(policy), 2)
    path, g = walk(ex, choices)
    e1, o1 = ex.replay(path)
    renamed = _renamed_path(path, vperm, pperm, ex.model.percpu)
    e2, o2 = ex.replay(renamed)
    assert bool(o1.violations) == bool(o2.violations)
    g2 = type(g)(  # type: ignore[call-arg]
        frozenset(vperm[v] for v in g.needs_flush),  # type: ignore[attr-defined]
        tuple(frozenset(vperm[v] for v in a) for a in _permuted_active(ex, g, vperm)),
        g.asids,  # type: ignore[attr-defined]
    )
    assert ex.key(e1, o1, g) == ex.key(e2, o2, g2)  # type: ignore[arg-type]


def _renamed_path(
    path: tuple[Event, ...], vperm: tuple[int, ...], pperm: tuple[int, ...], percpu: bool
) -> tuple[Event, ...]:
    """The path with vCPUs and pCPUs renumbered. Per-CPU tables: every vCPU starts on
    ``main``, which is vCPU 0's own table, so the renamed vCPU that now owns ``main`` needs no
    table switch, and the one that inherits a ``cpuN`` table installs it on its first load."""
    out: list[Event] = []
    started: set[int] = set()
    for ev in path:
        r = _rename(ev, vperm, pperm, percpu)
        if percpu and isinstance(r, SetTable) and r.table == "main":
            continue
        out.append(r)
        if percpu and isinstance(r, Run) and r.vcpu not in started:
            started.add(r.vcpu)
            if r.vcpu != 0 and not any(isinstance(e, SetTable) and e.vcpu == r.vcpu for e in out):
                out.append(SetTable(r.domain, r.vcpu, f"cpu{r.vcpu}"))
    return tuple(out)


def _permuted_active(ex: Explorer, g: object, vperm: tuple[int, ...]) -> list[frozenset[int]]:
    active: tuple[frozenset[int], ...] = g.active  # type: ignore[attr-defined]
    if not ex.model.percpu:
        return list(active)
    tables = ex.model.tables
    out = [frozenset[int]() for _ in tables]
    for i, a in enumerate(active):
        out[vperm[i]] = a  # table i belongs to vCPU i, which becomes vperm[i]
    return out


@pytest.mark.parametrize(
    ("kind", "policy", "vcpus", "depth"),
    [
        ("linux-arm32-up", "none", 1, 7),
        ("freebsd-armv7-up", "fb", 1, 5),
        ("percpu-tables", "fb", 2, 6),
        ("linux-arm64-smp", "fb", 2, 4),
    ],
)
def test_merging_agrees_with_plain_search_small(
    kind: str, policy: str, vcpus: int, depth: int
) -> None:
    """The merged search gives the same verdict and counterexample length as the search that
    explores every path (no merging, no symmetry)."""
    a = check(kind, policy, pcpus=2, vcpus=vcpus, depth=depth)
    b = check(kind, policy, pcpus=2, vcpus=vcpus, depth=depth, merge=False)
    assert a.safe == b.safe
    assert len(a.actions) == len(b.actions)
    assert a.states <= b.states


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "policy", "vcpus", "depth"),
    [
        ("linux-arm32-up", "last-vcpu-ran", 1, 7),
        ("linux-arm64-local", "none", 2, 7),
        ("linux-arm32-up", "fb", 1, 6),
        ("linux-arm32-smp", "last-vcpu-ran", 2, 5),
        ("percpu-tables", "flush-on-arrival", 2, 5),
    ],
)
def test_merging_agrees_with_plain_search_at_counterexample_depth(
    kind: str, policy: str, vcpus: int, depth: int
) -> None:
    """As above, deep enough for the counterexamples to appear in both searches."""
    a = check(kind, policy, pcpus=2, vcpus=vcpus, depth=depth)
    b = check(kind, policy, pcpus=2, vcpus=vcpus, depth=depth, merge=False)
    assert a.safe == b.safe
    assert len(a.actions) == len(b.actions)


def follow(ex: Explorer, labels: list[str]) -> list[object]:
    """The operations named by ``labels``, applied in turn from the initial state."""
    path: tuple[Event, ...] = ()
    g = ex.model.initial()
    taken = []
    for label in labels:
        engine, _ = ex.replay(path)
        op = next(o for o in ex.successors(engine, g) if o.label == label)
        taken.append(op)
        path, g = path + op.events, op.state
    return taken


def test_a_first_load_after_a_rollover_runs_the_owed_flush() -> None:
    """Linux: a CPU that has not switched since a rollover flushes locally before it uses an
    ASID. vCPU 1's first load comes after vCPU 0 rolled over on the other pCPU (as2 needed an
    ASID and none was free: main, descheduled, lost ASID 0 to it), so it brings itself up with
    the rollover's local BPIALL + TLBIALL, once (found by the checker as a guest error when the
    bring-up skipped it: vCPU 1 then met vCPU 0's old prediction on pCPU 0)."""
    ex = Explorer(GuestModel.for_kind("linux-arm32-smp", 2), resolve("flush-on-migrate"), 2)
    labels = [
        "run v0 on 0",
        "v0 map 0x1000 0xa000",
        "v0 fetch 0x1000",
        "run v0 on 1",
        "v0 switch as1, ASID 1",
        "v0 switch as2, rollover, ASID 0",
        "run v1 on 0",
    ]
    ops = follow(ex, labels)
    first_load = ops[-1]
    names = [e.op.name for e in first_load.events if isinstance(e, Maintain)]  # type: ignore[attr-defined]
    assert names == ["bpiall", "tlbiall"]
    assert 1 not in first_load.state.needs_flush  # type: ignore[attr-defined]


def test_deep_exploration_keeps_the_discipline() -> None:
    """check() raises GuestDisciplineError on the first explored path with a guest error; this
    pair explores thousands of states to depth 9 without one (the slow matrix test covers
    every pair at depth 10)."""
    assert check("linux-arm32-smp", "flush-on-migrate", depth=9).safe
