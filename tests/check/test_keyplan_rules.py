"""``keyplan.py``'s memos and renamings held by hand, where ``test_key_memos.py`` and
``test_key_fact_rules.py``'s walks do not reach: pairs of states one explorer meets in turn
(its memos warm from the first) that agree on every input a memo key reads but one, whose
legality or training facts must still differ as their rule says; and pairs of states that are
one state renamed, whose facts must be renamed with them: vCPUs, pCPUs and their own tables
(the training facts' tables), or the ASIDs (the legality facts' tags). Expectations are
derived in each docstring from the states and SPEC §5 (a use is legal if the vCPU's table
mapped the VA to that output at an instant at or after its last covering instruction, which
the oracle learns of at the vCPU's DSB under ``--incomplete``).

Written from the mutants of ``keyplan.py`` the mutation run left "not killed"
(docs/testing.md, "check/key.py and keyplan.py, as restructured for speed")."""

from __future__ import annotations

from pathlib import Path

from test_key_fact_rules import _weak_bp_kind
from test_key_facts import _key, _state

from vtlbsim.arch.tlb import GLOBAL
from vtlbsim.check.actions import GuestModel, GuestState
from vtlbsim.check.explore import Explorer
from vtlbsim.check.key import raw_facts
from vtlbsim.check.oracle import Oracle
from vtlbsim.check.snapshot import copy_state
from vtlbsim.hyp.policies.none import NonePolicy
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.engine import Engine


class NoDsbOnLeave(NonePolicy):
    """``none`` with no DSB when a vCPU leaves a pCPU (``Policy.dsb_on_deschedule`` False):
    a broadcast the vCPU issued there stays pending on the other pCPUs after the vCPU's own
    DSB elsewhere (``sim/pending.py``), so the oracle learns of the maintenance (the vCPU's
    DSB) while an entry, line or prediction it removes on bare metal is still there."""

    name = "none-no-dsb-on-leave"
    dsb_on_deschedule = False


State = tuple[Engine, Oracle, GuestState]


def _facts(ex: Explorer, labels: list[str]) -> dict[str, list[tuple]]:
    """``raw_facts`` of the state after ``labels``, computed by ``ex`` (its memos as they are)."""
    return raw_facts(ex.plan, *_state(ex, labels))


def _then(ex: Explorer, state: State, label: str) -> State:
    """The successor ``label`` of ``state``, made as the search makes it: the operation applied
    to a copy (``copy_state``), which shares the tables' and the code's histories and the
    covering records with ``state`` (the memos key them by identity: a state replayed from
    scratch has histories of its own, and meets no memo entry of another state)."""
    engine, oracle, g = state
    op = next(o for o in ex.successors(engine, g) if o.label == label)
    e2, o2 = copy_state(engine, oracle)
    e2.apply(op.events)
    assert not o2.violations
    return e2, o2, op.state


def _copy(state: State) -> State:
    """An independent copy of ``state`` (sharing its histories and records, as the search's
    copies do)."""
    return (*copy_state(state[0], state[1]), state[2])


def _row(facts: dict[str, list[tuple]], v: int, table: str, tag: int, va: int) -> tuple:
    """The legal PAs of vCPU ``v``'s row (table, tag, VA) of the legality facts."""
    rows = [pas for vi, name, t, a, pas in facts["L"] if (vi, name, t, a) == (v, table, tag, va)]
    assert len(rows) == 1
    return rows[0]


MOVED = [
    "run v0 on 0",
    "v0 map 0x1000 0xa000",
    "v0 fetch 0x1000",  # an entry on pCPU 0
    "run v0 on 1",
    "v0 unmap 0x1000",  # TLBI VALE1IS on pCPU 1: pending on pCPU 0
    "run v0 on 0",  # no DSB on pCPU 1 as v0 leaves it
]


def test_a_dsb_that_reports_a_tlbi_changes_the_legal_outputs_with_memos_warm() -> None:
    """Linux AArch64 under ``--incomplete`` and ``NoDsbOnLeave``: v0 maps 0x1000 to 0xa000,
    fills an entry on pCPU 0, moves to pCPU 1, unmaps the page (its TLBI VALE1IS takes effect
    on pCPU 1 and stays pending on pCPU 0) and moves back to pCPU 0 (A); then executes its DSB
    ISH (B). The DSB completes only what pCPU 0 issued (nothing), so pCPU 0 keeps the entry and
    0xa000 stays live in both; no PTE was written and no table switched between A and B. In A
    the oracle has not learned of the TLBI: v0's last instruction covering ASID 0 and 0x1000
    is none, and main mapped 0x1000 to 0xa000 while it was v0's table: row (v0, main, ASID 0,
    0x1000) = (0xa000,). In B it has, at the DSB, after which main never mapped 0x1000: the
    row is empty. (ASID 1 rows: never covered, so (0xa000,) in both.) One explorer computes A
    then B, B made from A as the search makes a successor (sharing its histories): a legality
    memo keyed by the tables' histories, spans and live PAs but not by the covering marks
    would hand B A's row."""
    ex = Explorer(GuestModel.for_kind("linux-arm64-smp", 2), NoDsbOnLeave(), 2, incomplete=True)
    state_a = _state(ex, MOVED)
    state_b = _then(ex, state_a, "v0 dsb ish")
    a = raw_facts(ex.plan, *state_a)
    b = raw_facts(ex.plan, *state_b)
    assert _row(a, 0, "main", 0, 1) == (0xA,)
    assert _row(b, 0, "main", 0, 1) == ()
    assert _row(a, 0, "main", 1, 1) == _row(b, 0, "main", 1, 1) == (0xA,)


