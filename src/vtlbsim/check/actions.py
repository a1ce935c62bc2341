"""Guest disciplines as action generators: what a guest kind may do next (SPEC §3).

A *guest operation* is a short sequence of events one running vCPU issues without the guest
breaking its own rules: a PTE change is followed by the TLB (and AArch32 BP) instructions its
discipline uses, new code by its I-cache maintenance, an ASID rollover by its rollover flush.
The model checker interleaves these operations with the scheduler's loads; the guest never
breaks break-before-make or reuses an ASID without the invalidation its discipline uses, so the
oracle reports no guest error on any explored path.

The address space is small: the first ``vas`` pages of ``VAS`` and the PA pages ``PAS``; a map
takes the next PA no table has mapped yet (mapping a page again only makes more outputs legal,
and fresh PAs are interchangeable, so that loses no violation).

Address spaces (every kind but ``percpu-tables``): two processes, tables ``main`` and ``as1``.
ASID allocation is Linux's: each table holds one ASID (0 and 1) until a *rollover* hands a
table's ASID to a new address space. A rollover may only recycle a table no vCPU is using
(Linux keeps the ASIDs of running mms reserved); the CPU that rolls over runs the kind's
``rollover`` instructions at once and every other vCPU runs them at its next switch, unless
the kind's rollover is one broadcast (``rollover_broadcast``). Kinds that flush on every
translation-table switch (``ttbr_switch``, FreeBSD armv7) use ASID 0 for both tables.

``percpu-tables``: each vCPU translates through its own table (``main`` for vCPU 0, ``cpuN``
for vCPU N), one ASID; it maps the same VAs to different pages. A vCPU's first load includes
its bring-up (``GuestModel.bring_up``): its own table, or the rollover flush it owes. SMP kinds get the requested
number of vCPUs, UP kinds (``smp=False``) exactly one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..arch.ops import MaintenanceOp, Operand, lookup_op
from ..guest.domain import MAIN_TABLE
from ..guest.kinds import Discipline, load_kind
from ..guest.tables import Pte, TranslationTable
from ..sim.engine import Engine
from ..sim.events import Access, AccessKind, Event, Maintain, PteWrite, SetAsid, SetTable, WriteCode

DOMAIN = "g"
VAS: tuple[int, ...] = (1, 2, 3)
"""VA pages the guest may use (0x1000, 0x2000, 0x3000); a model uses the first ``vas``."""
DEFAULT_VAS = 1
"""One VA is enough to find every violation (docs/check.md "Why one VA"): maps take fresh PAs,
so VAs never alias, and what one VA's operations do to another VA's entries is done as well
by that VA's own operations. Tests hold it against two VAs."""
PAS: tuple[int, ...] = tuple(range(0xA, 0x12))
"""PA pages the guest maps (0xa000 ... 0x11000), each at most once."""
AS_TABLES: tuple[str, ...] = (MAIN_TABLE, "as1")
GLOBAL_VA = 8
"""The kernel page (0x8000) the ``globals`` option maps global in every table."""
"""The two processes' tables of a kind with address spaces."""


@dataclass(frozen=True, slots=True)
class GuestState:
    """The guest's own bookkeeping, beside what the engine holds.

    ``needs_flush``: vCPUs that still owe the rollover flush (run at their next switch).
    ``active``: per table, the vCPUs it has been active on since it was (re)allocated — Linux's
    ``mm_cpumask``, which ``linux-arm64-local`` consults to pick a local TLBI.
    """

    needs_flush: frozenset[int] = frozenset()
    active: tuple[frozenset[int], ...] = ()

    def activate(self, t: int, v: int) -> GuestState:
        if v in self.active[t]:
            return self
        act = list(self.active)
        act[t] = act[t] | {v}
        return GuestState(self.needs_flush, tuple(act))


@dataclass(frozen=True, slots=True)
class Operation:
    """One guest operation (or scheduler load): a label, its events, the guest state after."""

    label: str
    events: tuple[Event, ...]
    state: GuestState


