"""Guest disciplines as action generators: what a guest kind may do next (SPEC §3).

Every guest action is derived from the kind's discipline (``guest/kinds.py``, a TOML file), so a
new OS needs no code here. A *guest operation* is a short sequence of events one running vCPU
issues without the guest breaking its own rules:

- ``map VA PA``: a PTE write, then ``map_exec`` (the model has no permissions: any mapped page
  may be fetched, so every mapping is an executable one);
- ``unmap VA``: an invalid PTE, then ``pte_user`` (``pte_user_local`` when the address space was
  active on this vCPU only);
- ``relax VA`` (kinds with ``pte_relax``): the PTE rewritten with the same output and more
  permissions, then ``pte_relax``. The model has no permissions, so a TLB entry from before a
  relaxation translates to the same page and stays legal: a relaxation can only add covering
  instructions (and, under FB, broadcasts), never a violation of its own;
- ``write-code VA``: new code, then ``code_change``;
- ``switch T``: the translation-table (process) switch, then ``ttbr_switch``; preceded by the
  ``rollover`` flush the vCPU owes; it may allocate an ASID and roll the allocator over.

The address space is small: the first ``vas`` pages of ``VAS`` and the PA pages ``PAS``; a map
takes the next PA no table has mapped yet (mapping a page again only makes more outputs legal,
and fresh PAs are interchangeable, so that loses no violation).

**Processes and ASIDs** (every kind but ``percpu-tables``). A kind with ``shared_asid`` (FreeBSD
armv7) has two processes, tables ``main`` and ``as1``, both on ASID 0. Any other kind has three
live processes, ``main``, ``as1`` and ``as2``, and ``NUM_ASIDS`` ASID numbers, handed out the way
Linux's allocator does (arch/arm64/mm/context.c and arch/arm/mm/context.c ``new_context``): a
process keeps its number for the generation; one without a number takes a free one; when none is
free the allocator *rolls over*: every process running on a (brought-up) vCPU keeps its number
(Linux reserves the active ASIDs), every other — live, descheduled — process loses its number
and gets one again at its next switch, possibly one another process used before. The vCPU that
rolls over runs the kind's ``rollover`` instructions at once; every other vCPU owes them and runs
them at its next switch, unless the rollover is one broadcast (``rollover_broadcast``). A
recycled number's stale entries on a pCPU the owing vCPU is not on are the rollover hazard
(XSA-479's pattern). Which free number a process takes is left open (any of them: other,
unmodelled processes may hold the rest), as is which process rolls over.

``percpu-tables``: each vCPU translates through its own table (``main`` for vCPU 0, ``cpuN`` for
vCPU N) on ASID 0; it maps the same VAs to different pages; no switches.

A vCPU's first load includes its bring-up (``GuestModel.bring_ups``): its own table
(``percpu-tables``), or a switch into ``main``. SMP kinds get the requested number of vCPUs, UP
kinds (``smp=False``) exactly one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..arch.ops import Arch, MaintenanceOp, Operand, lookup_op
from ..guest.domain import MAIN_TABLE
from ..guest.kinds import Discipline, load_kind
from ..guest.tables import Pte, TranslationTable
from ..sim.engine import Engine
from ..sim.events import Access, AccessKind, Event, Maintain, PteWrite, SetAsid, SetTable, WriteCode

DOMAIN = "g"
SECOND = "h"
"""With ``check --vms 2``: the VM created after ``DOMAIN`` is destroyed, on ``DOMAIN``'s VMID."""
VAS: tuple[int, ...] = (1, 2, 3)
"""VA pages the guest may use (0x1000, 0x2000, 0x3000); a model uses the first ``vas``."""
DEFAULT_VAS = 1
"""One VA is enough to find every violation (docs/check.md "Why one VA"): maps take fresh PAs,
so VAs never alias, and what one VA's operations do to another VA's entries is done as well
by that VA's own operations. Tests hold it against two VAs."""
PAS: tuple[int, ...] = tuple(range(0xA, 0x12))
"""PA pages the guest maps (0xa000 ... 0x11000), each at most once."""
AS_TABLES: tuple[str, ...] = (MAIN_TABLE, "as1", "as2")
"""The processes' tables of a kind with an ASID allocator."""
GLOBAL_VA = 8
"""The kernel page (0x8000) the ``globals`` option maps global in every table."""
SHARED_ASID_TABLES: tuple[str, ...] = AS_TABLES[:2]
"""The processes' tables of a kind whose processes share one ASID."""
NUM_ASIDS = 2
"""ASID numbers the model's allocator hands out: fewer than the processes, so a rollover
recycles one; as many as the vCPUs, so a number is always free after a rollover unless every
vCPU runs a different process (Linux keeps more ASIDs than CPUs; such a rollover is left out)."""
MAPPING_PROCESSES: dict[Arch, int] = {Arch.AARCH64: 1, Arch.AARCH32: 2}
"""How many processes (``main`` first) map pages (docs/check.md "Which processes map"). For
translations and code one is enough: maps take fresh PAs, so a process that uses another's TLB
entry uses a page it never mapped whatever it maps itself, and a stale I-cache line is reached
only through its own page. An AArch32 branch prediction is looked up by ASID and VA after a
successful translation, so a prediction one process trained is used by another only if that
one maps the VA too: two. Tests hold these against every process mapping."""
INITIAL_ASIDS: tuple[int | None, ...] = (0, None, None)
"""``main`` holds ASID 0 from the start (the vCPUs enter it at bring-up); ``as1`` and ``as2``
are processes that have not run yet, interchangeable (``process_renamings``)."""


