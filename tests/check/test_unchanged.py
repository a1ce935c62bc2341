"""Fetches the search counts without applying them (``check/unchanged.py``): applied, each one
the rule says changes nothing leaves the TLBs, I-caches, predictors and canonical key as they
were, and each one it says shows nothing finds nothing; a probe of a state whose fetches all
show nothing finds nothing; and the rule is not vacuous: each case occurs on the walks the
test makes, and it refuses a fetch that fills."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from walks import random_states

from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer
from vtlbsim.check.probe import probe, probes_show_nothing
from vtlbsim.check.snapshot import copy_state
from vtlbsim.check.unchanged import (
    CHANGES_NOTHING,
    SHOWS_NOTHING,
    UNKNOWN,
    fetch_changes_nothing,
    fetch_outcome,
)
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.engine import Engine
from vtlbsim.sim.events import Access, AccessKind, Run


def _held(engine: Engine) -> object:
    """What the pCPUs hold: TLB entries, I-cache lines and predictions, with provenance."""
    return [
        (
            sorted((e.vmid, e.tag, e.va, e.pa, e.vcpu, e.table, e.step) for e in p.tlb.entries()),
            sorted((k, ln.pa, ln.version, ln.vcpu, ln.step) for k, ln in p.icache.lines.items()),
            sorted((k, ln.pa, ln.version, ln.vcpu, ln.step) for k, ln in p.bp.entries.items()),
        )
        for p in engine.machine.pcpus
    ]


@pytest.mark.parametrize("kind", KIND_NAMES)
@pytest.mark.parametrize("policy", ["none", "fb", "hafnium"])
def test_an_unchanged_fetch_keeps_the_key(kind: str, policy: str) -> None:
    ex = Explorer(GuestModel.for_kind(kind, 2), resolve(policy), 2)
    rng = random.Random(f"{kind}/{policy}")
    refused = 0
    seen: Counter[object] = Counter()
    for engine, oracle, g, ops in random_states(ex, rng, 15, 10):
        key = ex.key(engine, oracle, g)
        for op in ops:
            ev = op.events[0]
            if not (isinstance(ev, Access) and ev.kind is AccessKind.FETCH):
                continue
            e2, o2 = copy_state(engine, oracle)
            held = _held(e2)
            outcome = fetch_outcome(engine, oracle, ev.domain, ev.vcpu, ev.va)
            e2.apply(op.events)
            seen[outcome] += 1
            if outcome != UNKNOWN:  # it finds nothing
                assert not o2.violations and not o2.guest_errors
            if outcome == CHANGES_NOTHING:  # and it leaves the key as it was
                assert _held(e2) == held
                assert ex.key(e2, o2, op.state) == key
            elif _held(e2) != held:
                refused += 1
        if probes_show_nothing(engine, oracle):
            seen["quiet probes"] += 1
            assert probe(*copy_state(engine, oracle)) is None
    assert refused > 0
    assert seen[CHANGES_NOTHING] > 0 and seen[SHOWS_NOTHING] > 0 and seen["quiet probes"] > 0


def test_a_fetch_that_walks_and_fills_is_not_unchanged() -> None:
    ex = Explorer(GuestModel.for_kind("linux-arm64-smp", 2), resolve("none"), 2)
    g = ex.model.initial()
    engine, oracle = ex.replay(())
    run = next(op for op in ex.successors(engine, g) if isinstance(op.events[0], Run))
    engine.apply(run.events)
    g = run.state
    maps = [op for op in ex.successors(engine, g) if " map " in op.label]
    engine.apply(maps[0].events)
    va = maps[0].events[0].va  # type: ignore[union-attr]
    # the first fetch walks the new mapping and fills the TLB and the I-cache
    assert not fetch_changes_nothing(engine, oracle, "g", 0, va)
    engine.apply([Access("g", 0, va, AccessKind.FETCH)])
    # the second hits both, and the table still maps the page: it changes nothing
    assert fetch_changes_nothing(engine, oracle, "g", 0, va)
    # the other vCPU, not running, cannot fetch
    assert not fetch_changes_nothing(engine, oracle, "g", 1, va)
