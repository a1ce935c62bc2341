"""The legality rule of SPEC §5: the guest's bare-metal contract.

A translation that vCPU *v* uses for VA *x* is legal iff *v*'s current table mapped *x* to that
output at some instant at or after the last maintenance instruction that, **as the guest wrote
it**, affects *v* and covers *x*: *v*'s own local instructions, and Inner Shareable ones from any
vCPU of *v*'s VM. For translations the instant must also be one at which that table was *v*'s
current table (``Vcpu.windows``): a CPU walks only its current table, so on bare metal a CPU
that joins an address space late cannot hold what the space mapped before it joined.
HCR_EL2.FB, traps and hypervisor flushes never change what the guest may expect. The same rule judges fetched code (the code versions the PA held) and AArch32 branch
predictions (the mapping and code they were trained on).

An illegal use is a hypervisor violation when bare metal could not have produced it: the entry
was filled by another vCPU, or a covering instruction came after the fill (so it would have
removed the entry on a real CPU). Otherwise the guest broke its own rules (it switched tables
under a live ASID) and gets a ``guest-error``.
"""

from __future__ import annotations

from ..arch.caches import CodeLine
from ..arch.ops import Match, Scope, Structure
from ..arch.tlb import GLOBAL, TlbEntry
from ..guest.domain import Domain, Vcpu
from ..guest.tables import Pte, TranslationTable, Windows
from ..sim.engine import Observer
from ..sim.events import Maintain
from .coverage import Coverage
from .findings import CATEGORIES, NEVER, PAGE, GuestError, Mark, Violation

__all__ = ["CATEGORIES", "NEVER", "GuestError", "Mark", "Oracle", "Violation"]


