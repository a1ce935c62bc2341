"""The canonical key against a plain reference: two reachable states get equal keys exactly when
the smallest renaming of their full facts (``raw_facts``, every legality fact spelled out, each
renaming applied fact by fact and the whole key compared at once) is equal.

The key itself numbers each vCPU's block of legality facts, renames a block through a memo, and
compares renamings one component at a time, stopping early (``check/key.py``); the reference
does none of that, so a shortcut that merged two states the symmetry does not relate, or split
two it does, shows here."""

from __future__ import annotations

from typing import Any

import pytest

from vtlbsim.check.actions import GuestModel, GuestState
from vtlbsim.check.blocks import Renamer
from vtlbsim.check.explore import Explorer
from vtlbsim.check.key import COMPONENTS, _renamed, raw_facts
from vtlbsim.check.oracle import Oracle
from vtlbsim.check.snapshot import copy_state
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.engine import Engine

State = tuple[Engine, Oracle, GuestState]

# What each field of a fact is, per component (the layouts ``raw_facts`` documents): a vCPU
# index, a pCPU index, a table name, an ASID, a policy-state form, or data kept as it is.
FIELDS = {
    "v": "vppstx",
    "p": "pvv",
    "m": "txxx",
    "n": "ts",
    "a": "tv",
    "t": "pxsxvtx",
    "L": "vtsxx",
    "i": "pxx",
    "F": "vxx",
    "b": "psxxxvx",
    "B": "vtxx",
    "s": "xxpvf",
    "r": "pxxxxxp",
    "u": "vxxxxx",
    "d": "x",
}


def _field(kind: str, x: Any, r: Renamer) -> Any:
    v, p, t, s, _ = r
    if kind == "v":
        return v[x]
    if kind == "p":
        return p[x]
    if kind == "t":
        return t.get(x, x)
    if kind == "s":
        return s.get(x, x)
    if kind == "f":
        return _renamed(x, v, p)
    return x


def reference_key(ex: Explorer, st: State) -> tuple[Any, ...]:
    """The smallest, over the identity and every renaming, of the renamed full facts."""
    facts = raw_facts(ex.plan, *st)
    n = ex.model.vcpus
    identity: Renamer = ([*range(n), -1], [*range(ex.pcpus), -1], {}, {}, -1)
    keys = []
    for r in [identity, *ex.plan.renamers(ex.vperms, ex.pperms)]:
        keys.append(
            tuple(
                tuple(
                    sorted(
                        tuple(_field(k, x, r) for k, x in zip(FIELDS[c], fact, strict=True))
                        for fact in facts[c]
                    )
                )
                for c in COMPONENTS
            )
        )
    return min(keys)


def _reachable(ex: Explorer, depth: int) -> list[State]:
    """Every state at most ``depth`` actions from the start, one per path (no merging)."""
    g = ex.model.initial()
    e, o = ex.replay(())
    level: list[State] = [(e, o, g)]
    out = list(level)
    for _ in range(depth):
        nxt: list[State] = []
        for engine, oracle, g in level:
            if oracle.violations:
                continue
            for op in ex.successors(engine, g):
                e2, o2 = copy_state(engine, oracle)
                e2.apply(op.events)
                nxt.append((e2, o2, op.state))
        out += nxt
        level = nxt
    return out


CASES = [
    # (kind, policy, depth, options): process and ASID renamings with predictors (aarch32),
    # four renamings, per-vCPU tables, a stateful policy, global mappings
    ("linux-arm32-smp", "hafnium", 4, {}),
    ("linux-arm64-smp", "fb", 4, {}),
    ("percpu-tables", "kvm", 4, {}),
    ("freebsd-armv7-smp", "xen", 4, {}),
    ("linux-arm64-smp", "none", 4, {"globals": True}),
]


@pytest.mark.parametrize(("kind", "policy", "depth", "options"), CASES)
def test_keys_split_states_as_the_reference_does(
    kind: str, policy: str, depth: int, options: dict[str, bool]
) -> None:
    ex = Explorer(GuestModel.for_kind(kind, 2, **options), resolve(policy), 2)
    by_key: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    by_reference: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    states = _reachable(ex, depth)
    for st in states:
        k, ref = ex.key(*st), reference_key(ex, st)
        assert by_key.setdefault(k, ref) == ref, "equal keys, different reference keys"
        assert by_reference.setdefault(ref, k) == k, "equal reference keys, different keys"
    # the symmetry merges something, and not everything (the check above can fail both ways)
    assert 1 < len(by_key) < len(states)
