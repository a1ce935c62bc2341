"""Two of the key's facts held to their rule, computed from scratch: the predictor-training
facts, and the legality facts where ``test_key_memos.py``'s walks do not reach (global entries
under ``--globals``, a local TLBI by VA on another pCPU than the one holding the entry).

For an AArch32 guest (whose branch predictions the oracle judges), the key holds, per vCPU,
table it may use and VA, the (PA, code age) pairs a prediction that vCPU uses there may have
been trained on (``check/key.py``'s module docstring): SPEC §5 and ``Oracle.prediction`` accept
a prediction when the vCPU's current table mapped the VA to the prediction's PA at some instant
at or after the last instruction covering the vCPU's predictions of that VA, with the code at
that PA then as many versions behind today's as the prediction is; none for a VA the table
never mapped. The key computes these through memos keyed by the covering records' identity,
the tables' and the code's histories (``keyplan.py``); here they are computed with no memo,
instant by instant from the covering instruction to now, in every state of random walks, with
the explorer's memos warm (it keys every state first), so a memo that answers for the wrong
input or a pair computed from the wrong instant shows.

The legality facts with global entries follow ``_legal_by_rule`` with the ``GLOBAL`` tag added
for every VA a global entry holds or a table maps global (a global entry matches every ASID,
Arm ARM D8.13, so its covering instructions are those by VA for every ASID, by VA for all
ASIDs, and the whole-TLB ones: ``Coverage.tlb``). Written from the survivors of the
mutation run of ``keyplan.py`` (docs/testing.md, "check/key.py and keyplan.py")."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from test_key_facts import _state
from test_key_memos import _legal_by_rule
from walks import random_states

from vtlbsim import datafiles
from vtlbsim.arch.tlb import GLOBAL
from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer
from vtlbsim.check.key import raw_facts
from vtlbsim.check.oracle import Oracle
from vtlbsim.guest.tables import Pte
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.engine import Engine

WEAK_BP = "weak-bp"
"""A kind file written here (``_weak_bp_kind``): linux-arm32-smp with no I-cache maintenance
at a map and a *local* BPIMVA after a code write. Every shipped AArch32 kind follows each map
and each code write with an instruction that covers every vCPU's predictions (ICIALLU(IS),
BPIALL(IS)), so no mapping is made and no code written after any vCPU's last covering
instruction, and each (PA, age) pair has age 0; this one lets both happen."""

PAIRS = [
    # (kind, policy, VA pages)
    ("linux-arm32-smp", "hafnium", 1),  # ASIDs recycled: the rollover's local BPIALL
    ("linux-arm32-smp", "none", 2),  # two VAs: one may be mapped while the other never was
    ("freebsd-armv7-smp", "xen", 1),  # every table on ASID 0; a BPIALL at each table switch
    ("linux-arm32-up", "none", 1),  # one vCPU migrating: local IC IALLU and BPIALL
    ("freebsd-armv7-up", "fb", 1),
    (WEAK_BP, "none", 1),
    (WEAK_BP, "fb", 2),
]


def _weak_bp_kind(folder: Path, code_change: str = '"icimvau", "bpimva"') -> str:
    """The ``WEAK_BP`` kind file, from linux-arm32-smp's with two lines replaced (the code
    change's instructions given as TOML list items)."""
    text = (datafiles.package_dir(datafiles.GUESTS) / "linux-arm32-smp.toml").read_text()
    out = []
    for line in text.splitlines():
        if line.startswith("name = "):
            line = 'name = "weak-bp"'
        elif line.startswith("code_change = "):
            line = f'code_change = {{ value = [{code_change}], source = "none: a test kind" }}'
        elif line.startswith("map_exec = "):
            line = 'map_exec = { value = [], source = "none: a test kind" }'
        out.append(line)
    path = folder / "weak-bp.toml"
    path.write_text("\n".join(out) + "\n")
    return str(path)


