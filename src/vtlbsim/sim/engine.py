"""The engine: applies events to the machine, the guests and the hypervisor's policy.

Physically, a guest instruction does what HCR_EL2 makes it do (FB upgrades, TTLB traps to the
policy); an observer (the oracle) is told what the guest *wrote* and what each translation,
fetch and prediction *used*, and judges it. The engine never asks the observer anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from ..arch.caches import CodeLine
from ..arch.machine import Machine, Pcpu
from ..arch.ops import HypOp, HypTarget, MaintenanceOp, Match, Scope, Structure, effective
from ..arch.tlb import GLOBAL, TlbEntry
from ..guest.domain import Domain, Vcpu
from ..guest.tables import CodeMemory, TranslationTable
from ..hyp.policy import Policy, VcpuId, VcpuInfo
from ..hyp.state import PolicyState
from .events import (
    Access,
    AccessKind,
    Barrier,
    Destroy,
    Event,
    Maintain,
    PteWrite,
    Run,
    SetAsid,
    SetTable,
    WriteCode,
)
from .observer import Observer
from .pending import Pending, completes_own, completes_remote

__all__ = ["Engine", "EngineError", "Observer"]


class EngineError(ValueError):
    """An event the engine cannot apply (a vCPU that is not running, an unknown domain...)."""


class Engine:
    """One machine, its domains and one policy; ``apply`` runs events in order from step 1."""

    def __init__(
        self,
        machine: Machine,
        domains: Iterable[Domain],
        policy: Policy,
        observer: Observer | None = None,
        incomplete: bool = False,
    ) -> None:
        self.machine = machine
        self.domains = {d.name: d for d in domains}
        self.policy = policy
        self.observer = observer or Observer()
        self.step = 0
        self.counts: Counter[str] = Counter()
        self.last_vcpu_here: dict[tuple[str, int], int] = {}
        self.pstate = PolicyState()
        """The policy's own state (``hyp/state.py``)."""
        self.incomplete = incomplete
        """Broadcast maintenance completes on other PEs at the issuer's DSB (``pending.py``)."""
        self.pending = Pending()
        self.destroyed: frozenset[str] = frozenset()
        """VMs destroyed so far (``Destroy``); they stay in ``domains`` for the observer."""
        self._info: dict[str, VcpuInfo] = {}
        self.key_blocks: Any = None
        """The model checker's cache of what this state's key read (``check.keyplan``):
        copied with the state, so a successor reuses what its events left unchanged."""
        self.owned: set[tuple[str, str]] | None = None
        """None: the engine owns its tables and code memories. Else it shares them with a copy
        of it (the model checker's snapshots) but for these tables ``(VM, table name)`` and
        code memories ``(VM, "")``: the others are copied before the engine writes them."""

    # ---- helpers -------------------------------------------------------------------------
    def vcpu(self, domain: str, index: int) -> Vcpu:
        d = self.domains.get(domain)
        if d is None:
            raise EngineError(f"unknown domain {domain!r}")
        if not 0 <= index < d.nvcpus:
            raise EngineError(f"domain {domain!r} has no vCPU {index}")
        return d.vcpus[index]

    def info(self, v: Vcpu) -> VcpuInfo:
        i = self._info.get(v.name)
        if i is None:
            d = v.domain
            i = VcpuInfo(d.name, VcpuId(v.index), d.vmid, d.arch, d.nvcpus, d.pinned)
            self._info[v.name] = i
        return i

    def _running(self, domain: str, index: int) -> tuple[Vcpu, Pcpu]:
        v = self.vcpu(domain, index)
        if v.pcpu is None:
            raise EngineError(f"vCPU {v.name} is not running")
        return v, self.machine.pcpus[v.pcpu]

    def _targets(self, scope: Scope, here: Pcpu) -> Sequence[Pcpu]:
        return self.machine.pcpus if scope is Scope.IS else (here,)

    # ---- the event loop ------------------------------------------------------------------
    def apply(self, events: Iterable[Event]) -> None:
        for ev in events:
            self.apply_one(ev)

    def apply_one(self, ev: Event) -> None:
        self.step += 1
        if isinstance(ev, Access):
            self._access(ev)
        elif isinstance(ev, Maintain):
            self._maintain(ev)
        elif isinstance(ev, Run):
            self._run(ev)
        elif isinstance(ev, Destroy):
            self._destroy(ev)
        elif isinstance(ev, PteWrite):
            self._pte_write(ev)
        elif isinstance(ev, WriteCode):
            self._write_code(ev)
        elif isinstance(ev, Barrier):
            v, p = self._running(ev.domain, ev.vcpu)
            self.counts[ev.name] += 1
            if self.incomplete and completes_own(ev):
                self._dsb(ev, v, p)
        elif isinstance(ev, SetAsid):
            v, _ = self._running(ev.domain, ev.vcpu)
            v.asid = ev.asid
            self.counts["asid-switch"] += 1
        elif isinstance(ev, SetTable):
            v, _ = self._running(ev.domain, ev.vcpu)
            v.switch_table(self.step, ev.table)
            v.domain.table(ev.table)
            self.counts["table-switch"] += 1
        else:  # pragma: no cover - the Event union is closed
            raise EngineError(f"unknown event {ev!r}")

    # ---- scheduling ------------------------------------------------------------------------
    def _run(self, ev: Run) -> None:
        v = self.vcpu(ev.domain, ev.vcpu)
        self._may_run(v.domain)
        if not 0 <= ev.pcpu < len(self.machine.pcpus):
            raise EngineError(f"pCPU {ev.pcpu} out of range (0..{len(self.machine.pcpus) - 1})")
        p = self.machine.pcpus[ev.pcpu]
        if p.running is not None and p.running != v.name:
            dn, _, vi = p.running.rpartition(".")
            other = self.domains[dn].vcpus[int(vi)]
            other.last_pcpu, other.pcpu = p.index, None
            self._descheduled(p)
        if v.pcpu is not None:
            self.machine.pcpus[v.pcpu].running = None
            v.last_pcpu = v.pcpu
            if v.pcpu != p.index:
                self._descheduled(self.machine.pcpus[v.pcpu])
        info = self.info(v)
        self.counts["vcpu-load"] += 1
        if v.last_pcpu is not None and v.last_pcpu != p.index:
            self.counts["migration"] += 1
        here = self.last_vcpu_here.get((v.domain.name, p.index))
        for hop in self.pstate.load(self.policy, info, p.index, v.last_pcpu, here):
            self._hyp(hop, p, v.domain.vmid, "load")
        p.hcr = self.policy.hcr(info)
        p.running = v.name
        v.pcpu = v.last_pcpu = p.index
        v.start(self.step)
        self.last_vcpu_here[(v.domain.name, p.index)] = v.index

    def _may_run(self, d: Domain) -> None:
        """A VMID tags one live VM at a time: another VM may take it only once the VM that
        held it is destroyed. A hypervisor that never hands a freed VMID out again
        (``on_vmid_reuse`` None: Hafnium) gives that VM a VMID no VM had instead."""
        if d.name in self.destroyed:
            raise EngineError(f"VM {d.name!r} was destroyed")
        for o in list(self.domains.values()):
            if o is d or o.vmid != d.vmid:
                continue
            if o.name in self.destroyed:
                if self.policy.on_vmid_reuse(d.vmid) is None:
                    d.vmid = 1 + max(x.vmid for x in self.domains.values())
                    self.counts["vmid-fresh"] += 1
                    return
            elif any(w.last_pcpu is not None for w in o.vcpus):
                raise EngineError(f"VMID {d.vmid} still tags VM {o.name!r}: destroy it first")

    def _destroy(self, ev: Destroy) -> None:
        """The VM's vCPUs leave their pCPUs for good (the hypervisor's DSB there, as at any
        deschedule); the policy forgets the VM's state; then the hypervisor's VMID-reuse
        maintenance runs (``Policy.on_vmid_reuse``; a local operation on pCPU 0). Executing it
        at destruction rather than at the next allocation (Xen) or rollover (KVM) changes
        nothing the VMID's next VM can see: no vCPU of that VMID runs in between."""
        d = self.domains.get(ev.domain)
        if d is None:
            raise EngineError(f"unknown domain {ev.domain!r}")
        if d.name in self.destroyed:
            raise EngineError(f"VM {d.name!r} was destroyed")
        for v in d.vcpus:
            if v.pcpu is not None:
                p = self.machine.pcpus[v.pcpu]
                p.running = None
                v.last_pcpu, v.pcpu = p.index, None
                self._descheduled(p)
            self.pending.take_undone(v.name)  # the guest is gone: no DSB of its will follow
        self.destroyed = self.destroyed | {d.name}
        self.pstate.forget_vm(d.name)
        self.counts["vm-destroy"] += 1
        for hop in self.policy.on_vmid_reuse(d.vmid) or ():
            self._hyp(hop, self.machine.pcpus[0], d.vmid, "vmid-reuse")

    def _descheduled(self, p: Pcpu) -> None:
        """A vCPU leaves ``p``: the hypervisor's DSB there, if it executes one, completes what
        was issued on ``p`` (``Policy.dsb_on_deschedule``)."""
        if self.incomplete and self.policy.dsb_on_deschedule:
            self._complete(p)

    def _complete(self, p: Pcpu) -> None:
        """Every remote part ``p`` issued takes effect on its target."""
        for op, vmid, asid, va, pages, pa, target in self.pending.take_remote(p.index):
            self._apply(op, self.machine.pcpus[target], vmid, asid, va, pages, pa)

    def _dsb(self, ev: Barrier, v: Vcpu, p: Pcpu) -> None:
        """A guest DSB: it completes what ``p`` issued if its shareability covers the IS
        domain (with HCR_EL2.BSU, a DSB NSH does), and the guest may now rely on every
        maintenance instruction it issued before it: the observer is told of them now."""
        if completes_remote(ev, p.hcr.bsu):
            self._complete(p)
        for m, asid, pa in self.pending.take_undone(v.name):
            self.observer.guest_maintenance(self.step, v, m, asid, pa)

    def _hyp(self, hop: HypOp, here: Pcpu, vmid: int, why: str) -> None:
        self.counts[f"hyp.{hop.name}"] += 1
        removed = 0
        for p in self._targets(hop.scope, here):
            if hop.target is HypTarget.TLB_VMID:
                removed += p.tlb.invalidate(vmid, Match.ALL)
            elif hop.target is HypTarget.TLB_ALL:
                removed += p.tlb.invalidate_all()
            elif hop.target is HypTarget.ICACHE:
                # IC IALLU at EL2 "also flushes branch predictors" where they are
                # architecturally visible (Arm ARM, IC IALLU), as the model's are: an AArch64
                # EL2 has no BPIALL, this is how it flushes an AArch32 guest's predictions.
                p.icache.invalidate_all()
                p.bp.invalidate_all()
            else:
                p.bp.invalidate_all()
        self.counts[f"tlb-entries-removed.hyp-{why}"] += removed

    # ---- translation -----------------------------------------------------------------------
    def translate(self, v: Vcpu, p: Pcpu, va: int) -> int | None:
        """The PA page ``va`` translates to on ``p`` for ``v`` (TLB hit, else a walk that fills)."""
        d = v.domain
        hits = p.tlb.lookup(d.vmid, v.asid, va)
        if v.table not in v.tables_used:  # a frozenset: replaced, never changed (copies share it)
            v.tables_used = v.tables_used | {v.table}
        if hits:
            self.counts["tlb-hit"] += 1
            self.observer.translation(self.step, v, p.index, va, hits, None)
            return hits[0].pa
        self.counts["tlb-miss"] += 1
        pte = d.table(v.table).walk(va)
        self.observer.translation(self.step, v, p.index, va, hits, pte)
        if pte is None:
            self.counts["translation-fault"] += 1
            return None
        tag = GLOBAL if pte.is_global else v.asid
        p.tlb.fill(TlbEntry(d.vmid, tag, va, pte.pa, v.name, v.table, self.step, p.index))
        return pte.pa

    def _access(self, ev: Access) -> None:
        v, p = self._running(ev.domain, ev.vcpu)
        self.counts[ev.kind.value] += 1
        pa = self.translate(v, p, ev.va)
        if pa is None or ev.kind is not AccessKind.FETCH:
            return
        d = v.domain
        line = p.icache.lookup(d.vmid, pa)
        if line is not None:
            self.observer.code_fetch(self.step, v, p.index, ev.va, line, True)
        else:
            self.counts["icache-miss"] += 1
            line = CodeLine(pa, d.code.version(pa), v.name, self.step, p.index)
            p.icache.fill(d.vmid, line)
            self.observer.code_fetch(self.step, v, p.index, ev.va, line, False)
        if d.arch == "aarch32" and self.machine.bp.visible:
            pred = p.bp.lookup(d.vmid, v.asid, ev.va)
            if pred is not None:
                self.observer.prediction(self.step, v, p.index, ev.va, pred)
            if pred is None or pred.pa != pa or pred.version != line.version:
                p.bp.train(
                    d.vmid, v.asid, ev.va, CodeLine(pa, line.version, v.name, self.step, p.index)
                )

    def _write_code(self, ev: WriteCode) -> None:
        v, p = self._running(ev.domain, ev.vcpu)
        self.counts["write-code"] += 1
        pa = self.translate(v, p, ev.va)
        if pa is not None:
            self._own_code(v.domain).write(self.step, pa)

    def _pte_write(self, ev: PteWrite) -> None:
        v, _ = self._running(ev.domain, ev.vcpu)
        name = ev.table or v.table
        self.observer.pte_write(self.step, v, name, ev.va, ev.pte)
        self._own_table(v.domain, name).write(self.step, ev.va, ev.pte)
        self.counts["pte-write"] += 1

    def _own_table(self, d: Domain, name: str) -> TranslationTable:
        """Table ``name`` of ``d``, made this engine's own first if a copy shares it (``owned``).
        A write makes a new ``History``, so the copy shares the histories themselves."""
        t = d.table(name)
        owned = self.owned
        if owned is not None and (d.name, name) not in owned:
            owned.add((d.name, name))
            c = TranslationTable.__new__(TranslationTable)
            c.name, c.current, c.history = t.name, t.current.copy(), t.history.copy()
            t = d.tables[name] = c
        return t

    def _own_code(self, d: Domain) -> CodeMemory:
        """``d``'s code memory, made this engine's own first if a copy shares it (``owned``)."""
        owned = self.owned
        if owned is not None and (d.name, "") not in owned:
            owned.add((d.name, ""))
            c = CodeMemory.__new__(CodeMemory)
            c.current, c.history = d.code.current.copy(), d.code.history.copy()
            d.code = c
        return d.code

    # ---- maintenance -----------------------------------------------------------------------
    def _maintain(self, ev: Maintain) -> None:
        v, p = self._running(ev.domain, ev.vcpu)
        d = v.domain
        written = ev.op
        asid = v.asid if ev.asid is None else ev.asid
        pa: int | None = None
        if written.structure is Structure.ICACHE and written.match is Match.VA:
            # IC IVAU translates its VA like a load: it covers the PA the table maps now, and the
            # PA the translation actually used (they differ only if the TLB held a stale entry).
            pte = d.table(v.table).walk(ev.va)
            pa = None if pte is None else pte.pa
            used = self.translate(v, p, ev.va)
            if used is not None and used != pa:
                self._written(v, ev, asid, used)
        else:
            used = None
        self._written(v, ev, asid, pa)
        self.counts["guest." + written.structure + "." + written.scope] += 1  # StrEnum values
        if written.structure is Structure.TLB and p.hcr.ttlb:
            self.counts["trap"] += 1
            for action in self.pstate.trap(self.policy, self.info(v), p.index, written):
                if isinstance(action, HypOp):
                    self._hyp(action, p, d.vmid, "trap")
                else:
                    self._execute(action, v, p, ev, asid, used, trapped=True)
            return
        phys = effective(written, p.hcr.fb, self.machine.bp)
        if phys is not written:
            self.counts["fb-upgrade." + written.structure] += 1
        self._execute(phys, v, p, ev, asid, used)

    def _written(self, v: Vcpu, ev: Maintain, asid: int, pa: int | None) -> None:
        """Tell the observer what the guest wrote: now, or at its next DSB (``pending.py``)."""
        if self.incomplete:
            self.pending.defer(v.name, (ev, asid, pa))
        else:
            self.observer.guest_maintenance(self.step, v, ev, asid, pa)

    def _execute(
        self,
        op: MaintenanceOp,
        v: Vcpu,
        p: Pcpu,
        ev: Maintain,
        asid: int,
        pa: int | None,
        trapped: bool = False,
    ) -> None:
        """Carry out ``op`` physically with the guest's operands on the PEs its scope reaches
        (``pa``: the page a by-VA I-cache instruction translated to, None if it faulted); with
        incomplete maintenance the other PEs' part waits for a DSB on ``p`` (not when the
        hypervisor emulates a ``trapped`` instruction: it completes it before returning)."""
        vmid = v.domain.vmid
        if op.structure is Structure.TLB:  # both counters appear, as they always did
            self.counts["tlb-entries-removed.here"] += 0
            self.counts["tlb-entries-removed.others"] += 0
        if op.scope is Scope.IS:
            self.counts["dvm." + ("tlbi" if op.structure is Structure.TLB else op.structure)] += 1
        for t in self._targets(op.scope, p):
            if t is p or not self.incomplete or trapped:
                self._apply(op, t, vmid, asid, ev.va, ev.pages, pa, t is p)
            else:
                self.pending.issue(p.index, (op, vmid, asid, ev.va, ev.pages, pa, t.index))

    def _apply(
        self,
        op: MaintenanceOp,
        t: Pcpu,
        vmid: int,
        asid: int,
        va: int,
        pages: int,
        pa: int | None,
        here: bool = False,
    ) -> None:
        """What ``op`` removes on one PE ``t``."""
        if op.structure is Structure.TLB:
            n = t.tlb.invalidate(vmid, op.match, asid, va, pages)
            self.counts["tlb-entries-removed.here" if here else "tlb-entries-removed.others"] += n
        elif op.structure is Structure.ICACHE:
            if op.match is not Match.VA:  # ICIALLU(IS) / IC IALLU(IS) also flush visible
                t.icache.invalidate_all()  # predictors (as _hyp)
                t.bp.invalidate_vmid(vmid)
            elif pa is not None:
                t.icache.invalidate_pa(vmid, pa)
        elif op.match is Match.VA:
            t.bp.invalidate_va(vmid, va)
        else:
            t.bp.invalidate_vmid(vmid)
