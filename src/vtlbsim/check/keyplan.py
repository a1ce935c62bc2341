"""What a search computes once for its canonical keys (``key.py``), and the memos that let a
state reuse the facts it shares with the states met before it.

A vCPU's legality facts (which outputs the oracle still accepts per table, tag and VA, and which
trainings a prediction may have had) are a function of few inputs: the vCPU's covering records
(``Coverage``, never changed once shared: the oracle copies one before it records into it),
its table intervals, the tables' and the code's write histories (``History``, never changed
once made) and the PAs still live. Most successors of a state change none of them for most
vCPUs, so each block is computed once per distinct input and looked up after that. The memos
key records and histories by identity and keep them alive, so an identity is never reused
while its entry exists.
"""

from __future__ import annotations

from typing import Any

from ..arch.tlb import GLOBAL
from ..guest.domain import Vcpu
from ..guest.tables import CodeMemory, History, Pte, TranslationTable
from .actions import GuestModel
from .coverage import Coverage

Fact = tuple[Any, ...]


class KeyPlan:
    """The guest model's tables, ASIDs and flags, and memos of the history questions the facts
    ask (histories never change once made, so an answer holds for as long as the search runs)."""

    def __init__(self, model: GuestModel) -> None:
        self.model = model
        self.tables = model.tables
        self.tables_of = [model.tables_of(v) for v in range(model.vcpus)]
        self.asid_numbers = model.asid_numbers
        self.renamings = model.process_renamings()
        self.rollover_owed = model.rollover_owed
        self.percpu = model.percpu
        self.local_pte = model.discipline.pte_user_local is not None
        self.aarch32 = model.discipline.arch == "aarch32"
        self.vas = model.vas
        self._during: dict[tuple[Any, ...], frozenset[int]] = {}
        self._trained: dict[tuple[Any, ...], tuple[tuple[int, int], ...]] = {}
        self._legal: dict[tuple[Any, ...], tuple[tuple[Fact, ...], Coverage, Coverage]] = {}
        self._trainings: dict[tuple[Any, ...], tuple[tuple[Fact, ...], Coverage, Coverage]] = {}
        self._marks: dict[
            tuple[Any, ...], tuple[tuple[tuple[int, int, int], ...], Coverage, Coverage]
        ] = {}

    def pas_during(
        self, h: History | None, windows: tuple[tuple[int, int | None], ...]
    ) -> frozenset[int]:
        """The PAs a PTE history held at some instant of ``windows`` (``Vcpu.windows``)."""
        if h is None or not windows:
            return frozenset()
        k = (h, windows)
        got = self._during.get(k)
        if got is None:
            got = self._during[k] = frozenset(
                v.pa for lo, hi in windows for v in h.during(lo, hi) if isinstance(v, Pte)
            )
        return got

    def trained_on(
        self, h: History | None, code: CodeMemory, start: int
    ) -> tuple[tuple[int, int], ...]:
        """The (PA, code age) pairs a table's PTE history ``h`` for one VA held at some instant
        at or after ``start``: a prediction trained on one of them is legal (oracle.prediction)."""
        k = (h, start, *code.history.items())
        got = self._trained.get(k)
        if got is not None:
            return got
        instants = {start}
        if h is not None:
            instants.update(h.changes_after(start))
        for ch in code.history.values():
            instants.update(ch.changes_after(start))
        out = set()
        for t in instants:
            pte = h.at(t) if h is not None else None
            if isinstance(pte, Pte):
                out.add((pte.pa, code.version(pte.pa) - code.version_at(pte.pa, t)))
        got = self._trained[k] = tuple(sorted(out))
        return got

    def histories(self, tables: dict[str, TranslationTable]) -> dict[int, tuple[Any, ...]]:
        """Per vCPU index, every PTE history of the tables it may use (what its facts read of
        them, as a memo key)."""
        by_table = {name: tuple(t.history.items()) for name, t in tables.items()}
        if not self.percpu:  # every vCPU may use every process table
            same = tuple(by_table.get(name) for name in self.tables)
            return dict.fromkeys(range(len(self.tables_of)), same)
        return {
            v: tuple(by_table.get(name) for name in names) for v, names in enumerate(self.tables_of)
        }

    def marks(
        self, loc: Coverage, shared: Coverage, global_vas: tuple[int, ...]
    ) -> tuple[tuple[int, int, int], ...]:
        """Per tag and VA, the step of the last instruction in ``loc`` or ``shared`` that
        covers it (``Coverage.tlb``)."""
        k = (id(loc), id(shared), global_vas)
        got = self._marks.get(k)
        if got is not None:
            return got[0]
        marks = [
            (tag, va, max(loc.tlb(tag, va), shared.tlb(tag, va))[0])
            for tag in self.asid_numbers
            for va in self.vas
        ]
        marks += [
            (GLOBAL, va, max(loc.tlb(GLOBAL, va), shared.tlb(GLOBAL, va))[0]) for va in global_vas
        ]
        self._marks[k] = (tuple(marks), loc, shared)
        return self._marks[k][0]

    def legal(
        self,
        vc: Vcpu,
        loc: Coverage,
        shared: Coverage,
        tables: dict[str, TranslationTable],
        hists: tuple[Any, ...],
        global_vas: tuple[int, ...],
        live_pas: tuple[int, ...],
    ) -> tuple[Fact, ...]:
        """Per table, tag and VA, the live PAs the oracle still accepts for ``vc`` (covering
        records ``loc`` and ``shared``; ``hists`` from ``histories``): mapped at an instant at or after the last covering
        instruction at which the table was ``vc``'s current one."""
        k = (
            vc.index,
            id(loc),
            id(shared),
            vc.spans,
            vc.table,
            vc.current_since,
            hists,
            global_vas,
            live_pas,
        )
        got = self._legal.get(k)
        if got is not None:
            return got[0]
        marks = self.marks(loc, shared, global_vas)
        out: list[Fact] = []
        for name in self.tables_of[vc.index]:
            t = tables.get(name)
            hist = t.history if t is not None else {}
            windows: dict[int, tuple[tuple[int, int | None], ...]] = {}
            for tag, va, since in marks:
                w = windows.get(since)
                if w is None:
                    w = windows[since] = vc.windows(name, since)
                ok = self.pas_during(hist.get(va), w)
                out.append((vc.index, name, tag, va, tuple(pa for pa in live_pas if pa in ok)))
        facts = tuple(out)
        self._legal[k] = (facts, loc, shared)
        return facts

    def trained(
        self,
        vc: Vcpu,
        loc: Coverage,
        shared: Coverage,
        tables: dict[str, TranslationTable],
        hists: tuple[Any, ...],
        code: CodeMemory,
    ) -> tuple[Fact, ...]:
        """Per table and VA, the (PA, code age) pairs a prediction ``vc`` uses may have been
        trained on (``trained_on``; none for a VA the table never mapped)."""
        k = (
            vc.index,
            id(loc),
            id(shared),
            hists,
            *code.history.items(),
        )
        got = self._trainings.get(k)
        if got is not None:
            return got[0]
        out: list[Fact] = []
        for name in self.tables_of[vc.index]:
            t = tables.get(name)
            hist = t.history if t is not None else {}
            for va in self.vas:
                h = hist.get(va)
                if h is None:  # never mapped: no prediction is legal
                    out.append((vc.index, name, va, ()))
                    continue
                start = max(loc.bp(va), shared.bp(va))[0]
                out.append((vc.index, name, va, self.trained_on(h, code, start)))
        facts = tuple(out)
        self._trainings[k] = (facts, loc, shared)
        return facts