def _trained_by_rule(ex: Explorer, engine: Engine, oracle: Oracle, domain: str) -> list[tuple]:
    """Per vCPU, table it may use and VA: the (PA, age) pairs, age = the PA's code version now
    minus its version then, at every instant from the last instruction covering the vCPU's
    predictions of the VA (local or IS) to now at which the table mapped the VA to that PA.
    (Tables and VAs as the guest model has them, not the key's copy in ``ex.plan``.)"""
    model = ex.model
    dom = engine.domains[domain]
    code = dom.code
    shared = oracle.shared[domain]
    out = []
    for vc in dom.vcpus:
        loc = oracle.local[vc.name]
        for name in model.tables_of(vc.index):
            t = dom.tables.get(name)
            for va in model.vas:
                start = max(loc.bp(va), shared.bp(va))[0]
                h = t.history.get(va) if t is not None else None
                pairs = set()
                for instant in range(start, engine.step + 1):
                    pte = h.at(instant) if h is not None else None
                    if isinstance(pte, Pte):
                        age = code.version(pte.pa) - code.version_at(pte.pa, instant)
                        pairs.add((pte.pa, age))
                out.append((vc.index, name, va, tuple(sorted(pairs))))
    return sorted(out)


def _predictions_by_rule(engine: Engine, oracle: Oracle, domain: str) -> list[tuple]:
    """Every prediction as (pCPU, ASID, VA, PA, code age, trainer's index, uncovered):
    ``uncovered`` when the trainer's last instruction covering its predictions of the VA came
    before the training (else bare metal could not show it to the trainer)."""
    code = engine.domains[domain].code
    index = {vc.name: vc.index for vc in engine.domains[domain].vcpus}
    out = []
    for p in engine.machine.pcpus:
        for (_, asid, va), line in p.bp.entries.items():
            at = max(oracle.local[line.vcpu].bp(va), oracle.shared[domain].bp(va))[0]
            age = code.version(line.pa) - line.version
            out.append((p.index, asid, va, line.pa, age, index[line.vcpu], at < line.step))
    return sorted(out)


@pytest.mark.parametrize(("kind", "policy", "vas"), PAIRS)
def test_the_training_facts_follow_their_rule_with_warm_memos(
    kind: str, policy: str, vas: int, tmp_path: Path
) -> None:
    """In every state of 16 random 12-action walks (one explorer, its memos warm), the key's
    training facts equal the rule computed instant by instant with no memo, and its
    predictions equal theirs."""
    path = _weak_bp_kind(tmp_path) if kind == WEAK_BP else kind
    ex = Explorer(GuestModel.for_kind(path, 2, vas), resolve(policy), 2)
    rng = random.Random(f"{kind}/{policy}/trained")
    seen = trained = 0
    for engine, oracle, g, _ in random_states(ex, rng, walks=16, steps=12):
        ex.key(engine, oracle, g)  # warms the memos with this state's records too
        facts = raw_facts(ex.plan, engine, oracle, g)
        got = sorted(facts["B"])
        assert got == _trained_by_rule(ex, engine, oracle, g.domain)
        assert sorted(facts["b"]) == _predictions_by_rule(engine, oracle, g.domain)
        seen += 1
        trained += any(pairs for *_, pairs in got)
    # the walks reached enough states, and states where some prediction may be legal
    assert seen > 40 and trained > 10


def _entries_by_rule(engine: Engine, oracle: Oracle, domain: str) -> list[tuple]:
    """Every TLB entry as (pCPU, VA, tag, PA, filler's index, table, covered): ``covered`` when
    the filler's last instruction covering the entry's tag and VA (local or IS) came after the
    fill (then bare metal could not show the entry to its filler)."""
    index = {vc.name: vc.index for vc in engine.domains[domain].vcpus}
    out = []
    for p in engine.machine.pcpus:
        for pages in p.tlb.by_vmid.values():
            for entries in pages.values():
                for e in entries.values():
                    mark = max(
                        oracle.local[e.vcpu].tlb(e.tag, e.va),
                        oracle.shared[domain].tlb(e.tag, e.va),
                    )
                    out.append(
                        (p.index, e.va, e.tag, e.pa, index[e.vcpu], e.table, mark[0] > e.step)
                    )
    return sorted(out)