class Oracle(Observer):
    """Judges every use the engine reports against SPEC §5 and collects the findings."""

    def __init__(self, domains: list[Domain]) -> None:
        self.violations: list[Violation] = []
        self.guest_errors: list[GuestError] = []
        self.local: dict[str, Coverage] = {v.name: Coverage() for d in domains for v in d.vcpus}
        self.shared: dict[str, Coverage] = {d.name: Coverage() for d in domains}
        # for diagnostics: the last TLBI of any shape/scope by any vCPU of the VM, per VA
        self.any_tlbi_all: dict[str, int] = {d.name: 0 for d in domains}
        self.any_tlbi_va: dict[str, dict[int, int]] = {d.name: {} for d in domains}
        self.unmapped_at: dict[tuple[str, str, int], tuple[int, int]] = {}
        # per vCPU: ASID -> (table it was last used with, step of that use)
        self.bindings: dict[str, dict[int, tuple[str, int]]] = {}

    # ---- what the guest wrote ------------------------------------------------------------
    def guest_maintenance(
        self, step: int, vcpu: Vcpu, ev: Maintain, asid: int, pa: int | None
    ) -> None:
        mark = (step, ev.op.name)
        # copy on write: the model checker's snapshots share Coverage records
        if ev.op.scope is Scope.IS:
            cov = self.shared[vcpu.domain.name] = self.shared[vcpu.domain.name].copy()
        else:
            cov = self.local[vcpu.name] = self.local[vcpu.name].copy()
        cov.record(ev, asid, pa, mark)
        if ev.op.structure is Structure.TLB:
            dn = vcpu.domain.name
            if ev.op.match in (Match.ALL, Match.ASID):
                self.any_tlbi_all[dn] = step
            else:
                # a new dict, never changed in place: the checker's snapshots share them
                self.any_tlbi_va[dn] = {
                    **self.any_tlbi_va[dn],
                    **dict.fromkeys(range(ev.va, ev.va + ev.pages), step),
                }
        elif ev.op.structure is Structure.ICACHE and ev.op.match is Match.VA and pa is None:
            self._guest_error(
                step, vcpu, "ic-unmapped", f"{ev.op.name} of unmapped VA {ev.va * PAGE:#x}"
            )

    def pte_write(self, step: int, vcpu: Vcpu, table: str, va: int, pte: Pte | None) -> None:
        """Break-before-make (Arm ARM D8.16.1): a valid PTE changes output only via invalid + TLBI."""
        dn = vcpu.domain.name
        old = vcpu.domain.table(table).walk(va)
        key = (dn, table, va)
        if pte is None:
            if old is not None:
                self.unmapped_at[key] = (step, old.pa)
            return
        if old is not None:
            if old != pte:
                self._guest_error(
                    step,
                    vcpu,
                    "break-before-make",
                    f"rewrote the valid PTE for {va * PAGE:#x} in table {table!r} "
                    f"({old.pa * PAGE:#x} -> {pte.pa * PAGE:#x}) without making it invalid first",
                )
            return
        gone = self.unmapped_at.pop(key, None)
        if gone is None or gone[1] == pte.pa:
            return
        since = max(self.any_tlbi_all[dn], self.any_tlbi_va[dn].get(va, 0))
        if since < gone[0]:
            self._guest_error(
                step,
                vcpu,
                "break-before-make",
                f"mapped {va * PAGE:#x} to {pte.pa * PAGE:#x} in table {table!r}: no TLB "
                f"invalidation of it since it was unmapped at step {gone[0]}",
            )

    # ---- what was used ---------------------------------------------------------------------
    def translation(
        self, step: int, vcpu: Vcpu, pcpu: int, va: int, hits: list[TlbEntry], walked: Pte | None
    ) -> None:
        self._check_binding(step, vcpu)
        if not hits:
            return  # a walk reads the table now: always legal
        table = vcpu.domain.table(vcpu.table)
        now = table.walk(va)
        if len(hits) == 1:
            e = hits[0]
            if now is not None and now.pa == e.pa:
                return  # the table maps it so now
            self._judge_tlb(step, vcpu, pcpu, va, e, self._tlb_mark(vcpu, e.tag, va))
            return
        outputs = {e.pa for e in hits}
        marks = {e.tag: self._tlb_mark(vcpu, e.tag, va) for e in hits}
        bad = [e for e in hits if not self._tlb_legal(vcpu, e, va, marks[e.tag])]
        if len(outputs) == 1:
            for e in bad[:1]:
                self._judge_tlb(step, vcpu, pcpu, va, e, marks[e.tag])
            return
        hyp = [e for e in bad if self._hypervisor_made(vcpu, e, marks[e.tag])]
        if hyp:
            self._violation(
                step,
                "tlb-conflict",
                vcpu,
                pcpu,
                va,
                hyp[0],
                marks[hyp[0].tag],
                used=" + ".join(f"{e.pa * PAGE:#x}" for e in hits),
            )
        else:
            self._guest_error(
                step,
                vcpu,
                "tlb-conflict",
                f"{len(hits)} TLB entries match {va * PAGE:#x} with different outputs; "
                "the guest did not break-before-make",
            )

    def code_fetch(
        self, step: int, vcpu: Vcpu, pcpu: int, va: int, line: CodeLine, hit: bool
    ) -> None:
        if not hit:
            return
        code = vcpu.domain.code
        if line.version == code.version(line.pa):
            return
        mark = max(
            self.local[vcpu.name].icache(line.pa), self.shared[vcpu.domain.name].icache(line.pa)
        )
        floor = code.version_at(line.pa, mark[0])
        if line.version >= floor:
            return
        legal = [f"{line.pa * PAGE:#x}:v{n}" for n in range(floor, code.version(line.pa) + 1)]
        self._record_code(step, "stale-icache", vcpu, pcpu, va, line, legal, mark)

    def prediction(self, step: int, vcpu: Vcpu, pcpu: int, va: int, line: CodeLine) -> None:
        d = vcpu.domain
        table = d.table(vcpu.table)
        now = table.walk(va)
        if now is not None and now.pa == line.pa and d.code.version(line.pa) == line.version:
            return
        mark = max(self.local[vcpu.name].bp(va), self.shared[d.name].bp(va))
        start = mark[0]
        h = table.history.get(va)
        instants = {start}
        if h is not None:
            instants.update(h.changes_after(start))
        ch = d.code.history.get(line.pa)
        if ch is not None:
            instants.update(ch.changes_after(start))
        for t in instants:
            pte = h.at(t) if h is not None else None
            if (
                isinstance(pte, Pte)
                and pte.pa == line.pa
                and d.code.version_at(line.pa, t) == line.version
            ):
                return
        if line.vcpu == vcpu.name and mark[0] < line.step:
            self._guest_error(
                step,
                vcpu,
                "stale-bp",
                f"prediction for {va * PAGE:#x} trained before the guest changed tables",
            )
            return
        legal = [f"{now.pa * PAGE:#x}:v{d.code.version(now.pa)}"] if now is not None else []
        self._record_code(step, "stale-bp", vcpu, pcpu, va, line, legal, mark)

    # ---- the rule ----------------------------------------------------------------------------
    def _tlb_mark(self, vcpu: Vcpu, tag: int, va: int) -> Mark:
        return max(self.local[vcpu.name].tlb(tag, va), self.shared[vcpu.domain.name].tlb(tag, va))

    @staticmethod
    def _spans(vcpu: Vcpu, tag: int, mark: Mark) -> list[tuple[TranslationTable, Windows]]:
        """The tables whose translations a ``tag`` entry may legally hold for ``vcpu``, each
        with the instants at or after ``mark`` at which it was ``vcpu``'s current table.

        A non-global entry matches only the ASID it was filled under, so only the table
        current now counts (an entry of another table on this ASID is an ASID rebinding, the
        guest's error, ``_check_binding``). A global entry (nG = 0) matches every ASID (Arm ARM
        D8.13, "Global and process-specific translation table entries"): on bare metal a CPU
        keeps using what it cached of a global mapping under one table after switching to
        another, so every table counts over the instants it was current."""
        d = vcpu.domain
        if tag != GLOBAL:
            return [(d.table(vcpu.table), vcpu.windows(vcpu.table, mark[0]))]
        return [(t, vcpu.windows(name, mark[0])) for name, t in d.tables.items()]

    @staticmethod
    def _tlb_legal(vcpu: Vcpu, e: TlbEntry, va: int, mark: Mark) -> bool:
        """SPEC §5 for a TLB hit: the table current on ``vcpu`` at an instant at or after
        ``mark`` mapped ``va`` to the entry's PA then (``_spans``: for a non-global entry, the
        table current now)."""
        return any(t.mapped_during(va, e.pa, w) for t, w in Oracle._spans(vcpu, e.tag, mark))

    @staticmethod
    def _hypervisor_made(vcpu: Vcpu, e: TlbEntry, mark: Mark) -> bool:
        """Bare metal could not show ``vcpu`` this entry: another vCPU filled it, or the guest's
        covering instruction came after the fill."""
        return e.vcpu != vcpu.name or mark[0] > e.step

    def _judge_tlb(
        self, step: int, vcpu: Vcpu, pcpu: int, va: int, e: TlbEntry, mark: Mark
    ) -> None:
        if self._tlb_legal(vcpu, e, va, mark):
            return
        if not self._hypervisor_made(vcpu, e, mark):
            if any(g.step == step and g.vcpu == vcpu.name for g in self.guest_errors[-2:]):
                return  # already reported at this step (the ASID rebinding itself)
            self._guest_error(
                step,
                vcpu,
                "asid-reuse",
                f"hit {va * PAGE:#x} -> {e.pa * PAGE:#x} filled from table {e.table!r}, "
                f"now on table {vcpu.table!r} with no invalidation in between",
            )
            return
        # H2 when the entry came from a table this vCPU never translated through; else H1;
        # cross-VM when another VM filled it (a destroyed VM whose VMID this VM reuses)
        if e.vcpu.rpartition(".")[0] != vcpu.domain.name:
            category = "cross-vm-tlb"
        elif e.table in vcpu.tables_used:
            category = "stale-tlb"
        else:
            category = "cross-vcpu-tlb"
        self._violation(step, category, vcpu, pcpu, va, e, mark)

    def _violation(
        self,
        step: int,
        category: str,
        vcpu: Vcpu,
        pcpu: int,
        va: int,
        e: TlbEntry,
        mark: Mark,
        used: str | None = None,
    ) -> None:
        outputs = [o for t, w in self._spans(vcpu, e.tag, mark) for o in t.outputs_during(va, w)]
        legal = [f"{o * PAGE:#x}" for o in dict.fromkeys(outputs) if o is not None]
        self._record(
            step,
            category,
            vcpu,
            pcpu,
            va,
            used or f"{e.pa * PAGE:#x}",
            legal,
            e.vcpu,
            e.step,
            e.pcpu,
            mark,
        )

    def _record(
        self,
        step: int,
        category: str,
        vcpu: Vcpu,
        pcpu: int,
        va: int,
        used: str,
        legal: list[str],
        by: str,
        at: int,
        on: int,
        mark: Mark,
    ) -> None:
        self.violations.append(
            Violation(
                step, category, vcpu.name, pcpu, va, used, legal, by, at, on, mark[1], mark[0]
            )
        )

    def _record_code(
        self,
        step: int,
        category: str,
        vcpu: Vcpu,
        pcpu: int,
        va: int,
        line: CodeLine,
        legal: list[str],
        mark: Mark,
    ) -> None:
        """A stale I-cache line or prediction: ``used`` names its page and code version."""
        used = f"{line.pa * PAGE:#x}:v{line.version}"
        self._record(
            step, category, vcpu, pcpu, va, used, legal, line.vcpu, line.step, line.pcpu, mark
        )

    def _check_binding(self, step: int, vcpu: Vcpu) -> None:
        """An ASID used with one table and then with another, with no invalidation of it between."""
        b = self.bindings.get(vcpu.name, {})
        prev = b.get(vcpu.asid)
        # a new dict, never changed in place: the checker's snapshots share them
        self.bindings[vcpu.name] = {**b, vcpu.asid: (vcpu.table, step)}
        if prev is None or prev[0] == vcpu.table:
            return
        cleared = max(
            self.local[vcpu.name].asid(vcpu.asid), self.shared[vcpu.domain.name].asid(vcpu.asid)
        )
        if cleared[0] < prev[1]:
            self._guest_error(
                step,
                vcpu,
                "asid-reuse",
                f"ASID {vcpu.asid} used with table {prev[0]!r} at step {prev[1]}, now with "
                f"{vcpu.table!r}, with no invalidation of that ASID in between",
            )

    def _guest_error(self, step: int, vcpu: Vcpu, kind: str, message: str) -> None:
        self.guest_errors.append(GuestError(step, vcpu.name, kind, message))
