"""A purpose-built copy of the checker's engine and oracle, cheaper than a replay.

The explorer expands a state into each of its successors; instead of replaying the whole event
path for every successor, it copies the parent's engine and oracle and applies only the
successor's events. The copy duplicates every container the engine or the oracle mutates
(dicts, lists, sets, ``Coverage`` records, vCPUs, pCPUs), or shares it until the first change
(copy on write: a TLB's, an I-cache's and a predictor's contents, ``Tlb.snapshot``; the
translation tables and code memories, ``Engine.owned``), and shares what nothing mutates once
made: ``History`` logs, TLB entries, code lines, PTEs, marks, findings, ``VcpuInfo``, a
vCPU's ``tables_used`` (a frozenset), the oracle's per-VM TLBI-by-VA and per-vCPU ASID-binding
dicts (replaced on each change, never changed in place) and the policy (its state is the
engine's ``pstate``, copied). ``tests/check/test_snapshot.py`` holds a copy plus the
successor's events against a replay of the whole path, field by field.
"""

from __future__ import annotations

from ..arch.machine import Machine, Pcpu
from ..guest.domain import Domain, Vcpu
from ..sim.engine import Engine
from .oracle import Oracle


def _domain(d: Domain) -> Domain:
    c = Domain.__new__(Domain)
    c.name = d.name
    c.vmid = d.vmid
    c.arch = d.arch
    c.nvcpus = d.nvcpus
    c.kind = d.kind
    c.pinned = d.pinned
    c.vcpus = [
        Vcpu(
            c,
            v.index,
            v.name,
            v.pcpu,
            v.last_pcpu,
            v.asid,
            v.table,
            v.tables_used,
            v.spans,
            v.current_since,
        )
        for v in d.vcpus
    ]
    c.tables = d.tables.copy()  # the tables and the code are copied on write (Engine.owned)
    c.code = d.code
    return c


def _pcpu(p: Pcpu) -> Pcpu:
    # (each field set here rather than through the dataclass's ``__init__``: a copy per pCPU
    # per state; ``tests/check/test_snapshot.py`` holds every field to a replay's)
    c = _new_pcpu(Pcpu)
    c.index = p.index
    c.socket = p.socket
    c.tlb = p.tlb.snapshot()  # each copied on write (``Tlb._own``, ``ICache._own``,
    c.icache = p.icache.snapshot()  # ``BranchPredictor._own``)
    c.bp = p.bp.snapshot()
    c.hcr = p.hcr
    c.running = p.running
    return c


_new_pcpu = Pcpu.__new__


def copy_state(engine: Engine, oracle: Oracle) -> tuple[Engine, Oracle]:
    """An independent engine and oracle in the same state as ``engine`` and its ``oracle``."""
    assert engine.observer is oracle
    domains = [_domain(d) for d in engine.domains.values()]
    o = Oracle.__new__(Oracle)
    o.violations = oracle.violations.copy()
    o.guest_errors = oracle.guest_errors.copy()
    o.local = oracle.local.copy()  # Coverage records are copied on write (Oracle.guest_maintenance)
    o.shared = oracle.shared.copy()
    o.any_tlbi_all = oracle.any_tlbi_all.copy()
    o.any_tlbi_va = oracle.any_tlbi_va.copy()  # its dicts are replaced, never changed
    o.unmapped_at = oracle.unmapped_at.copy()
    o.bindings = oracle.bindings.copy()  # its dicts are replaced, never changed
    m = Machine.__new__(Machine)
    m.pcpus = [_pcpu(p) for p in engine.machine.pcpus]
    m.sockets = engine.machine.sockets
    m.bp = engine.machine.bp
    e = Engine.__new__(Engine)
    e.machine = m
    e.domains = {d.name: d for d in domains}
    e.policy = engine.policy
    e.observer = o
    e.step = engine.step
    e.counts = engine.counts  # event counts: statistics the checker never reads, shared
    e.last_vcpu_here = engine.last_vcpu_here.copy()
    e.pstate = engine.pstate.copy()
    e.incomplete = engine.incomplete
    e.pending = engine.pending.copy()
    e.destroyed = engine.destroyed  # a frozenset: replaced, never mutated
    e.key_blocks = engine.key_blocks  # what the parent's key read: immutable, shared
    e._info = engine._info  # VcpuInfo by vCPU name: the same for every state, shared
    engine.owned = set()  # both now share every table and code memory (``Engine.owned``)
    e.owned = set()
    return e, o