def _global_vas(engine: Engine, domain: str) -> list[int]:
    """The VAs a global TLB entry holds or a table of ``domain`` maps global."""
    out = {
        va
        for t in engine.domains[domain].tables.values()
        for va, pte in t.current.items()
        if pte.is_global
    }
    for p in engine.machine.pcpus:
        for pages in p.tlb.by_vmid.values():
            for entries in pages.values():
                out.update(e.va for e in entries.values() if e.tag == GLOBAL)
    return sorted(out)


def _legal_with_globals(ex: Explorer, engine: Engine, oracle: Oracle, domain: str) -> list[tuple]:
    """``test_key_memos._legal_by_rule``, plus the rows of the ``GLOBAL`` tag: per vCPU, table
    it may use and global VA, the live PAs the table mapped the VA to at an instant, at or
    after the last instruction covering global entries of that VA for the vCPU, at which the
    table was the vCPU's current one."""
    out = _legal_by_rule(ex, engine, oracle, domain)
    dom = engine.domains[domain]
    live = _live_pas(engine, domain)
    shared = oracle.shared[domain]
    for vc in dom.vcpus:
        loc = oracle.local[vc.name]
        for name in ex.model.tables_of(vc.index):
            t = dom.tables.get(name)
            for va in _global_vas(engine, domain):
                since = max(loc.tlb(GLOBAL, va), shared.tlb(GLOBAL, va))[0]
                w = vc.windows(name, since)
                pas = tuple(
                    pa for pa in sorted(live) if t is not None and t.mapped_during(va, pa, w)
                )
                out.append((vc.index, name, GLOBAL, va, pas))
    return sorted(out)


@pytest.mark.parametrize(
    ("kind", "policy"), [("linux-arm64-smp", "none"), ("linux-arm64-local", "none")]
)
def test_the_legality_facts_of_global_entries_follow_their_rule(kind: str, policy: str) -> None:
    """Under ``--globals``, in every state of 24 random 10-action walks (memos warm), the key's
    legality facts equal the rule, global rows included; and some state has a global row that
    holds a PA (the walks mapped the kernel page and kept it live)."""
    ex = Explorer(GuestModel.for_kind(kind, 2, globals=True), resolve(policy), 2)
    rng = random.Random(f"{kind}/{policy}/globals")
    seen = held = 0
    for engine, oracle, g, _ in random_states(ex, rng, walks=24, steps=10):
        ex.key(engine, oracle, g)
        got = sorted(raw_facts(ex.plan, engine, oracle, g)["L"])
        assert got == _legal_with_globals(ex, engine, oracle, g.domain)
        seen += 1
        held += any(tag == GLOBAL and pas for _, _, tag, _, pas in got)
    assert seen > 100 and held > 10


def test_a_local_tlbi_by_va_on_another_pcpu_covers_the_vcpu() -> None:
    """Linux AArch64 with local unmaps: v0 maps 0x1000 and fetches it on pCPU 0 (an entry
    there), moves to pCPU 1 and unmaps the page (main is active on v0 alone, so the TLBI by VA
    and ASID is local, on pCPU 1: pCPU 0 keeps the entry, whose PA stays live). That TLBI is
    v0's last covering instruction for main's ASID and 0x1000, after which main never mapped
    0x1000: no PA is legal there for v0 (its use of pCPU 0's entry is the migration hazard).
    The key's legality facts equal the rule, that empty row included."""
    ex = Explorer(GuestModel.for_kind("linux-arm64-local", 2), resolve("none"), 2)
    labels = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 fetch 0x1000", "run v0 on 1"]
    engine, oracle, g = _state(ex, [*labels, "v0 unmap 0x1000"])
    got = sorted(raw_facts(ex.plan, engine, oracle, g)["L"])
    assert got == _legal_by_rule(ex, engine, oracle, g.domain)
    main_rows = [pas for v, name, tag, va, pas in got if (v, name, tag, va) == (0, "main", 0, 1)]
    assert main_rows == [()]
    # and pCPU 0's entry, filled by v0 at its fetch, is marked as covered for its filler since
    entries = raw_facts(ex.plan, engine, oracle, g)["t"]
    assert entries == _entries_by_rule(engine, oracle, g.domain)
    assert entries == [(0, 1, 0, entries[0][3], 0, "main", True)]
    # pCPU 0 still holds the entry: its PA is live, so the empty row says something
    pcpu0 = engine.machine.pcpus[0].tlb.by_vmid.values()
    assert [e.va for pages in pcpu0 for entries in pages.values() for e in entries.values()] == [1]