def test_an_is_tlbi_of_the_kernel_page_reported_later_covers_its_global_entry() -> None:
    """Linux AArch64 under ``--globals``, ``--incomplete`` and ``NoDsbOnLeave``: v0 maps the
    kernel page 0x8000 global (0xa000, in every table), fills a global entry on pCPU 0, moves
    to pCPU 1, unmaps the page from every table (TLBI VALE1IS, which removes the VA's global
    entry whatever its ASID, Arm ARM D8.13: pending on pCPU 0), moves back to pCPU 0 and
    executes its DSB ISH: the oracle records the TLBI in the VM's IS record, and pCPU 0 still
    holds the global entry (0xa000 live, 0x8000 a global VA of the key). v0's last instruction
    covering global entries of 0x8000 is that TLBI, after which no table mapped 0x8000: every
    global row is empty, main's included (without the IS record's mark main's row would hold
    0xa000, mapped while main was v0's table)."""
    model = GuestModel.for_kind("linux-arm64-smp", 2, globals=True)
    ex = Explorer(model, NoDsbOnLeave(), 2, incomplete=True)
    labels = [
        "run v0 on 0",
        "v0 map-global 0x8000 0xa000",
        "v0 fetch 0x8000",
        "run v0 on 1",
        "v0 unmap-global 0x8000",
        "run v0 on 0",
        "v0 dsb ish",
    ]
    facts = _facts(ex, labels)
    rows = [(v, name, pas) for v, name, tag, va, pas in facts["L"] if (tag, va) == (GLOBAL, 8)]
    assert len(rows) == 2 * len(model.tables)  # per vCPU and table
    assert all(pas == () for _, _, pas in rows)
    # the global entry is still on pCPU 0, filled by v0 from main, covered since its fill
    assert facts["t"] == [(0, 8, GLOBAL, 0xA, 0, "main", True)]


def test_two_code_histories_met_twice_keep_their_training_facts(tmp_path: Path) -> None:
    """A kind (``test_key_fact_rules.WEAK_BP`` with ICIMVAU alone at a code write: no
    instruction covers a prediction there) where v0 maps 0x1000 to 0xa000 (A) and then writes
    its code (B): the PTE histories and every covering mark are the same in A and B, the code
    history is not. v0's training row (main, 0x1000) holds the (PA, code age) pairs main
    mapped since v0's last covering instruction (none): in A (0xa000, 0) only; in B (0xa000,
    1) from the map to the write and (0xa000, 0) after it. One explorer computes A, B, A, B:
    each must keep its own pairs (a code history numbered like one met before would hand the
    second B the pairs of A). B is A's successor and the second A and B copies of them, as the
    search makes them, so they share their histories, as states of one search do."""
    kind = _weak_bp_kind(tmp_path, '"icimvau"')
    ex = Explorer(GuestModel.for_kind(kind, 2), resolve("none"), 2)
    a = _then(ex, _state(ex, ["run v0 on 0"]), "v0 map 0x1000 0xa000")
    b = _then(ex, a, "v0 write-code 0x1000")
    a_again, b_again = _copy(a), _copy(b)  # copied before either is keyed
    in_a, in_b = ((0xA, 0),), ((0xA, 0), (0xA, 1))
    for state, pairs in ((a, in_a), (b, in_b), (a_again, in_a), (b_again, in_b)):
        facts = raw_facts(ex.plan, *state)
        assert [p for v, t, va, p in facts["B"] if (v, t, va) == (0, "main", 1)] == [pairs]


def _percpu_aarch32_kind(folder: Path) -> str:
    """A kind file: ``WEAK_BP`` (AArch32, predictions judged) with per-CPU tables (``main``
    for v0, ``cpu1`` for v1), as ``percpu-tables`` has them; no shipped AArch32 kind has."""
    path = Path(_weak_bp_kind(folder))
    text = path.read_text().replace('name = "weak-bp"', 'name = "percpu-arm32"')
    line = 'percpu_tables = { value = true, source = "none: a test kind" }'
    path.write_text(text.replace("[discipline]\n", f"[discipline]\n{line}\n"))
    return str(path)


