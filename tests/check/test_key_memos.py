"""The key's memos are a cache and nothing more: ``KeyPlan``'s covering marks (memoised by the
identity of the covering records), its legality and training blocks, the code and history
numbers, and the explorer's key memo. A key computed by an explorer that has already keyed
many other states (its memos warm, the states sharing records with each other, as the search's
copies do) must equal the key a fresh explorer computes for the same state. Nothing here is
computed by hand but the rule: a memo must not change an answer. And since a memo that
answers wrongly for every explorer alike (a memo key missing an input) passes that test, the
legality facts are also held to their rule computed directly from the oracle's records, with
no memo at all."""

from __future__ import annotations

import random

import pytest
from walks import clean_successors, random_states

from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer
from vtlbsim.check.key import raw_facts
from vtlbsim.check.oracle import Oracle
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.engine import Engine

PAIRS = [
    ("linux-arm32-smp", "hafnium"),  # AArch32: predictor training facts, I-cache floors
    ("linux-arm64-smp", "fb"),
    ("freebsd-armv7-smp", "xen"),  # every table on ASID 0
    ("percpu-tables", "kvm"),
    ("linux-arm64-local", "none"),  # local TLBIs: per-vCPU covering records differ
    ("linux-arm64-local-relax", "fb"),
]


@pytest.mark.parametrize(("kind", "policy"), PAIRS)
def test_a_warm_explorers_key_is_a_fresh_explorers(kind: str, policy: str) -> None:
    """Every successor of the states of 16 random 10-action walks, keyed by one explorer in
    turn (its memos holding every state before it) and by a fresh explorer: equal keys."""
    pol = resolve(policy)
    ex = Explorer(GuestModel.for_kind(kind, 2), pol, 2)
    rng = random.Random(f"{kind}/{policy}/memos")
    keyed = 0
    for engine, oracle, _, ops in random_states(ex, rng, walks=16, steps=10):
        for op, e2, o2 in clean_successors(engine, oracle, ops):
            warm = ex.key(e2, o2, op.state)
            fresh = Explorer(GuestModel.for_kind(kind, 2), pol, 2).key(e2, o2, op.state)
            assert warm == fresh, f"{kind}/{policy}: {op.label}"
            keyed += 1
    assert keyed > 200  # the walks reached enough states to mean something


def _legal_by_rule(ex: Explorer, engine: Engine, oracle: Oracle, domain: str) -> list[tuple]:
    """``raw_facts``' legality component by its rule (``key`` module docstring, SPEC §5), from
    scratch: per vCPU, table it may use, ASID tag and VA, the live PAs (mapped now by a table
    or held by a TLB entry) the table mapped the VA to at an instant at or after the last
    instruction covering that tag and VA for the vCPU, at which it was the vCPU's current
    table. (No global mappings here.) The tables, tags and VAs are the guest model's own
    (``GuestModel.tables_of``, ``asid_numbers``, ``vas``), not the key's copy of them in
    ``ex.plan``, so a plan that lists the wrong tables for a vCPU shows."""
    model = ex.model
    dom = engine.domains[domain]
    live = {pte.pa for t in dom.tables.values() for pte in t.current.values()}
    for p in engine.machine.pcpus:
        for pages in p.tlb.by_vmid.values():
            for entries in pages.values():
                live.update(e.pa for e in entries.values())
    shared = oracle.shared[domain]
    out = []
    for vc in dom.vcpus:
        loc = oracle.local[vc.name]
        for name in model.tables_of(vc.index):
            t = dom.tables.get(name)
            for tag in model.asid_numbers:
                for va in model.vas:
                    since = max(loc.tlb(tag, va), shared.tlb(tag, va))[0]
                    w = vc.windows(name, since)
                    pas = tuple(
                        pa for pa in sorted(live) if t is not None and t.mapped_during(va, pa, w)
                    )
                    out.append((vc.index, name, tag, va, pas))
    return sorted(out)


@pytest.mark.parametrize(("kind", "policy"), PAIRS)
def test_the_legality_facts_follow_their_rule_with_warm_memos(kind: str, policy: str) -> None:
    """In every state of 16 random 10-action walks (one explorer, its memos warm), the key's
    legality facts equal the rule computed from the oracle's records with no memo."""
    pol = resolve(policy)
    ex = Explorer(GuestModel.for_kind(kind, 2), pol, 2)
    rng = random.Random(f"{kind}/{policy}/legal")
    seen = 0
    for engine, oracle, g, _ in random_states(ex, rng, walks=16, steps=10):
        ex.key(engine, oracle, g)  # warms the memos with this state's records too
        got = sorted(raw_facts(ex.plan, engine, oracle, g)["L"])
        assert got == _legal_by_rule(ex, engine, oracle, g.domain)
        seen += 1
    assert seen > 40
