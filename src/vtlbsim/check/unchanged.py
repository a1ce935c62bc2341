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


def fetch_changes_nothing(engine: Engine, oracle: Oracle, domain: str, v: int, va: int) -> bool:
    """Whether a fetch of ``va`` by running vCPU ``v`` of ``domain`` leaves every fact of the
    canonical key as it is and finds nothing: the vCPU's ASID is unbound or bound to its
    current table (no rebinding for ``Oracle._check_binding`` to judge); and either the walk
    faults (no TLB entry hits and the table does not map ``va``: it fills nothing and a walk
    is always legal, ``Engine.translate``), or exactly one TLB entry hits and the table maps
    ``va`` to its page now (``Oracle.translation`` accepts it at once), the I-cache holds that
    page's current code (no fill; ``Oracle.code_fetch`` accepts it) and, where AArch32
    predictors are visible, the predictor holds a prediction trained on that page and code
    (no training; ``Oracle.prediction`` accepts it)."""
    d = engine.domains[domain]
    vc = d.vcpus[v]
    if vc.pcpu is None:
        return False
    b = oracle.bindings.get(vc.name)
    bound = None if b is None else b.get(vc.asid)
    if bound is not None and bound[0] != vc.table:
        return False  # another table's ASID: the oracle judges the rebinding
    t = d.tables.get(vc.table)
    if t is None:  # the walk would make the table (``Domain.table``)
        return False
    p = engine.machine.pcpus[vc.pcpu]
    hits = p.tlb.lookup(d.vmid, vc.asid, va)
    now = t.current.get(va)
    if not hits:
        return now is None
    if len(hits) != 1 or now is None or now.pa != hits[0].pa:
        return False
    pa = now.pa
    line = p.icache.lookup(d.vmid, pa)
    if line is None or line.version != d.code.version(pa):
        return False
    if d.arch == "aarch32" and engine.machine.bp.visible:
        pred = p.bp.lookup(d.vmid, vc.asid, va)
        if pred is None or pred.pa != pa or pred.version != line.version:
            return False
    return True