def test_per_cpu_tables_are_renamed_in_the_training_facts(tmp_path: Path) -> None:
    """AArch32 with per-CPU tables: v0 runs on pCPU 0 and maps 0x1000 in its table ``main``
    (A), or v1 runs on pCPU 1 and maps 0x1000 in its table ``cpu1`` (B), each to the first
    fresh PA. The renaming v0 <-> v1, pCPU 0 <-> 1, main <-> cpu1 maps A onto B, training
    facts included (A: v0's row of main holds (0xa000, 0); B: v1's row of cpu1 does): one
    state, so equal keys; and A's facts are not B's (the renaming is needed)."""
    ex = Explorer(GuestModel.for_kind(_percpu_aarch32_kind(tmp_path), 2), resolve("none"), 2)
    a = ["run v0 on 0", "v0 map 0x1000 0xa000"]
    b = ["run v1 on 1", "v1 map 0x1000 0xa000"]
    assert _key(ex, a) == _key(ex, b)
    fa, fb = _facts(ex, a)["B"], _facts(ex, b)["B"]
    assert (0, "main", 1, ((0xA, 0),)) in fa and (1, "cpu1", 1, ((0xA, 0),)) in fb


def test_a_kind_with_local_unmaps_keeps_where_each_address_space_is_active() -> None:
    """``linux-arm64-local``: an unmap is local (TLBI VALE1) when its address space is active
    on the unmapping vCPU alone, else broadcast (VALE1IS), so where each table is active
    decides a future. v0 brought up on pCPU 0 enters ``main`` (active on v0); v1 brought up on
    pCPU 1 enters it too (active on both); ``as1`` and ``as2`` never ran. The key's active
    sets: [(main, v0)], then [(main, v0), (main, v1)]."""
    ex = Explorer(GuestModel.for_kind("linux-arm64-local", 2), resolve("none"), 2)
    assert _facts(ex, ["run v0 on 0"])["a"] == [("main", 0)]
    assert _facts(ex, ["run v0 on 0", "run v1 on 1"])["a"] == [("main", 0), ("main", 1)]


def test_two_states_one_under_an_asid_swap_share_a_key() -> None:
    """``linux-arm64-local`` with one vCPU (whose two ASIDs the allocator may hand out either
    way: ``process_renamings`` swaps 0 and 1). X: v0 enters as1 (ASID 1), as2 (a rollover:
    as1, running, keeps 1; as2 takes 0, main loses its 0), as1 again and main (a rollover: main
    takes 0, as2 loses its). Y: as1 (1), as2 (rollover, 0), main (rollover, 1; as1 loses its)
    and as1 (rollover, 0; as2 loses its), main again. Both end with v0 in main on pCPU 0, as2
    without an ASID, main and as1 active on v0 alone, and main holding 0 and as1 1 in X, main
    1 and as1 0 in Y; each rollover's local TLBI VMALLE1 came before anything was mapped. Then
    both: v0 maps 0x1000 to 0xa000, fills an entry on pCPU 0 (tagged main's ASID), moves to
    pCPU 1 and unmaps it (main is active on v0 alone: a local TLBI VALE1 of main's ASID on
    pCPU 1; pCPU 0 keeps the entry). v0's legal row of main for main's ASID is empty, for the
    other ASID (never covered) it is (0xa000,): tag 0 empty in X, tag 1 in Y. Swapping ASIDs 0
    and 1 maps X onto Y, these rows included: one state, equal keys; and X's facts are not
    Y's (the renaming is needed)."""
    ex = Explorer(GuestModel.for_kind("linux-arm64-local", 1), resolve("none"), 2)
    start = ["run v0 on 0", "v0 switch as1, ASID 1", "v0 switch as2, rollover, ASID 0"]
    x = [*start, "v0 switch as1", "v0 switch main, rollover, ASID 0"]
    y = [*start, "v0 switch main, rollover, ASID 1", "v0 switch as1, rollover, ASID 0"]
    y.append("v0 switch main")
    then = ["v0 map 0x1000 0xa000", "v0 fetch 0x1000", "run v0 on 1", "v0 unmap 0x1000"]
    fx, fy = _facts(ex, [*x, *then]), _facts(ex, [*y, *then])
    assert (_row(fx, 0, "main", 0, 1), _row(fx, 0, "main", 1, 1)) == ((), (0xA,))
    assert (_row(fy, 0, "main", 0, 1), _row(fy, 0, "main", 1, 1)) == ((0xA,), ())
    assert _key(ex, [*x, *then]) == _key(ex, [*y, *then])