def test_a_local_tlbi_by_va_covers_a_global_entry_left_on_another_pcpu() -> None:
    """FreeBSD ARMv7 UP (its PTE maintenance is the local TLBIMVA) under ``--globals``: v0 maps
    the kernel page global and fetches it on pCPU 0 (a global entry there), moves to pCPU 1
    and unmaps it from every table; the local TLBIMVA on pCPU 1 leaves pCPU 0's entry (its PA
    stays live). A TLBI by VA removes the global entry of that VA whatever its ASID (Arm ARM
    D8.13), so it covers v0's global entries of the page, after which no table mapped it: every
    global row of v0 is empty, and the key's legality facts equal the rule."""
    ex = Explorer(GuestModel.for_kind("freebsd-armv7-up", 2, globals=True), resolve("none"), 2)
    fill = ["run v0 on 0", "v0 map-global 0x8000 0xa000", "v0 fetch 0x8000", "run v0 on 1"]
    engine, oracle, g = _state(ex, [*fill, "v0 unmap-global 0x8000"])
    got = sorted(raw_facts(ex.plan, engine, oracle, g)["L"])
    assert got == _legal_with_globals(ex, engine, oracle, g.domain)
    rows = [pas for _, _, tag, _, pas in got if tag == GLOBAL]
    assert rows and not any(rows)
    pcpu0 = engine.machine.pcpus[0].tlb.by_vmid.values()
    assert [e.tag for pages in pcpu0 for entries in pages.values() for e in entries.values()] == [
        GLOBAL
    ]


@pytest.mark.parametrize(
    ("kind", "policy"), [("linux-arm64-smp", "none"), ("linux-arm64-local", "none")]
)
def test_the_legality_facts_follow_their_rule_with_asid_flushes(kind: str, policy: str) -> None:
    """With the guest's whole-ASID flush among its actions (``asid_flush``: a TLBI by ASID with
    no PTE written and no table switched, so it changes the covering marks alone), in every
    state of 24 random 10-action walks (memos warm), the key's legality facts equal the rule:
    a memo of those facts must tell states apart by their marks, not only by their tables'
    histories and the vCPUs' table spans."""
    ex = Explorer(GuestModel.for_kind(kind, 2, asid_flush=True), resolve(policy), 2)
    rng = random.Random(f"{kind}/{policy}/asid-flush")
    seen = 0
    for engine, oracle, g, _ in random_states(ex, rng, walks=24, steps=10):
        ex.key(engine, oracle, g)
        got = sorted(raw_facts(ex.plan, engine, oracle, g)["L"])
        assert got == _legal_by_rule(ex, engine, oracle, g.domain)
        seen += 1
    assert seen > 100


def _live_pas(engine: Engine, domain: str) -> set[int]:
    """The PAs a table of ``domain`` maps or a TLB entry holds (maps take fresh PAs: no other
    PA can be reached again)."""
    dom = engine.domains[domain]
    live = {pte.pa for t in dom.tables.values() for pte in t.current.values()}
    for p in engine.machine.pcpus:
        for pages in p.tlb.by_vmid.values():
            for entries in pages.values():
                live.update(e.pa for e in entries.values())
    return live


