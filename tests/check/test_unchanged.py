"""Fetches the search counts without applying them (``check/unchanged.py``): applied, each one
leaves the TLBs, I-caches, predictors and canonical key as they were and finds nothing; and
the rule is not vacuous: it fires on the walks the test makes, and refuses a fetch that fills."""

from __future__ import annotations

import random

import pytest

from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer
from vtlbsim.check.snapshot import copy_state
from vtlbsim.check.unchanged import fetch_changes_nothing
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.engine import Engine
from vtlbsim.sim.events import Access, AccessKind, Event, Run


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
    fired = refused = 0
    for _ in range(15):
        path: tuple[Event, ...] = ()
        g = ex.model.initial()
        engine, oracle = ex.replay(path)
        for _ in range(10):
            ops = ex.successors(engine, g)
            key = ex.key(engine, oracle, g)
            for op in ops:
                ev = op.events[0]
                if not (isinstance(ev, Access) and ev.kind is AccessKind.FETCH):
                    continue
                e2, o2 = copy_state(engine, oracle)
                held = _held(e2)
                unchanged = fetch_changes_nothing(engine, oracle, ev.domain, ev.vcpu, ev.va)
                e2.apply(op.events)
                if unchanged:
                    fired += 1
                    assert not o2.violations and not o2.guest_errors
                    assert _held(e2) == held
                    assert ex.key(e2, o2, op.state) == key
                elif _held(e2) != held:
                    refused += 1
            op = rng.choice(ops)
            engine, oracle = copy_state(engine, oracle)
            engine.apply(op.events)
            path, g = path + op.events, op.state
            if oracle.violations:
                break
    assert fired > 0 and refused > 0


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
