"""Fetches that change nothing the canonical key holds: the model checker counts them without
copying, applying or keying them.

A fetch by a running vCPU changes the machine only where it misses (a TLB fill, an I-cache
fill, a predictor training), and the oracle's judged state only where it finds a use illegal
(a violation or a guest error). Beside these it records what the canonical key does not hold
(``key.raw_facts``): the vCPU's ``tables_used`` and its ASID's binding (they decide only the
category of a later violation and the guest's own errors), the step, and event counts. When
the fetch hits nothing new and finds nothing, the state after it has its parent's key: the
search counts it as the duplicate of its parent it is (``explore._Search``; below the last
level), or as a state that shows no violation (at the last level, where states are not
keyed). ``tests/check/test_unchanged.py`` holds the rule against applying the fetch and
keying the result.
"""

from __future__ import annotations

from ..sim.engine import Engine
from .oracle import Oracle

UNKNOWN, SHOWS_NOTHING, CHANGES_NOTHING = 0, 1, 2
"""What ``fetch_outcome`` can tell of a fetch without applying it."""


def fetch_outcome(engine: Engine, oracle: Oracle, domain: str, v: int, va: int) -> int:
    """What a fetch of ``va`` by running vCPU ``v`` of ``domain`` would do.

    ``CHANGES_NOTHING``: it leaves every fact of the canonical key as it is and finds nothing.
    The vCPU's ASID is unbound or bound to its current table (no rebinding for
    ``Oracle._check_binding`` to judge); and either the walk faults (no TLB entry hits and the
    table does not map ``va``: it fills nothing and a walk is always legal,
    ``Engine.translate``), or exactly one TLB entry hits and the table maps ``va`` to its
    page now (``Oracle.translation`` accepts it at once), the I-cache holds that page's
    current code (no fill; ``Oracle.code_fetch`` accepts it) and, where AArch32 predictors
    are visible, the predictor holds a prediction trained on that page and code (no
    training; ``Oracle.prediction`` accepts it).

    ``SHOWS_NOTHING``: the same, but the walk may fill the TLB with what the table maps now,
    the I-cache may miss and fill with the current code, and the predictor may hold no
    prediction and be trained: each fill is judged by nobody, so the fetch finds nothing.

    ``UNKNOWN``: anything else (a stale entry or line or prediction the oracle must judge)."""
    d = engine.domains[domain]
    vc = d.vcpus[v]
    if vc.pcpu is None:
        return UNKNOWN
    b = oracle.bindings.get(vc.name)
    bound = None if b is None else b.get(vc.asid)
    if bound is not None and bound[0] != vc.table:
        return UNKNOWN  # another table's ASID: the oracle judges the rebinding
    t = d.tables.get(vc.table)
    if t is None:  # the walk would make the table (``Domain.table``)
        return UNKNOWN
    p = engine.machine.pcpus[vc.pcpu]
    hits = p.tlb.lookup(d.vmid, vc.asid, va)
    now = t.current.get(va)
    if not hits:
        if now is None:
            return CHANGES_NOTHING
        fills = True
    elif len(hits) != 1 or now is None or now.pa != hits[0].pa:
        return UNKNOWN
    else:
        fills = False
    pa = now.pa
    version = d.code.version(pa)
    line = p.icache.lookup(d.vmid, pa)
    if line is None:
        fills = True
    elif line.version != version:
        return UNKNOWN
    if d.arch == "aarch32" and engine.machine.bp.visible:
        pred = p.bp.lookup(d.vmid, vc.asid, va)
        if pred is None:
            fills = True
        elif pred.pa != pa or pred.version != version:
            return UNKNOWN
    return SHOWS_NOTHING if fills else CHANGES_NOTHING


def fetch_changes_nothing(engine: Engine, oracle: Oracle, domain: str, v: int, va: int) -> bool:
    """``fetch_outcome`` is ``CHANGES_NOTHING``."""
    return fetch_outcome(engine, oracle, domain, v, va) == CHANGES_NOTHING