@dataclass(frozen=True, slots=True)
class GuestState:
    """The guest's own bookkeeping, beside what the engine holds.

    ``needs_flush``: vCPUs that still owe the rollover flush (run at their next switch).
    ``active``: per table, the vCPUs it has been active on since it got its ASID — Linux's
    ``mm_cpumask``, which ``pte_user_local`` kinds consult to pick a local TLBI.
    ``asids``: per table, the ASID it holds this generation (None: none; it allocates one at its
    next switch).
    """

    needs_flush: frozenset[int] = frozenset()
    active: tuple[frozenset[int], ...] = ()
    asids: tuple[int | None, ...] = ()
    domain: str = DOMAIN
    """The VM the guest runs in (``check --vms 2``: ``SECOND`` once ``DOMAIN`` is destroyed)."""

    def activate(self, t: int, v: int) -> GuestState:
        if v in self.active[t]:
            return self
        act = list(self.active)
        act[t] = act[t] | {v}
        return GuestState(self.needs_flush, tuple(act), self.asids, self.domain)


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
    tables: tuple[str, ...] = field(default=(), compare=False)
    """The processes' tables (``percpu-tables``: one per vCPU); filled in by ``__post_init__``."""
    switch_memo: dict[tuple[Any, ...], tuple[Operation, ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    """``_switches`` by what it reads (its operations are immutable: shared)."""
    operation_memo: dict[tuple[Any, ...], tuple[Operation, ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    """``operations`` by what it reads."""

    def __post_init__(self) -> None:
        if self.percpu:
            tables = tuple(own_table(v) for v in range(self.vcpus))
        else:
            tables = AS_TABLES if self.allocates else SHARED_ASID_TABLES
        object.__setattr__(self, "tables", tables)

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
    def map_exec(self) -> tuple[str, ...]:
        """What a map issues: the kind's ``map_exec`` but its by-VA I-cache instructions. The page
        is fresh, so no PE caches a line of it and IC IVAU / ICIMVAU of it changes nothing;
        the model's by-VA instruction would also translate the user VA (filling a TLB entry),
        where Linux and FreeBSD clean and invalidate the page through the kernel's own mapping
        of it (arm64 ``__sync_icache_dcache``: ``folio_address()``; FreeBSD ``PHYS_TO_DMAP``)."""
        return tuple(n for n in self.discipline.map_exec if self.ops[n].operand is not Operand.VA)

    @property
    def percpu(self) -> bool:
        return self.discipline.percpu_tables

    @property
    def allocates(self) -> bool:
        """The kind has an ASID allocator (processes hold numbers, rollovers recycle them)."""
        return not self.percpu and not self.discipline.shared_asid

    @property
    def asid_numbers(self) -> tuple[int, ...]:
        """Every ASID the guest's tables may be tagged with."""
        return tuple(range(NUM_ASIDS)) if self.allocates else (0,)

    @property
    def rollover_owed(self) -> bool:
        """Each vCPU owes its own rollover flush (the rollover is not one broadcast)."""
        return self.allocates and not self.discipline.rollover_broadcast

    def process_renamings(self) -> list[tuple[dict[str, str], dict[int, int]]]:
        """Renamings of processes and ASIDs under which the guest behaves the same (the
        identity first): ``as1`` and ``as2`` swap (``main`` is where vCPUs start), and so do
        the ASID numbers (no number is special to the allocator)."""
        if not self.allocates:
            return [({}, {})]
        swap_a = {0: 1, 1: 0}
        if self.mapping_processes == 2:  # as1 maps, as2 does not: they differ
            return [({}, {}), ({}, swap_a)]
        swap_t = {AS_TABLES[1]: AS_TABLES[2], AS_TABLES[2]: AS_TABLES[1]}
        return [({}, {}), (swap_t, {}), ({}, swap_a), (swap_t, swap_a)]

    def maps(self, table: str) -> bool:
        """Whether the process of ``table`` maps pages (``MAPPING_PROCESSES``)."""
        return self.percpu or table in self.tables[: self.mapping_processes]

    @property
    def mapping_processes(self) -> int:
        return MAPPING_PROCESSES[self.discipline.arch]

    def tables_of(self, v: int) -> tuple[str, ...]:
        """The tables vCPU ``v`` may translate through."""
        return (own_table(v),) if self.percpu else self.tables

    def initial(self, domain: str = DOMAIN) -> GuestState:
        """The guest's bookkeeping before VM ``domain`` runs."""
        n = len(self.tables)
        asids = INITIAL_ASIDS if self.allocates else (0,) * n
        return GuestState(frozenset(), tuple(frozenset() for _ in range(n)), asids, domain)

    def on_load(self, g: GuestState, v: int, table: str) -> GuestState:
        """A load of ``v`` makes its current table active on it."""
        return g.activate(self.tables.index(table), v)

    # ---- instructions -------------------------------------------------------------------------
    def _issue(
        self, dn: str, v: int, names: Iterable[str], va: int = 0, asid: int | None = None
    ) -> list[Event]:
        out: list[Event] = []
        for n in names:
            op = self.ops[n]
            if op.operand is Operand.VA:
                out.append(Maintain(dn, v, op, va=va, asid=asid))
            elif op.operand is Operand.ASID:
                out.append(Maintain(dn, v, op, asid=0 if asid is None else asid))
            else:
                out.append(Maintain(dn, v, op))
        return out

    # ---- process switches and the ASID allocator ----------------------------------------------
    def _switches(self, engine: Engine, g: GuestState, v: int, table: str) -> tuple[Operation, ...]:
        """Every way ``v`` may enter ``table`` now: with the ASID the table holds, or with each
        ASID the allocator may hand it (rolling over when none is free). They depend on the
        guest's bookkeeping and, of the engine, only on each vCPU's table and whether it was
        ever loaded, and on ``v``'s ASID: computed once for each of these."""
        vcpus = engine.domains[g.domain].vcpus
        k = (g, v, table, vcpus[v].asid, *[(o.table, o.last_pcpu is None) for o in vcpus])
        got = self.switch_memo.get(k)
        if got is None:
            got = self.switch_memo[k] = tuple(self._switches_now(engine, g, v, table))
        return got

    def _switches_now(
        self, engine: Engine, g: GuestState, v: int, table: str
    ) -> Iterator[Operation]:
        dom = engine.domains[g.domain]
        vc = dom.vcpus[v]
        ti = self.tables.index(table)
        held = g.asids[ti]
        if held is not None:
            yield self._enter(v, (vc.table, vc.asid), table, held, g, rolled=False)
            return
        taken = {a for a in g.asids if a is not None}
        free = [a for a in self.asid_numbers if a not in taken]
        if free:
            for a in free:
                yield self._enter(v, (vc.table, vc.asid), table, a, g, rolled=False)
            return
        # Rollover: a table in use on a brought-up vCPU keeps its ASID (Linux reserves every
        # CPU's active ASID, this CPU's outgoing one included); every other table loses its own.
        running = {o.table for o in dom.vcpus if o.last_pcpu is not None and o.index != v}
        if vc.last_pcpu is not None:
            running.add(vc.table)
        kept = tuple(a if t in running else None for t, a in zip(self.tables, g.asids, strict=True))
        reserved = {a for a in kept if a is not None}
        d = self.discipline
        owed = frozenset() if d.rollover_broadcast else frozenset(range(self.vcpus)) - {v}
        for a in self.asid_numbers:
            if a in reserved:
                continue
            act = tuple(
                frozenset() if kept[i] is None else g.active[i] for i in range(len(self.tables))
            )
            g2 = GuestState((g.needs_flush - {v}) | owed, act, kept, g.domain)
            yield self._enter(v, (vc.table, vc.asid), table, a, g2, rolled=True)

    def _enter(
        self,
        v: int,
        now: tuple[str, int],
        table: str,
        asid: int,
        g: GuestState,
        *,
        rolled: bool,
    ) -> Operation:
        """``v`` switches to ``table`` tagged ``asid``: the rollover flush first if it rolls over
        or owes one, then the table and ASID, then ``ttbr_switch``."""
        d = self.discipline
        dn = g.domain
        evs: list[Event] = []
        if rolled or v in g.needs_flush:
            evs += self._issue(dn, v, d.rollover)
        if table != now[0]:
            evs.append(SetTable(dn, v, table))
        if asid != now[1]:
            evs.append(SetAsid(dn, v, asid))
        evs += self._issue(dn, v, d.ttbr_switch, asid=asid)
        ti = self.tables.index(table)
        asids = list(g.asids)
        fresh = asids[ti] != asid
        asids[ti] = asid
        act = list(g.active)
        if fresh:
            act[ti] = frozenset()
        g2 = GuestState(g.needs_flush - {v}, tuple(act), tuple(asids), dn).activate(ti, v)
        label = f"v{v} switch {table}"
        if self.allocates and (rolled or fresh):
            label += f", {'rollover, ' if rolled else ''}ASID {asid}"
        return Operation(label, tuple(evs), g2)

    def bring_ups(
        self, engine: Engine, g: GuestState, v: int
    ) -> list[tuple[list[Event], GuestState]]:
        """What a vCPU runs when it is loaded for the first time, before any user access: a
        per-CPU-tables guest installs its own table; otherwise the vCPU enters ``main`` the way
        a CPU's first context switch does (the rollover flush it owes, an ASID if ``main`` has
        none, ``ttbr_switch`` — FreeBSD's ``cpu_throw`` runs ``cpu_context_switch``)."""
        if self.percpu:
            table = own_table(v)
            evs: list[Event] = [SetTable(g.domain, v, table)] if table != MAIN_TABLE else []
            return [(evs, self.on_load(g, v, table))]
        return [(list(op.events), op.state) for op in self._switches(engine, g, v, MAIN_TABLE)]

    # ---- the operations -----------------------------------------------------------------------
    def operations(
        self,
        engine: Engine,
        g: GuestState,
        v: int,
        mapped: tuple[set[int], int | None] | None = None,
    ) -> list[Operation]:
        """Every operation running vCPU ``v`` may start now, in a fixed order. They depend on
        the guest's bookkeeping, ``v``'s table and ASID, what that table maps, the VAs and the
        PAs ever mapped, and each vCPU's table and whether it was ever loaded (``_switches``):
        computed once for each of these. ``mapped``: ``ever_mapped`` and the ``fresh_pa`` of
        ``every_table`` of this state, if the caller has them."""
        dn = g.domain
        vcpus = engine.domains[dn].vcpus
        vc = vcpus[v]
        used_vas, pa = mapped or (ever_mapped(engine), fresh_pa(every_table(engine)))
        k = (
            g,
            v,
            vc.table,
            vc.asid,
            tuple(engine.domains[dn].table(vc.table).current.items()),
            tuple(sorted(used_vas)),
            pa,
            *[(o.table, o.last_pcpu is None) for o in vcpus],
        )
        got = self.operation_memo.get(k)
        if got is None:
            got = self.operation_memo[k] = tuple(self._operations_now(engine, g, v, used_vas, pa))
        return list(got)

    def _operations_now(
        self, engine: Engine, g: GuestState, v: int, used_vas: set[int], pa: int | None
    ) -> list[Operation]:
        d = self.discipline
        dn = g.domain
        vc = engine.vcpu(dn, v)
        cur = vc.table
        dom = engine.domains[dn]
        ops: list[Operation] = []
        mapped = dom.table(cur).current
        # A fetch translates exactly as a load does, then also uses the I-cache (and the
        # AArch32 predictor): every violation a load would expose, the fetch exposes at the
        # same step, so loads add no behaviour. An access to a never-mapped VA only faults.
        for va in sorted(used_vas):
            ops.append(
                Operation(f"v{v} fetch {_addr(va)}", (Access(dn, v, va, AccessKind.FETCH),), g)
            )
        for va in self.vas:
            if va in mapped:
                evs = [WriteCode(dn, v, va), *self._issue(dn, v, d.code_change, va=va)]
                ops.append(Operation(f"v{v} write-code {_addr(va)}", tuple(evs), g))
        # A map uses a fresh PA: mapping a page again only makes more outputs legal (SPEC §5)
        if pa is not None and self.maps(cur):
            for va in _used_plus_fresh(self.vas, used_vas):
                if va not in mapped:
                    evs = [PteWrite(dn, v, va, Pte(pa, False))]
                    evs += self._issue(dn, v, self.map_exec, va=va)
                    ops.append(Operation(f"v{v} map {_addr(va)} {_addr(pa)}", tuple(evs), g))
        ti = self.tables.index(cur)
        for va in self.vas:
            if va not in mapped:
                continue
            local = d.pte_user_local is not None and g.active[ti] <= {v}
            names = d.pte_user_local if local and d.pte_user_local else d.pte_user
            evs = [PteWrite(dn, v, va, None), *self._issue(dn, v, names, va=va)]
            ops.append(Operation(f"v{v} unmap {_addr(va)}", tuple(evs), g))
            if d.pte_relax is not None:
                evs = [PteWrite(dn, v, va, mapped[va]), *self._issue(dn, v, d.pte_relax, va=va)]
                ops.append(Operation(f"v{v} relax {_addr(va)}", tuple(evs), g))
        if not self.percpu:
            for table in self.tables:
                if table != cur:
                    ops.extend(self._switches(engine, g, v, table))
        return ops

    # ---- optional dimensions (checker options; kept apart from the discipline's operations) ----
    def extra_operations(self, engine: Engine, g: GuestState, v: int) -> list[Operation]:
        """The operations the checker's options add for running vCPU ``v``."""
        out: list[Operation] = []
        if self.globals:
            out += self.global_operations(engine, g, v)
        if self.asid_flush and self.allocates:
            out += self.asid_flushes(engine, g, v)
        return out

    def global_operations(self, engine: Engine, g: GuestState, v: int) -> list[Operation]:
        """The kernel maps its page ``GLOBAL_VA`` global (nG=0) to a fresh PA in every table, as
        kernels keep their global mappings the same in every address space; or unmaps it from
        every table and invalidates it by VA with the kind's PTE instructions (TLBI VAE1 and
        its kin remove the VA's global entry whatever the ASID, Arm ARM D8.13)."""
        dn = g.domain
        dom = engine.domains[dn]
        names = self.tables
        mapped = [n for n in names if GLOBAL_VA in dom.table(n).current]
        if mapped:
            evs: list[Event] = [PteWrite(dn, v, GLOBAL_VA, None, table=n) for n in mapped]
            evs += self._issue(dn, v, self.discipline.pte_user, va=GLOBAL_VA)
            return [Operation(f"v{v} unmap-global {_addr(GLOBAL_VA)}", tuple(evs), g)]
        pa = fresh_pa(every_table(engine))
        if pa is None:
            return []
        evs = [PteWrite(dn, v, GLOBAL_VA, Pte(pa, True), table=n) for n in names]
        return [Operation(f"v{v} map-global {_addr(GLOBAL_VA)} {_addr(pa)}", tuple(evs), g)]

    def asid_flushes(self, engine: Engine, g: GuestState, v: int) -> list[Operation]:
        """The process on ``v`` exits as ``v`` switches away: its mappings go and the kind's
        ``asid_flush`` invalidates its ASID (arm64 Linux ``tlb_flush()`` with ``fullmm``
        issues ``flush_tlb_mm``, ASIDE1IS, when the page tables are freed); its table and ASID
        then serve a new process, not yet active anywhere. Allowed when no other brought-up
        vCPU is using that table."""
        d = self.discipline
        dn = g.domain
        dom = engine.domains[dn]
        vc = dom.vcpus[v]
        cur = vc.table
        if not d.asid_flush or any(
            o.table == cur for o in dom.vcpus if o.index != v and o.last_pcpu is not None
        ):
            return []
        evs: list[Event] = [
            PteWrite(dn, v, va, None)
            for va in sorted(dom.table(cur).current)
            if va != GLOBAL_VA  # the kernel's global page outlives the process
        ]
        evs += self._issue(dn, v, d.asid_flush, asid=vc.asid)
        act = list(g.active)
        act[self.tables.index(cur)] = frozenset()
        g2 = GuestState(g.needs_flush, tuple(act), g.asids, dn)
        out: list[Operation] = []
        for table in self.tables:
            if table == cur:
                continue
            for op in self._switches(engine, g2, v, table):
                label = f"v{v} exit+asid-flush, {op.label.removeprefix(f'v{v} ')}"
                out.append(Operation(label, (*evs, *op.events), op.state))
        return out


def _addr(page: int) -> str:
    """A page number as the litmus address of its first byte."""
    return f"{page * 4096:#x}"


def own_table(v: int) -> str:
    """A per-CPU-tables vCPU's own table: ``main`` for vCPU 0, ``cpuN`` for vCPU N."""
    return MAIN_TABLE if v == 0 else f"cpu{v}"


def every_table(engine: Engine) -> Iterator[TranslationTable]:
    """Every table of every VM, destroyed ones included: a new VM maps PAs no VM mapped before
    (its pages are not the dead VM's), so a dead VM's stale entry is never its own mapping."""
    for d in engine.domains.values():
        yield from d.tables.values()


def ever_mapped(engine: Engine) -> set[int]:
    """The VAs some table of some VM ever mapped: a VM that reuses a dead VM's VMID may use a
    VA only the dead VM mapped (a fault on bare metal; a stale hit where the TLB kept it)."""
    return {va for t in every_table(engine) for va in t.history}


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
