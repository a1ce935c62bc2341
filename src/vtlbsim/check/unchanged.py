"""Fetches that change nothing: the model checker counts them without copying or applying.

A fetch by a running vCPU changes the machine only where it misses (a TLB fill, an I-cache
fill, a predictor training), and the oracle only where it judges a use illegal (a violation
or guest error) or learns something (``tables_used``, the ASID's binding). When none of these
happens, the state after the fetch is the state before it with one more step: the oracle
compares steps only by order, and every future event is later than both, so the two states
have the same futures and the same canonical key (``key.py``). The search then counts the
successor as the duplicate of its parent it is (``explore._Search``), and at the last level
as a state that shows no violation; ``tests/check/test_unchanged.py`` holds the rule against
applying the fetch and keying the result.
"""

from __future__ import annotations

from ..sim.engine import Engine
from .oracle import Oracle


def fetch_changes_nothing(engine: Engine, oracle: Oracle, domain: str, v: int, va: int) -> bool:
    """Whether a fetch of ``va`` by running vCPU ``v`` of ``domain`` would leave every fact of
    the state as it is: exactly one TLB entry hits (no walk, no fill) and the table maps ``va``
    to its page now (``Oracle.translation`` accepts it at once); the vCPU has translated
    through its table before, with the same ASID and no invalidation of that ASID since (the
    binding's step moves, but past no mark: ``Oracle._check_binding`` decides the same); the
    I-cache holds that page's current code (no fill, ``Oracle.code_fetch`` accepts it); and,
    where AArch32 predictors are visible, the predictor holds a prediction trained on that
    page and code (no training, ``Oracle.prediction`` accepts it). Or, with the same binding,
    no TLB entry hits and the table does not map ``va``: the walk faults, fills nothing, and
    is always legal (``Engine.translate``). Anything else: False."""
    d = engine.domains[domain]
    vc = d.vcpus[v]
    if vc.pcpu is None or vc.table not in vc.tables_used:
        return False
    p = engine.machine.pcpus[vc.pcpu]
    b = oracle.bindings.get(vc.name)
    bound = None if b is None else b.get(vc.asid)
    if bound is None or bound[0] != vc.table:
        return False
    cleared = max(oracle.local[vc.name].asid(vc.asid), oracle.shared[domain].asid(vc.asid))
    if cleared[0] >= bound[1]:
        return False
    hits = p.tlb.lookup(d.vmid, vc.asid, va)
    t = d.tables.get(vc.table)
    if t is None:  # the walk would make the table (``Domain.table``)
        return False
    now = t.current.get(va)
    if not hits:
        return now is None  # the walk faults: it fills nothing, and a walk is always legal
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
