"""Two shortcuts of the search's keys hold to the key computed afresh: a successor reuses the
legality and training blocks its parent's key read when their inputs are the parent's
(``KeyPlan.vcpu_blocks``, ``Engine.key_blocks``), and the search asks whether a key is new
through one set of identity facts and keys (``key.is_new``) rather than a memo and a set of
keys. States come from random walks keyed as the search keys them (each state keyed before its
successors are made, so they inherit what it read); the reference is a fresh explorer, which
inherits nothing, and a plain set of canonical keys."""

from __future__ import annotations

import random

import pytest
from walks import clean_successors, random_states

from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer
from vtlbsim.check.key import canonical_key
from vtlbsim.hyp.registry import resolve

WALKS = 16
PAIRS = [
    ("linux-arm32-smp", "hafnium"),  # AArch32: training blocks too
    ("linux-arm64-smp", "fb"),
    ("freebsd-armv7-smp", "xen"),
    ("percpu-tables", "kvm"),
    ("linux-arm64-local", "none"),  # local TLBIs: one vCPU's records change, not the other's
]


@pytest.mark.parametrize(("kind", "policy"), PAIRS)
def test_blocks_inherited_from_the_parent_are_the_fresh_ones(kind: str, policy: str) -> None:
    """Every successor of the states of 16 random 10-action walks, each state keyed first by
    one explorer: the successor's key (its blocks reused where their inputs are unchanged)
    equals a fresh explorer's, and blocks were reused (the shortcut was exercised)."""
    pol = resolve(policy)
    ex = Explorer(GuestModel.for_kind(kind, 2), pol, 2)
    rng = random.Random(f"{kind}/{policy}/inherited")
    keyed = reused = 0
    for engine, oracle, g, ops in random_states(ex, rng, walks=WALKS, steps=12):
        ex.key(engine, oracle, g)  # as the search: a state is keyed before it is expanded
        parent = engine.key_blocks[1]
        for op, e2, o2 in clean_successors(engine, oracle, ops):
            inherited = ex.key(e2, o2, op.state)
            for (legal, trained), (was_legal, was_trained) in zip(
                e2.key_blocks[1], parent, strict=True
            ):  # each vCPU's legality and training inputs and blocks, reused or made afresh
                reused += (legal is was_legal) + (trained is not None and trained is was_trained)
            e2.key_blocks = None
            fresh = Explorer(GuestModel.for_kind(kind, 2), pol, 2).key(e2, o2, op.state)
            assert inherited == fresh, f"{kind}/{policy}: {op.label}"
            keyed += 1
    assert keyed > 200 and reused > keyed // 2  # enough states, and many blocks reused


@pytest.mark.parametrize(("kind", "policy"), PAIRS)
def test_is_new_says_whether_the_canonical_key_was_met(kind: str, policy: str) -> None:
    """Along 24 random 10-action walks and their successors, in the order met, ``is_new``
    with one set answers as a plain set of canonical keys (computed with no memo) does, and
    some states met again are renamings of earlier ones (a key that is not the identity)."""
    pol = resolve(policy)
    ex = Explorer(GuestModel.for_kind(kind, 2), pol, 2)
    rng = random.Random(f"{kind}/{policy}/is-new")
    met: set[object] = set()
    seen: set[object] = set()
    renamed = new = 0
    for engine, oracle, _, ops in random_states(ex, rng, walks=24, steps=10):
        for op, e2, o2 in clean_successors(engine, oracle, ops):
            k = canonical_key(ex.plan, e2, o2, op.state, ex.vperms, ex.pperms)
            expected = k not in seen
            seen.add(k)
            assert ex.is_new(e2, o2, op.state, met) == expected, f"{kind}/{policy}: {op.label}"
            new += expected
            renamed += k != canonical_key(ex.plan, e2, o2, op.state, ex.vperms[:1], ex.pperms[:1])
    assert new > 50 and renamed > 10