def _lines_by_rule(engine: Engine, domain: str) -> list[tuple]:
    """Every I-cache line at a live PA, as (pCPU, PA, code age)."""
    code = engine.domains[domain].code
    live = _live_pas(engine, domain)
    return sorted(
        (p.index, pa, code.version(pa) - line.version)
        for p in engine.machine.pcpus
        for (_, pa), line in p.icache.lines.items()
        if pa in live
    )


def _floors_by_rule(engine: Engine, oracle: Oracle, domain: str) -> list[tuple]:
    """Per vCPU and PA some pCPU's I-cache holds a stale line of (of the live VM, at a live
    PA): the oldest code age the oracle still accepts there for that vCPU, capped by the oldest
    line's age (only lines that exist are judged): the number of code writes to the PA after
    the vCPU's last I-cache instruction covering it (local or IS, by PA or whole)."""
    dom = engine.domains[domain]
    code = dom.code
    live = _live_pas(engine, domain)
    oldest: dict[int, int] = {}
    for p in engine.machine.pcpus:
        for (_, pa), line in p.icache.lines.items():
            if pa in live and line.vcpu.rpartition(".")[0] == domain:
                age = code.version(pa) - line.version
                if age > 0:
                    oldest[pa] = max(oldest.get(pa, 0), age)
    out = []
    for vc in dom.vcpus:
        loc = oracle.local[vc.name]
        for pa, top in oldest.items():
            at = max(loc.icache(pa), oracle.shared[domain].icache(pa))[0]
            h = code.history.get(pa)
            writes_after = sum(1 for step in (h.steps if h else ()) if step > at)
            out.append((vc.index, pa, min(top, writes_after)))
    return sorted(out)


@pytest.mark.parametrize(("kind", "policy"), [(WEAK_BP, "none"), ("percpu-tables", "none")])
def test_the_icache_floors_follow_their_rule(kind: str, policy: str, tmp_path: Path) -> None:
    """In every state of 64 random 12-action walks (memos warm), the key's I-cache floors equal
    the rule, and so do the I-cache lines of live PAs; and there are floors to compare. (``WEAK_BP`` here writes code with a local
    BPIMVA only, no I-cache instruction, so lines go stale on every pCPU.)"""
    path = _weak_bp_kind(tmp_path, '"bpimva"') if kind == WEAK_BP else kind
    ex = Explorer(GuestModel.for_kind(path, 2), resolve(policy), 2)
    rng = random.Random(f"{kind}/{policy}/floors")
    rows = 0
    for engine, oracle, g, _ in random_states(ex, rng, walks=64, steps=12):
        ex.key(engine, oracle, g)
        facts = raw_facts(ex.plan, engine, oracle, g)
        got = sorted(facts["F"])
        assert got == _floors_by_rule(engine, oracle, g.domain)
        assert sorted(facts["i"]) == _lines_by_rule(engine, g.domain)
        rows += len(got)
    assert rows > 5


def test_a_local_bpimva_on_another_pcpu_covers_the_trainers_prediction(tmp_path: Path) -> None:
    """``WEAK_BP`` (a code write is ICIMVAU, which is IS, and a *local* BPIMVA): v0 maps
    0x1000, fetches it on pCPU 0 (a prediction there, trained by v0), moves to pCPU 1 and
    writes the code. The BPIMVA leaves pCPU 0's prediction, one write old; it is v0's last
    instruction covering its predictions of 0x1000 and came after the training, so bare metal
    could not show that prediction to v0: the key's predictions equal the rule, that one
    marked covered."""
    ex = Explorer(GuestModel.for_kind(_weak_bp_kind(tmp_path), 2), resolve("none"), 2)
    fill = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 fetch 0x1000", "run v0 on 1"]
    engine, oracle, g = _state(ex, [*fill, "v0 write-code 0x1000"])
    got = sorted(raw_facts(ex.plan, engine, oracle, g)["b"])
    assert got == _predictions_by_rule(engine, oracle, g.domain)
    assert [(pcpu, age, trainer, uncovered) for pcpu, _, _, _, age, trainer, uncovered in got] == [
        (0, 1, 0, False)
    ]