@dataclass(frozen=True, slots=True)
class GuestModel:
    """A guest kind made executable: its discipline's instructions, tables and ASIDs."""

    kind: str
    discipline: Discipline
    vcpus: int
    vas: tuple[int, ...] = VAS[:DEFAULT_VAS]
    ops: dict[str, MaintenanceOp] = field(default_factory=dict, compare=False, hash=False)
    globals: bool = False
    """Checker option: the kernel maps and unmaps a global page (``global_operations``)."""
    asid_flush: bool = False
    """Checker option: a process exits with the kind's ``asid_flush`` (``asid_flushes``)."""

    @classmethod
    def for_kind(
        cls,
        kind: str,
        vcpus: int,
        vas: int = DEFAULT_VAS,
        *,
        globals: bool = False,
        asid_flush: bool = False,
    ) -> GuestModel:
        """The model of a guest kind (a built-in name or a kind file's path) with ``vas`` VA
        pages; UP kinds always get one vCPU. KindError if the kind does not load."""
        if not 1 <= vas <= len(VAS):
            raise ValueError(f"vas must be 1..{len(VAS)}")
        d = load_kind(kind)
        ops: dict[str, MaintenanceOp] = {}
        for n in d.instructions():
            op = lookup_op(d.arch, n)
            if op is None:  # kinds.py validated every name: unreachable
                raise ValueError(f"guest kind {kind!r}: {n!r} is not a {d.arch} instruction")
            ops[n] = op
        return cls(kind, d, vcpus if d.smp else 1, VAS[:vas], ops, globals, asid_flush)

    # ---- tables and ASIDs ---------------------------------------------------------------------
    @property
    def percpu(self) -> bool:
        return self.discipline.percpu_tables

    @property
    def tables(self) -> tuple[str, ...]:
        if self.percpu:
            return tuple(own_table(v) for v in range(self.vcpus))
        return AS_TABLES

    @property
    def tag_shared(self) -> bool:
        """Several tables translate under one ASID (per-CPU tables; one ASID for every
        process): an entry one table filled may be judged against another."""
        return self.percpu or self.discipline.shared_asid

    @property
    def rollover_owed(self) -> bool:
        """Each vCPU owes its own rollover flush (the rollover is not one broadcast)."""
        return not self.percpu and not self.discipline.rollover_broadcast

    def tables_of(self, v: int) -> tuple[str, ...]:
        """The tables vCPU ``v`` may translate through."""
        return (own_table(v),) if self.percpu else AS_TABLES

    def asid_of(self, table: str) -> int:
        if self.percpu or self.discipline.shared_asid:
            return 0
        return AS_TABLES.index(table)

    def initial(self) -> GuestState:
        return GuestState(frozenset(), tuple(frozenset() for _ in self.tables))

    def on_load(self, g: GuestState, v: int, table: str) -> GuestState:
        """A load of ``v`` makes its current table active on it."""
        return g.activate(self.tables.index(table), v)

    # ---- instructions -------------------------------------------------------------------------
    def _issue(
        self, v: int, names: Iterable[str], va: int = 0, asid: int | None = None
    ) -> list[Event]:
        out: list[Event] = []
        for n in names:
            op = self.ops[n]
            if op.operand is Operand.VA:
                out.append(Maintain(DOMAIN, v, op, va=va, asid=asid))
            elif op.operand is Operand.ASID:
                out.append(Maintain(DOMAIN, v, op, asid=0 if asid is None else asid))
            else:
                out.append(Maintain(DOMAIN, v, op))
        return out

    def _flush_if_owed(self, g: GuestState, v: int) -> tuple[list[Event], GuestState]:
        if v not in g.needs_flush:
            return [], g
        return self._issue(v, self.discipline.rollover), GuestState(g.needs_flush - {v}, g.active)

    def bring_up(self, g: GuestState, v: int) -> tuple[list[Event], GuestState]:
        """What a vCPU runs when it is loaded for the first time, before any user access: a
        per-CPU-tables guest installs its own table; otherwise the vCPU enters ``main`` the way
        Linux's first ``switch_mm`` does, running the rollover flush it owes, if any."""
        if self.percpu:
            table = own_table(v)
            evs: list[Event] = [SetTable(DOMAIN, v, table)] if table != MAIN_TABLE else []
            return evs, self.on_load(g, v, table)
        evs, g2 = self._flush_if_owed(g, v)
        return evs, self.on_load(g2, v, MAIN_TABLE)

    # ---- the operations -----------------------------------------------------------------------
    def operations(self, engine: Engine, g: GuestState, v: int) -> list[Operation]:
        """Every operation running vCPU ``v`` may start now, in a fixed order."""
        d = self.discipline
        vc = engine.vcpu(DOMAIN, v)
        cur = vc.table
        dom = engine.domains[DOMAIN]
        ops: list[Operation] = []
        mapped = dom.table(cur).current
        used_vas = {va for t in dom.tables.values() for va in t.history}
        # A fetch translates exactly as a load does, then also uses the I-cache (and the
        # AArch32 predictor): every violation a load would expose, the fetch exposes at the
        # same step, so loads add no behaviour. An access to a never-mapped VA only faults.
        for va in sorted(used_vas):
            ops.append(
                Operation(f"v{v} fetch {_addr(va)}", (Access(DOMAIN, v, va, AccessKind.FETCH),), g)
            )
        for va in self.vas:
            if va in mapped:
                evs = [WriteCode(DOMAIN, v, va), *self._issue(v, d.code_change, va=va)]
                ops.append(Operation(f"v{v} write-code {_addr(va)}", tuple(evs), g))
        # A map uses a fresh PA: mapping a page again only makes more outputs legal (SPEC §5)
        pa = fresh_pa(dom.tables.values())
        if pa is not None:
            for va in _used_plus_fresh(self.vas, used_vas):
                if va not in mapped:
                    mp = PteWrite(DOMAIN, v, va, Pte(pa, False))
                    ops.append(Operation(f"v{v} map {_addr(va)} {_addr(pa)}", (mp,), g))
        ti = self.tables.index(cur)
        for va in self.vas:
            if va not in mapped:
                continue
            local = d.pte_user_local is not None and g.active[ti] <= {v}
            names = d.pte_user_local if local and d.pte_user_local else d.pte_user
            evs = [PteWrite(DOMAIN, v, va, None), *self._issue(v, names, va=va)]
            ops.append(Operation(f"v{v} unmap {_addr(va)}", tuple(evs), g))
        if not self.percpu:
            for table in AS_TABLES:
                if table == cur:
                    continue
                evs, g2 = self._flush_if_owed(g, v)
                evs += self._switch_events(v, vc.asid, table)
                ops.append(
                    Operation(f"v{v} switch {table}", tuple(evs), self.on_load(g2, v, table))
                )
            ops.extend(self._recycling_switches(engine, g, v))
        return ops

    def _recycling_switches(self, engine: Engine, g: GuestState, v: int) -> list[Operation]:
        """The process on ``v`` exits as ``v`` switches away, and allocating an ASID rolls
        over: the dead table's mappings go (Linux does not flush a dying mm: the allocator
        will), ``v`` runs the kind's rollover instructions, every other vCPU owes them before
        its next switch (unless the rollover is one broadcast), and the dead table's ASID
        serves the next process that is switched to through that table."""
        d = self.discipline
        dom = engine.domains[DOMAIN]
        vc = dom.vcpus[v]
        cur = vc.table
        # a vCPU that has never run has no mm yet: only loaded vCPUs hold a table in use
        if any(o.table == cur for o in dom.vcpus if o.index != v and o.last_pcpu is not None):
            return []
        out: list[Operation] = []
        ti = self.tables.index(cur)
        for table in AS_TABLES:
            if table == cur:
                continue
            evs: list[Event] = [
                PteWrite(DOMAIN, v, va, None)
                for va in sorted(dom.table(cur).current)
                if va != GLOBAL_VA  # the kernel's global page outlives the process
            ]
            evs += self._issue(v, d.rollover, asid=vc.asid)
            evs += self._switch_events(v, vc.asid, table)
            others = frozenset() if d.rollover_broadcast else frozenset(range(self.vcpus)) - {v}
            act = list(g.active)
            act[ti] = frozenset()
            g2 = GuestState((g.needs_flush - {v}) | others, tuple(act))
            out.append(
                Operation(
                    f"v{v} exit+rollover, switch {table}", tuple(evs), self.on_load(g2, v, table)
                )
            )
        return out

    # ---- optional dimensions (checker options; kept apart from the discipline's operations) ----
    def extra_operations(self, engine: Engine, g: GuestState, v: int) -> list[Operation]:
        """The operations the checker's options add for running vCPU ``v``."""
        out: list[Operation] = []
        if self.globals:
            out += self.global_operations(engine, g, v)
        if self.asid_flush and not self.percpu:
            out += self.asid_flushes(engine, g, v)
        return out

    def global_operations(self, engine: Engine, g: GuestState, v: int) -> list[Operation]:
        """The kernel maps its page ``GLOBAL_VA`` global (nG=0) to a fresh PA in every table, as
        kernels keep their global mappings the same in every address space; or unmaps it from
        every table and invalidates it by VA with the kind's PTE instructions (TLBI VAE1 and
        its kin remove the VA's global entry whatever the ASID, Arm ARM D8.13)."""
        dom = engine.domains[DOMAIN]
        names = self.tables
        mapped = [n for n in names if GLOBAL_VA in dom.table(n).current]
        if mapped:
            evs: list[Event] = [PteWrite(DOMAIN, v, GLOBAL_VA, None, table=n) for n in mapped]
            evs += self._issue(v, self.discipline.pte_user, va=GLOBAL_VA)
            return [Operation(f"v{v} unmap-global {_addr(GLOBAL_VA)}", tuple(evs), g)]
        pa = fresh_pa(dom.tables.values())
        if pa is None:
            return []
        evs = [PteWrite(DOMAIN, v, GLOBAL_VA, Pte(pa, True), table=n) for n in names]
        return [Operation(f"v{v} map-global {_addr(GLOBAL_VA)} {_addr(pa)}", tuple(evs), g)]

    def asid_flushes(self, engine: Engine, g: GuestState, v: int) -> list[Operation]:
        """The process on ``v`` exits as ``v`` switches away: its mappings go and the kind's
        ``asid_flush`` invalidates its ASID (arm64 Linux ``tlb_flush()`` with ``fullmm``
        issues ``flush_tlb_mm``, ASIDE1IS, when the page tables are freed); its table and ASID
        then serve a new process. Allowed when no other loaded vCPU is using that table."""
        d = self.discipline
        dom = engine.domains[DOMAIN]
        vc = dom.vcpus[v]
        cur = vc.table
        if not d.asid_flush or any(
            o.table == cur for o in dom.vcpus if o.index != v and o.last_pcpu is not None
        ):
            return []
        out: list[Operation] = []
        ti = self.tables.index(cur)
        for table in AS_TABLES:
            if table == cur:
                continue
            evs: list[Event] = [
                PteWrite(DOMAIN, v, va, None)
                for va in sorted(dom.table(cur).current)
                if va != GLOBAL_VA
            ]
            evs += self._issue(v, d.asid_flush, asid=vc.asid)
            evs += self._switch_events(v, vc.asid, table)
            act = list(g.active)
            act[ti] = frozenset()
            g2 = GuestState(g.needs_flush, tuple(act))
            label = f"v{v} exit+asid-flush, switch {table}"
            out.append(Operation(label, tuple(evs), self.on_load(g2, v, table)))
        return out

    def _switch_events(self, v: int, asid: int, table: str) -> list[Event]:
        evs: list[Event] = [SetTable(DOMAIN, v, table)]
        if self.asid_of(table) != asid:
            evs.append(SetAsid(DOMAIN, v, self.asid_of(table)))
        evs += self._issue(v, self.discipline.ttbr_switch, asid=self.asid_of(table))
        return evs


def _addr(page: int) -> str:
    """A page number as the litmus address of its first byte."""
    return f"{page * 4096:#x}"


def own_table(v: int) -> str:
    """A per-CPU-tables vCPU's own table: ``main`` for vCPU 0, ``cpuN`` for vCPU N."""
    return MAIN_TABLE if v == 0 else f"cpu{v}"


def fresh_pa(tables: Iterable[TranslationTable]) -> int | None:
    """The first PA of ``PAS`` no table has ever mapped (None when all were used)."""
    used = {
        p.pa for t in tables for h in t.history.values() for p in h.values if isinstance(p, Pte)
    }
    for pa in PAS:
        if pa not in used:
            return pa
    return None


def _used_plus_fresh(universe: tuple[int, ...], used: set[int]) -> list[int]:
    """The used values and the first unused one: unused values are interchangeable."""
    out = [x for x in universe if x in used]
    fresh = [x for x in universe if x not in used]
    return out + fresh[:1]
