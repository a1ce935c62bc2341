"""What a search computes once for its canonical keys (``key.py``), and the memos that let a
state reuse the facts it shares with the states met before it.

A vCPU's legality facts (which outputs the oracle still accepts per table, tag and VA, and which
trainings a prediction may have had) are a function of few inputs: the marks of its covering
records (per tag and VA, the step of the last covering instruction, from ``Coverage``, never
changed once shared: the oracle copies one before it records into it), its table intervals,
the tables' and the code's write histories (``History``, never changed once made) and the PAs
still live. Most successors of a state change none of them for most vCPUs, so each block is
computed once per distinct input and looked up after that. Records are keyed by their tokens
(``Coverage.tlb_key``, ``bp_key``), which the memos keep alive, so a token is never reused
while its entry exists; marks and histories are numbered by value (equal numbers iff equal
values, within one search).

A key holds a vCPU's block whole, one object per distinct block (``blocks.Blocks``), so
comparing two keys passes equal blocks by identity, and a renaming renames each distinct block
once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..arch.tlb import GLOBAL
from ..guest.domain import Vcpu
from ..guest.tables import CodeMemory, History, Pte, TranslationTable, Windows
from ..sim.engine import Engine
from .actions import GuestModel, own_table
from .blocks import Block, Blocks, Fact, Renamer
from .coverage import Coverage, tlb_steps

Inputs = tuple[Any, ...]
"""What a vCPU's blocks read, and the blocks (``KeyPlan.vcpu_blocks``)."""


