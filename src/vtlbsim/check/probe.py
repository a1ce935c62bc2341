"""The search's last level (``explore._Search``): its states are not keyed but checked for
the violation their last action shows, and probed with every fetch a running vCPU may make
(``probe``); fetches that show nothing are counted without applying them (``unchanged.py``).
"""

from __future__ import annotations

from ..sim.engine import Engine
from ..sim.events import Access, AccessKind, Event
from .actions import DOMAIN, SECOND, ever_mapped
from .findings import PAGE
from .oracle import Oracle
from .unchanged import UNKNOWN, fetch_outcome


def probe(engine: Engine, oracle: Oracle) -> tuple[Access, str] | None:
    """Every fetch a running vCPU may make now (of each VA a table ever mapped, as
    ``actions.GuestModel.operations`` generates them), applied in turn to this state, which is
    then spent: the first that shows a violation, with its action label. Fetches by different
    vCPUs run on different pCPUs and each fills only its own pCPU's TLB, I-cache and predictor
    with what the tables hold now, and different VAs never share a PA (maps take fresh PAs), so
    each fetch meets what it would meet alone. A fetch exposes every violation any use of the
    same VA by the same vCPU could (a write-code or an IC IVAU translates the VA the same way,
    and judges nothing else), so the probes stand for every use of the last level."""
    for ev in probes(engine):
        engine.apply_one(ev)
        if oracle.violations:
            return ev, f"v{ev.vcpu} fetch {ev.va * PAGE:#x}"
    return None


def probes(engine: Engine) -> list[Access]:
    """The fetches ``probe`` makes, in order: of each running vCPU that is not between its
    maintenance and its DSB, of each VA a table ever mapped."""
    dn = SECOND if DOMAIN in engine.destroyed else DOMAIN
    dom = engine.domains[dn]
    used = sorted(ever_mapped(engine))
    undone = engine.pending.undone
    return [
        Access(dn, vc.index, va, AccessKind.FETCH)
        for vc in dom.vcpus
        if vc.pcpu is not None and vc.name not in undone  # else its next instruction is its DSB
        for va in used
    ]


def probes_show_nothing(engine: Engine, oracle: Oracle) -> bool:
    """Every fetch ``probe`` would make shows nothing (``unchanged.fetch_outcome``): each
    meets what it would meet alone, so the probe would find nothing."""
    dn = SECOND if DOMAIN in engine.destroyed else DOMAIN
    undone = engine.pending.undone
    used = ever_mapped(engine)
    for vc in engine.domains[dn].vcpus:
        if vc.pcpu is None or vc.name in undone:
            continue
        for va in used:
            if fetch_outcome(engine, oracle, dn, vc.index, va) == UNKNOWN:
                return False
    return True


def op_outcome(engine: Engine, oracle: Oracle, events: tuple[Event, ...]) -> int:
    """``unchanged.fetch_outcome`` of an operation that is one fetch; else ``UNKNOWN``."""
    if len(events) != 1:
        return UNKNOWN
    ev = events[0]
    if not isinstance(ev, Access) or ev.kind is not AccessKind.FETCH:
        return UNKNOWN
    return fetch_outcome(engine, oracle, ev.domain, ev.vcpu, ev.va)


def only_fetches(events: tuple[Event, ...]) -> bool:
    """A fetch fills only what the tables hold now for its own vCPU: it cannot make the next
    action find a violation that action would not find without it (then at this level)."""
    return all(isinstance(e, Access) and e.kind is AccessKind.FETCH for e in events)