class KeyPlan:
    """The guest model's tables, ASIDs and flags, and memos of the history questions the facts
    ask (histories never change once made, so an answer holds for as long as the search runs)."""

    def __init__(self, model: GuestModel) -> None:
        self.model = model
        self.tables = model.tables
        self.table_set = frozenset(model.tables)
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
        self._legal: dict[tuple[Any, ...], Block] = {}
        self._windows: dict[tuple[Any, ...], Windows] = {}
        self._steps: dict[tuple[object, object], dict[tuple[int, int], int]] = {}
        self._kept: dict[tuple[frozenset[int], tuple[int, ...]], tuple[int, ...]] = {}
        self._trainings: dict[tuple[Any, ...], Block] = {}
        self._bp_marks: dict[tuple[object, object], tuple[int, ...]] = {}
        self._marks: dict[tuple[Any, ...], tuple[tuple[tuple[int, int, int], ...], int]] = {}
        self._mark_numbers: dict[tuple[tuple[int, int, int], ...], int] = {}
        self._renamers: tuple[object, object, list[Renamer]] = (None, None, [])
        self._histories: dict[tuple[History | None, ...], int] = {}
        """Numbers of the PTE histories read (``histories``); the memo keeps them alive, so
        numbers are never reused."""
        self._positions = [[self.tables.index(n) for n in names] for names in self.tables_of]
        """Per vCPU, the positions in ``tables`` of the tables it may use."""
        self._names: dict[tuple[Any, ...], int] = {}
        self.legal_blocks = Blocks(tagged=True)
        self.trained_blocks = Blocks(tagged=False)
        self._codes: dict[tuple[Any, ...], int] = {}
        self._first_for: list[Renamer] | None = None
        self._first: dict[Block, tuple[Block, list[Renamer]]] = {}

    def renamers(
        self, vperms: Sequence[Sequence[int]], pperms: Sequence[Sequence[int]]
    ) -> list[Renamer]:
        """Every renaming but the identity (the first permutation of each list), as ``key._rename``
        takes it: vCPU and pCPU maps with index -1 (none) last, then the table and ASID maps
        (per-CPU tables follow their vCPU; shared ones swap as ``process_renamings`` says)."""
        if self._renamers[0] is vperms and self._renamers[1] is pperms:
            return self._renamers[2]
        out: list[Renamer] = []
        for vi, vp in enumerate(vperms):
            names: list[tuple[dict[str, str], dict[int, int]]]
            if self.percpu:
                names = [({own_table(i): own_table(vp[i]) for i in range(len(vp))}, {})]
            else:
                names = self.renamings
            for ri, (tables, asids) in enumerate(names):
                for pi, pp in enumerate(pperms):
                    if vi == 0 and pi == 0 and ri == 0:
                        continue
                    names_key = (tuple(sorted(tables.items())), tuple(sorted(asids.items())))
                    number = self._names.setdefault(names_key, len(self._names))
                    out.append(([*vp, -1], [*pp, -1], tables, asids, number))
        self._renamers = (vperms, pperms, out)
        return out

    def least_vcpus(
        self,
        first: Block,
        renamers: list[Renamer],
        rename: Callable[[list[Fact], Renamer], Block],
    ) -> tuple[Block, list[Renamer]]:
        """The least of the renamings of a key's first component (the vCPUs' facts, ``first``
        under the identity, which is among them) and the ``renamers`` that make it (none if
        only the identity does): computed once per distinct ``first`` (a search meets few)."""
        if self._first_for is not renamers:
            self._first_for, self._first = renamers, {}
        got = self._first.get(first)
        if got is None:
            low = first
            tied: list[Renamer] = []
            facts = list(first)
            for r in renamers:
                c = rename(facts, r)
                if c < low:
                    low = c
                    tied = [r]
                elif c == low:
                    tied.append(r)
            got = self._first[first] = (low, tied)
        return got

    def vcpu_blocks(
        self,
        engine: Engine,
        vcpus: list[Vcpu],
        local: dict[str, Coverage],
        shared: Coverage,
        tables: dict[str, TranslationTable],
        code: CodeMemory,
        global_vas: tuple[int, ...],
        live_pas: tuple[int, ...],
        trains: bool,
    ) -> tuple[list[Fact], list[Fact]]:
        """Each vCPU's legality block (``legal``) and, if ``trains``, training block
        (``trained``), as ``(vCPU index, block)`` facts. A vCPU's block is its parent state's
        (``Engine.key_blocks``, copied with the state) when every input it reads is the
        parent's: for legality, the TLB marks of its covering records (``Coverage.tlb_key``),
        its spans, table and ``current_since``, the global VAs, the live PAs and the PTE
        histories of the VAs read; for training, the predictor marks (``Coverage.bp_key``),
        those PTE histories and the code history. Else it comes from the memos. The blocks
        found are kept on ``engine``."""
        vas = (*self.vas, *global_vas)
        hs = tuple(
            [
                None if (t := tables.get(n)) is None else t.history.get(va)
                for n in self.tables
                for va in vas
            ]
        )
        chist = tuple(code.history.items()) if trains else ()
        prev = engine.key_blocks
        before: list[tuple[Inputs, Inputs | None]] = (
            prev[1] if prev is not None and prev[0] is self else []
        )
        hists: list[int] | None = None
        code_key = -1
        f_L: list[Fact] = []
        f_B: list[Fact] = []
        now: list[tuple[Inputs, Inputs | None]] = []
        stlb, sbp = shared.tlb_key, shared.bp_key
        for vc in vcpus:
            loc = local[vc.name]
            vi = vc.index
            pair = before[vi] if vi < len(before) else (None, None)
            old_l, old_b = pair
            if not (
                old_l is not None
                and old_l[0] is loc.tlb_key
                and old_l[1] is stlb
                and old_l[2] is vc.spans
                and old_l[3] == vc.table
                and old_l[4] == vc.current_since
                and old_l[5] == global_vas
                and old_l[6] == live_pas
                and old_l[7] == hs
            ):
                if hists is None:
                    hists = self.histories(hs, len(vas))
                legal = self.legal(vc, loc, shared, tables, hists[vi], global_vas, live_pas)
                old_l = (
                    loc.tlb_key, stlb, vc.spans, vc.table, vc.current_since, global_vas, live_pas,
                    hs, legal,
                )  # fmt: skip
            f_L.append((vi, old_l[8]))
            if trains and not (
                old_b is not None
                and old_b[0] is loc.bp_key
                and old_b[1] is sbp
                and old_b[2] == hs
                and old_b[3] == chist
            ):
                if hists is None:
                    hists = self.histories(hs, len(vas))
                if code_key < 0:
                    code_key = self.code_key(code)
                trained = self.trained(vc, loc, shared, tables, hists[vi], code, code_key)
                old_b = (loc.bp_key, sbp, hs, chist, trained)
            if trains:
                assert old_b is not None
                f_B.append((vi, old_b[4]))
            now.append(pair if pair[0] is old_l and pair[1] is old_b else (old_l, old_b))
        engine.key_blocks = (self, now)
        return f_L, f_B

    def pas_during(self, h: History | None, windows: Windows) -> frozenset[int]:
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
        self, h: History | None, code: CodeMemory, start: int, code_key: int
    ) -> tuple[tuple[int, int], ...]:
        """The (PA, code age) pairs a table's PTE history ``h`` for one VA held at some instant
        at or after ``start``: a prediction trained on one of them is legal (oracle.prediction).
        ``code_key``: ``code_key(code)``."""
        k = (h, start, code_key)
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

    def histories(self, hs: tuple[History | None, ...], width: int) -> list[int]:
        """Per vCPU index, a number for the PTE histories its facts read (``hs``: each table's
        history of each VA read, table by table, ``width`` VAs each; equal numbers iff the
        same histories), as a memo key: of the tables it may use, the VAs its facts read."""
        numbers = self._histories
        if not self.percpu:  # every vCPU may use every process table
            n = numbers.get(hs)
            if n is None:
                n = numbers[hs] = len(numbers)
            return [n] * len(self.tables_of)
        out = []
        for positions in self._positions:
            read = tuple([h for i in positions for h in hs[i * width : (i + 1) * width]])
            n = numbers.get(read)
            if n is None:
                n = numbers[read] = len(numbers)
            out.append(n)
        return out

    def code_key(self, code: CodeMemory) -> int:
        """A number for the code's write history (equal numbers iff equal histories)."""
        k = tuple(code.history.items())
        n = self._codes.get(k)
        if n is None:
            n = self._codes[k] = len(self._codes)
        return n

    def marks(
        self, loc: Coverage, shared: Coverage, global_vas: tuple[int, ...]
    ) -> tuple[tuple[tuple[int, int, int], ...], int]:
        """Per tag and VA, the step of the last instruction in ``loc`` or ``shared`` that
        covers it (``Coverage.tlb``), and a number for them (equal iff equal marks)."""
        k = (loc.tlb_key, shared.tlb_key, global_vas)  # kept alive by the memo: never reused
        got = self._marks.get(k)
        if got is not None:
            return got
        steps = self.tlb_steps(loc, shared)
        marks = [(tag, va, steps[(tag, va)]) for tag in self.asid_numbers for va in self.vas]
        if global_vas:
            at = tlb_steps(loc, shared, (GLOBAL,), global_vas)
            marks += [(GLOBAL, va, at[(GLOBAL, va)]) for va in global_vas]
        found = tuple(marks)
        n = self._mark_numbers.setdefault(found, len(self._mark_numbers))
        got = self._marks[k] = (found, n)
        return got

    def tlb_steps(self, loc: Coverage, shared: Coverage) -> dict[tuple[int, int], int]:
        """``coverage.tlb_steps`` of every ASID and VA of the model (no global entry)."""
        k = (loc.tlb_key, shared.tlb_key)  # kept alive by the memo: never reused
        got = self._steps.get(k)
        if got is None:
            got = self._steps[k] = tlb_steps(loc, shared, self.asid_numbers, self.vas)
        return got

    def legal(
        self,
        vc: Vcpu,
        loc: Coverage,
        shared: Coverage,
        tables: dict[str, TranslationTable],
        hists: int,
        global_vas: tuple[int, ...],
        live_pas: tuple[int, ...],
    ) -> Block:
        """Per table, tag and VA, the live PAs the oracle still accepts for ``vc`` (covering
        records ``loc`` and ``shared``; ``hists`` from ``histories``): mapped at an instant at
        or after the last covering instruction at which the table was ``vc``'s current one."""
        # the answer reads the covering records only through their marks: keyed by those, a
        # maintenance that changes no mark (an I-cache one, another VA's) finds it again
        marks, marks_number = self.marks(loc, shared, global_vas)
        k = (vc.index, marks_number, vc.spans, vc.table, vc.current_since, hists, live_pas)
        got = self._legal.get(k)
        if got is not None:
            return got
        out: list[Fact] = []
        during = self._during
        kept = self._kept
        vi = vc.index
        spans = (vc.spans, vc.table, vc.current_since)
        all_windows = self._windows
        for name in self.tables_of[vi]:
            t = tables.get(name)
            hist = t.history if t is not None else {}
            windows: dict[int, Windows] = {}
            for tag, va, since in marks:
                h = hist.get(va)
                if h is None:  # never mapped: no output is legal
                    out.append((name, tag, va, ()))
                    continue
                w = windows.get(since)
                if w is None:
                    w = all_windows.get((spans, name, since))
                    if w is None:
                        w = all_windows[(spans, name, since)] = vc.windows(name, since)
                    windows[since] = w
                ok = during.get((h, w))
                if ok is None:
                    ok = self.pas_during(h, w)
                # the live PAs among them, in order (memoised: few distinct sets meet)
                pas = kept.get((ok, live_pas))
                if pas is None:
                    pas = kept[(ok, live_pas)] = tuple([pa for pa in live_pas if pa in ok])
                out.append((name, tag, va, pas))
        block = self._legal[k] = self.legal_blocks.one(tuple(sorted(out)))
        return block

    def trained(
        self,
        vc: Vcpu,
        loc: Coverage,
        shared: Coverage,
        tables: dict[str, TranslationTable],
        hists: int,
        code: CodeMemory,
        code_key: int,
    ) -> Block:
        """Per table and VA, the (PA, code age) pairs a prediction ``vc`` uses may have been
        trained on (``trained_on``; none for a VA the table never mapped). ``hists`` from
        ``histories``, ``code_key`` from ``code_key``."""
        starts = self.bp_marks(loc, shared)
        k = (vc.index, starts, hists, code_key)
        got = self._trainings.get(k)
        if got is not None:
            return got
        out: list[Fact] = []
        for name in self.tables_of[vc.index]:
            t = tables.get(name)
            hist = t.history if t is not None else {}
            for va, start in zip(self.vas, starts, strict=True):
                h = hist.get(va)
                if h is None:  # never mapped: no prediction is legal
                    out.append((name, va, ()))
                    continue
                out.append((name, va, self.trained_on(h, code, start, code_key)))
        block = self._trainings[k] = self.trained_blocks.one(tuple(sorted(out)))
        return block

    def bp_marks(self, loc: Coverage, shared: Coverage) -> tuple[int, ...]:
        """Per VA of the model, the step of the last instruction in ``loc`` or ``shared`` that
        covers its predictions (``Coverage.bp``)."""
        k = (loc.bp_key, shared.bp_key)  # kept alive by the memo: never reused
        got = self._bp_marks.get(k)
        if got is None:
            got = self._bp_marks[k] = tuple([max(loc.bp(va), shared.bp(va))[0] for va in self.vas])
        return got
